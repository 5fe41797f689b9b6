"""``run_study``: the ``main`` of every experiment script written on :mod:`sim.study`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sim.project import project_root
from sim.study.command import cpu_seconds, experiment_parser, finish
from sim.study.design import Options, Report, Study, StudyUsageError
from sim.study.manifest import manifest, write_manifest
from sim.study.runner import measure, tabulate

__all__ = ["results_dir", "run_study", "study_parser"]


def results_dir(name: str) -> Path:
    """``results/<name>/`` of the checkout (the scripts' default ``--out``).

    The checkout is :func:`sim.project.project_root`'s, not the installed package's folder.
    """
    return project_root() / "results" / name


def study_parser(study: Study) -> argparse.ArgumentParser:
    """The command line of ``study``'s script (the shared options and the study's own)."""
    p = experiment_parser(
        f"python -m experiments.{study.name}", study.description,
        default_out=results_dir(study.name),
        default_seed=study.default_seed, quick_help=study.quick_help,
        replications_help=study.replications_help,
    )  # fmt: skip
    if study.add_options is not None:
        study.add_options(p)
    return p


def _table_names(study: Study, options: Options) -> list[str]:
    names: dict[str, None] = {}
    for d in study.designs(options):
        names[d.table] = None
        if d.baseline is not None:
            names[d.differences] = None
    names.update(dict.fromkeys(study.extra_table_names))
    return list(names)


def run_study(study: Study, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run ``study``, write its folder and the results index.

    Writes one CSV per table (summaries, paired differences, the study's extra tables) and
    ``manifest.json``; then reads the CSVs back and hands them to the study's report, which
    draws the charts and returns the findings, written to ``findings.md``. With ``--replot``
    only the second half runs, on the CSVs already in ``--out``.

    Args:
        study: The study.
        argv: The command line (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 2 when the options select nothing.
    """
    args = study_parser(study).parse_args(argv)
    options = Options(args.quick, args.seed, getattr(args, "replications", None), args)
    try:
        designs = study.designs(options)
    except StudyUsageError as exc:
        print(f"{study.name}: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    start, cpu0 = time.perf_counter(), cpu_seconds()
    if not getattr(args, "replot", False):
        run = measure(designs, options.seed, replications=options.replications,
                      workers=args.workers, dask=args.dask, progress=sys.stderr.isatty(),
                      label=study.name)  # fmt: skip
        tables = tabulate(designs, run)
        if study.extra_tables is not None:
            tables.update(study.extra_tables(options, designs, run))
        files = []
        for name, df in tables.items():
            files.append(out / f"{name}.csv")
            df.to_csv(files[-1], index=False, float_format=study.float_format)
        write_manifest(out, manifest(study.name, options, designs, run, files))
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0

    # Everything below reads the CSVs back: the charts and findings show what was written.
    names = _table_names(study, options)
    read = {n: pd.read_csv(out / f"{n}.csv", **study.read_csv) for n in names}
    report = Report(out, options.quick, options.seed, options, designs, read)
    (out / "findings.md").write_text(study.report(report))
    points = sum(len(d.points) for d in designs)
    csvs = ", ".join(f"{n}.csv" for n in read)
    finish(study.name, out, points, wall, cpu, f"{csvs}, manifest.json, charts, findings.md")
    return 0
