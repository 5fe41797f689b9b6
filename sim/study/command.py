"""The command line every experiment script shares, and its closing summary line."""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

from sim.analysis.output import write_results_index

__all__ = ["cpu_seconds", "experiment_parser", "finish"]


def _positive_int(text: str) -> int:
    """An ``--replications`` value: a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} replications: at least 1 is needed")
    return value


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
    """The options every experiment script has: ``--quick --out --seed --workers --dask``.

    Args:
        prog: the program name shown in usage, e.g. ``python -m experiments.fanout``.
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
    p.add_argument(
        "--dask", default=None, metavar="ADDRESS",
        help="run on Dask: 'local' (a LocalCluster of --workers processes) or a scheduler "
        "address; the script must be importable on the workers",
    )  # fmt: skip
    if replications_help is not None:
        p.add_argument(
            "--replications", type=_positive_int, default=None, help=replications_help
        )
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
