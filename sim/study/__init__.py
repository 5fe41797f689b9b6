r"""The study library: experiments declare their design, the library runs and tabulates it.

An experiment script (``experiments/<name>.py``) declares a :class:`Study`; the library runs
it with common random numbers (the same root seed and replication indices for every variant),
measures each replication in the worker that ran it, writes the tidy CSV tables with 95%
t-intervals (:func:`sim.analysis.metrics.ci_stats`), the closed forms next to them, the paired
differences (:func:`sim.experiment.paired_stats`) and a deterministic ``manifest.json``, then
reads the CSVs back and hands them to the study's report (its charts and findings). Every
script gets the same command line: ``--quick --out --seed --workers --dask --replications
--replot`` (and ``evsim experiments NAME [--quick]`` runs its ``main``).

How to write a study
--------------------

1. **Points.** One ``NamedTuple`` per configuration, with a ``name`` giving its scenario a
   name of its own (``f"sweep N={self.n}"``). Points must be hashable and distinct across the
   whole study (add a ``study`` field when sub-studies could collide).
2. **A design per sub-study** (:class:`Design`): its points in table order, ``scenario``
   (point → :class:`~sim.config.Scenario`), ``measure`` (point, run result → ``{metric:
   float}``: runs in the worker, so it may read a trace with ``trace=True`` and return only
   numbers; a module-level function or a ``functools.partial`` of one; raise there to stop
   on a failed check), ``replications``, the CSV ``table`` stem, and ``columns`` (point →
   the columns identifying it; None leaves a measured point out of the table). Optional:
   ``closed_forms`` (point → ``{metric: value}``, a ``theory`` column), ``baseline`` and
   ``difference_metrics`` (paired differences ``point − baseline``), ``derive`` (final
   measures from every point's measures, e.g. against a census or a twin), ``units``,
   ``rep_indices``/``rep_scenario`` (chosen replications, a scenario per replication),
   ``dtypes``. Sub-studies with other grids, durations or replication counts are separate
   designs; designs naming the same table share its CSV file.
3. **A study** (:class:`Study`): ``name``, ``description``, ``default_seed``, ``designs``
   (:class:`Options` → designs: pick full or ``--quick`` sizes from ``options.quick``) and
   ``report`` (:class:`Report` → findings markdown; draw the charts into ``report.out`` with
   :mod:`sim.analysis.plots`, read every number from ``report.tables``, the CSVs read back).
   ``extra_tables`` adds tables computed after the runs (drill-downs, timelines from the
   measures' :class:`Detailed` details).
4. **Main**: ``def main(argv=None) -> int: return run_study(STUDY, argv)``.

A minimal study::

    class Point(NamedTuple):
        rate: float

        @property
        def name(self) -> str:
            return f"rate={self.rate:g}"

    def scenario(p: Point) -> Scenario:
        return scenario_from_dict({"name": p.name, "duration_s": 60, "components": {...}})

    def measure(p: Point, r: RunResult) -> dict[str, float]:
        return {"latency_mean_s": run_metric(r, "latency_mean_s")}

    def designs(o: Options) -> list[Design[Point]]:
        return [Design("sweep", [Point(1.0), Point(2.0)], scenario, measure,
                       replications=3 if o.quick else 10, table="sweep",
                       columns=lambda p: {"rate": p.rate},
                       closed_forms=lambda p: {"latency_mean_s": 1 / (1 - p.rate / 4)},
                       baseline=lambda p: Point(1.0),
                       difference_metrics=["latency_mean_s"])]

    def report(rep: Report) -> str:
        df = rep.tables["sweep"]
        row = summary_row(df, "latency_mean_s")
        return "# My study" + "\n\n" + f"- latency {mean_ci(row, 's')}" + "\n"

    STUDY = Study("my_study", "What it asks.", 1234, designs, report)

Modules: :mod:`~sim.study.design` (the declarations), :mod:`~sim.study.runner` (running and
tabulating), :mod:`~sim.study.tables` (summary rows and their readers),
:mod:`~sim.study.text` (number formats of the findings), :mod:`~sim.study.manifest`,
:mod:`~sim.study.command` (the shared command line), :mod:`~sim.study.main`
(:func:`run_study`) and :mod:`~sim.study.validation` (the theory checks behind ``evsim validate``).
"""

from __future__ import annotations

from sim.study.command import cpu_seconds, experiment_parser, finish
from sim.study.design import (
    Design,
    Detailed,
    Measured,
    Options,
    Report,
    Run,
    Study,
    StudyUsageError,
)
from sim.study.main import results_dir, run_study, study_parser
from sim.study.manifest import manifest, write_manifest
from sim.study.runner import measure, tabulate
from sim.study.tables import (
    STATS,
    difference_rows,
    run_metric,
    select,
    summary_row,
    summary_rows,
    theory_table,
)
from sim.study.text import Constant, mean_ci, number, percent, percent_ci, points_ci

__all__ = [
    "STATS",
    "Constant",
    "Design",
    "Detailed",
    "Measured",
    "Options",
    "Report",
    "Run",
    "Study",
    "StudyUsageError",
    "cpu_seconds",
    "difference_rows",
    "experiment_parser",
    "finish",
    "manifest",
    "mean_ci",
    "measure",
    "number",
    "percent",
    "percent_ci",
    "points_ci",
    "results_dir",
    "run_metric",
    "run_study",
    "select",
    "study_parser",
    "summary_row",
    "summary_rows",
    "tabulate",
    "theory_table",
    "write_manifest",
]
