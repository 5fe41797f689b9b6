"""Running a study's designs and turning their measures into tables.

:func:`measure` runs every point of every design with the same root seed and replication
indices (common random numbers), each replication reduced to its measures in the worker that
ran it (:func:`sim.experiment.run_tasks`'s reduce hook). :func:`tabulate` turns the measures
into the summary and difference tables, one DataFrame per CSV stem.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.analysis.metrics import RunResult
from sim.config import Scenario
from sim.experiment import run_tasks
from sim.study.design import Design, Detailed, Measured, Measures, Run
from sim.study.tables import difference_rows, summary_rows

__all__ = ["measure", "tabulate"]


@dataclass(frozen=True)
class _Reduce:
    """The per-run reduce hook of one design: run result → (measures, detail).

    Only the design's measure and its points travel to the workers (not the design, whose
    other callables need not be picklable).
    """

    measure: Callable[[Any, RunResult], Measured]
    by_name: Mapping[str, Hashable]

    def __call__(self, r: RunResult) -> tuple[Measures, Any]:
        out = self.measure(self.by_name[r.scenario], r)
        if isinstance(out, Detailed):
            return out.measures, out.detail
        return out, None


def _tasks(design: Design[Any], reps: Sequence[int], seed: int
           ) -> tuple[list[tuple[Scenario, int, int]], dict[str, Hashable]]:  # fmt: skip
    tasks: list[tuple[Scenario, int, int]] = []
    by_name: dict[str, Hashable] = {}
    for point in design.points:
        names = set()
        for rep in reps:
            scenario = design.scenario_of(point, rep)
            tasks.append((scenario, rep, seed))
            names.add(scenario.name)
        if len(names) != 1 or (name := names.pop()) in by_name:
            raise ValueError(f"design {design.name!r}: every point needs a scenario name of "
                             f"its own, the same in every replication ({point!r})")  # fmt: skip
        by_name[name] = point
    return tasks, by_name


def measure(
    designs: Sequence[Design[Any]],
    seed: int,
    *,
    replications: int | None = None,
    workers: int | None = 1,
    dask: str | None = None,
    progress: bool = False,
    label: str = "study",
) -> Run:
    """Run every point of ``designs`` and measure each replication in its worker.

    Args:
        designs: The designs, run one after another (each in one batch of tasks).
        seed: The root seed of every replication (common random numbers).
        replications: Replications per point, overriding every design's own count.
        workers: Worker processes (1 = serially in this process; None = all cores).
        dask: Dask executor (None, ``"local"`` or a scheduler address).
        progress: Show a tqdm progress bar per design on stderr.
        label: The study's name, in the progress bars.

    Returns:
        The measures (and details) of every point; results never depend on ``workers``.
    """
    run = Run(seed)
    for design in designs:
        reps = design.reps(replications)
        run.reps[design.name] = reps
        tasks, by_name = _tasks(design, reps, seed)
        hook = _Reduce(design.measure, by_name)
        reduced = run_tasks(tasks, workers, dask, progress, f"{label} {design.name}",
                            reduce=hook, trace=design.trace)  # fmt: skip
        for i, point in enumerate(design.points):
            chunk = reduced[i * len(reps) : (i + 1) * len(reps)]
            run.measured[point] = [m for m, _ in chunk]
            details = {rep: d for rep, (_, d) in zip(reps, chunk, strict=True) if d is not None}
            if details:
                run.details[point] = details
    for design in designs:
        for point in design.points:
            run.measures[point] = (
                list(design.derive(point, run.measured))
                if design.derive is not None
                else run.measured[point]
            )
    return run


def _summary(design: Design[Any], run: Run) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seed = run.seed if design.seed_column else None
    for point in design.points:
        columns = design.columns(point)
        if columns is None:
            continue
        if design.rows is not None:
            rows += design.rows(point, run.measures[point])
            continue
        rows += summary_rows(
            columns, run.measures[point], level=design.level, units=design.units,
            theory=design.closed_forms(point) if design.closed_forms is not None else None,
            theory_columns=design.theory_columns, seed=seed,
        )  # fmt: skip
    return rows


def _differences(design: Design[Any], run: Run) -> list[dict[str, Any]]:
    if design.baseline is None:
        return []
    rows: list[dict[str, Any]] = []
    known = set(design.points)
    reps = run.reps[design.name]
    for point in design.points:
        base = design.baseline(point)
        if base is None or base not in known:
            continue
        cols = design.difference_columns or design.columns
        rows += difference_rows(
            cols(point) or {}, run.measures[base], run.measures[point], reps,
            design.difference_metrics, level=design.level,
            seed=run.seed if design.seed_column else None,
        )  # fmt: skip
    return rows


def tabulate(designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """The summary and difference tables of ``designs`` (CSV stem → table, in design order).

    Designs that name the same table share it: their rows go into one DataFrame, in design
    order, then the designs' ``dtypes`` are applied.
    """
    rows: dict[str, list[dict[str, Any]]] = {}
    dtypes: dict[str, dict[str, str]] = {}
    for design in designs:
        rows.setdefault(design.table, []).extend(_summary(design, run))
        dtypes.setdefault(design.table, {}).update(design.dtypes)
        if design.baseline is not None:
            rows.setdefault(design.differences, []).extend(_differences(design, run))
    out = {}
    for name, table_rows in rows.items():
        df = pd.DataFrame(table_rows)
        for col, dtype in dtypes.get(name, {}).items():
            df[col] = df[col].astype(dtype)  # type: ignore[call-overload]
        out[name] = df
    return out
