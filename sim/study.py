"""Helpers shared by the experiment scripts in ``experiments/``.

The scripts' command line, the CPU time they report, picking rows of their tidy summary
tables (one row per configuration and metric with ``mean``, ``std``, ``ci_low`` and
``ci_high``) and the number formats of their findings text. Plain functions, no SimPy: the
scripts format what they read back from their CSVs.

The interval formats differ a little between the studies; two keywords keep each study's
text as it was:

* ``constant``: how a row whose replications all agree (``std == 0``) reads: with its
  (degenerate) interval (``"ci"``), as the mean alone (``"mean"``) or as ``"<mean> in every
  replication"`` (``"every"``).
* ``nan_mean``: a row whose mean is NaN reads ``n/a`` (otherwise the NaN goes through the
  number format, unit included).
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from sim.analysis.output import write_results_index

if TYPE_CHECKING:
    from sim.analysis.metrics import RunResult

#: How an interval reads when every replication gave the same value (see the module doc).
Constant = Literal["ci", "mean", "every"]


# --------------------------------------------------------------------------- command line


def experiment_parser(
    prog: str,
    description: str,
    *,
    default_out: Path,
    default_seed: int,
    quick_help: str = "tiny grid, short runs (for tests)",
    replications_help: str | None = None,
    replot: bool = True,
) -> argparse.ArgumentParser:
    """The options every experiment script has: ``--quick --out --seed --workers``.

    Args:
        prog: the program name shown in usage, e.g. ``experiments/fanout.py``.
        description: the one-paragraph description of ``--help``.
        default_out: the output folder when ``--out`` is not given.
        default_seed: the root seed when ``--seed`` is not given.
        quick_help: the help text of ``--quick``.
        replications_help: the help text of ``--replications`` (an int, default None); None
            leaves the option out.
        replot: add ``--replot`` (redraw the charts and findings from the CSVs in ``--out``).

    Returns:
        The parser; a script adds its own options to it.
    """
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--out", type=Path, default=default_out, help="output folder")
    p.add_argument("--seed", type=int, default=default_seed, help="root seed")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: all)")
    if replications_help is not None:
        p.add_argument("--replications", type=int, default=None, help=replications_help)
    if replot:
        p.add_argument(
            "--replot",
            action="store_true",
            help="only redraw the charts and findings from the CSVs in --out",
        )
    return p


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def finish(name: str, out: Path, configurations: int, wall_s: float, cpu_s: float,
           wrote: str) -> Path:  # fmt: skip
    """Write the results index next to ``out`` and print the run's summary line on stderr.

    Args:
        name: the experiment's name, first on the line.
        out: the experiment's output folder (the index goes into its parent).
        configurations: how many configurations the run has.
        wall_s: wall-clock seconds of the simulation.
        cpu_s: CPU seconds of the simulation (this process and its workers).
        wrote: what was written into ``out``, e.g. ``"fanout.csv, differences.csv"``.

    Returns:
        The path of the results index.
    """
    index = write_results_index(out.parent)
    print(
        f"{name}: {configurations} configurations; simulation wall time {wall_s:.1f} s, "
        f"{cpu_s:.1f} CPU-s (this process and its workers); wrote {out}/{wrote} and {index}",
        file=sys.stderr,
    )
    return index


# --------------------------------------------------------------------------- tables


def run_metric(r: RunResult, name: str) -> float:
    """Metric ``name`` of one run as a float; NaN where the run has none."""
    v = r.metrics.get(name)
    return math.nan if v is None else float(v)


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


# --------------------------------------------------------------------------- findings text


def number(x: float | None, digits: int = 3) -> str:
    """A number for prose: ``digits`` significant digits, whole with separators from 1000."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def percent(x: float) -> str:
    """A fraction as a percentage with 3 significant digits (clipped to [0, 100%])."""
    v = min(max(float(x), 0.0), 1.0) * 100.0
    if v in (0.0, 100.0):
        return f"{v:g}%"
    return f"{v:.3g}%" if v < 99.0 else f"{v:.4g}%"


def _interval(row: pd.Series | None, fmt: Callable[[float], str], suffix: str, to: str,
              constant: Constant, nan_mean: bool) -> str:  # fmt: skip
    if row is None or (nan_mean and pd.isna(row["mean"])):
        return "n/a"
    text = f"{fmt(row['mean'])}{suffix}"
    if pd.isna(row["ci_low"]):
        return text
    if constant != "ci" and row["std"] == 0:
        return text if constant == "mean" else f"{text} in every replication"
    return f"{text} (95% CI {fmt(row['ci_low'])} {to} {fmt(row['ci_high'])})"


def mean_ci(row: pd.Series | None, unit: str = "", scale: float = 1.0, *,
            constant: Constant = "ci", nan_mean: bool = False) -> str:  # fmt: skip
    """``mean unit (95% CI low – high)`` of a summary row (values times ``scale``), or n/a.

    Args:
        row: a summary row, or None (reads ``n/a``).
        unit: the unit after the mean, if any.
        scale: the factor applied to the mean and the bounds.
        constant: how a row with ``std == 0`` reads (see the module doc).
        nan_mean: a NaN mean reads ``n/a`` (see the module doc).

    Returns:
        The text.
    """
    return _interval(row, lambda v: number(v * scale), f" {unit}" if unit else "", "–",
                     constant, nan_mean)  # fmt: skip


def percent_ci(row: pd.Series | None, *, constant: Constant = "ci",
               nan_mean: bool = False) -> str:  # fmt: skip
    """A fraction with its 95% CI, as percentages (bounds clipped to [0, 100%]), or n/a.

    ``row``, ``constant`` and ``nan_mean`` as in :func:`mean_ci`.
    """
    return _interval(row, percent, "", "–", constant, nan_mean)


def points_ci(row: pd.Series | None, *, constant: Constant = "ci",
              nan_mean: bool = False) -> str:  # fmt: skip
    """A difference of fractions in percentage points, with its 95% CI (not clipped), or n/a.

    ``row``, ``constant`` and ``nan_mean`` as in :func:`mean_ci`.
    """
    return _interval(row, lambda v: f"{v * 100:+.3g}", " percentage points", "to", constant,
                     nan_mean)  # fmt: skip
