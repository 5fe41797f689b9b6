"""Tidy summary tables: per-replication measures → rows with confidence intervals, and back.

A *summary row* identifies a configuration by its columns (``study``, ``option``, ...), then
names a ``metric`` and gives ``n``, ``mean``, ``std``, ``ci_low`` and ``ci_high`` over the
replications (:func:`ci_stats`, t-based), optionally with a ``unit``, closed forms
(``theory``) and the root ``seed``. A *difference row* is the same for the paired differences
``variant − baseline`` (:func:`sim.experiment.paired_stats`).

The readers (:func:`select`, :func:`summary_row`, :func:`theory_table`) work on the tables as
read back from their CSV files, where the charts and findings take their numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.analysis.metrics import ci_stats
from sim.experiment import paired_stats

if TYPE_CHECKING:
    from sim.analysis.metrics import RunResult

__all__ = [
    "STATS",
    "difference_rows",
    "run_metric",
    "select",
    "summary_row",
    "summary_rows",
    "theory_table",
]

#: The statistics of a summary row, in column order.
STATS: tuple[str, ...] = ("n", "mean", "std", "ci_low", "ci_high")

#: A replication's measures: metric name → value (None or NaN: nothing to measure).
Measures = Mapping[str, float | None]


def run_metric(r: RunResult, name: str) -> float:
    """Metric ``name`` of one run as a float; NaN where the run has none."""
    v = r.metrics.get(name)
    return math.nan if v is None else float(v)


def summary_rows(
    columns: Mapping[str, Any],
    per_rep: Sequence[Measures],
    *,
    level: float = 0.95,
    metrics: Sequence[str] | None = None,
    units: Mapping[str, str] | None = None,
    theory: Mapping[str, float | Mapping[str, Any]] | None = None,
    theory_columns: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """One summary row per metric of one configuration.

    Args:
        columns: The columns identifying the configuration, first in every row.
        per_rep: The measures of each replication.
        level: Confidence level of the t-based interval.
        metrics: The metrics, in row order; default: ``units``'s keys if given, otherwise the
            first replication's.
        units: Metric → unit; adds a ``unit`` column after ``metric``.
        theory: Metric → closed form: a float (the ``theory`` column) or a mapping of
            ``theory_columns`` to values.
        theory_columns: The closed-form columns and their value where there is no closed form
            (default ``{"theory": NaN}`` when ``theory`` is given; none otherwise).
        seed: The root seed, as a last ``seed`` column (None: no such column).

    Returns:
        ``{**columns, "metric", ["unit"], "n", "mean", "std", "ci_low", "ci_high",
        [theory columns], ["seed"]}`` per metric.
    """
    names = list(metrics if metrics is not None else units if units is not None else per_rep[0])
    if theory is not None and theory_columns is None:
        theory_columns = {"theory": math.nan}
    rows = []
    for metric in names:
        s = ci_stats([d.get(metric) for d in per_rep], level)
        row: dict[str, Any] = {**columns, "metric": metric}
        if units is not None:
            row["unit"] = units[metric]
        row.update({k: s[k] for k in STATS})
        if theory_columns is not None:
            th = (theory or {}).get(metric)
            if th is None:
                row.update(theory_columns)
            elif isinstance(th, Mapping):
                row.update({k: th.get(k, v) for k, v in theory_columns.items()})
            else:
                row[next(iter(theory_columns))] = th
                row.update({k: v for k, v in list(theory_columns.items())[1:]})
        if seed is not None:
            row["seed"] = seed
        rows.append(row)
    return rows


def difference_rows(
    columns: Mapping[str, Any],
    base: Sequence[Measures],
    other: Sequence[Measures],
    reps: Sequence[int],
    metrics: Sequence[str],
    *,
    level: float = 0.95,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """One row per metric: the paired difference ``other − base``, replication by replication.

    Args:
        columns: The columns identifying the pair, first in every row.
        base: The baseline's measures, one per replication of ``reps``.
        other: The variant's measures, one per replication of ``reps``.
        reps: The replication indices of ``base`` and ``other`` (common random numbers).
        metrics: The metrics to difference, in row order.
        level: Confidence level of the t-based interval.
        seed: The root seed, as a last ``seed`` column (None: no such column).

    Returns:
        ``{**columns, "metric", "n", "mean", "std", "ci_low", "ci_high", ["seed"]}`` per metric.
    """
    stats = paired_stats(dict(zip(reps, base, strict=True)), dict(zip(reps, other, strict=True)),
                         metrics, level)  # fmt: skip
    rows = []
    for metric, s in stats.items():
        row: dict[str, Any] = {**columns, "metric": metric, **{k: s[k] for k in STATS}}
        if seed is not None:
            row["seed"] = seed
        rows.append(row)
    return rows


def select(df: pd.DataFrame, metric: str, **eq: object) -> pd.DataFrame:
    """The rows of a summary table for ``metric`` whose columns equal ``eq`` (a copy)."""
    mask = df["metric"] == metric
    for col, val in eq.items():
        mask &= df[col] == val
    return df[mask].copy()


def summary_row(df: pd.DataFrame, metric: str, **eq: object) -> pd.Series | None:
    """The first row :func:`select` finds, or None."""
    sel = select(df, metric, **eq)
    return None if sel.empty else sel.iloc[0]


def theory_table(df: pd.DataFrame, theory: str = "theory") -> pd.DataFrame:
    """The rows of a summary table that have a closed form, with ``inside_ci`` (a copy).

    ``inside_ci`` is true where the closed form lies inside the row's interval
    ``[ci_low, ci_high]`` (false where the row has no interval).
    """
    rows = df[df[theory].notna()].copy()
    rows["inside_ci"] = (rows["ci_low"] <= rows[theory]) & (rows[theory] <= rows["ci_high"])
    return rows
