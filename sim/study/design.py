"""What a study declares: its designs (points, scenarios, measures, closed forms, pairs).

A :class:`Study` is a named experiment with a default seed, a function that gives its
:class:`Design` list for the options of a run (full size or ``--quick``, the seed, a
replications override) and a ``report`` function that draws its charts and writes its findings
from the tables read back from their CSV files. A :class:`Design` is one sub-study: a list of
points (any hashable values, typically a ``NamedTuple``), how a point becomes a scenario, the
measures of one replication (applied in the worker that ran it), the columns that identify a
point in its table, the closed forms, and the baseline each point is differenced against.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import pandas as pd

from sim.analysis.metrics import RunResult
from sim.config import Scenario

__all__ = [
    "Design",
    "Detailed",
    "Measured",
    "Options",
    "Report",
    "Run",
    "Study",
    "StudyUsageError",
]

P = TypeVar("P", bound=Hashable)

#: A replication's measures: metric name → value (None or NaN: nothing to measure).
Measures = Mapping[str, float | None]


class Detailed(NamedTuple):
    """A measure's result with a detail besides the numbers (e.g. a per-message timeline)."""

    measures: Measures
    detail: Any


#: What a measure returns: the numbers, or the numbers with a detail.
Measured = Measures | Detailed

#: Every measured point of a study: point → its measures, one per replication.
MeasuresByPoint = Mapping[Hashable, Sequence[Measures]]


class StudyUsageError(Exception):
    """A command-line choice that selects nothing (the script exits with status 2)."""


@dataclass(frozen=True)
class Options:
    """The options of one invocation of a study's script."""

    quick: bool
    seed: int
    replications: int | None
    args: argparse.Namespace


@dataclass(frozen=True)
class Design(Generic[P]):
    """One sub-study: its points and how each is run, measured, tabulated and compared.

    Every point runs the same replication indices with the same root seed (common random
    numbers), in one batch of tasks on the chosen executor.

    Attributes:
        name: The design's name (progress bar, manifest).
        points: The configurations, in table order; each distinct, hashable and (through
            ``scenario``) with a scenario name of its own within the design.
        scenario: The scenario of a point.
        measure: The measures of one replication of a point, computed in the worker process
            that ran it (the per-run reduce hook: the run result itself does not travel back).
            It must be picklable: a module-level function or a ``functools.partial`` of one.
            Checks that must stop the study raise here.
        replications: Replications per point (``--replications`` overrides it).
        table: The stem of the CSV file its summary rows go into; designs naming the same
            table share one file (rows in design order).
        columns: The columns identifying a point in its table, or None for a point that is
            measured but not tabulated (e.g. a census other points' measures use).
        rep_indices: The replication indices to run, given the number of replications
            (default ``0 .. n-1``).
        rep_scenario: The scenario of a point in one replication, when it differs between
            replications (overrides ``scenario``; keep its name the same).
        trace: Run with the per-event trace, for ``measure`` to read.
        derive: Final measures of a point from the measures of every point of the study
            (e.g. a ratio against a twin variant), replacing its own in the tables.
        closed_forms: Metric → closed form of a point (a float, or a mapping of
            ``theory_columns`` to values); adds the ``theory_columns`` to the table.
        theory_columns: The closed-form columns with their value where a metric has none.
        units: Metric → unit: the table's metrics in this order, with a ``unit`` column.
        baseline: The point a point is differenced against (None, or a point not in
            ``points``: no difference).
        difference_metrics: The metrics to difference.
        difference_columns: The columns identifying a pair (default ``columns``).
        differences: The stem of the CSV file of the paired differences.
        level: Confidence level of the intervals.
        seed_column: Add the root seed as a last ``seed`` column.
        dtypes: Column dtypes of the table (e.g. ``{"k": "Int64"}`` for an int with gaps).
        rows: The table rows of a point from its measures, replacing the summary rows (for a
            table of another shape, e.g. one row per theory check).
    """

    name: str
    points: Sequence[P]
    scenario: Callable[[P], Scenario]
    measure: Callable[[P, RunResult], Measured]
    replications: int
    table: str
    columns: Callable[[P], Mapping[str, Any] | None]
    rep_indices: Callable[[int], Sequence[int]] | None = None
    rep_scenario: Callable[[P, int], Scenario] | None = None
    trace: bool = False
    derive: Callable[[P, MeasuresByPoint], Sequence[Measures]] | None = None
    closed_forms: Callable[[P], Mapping[str, float | Mapping[str, Any]]] | None = None
    theory_columns: Mapping[str, Any] | None = None
    units: Mapping[str, str] | None = None
    baseline: Callable[[P], P | None] | None = None
    difference_metrics: Sequence[str] = ()
    difference_columns: Callable[[P], Mapping[str, Any]] | None = None
    differences: str = "differences"
    level: float = 0.95
    seed_column: bool = True
    dtypes: Mapping[str, str] = field(default_factory=dict)
    rows: Callable[[P, Sequence[Measures]], list[dict[str, Any]]] | None = None

    def reps(self, replications: int | None = None) -> list[int]:
        """The replication indices every point runs (``replications`` overrides the count)."""
        n = self.replications if replications is None else replications
        return list(self.rep_indices(n) if self.rep_indices is not None else range(n))

    def scenario_of(self, point: P, rep: int) -> Scenario:
        """The scenario of ``point`` in replication ``rep``."""
        if self.rep_scenario is not None:
            return self.rep_scenario(point, rep)
        return self.scenario(point)


@dataclass
class Run:
    """What the replications of a study measured.

    Attributes:
        seed: The root seed.
        reps: Design name → the replication indices its points ran.
        measured: Point → its measures as the workers returned them, one per replication.
        measures: Point → its final measures (after the design's ``derive``), one per
            replication: what the tables summarise.
        details: Point → replication index → the detail its measure returned, where it
            returned one (:class:`Detailed`).
    """

    seed: int
    reps: dict[str, list[int]] = field(default_factory=dict)
    measured: dict[Hashable, list[Measures]] = field(default_factory=dict)
    measures: dict[Hashable, list[Measures]] = field(default_factory=dict)
    details: dict[Hashable, dict[int, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """What a study's report function gets: the tables as read back from their CSV files.

    Attributes:
        out: The results folder (charts go here).
        quick: Whether this is a ``--quick`` run.
        seed: The root seed.
        options: The options of the invocation (the script's own options in ``args``).
        designs: The study's designs for these options.
        tables: CSV stem → the table read back from ``out`` (summaries, differences and
            extra tables).
    """

    out: Path
    quick: bool
    seed: int
    options: Options
    designs: Sequence[Design[Any]]
    tables: Mapping[str, pd.DataFrame]


#: Further tables of a study from its options, designs and what they measured.
ExtraTables = Callable[[Options, Sequence[Design[Any]], Run], Mapping[str, pd.DataFrame]]


@dataclass(frozen=True)
class Study:
    """A named study: its designs, extra tables and report.

    Attributes:
        name: The study's name: the script is ``experiments/<name>.py``, the results folder
            ``results/<name>/``.
        description: The one-paragraph ``--help`` description.
        default_seed: The root seed when ``--seed`` is not given.
        designs: The designs for the options of an invocation; raise
            :class:`StudyUsageError` when the options select nothing.
        report: Draws the charts into ``report.out`` and returns the findings (markdown),
            everything read from ``report.tables``.
        extra_tables: Further tables computed after the runs (CSV stem → table), from the
            options, the designs and every point's measures and details.
        extra_table_names: The stems ``extra_tables`` writes (read back for ``--replot``).
        read_csv: Keyword arguments of :func:`pandas.read_csv` when reading the tables back.
        float_format: The float format of every CSV file (None: pandas' default).
        quick_help: The help text of ``--quick``.
        replications_help: The help text of ``--replications``.
        add_options: Adds the script's own options to its parser.
    """

    name: str
    description: str
    default_seed: int
    designs: Callable[[Options], Sequence[Design[Any]]]
    report: Callable[[Report], str]
    extra_tables: ExtraTables | None = None
    extra_table_names: Sequence[str] = ()
    read_csv: Mapping[str, Any] = field(default_factory=dict)
    float_format: str | None = None
    quick_help: str = "tiny grid, short runs (for tests)"
    replications_help: str = "replications per configuration (default: the study's)"
    add_options: Callable[[argparse.ArgumentParser], None] | None = None
