"""The ``evsim`` command (a stable contract: README and docs/metrics.md).

``evsim run SCENARIO.yaml [--replications N] [--seed S] [--set PATH=VALUE ...] [--out DIR]
[--json] [--workers N] [--plot DIR] [--report FILE.html]`` runs the replications and prints a
summary table (mean and 95% CI per metric, then a per-sink breakdown), or with ``--json`` one
JSON object on stdout. Warnings and progress go to stderr. A bad scenario prints one clear
message and exits with status 2. ``evsim compare`` and ``evsim sweep`` take the same options.

``--out``, ``--plot`` and ``--report`` record the time series of every replication; ``--plot``
writes PNG charts (:mod:`sim.analysis.charts`) and ``--report`` one self-contained HTML page
(:mod:`sim.analysis.html`). Plotting libraries are imported only for these two options.

Warnings go to stderr as they arise, and into the ``warnings`` list of ``--json`` output and
of ``manifest.json``: a scenario setting accepted but unrealistic, a run too big for the
machine or expecting almost no message, a compare whose variants change the workload, pairs
still in flight at the end, a CI reaching below 0 on a quantity that cannot be negative, a
``--precision`` not reached (see :mod:`sim.analysis.diagnostics` and
:mod:`sim.config.workload`). Errors (a bad scenario or option, a scenario that produces no
message, an unreachable Dask scheduler) print one clear message and exit with status 2.

``evsim check FILE...`` (also ``evsim validate FILE...``) validates scenario files without
running them and prints each as loaded, defaults filled in. ``evsim schema [--markdown]``
prints the JSON Schema of the format (or the generated reference). ``evsim --version``.
``evsim validate [--quick]`` runs the theory checks of :mod:`sim.study.validation` and prints
theory vs simulation. ``evsim experiments [NAME ...] [--quick]`` runs the studies that write
``results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata, util
from pathlib import Path
from typing import Any, TextIO

from sim.analysis.metrics import summary_json
from sim.analysis.report import summary_table
from sim.config.load import load_scenario, parse_value
from sim.config.problems import EvsimWarning, ScenarioError
from sim.diagnose import after_run, before_run

__all__ = ["main", "version_line"]


class _Warnings:
    """The warnings of one command: printed to stderr as they come, kept for JSON and manifests."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.items:
            self.items.append(message)
            print(f"evsim: warning: {message}", file=sys.stderr)

    def showwarning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, EvsimWarning):
            self.add(str(message))
        else:
            print(f"evsim: warning: {category.__name__}: {message}", file=sys.stderr)


def version_line() -> str:
    """``evsim VERSION (compiled)`` or ``(pure Python)``: which build of the core is running.

    Compiled means mypyc's C extensions (``pip install .`` with a C compiler); pure Python is
    an editable install, ``EVSIM_PURE_PYTHON=1`` or a build that fell back, whose reason the
    install left in ``sim/_build_note.txt`` and is shown here.
    """
    try:
        version = metadata.version("evsim")
    except metadata.PackageNotFoundError:
        version = "unknown"
    spec = util.find_spec("sim.engine.ledger")
    origin = spec.origin if spec is not None else None
    if origin is not None and not origin.endswith(".py"):
        return f"evsim {version} (compiled)"
    note = Path(__file__).with_name("_build_note.txt")
    if not os.environ.get("EVSIM_PURE_PYTHON") and note.is_file():
        text = note.read_text(encoding="utf-8").strip()
        if text.startswith("pure Python:"):  # the install did not compile: say why
            return f"evsim {version} ({text})"
    return f"evsim {version} (pure Python)"


def _seed(text: str) -> int:
    """An argparse type: a root seed, a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 0, got {text!r}")
    return value


def _progress(args: argparse.Namespace) -> bool:
    return not args.json and not args.quiet and sys.stderr.isatty()


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """Executor and stopping options shared by run, compare and sweep."""
    return {
        "workers": args.workers,
        "progress": _progress(args),
        "dask": args.dask,
        "precision": args.precision,
        "max_replications": args.max_replications,
        "observe": bool(args.out or args.plot or args.report),
    }


def _wrote(args: argparse.Namespace, what: str) -> None:
    """Say what was written: on stdout after a table, on stderr after ``--json``."""
    print(what, file=sys.stderr if args.json else sys.stdout)


def _charts_and_report(
    args: argparse.Namespace, figures: dict[str, Any], page: Callable[[dict[str, Any]], str]
) -> None:
    """Write ``figures`` into ``--plot DIR`` and ``page(figures)`` to ``--report FILE``."""
    from sim.analysis.charts import write_figures
    from sim.analysis.html import write_page

    if args.plot:
        paths = write_figures(figures, Path(args.plot))
        _wrote(args, f"wrote {args.plot}/ ({', '.join(p.name for p in paths)})")
    if args.report:
        write_page(page(figures), Path(args.report))
        _wrote(args, f"wrote {args.report}")


def _print_result(args: argparse.Namespace, js: dict[str, Any], table: Callable[[], str]) -> None:
    """The JSON object (``--json``) or the text table, then a blank line before file notes."""
    if args.json:
        print(json.dumps(js, allow_nan=False))
        return
    print(table())
    if args.out or args.plot or args.report:
        print()


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.analysis.output import write_run
    from sim.experiment import run_replications

    scenario = load_scenario(args.scenario, args.set or ())
    seed = scenario.seed if args.seed is None else args.seed
    n = scenario.replications if args.replications is None else args.replications
    before_run([scenario], n, args.workers, args.warned.add)
    results = run_replications(
        scenario,
        n,
        seed,
        **_engine_options(args),
    )
    after_run({scenario.name: results}, [scenario], args.precision, args.warned.add)
    js = summary_json(results, scenario.name, seed)
    js["warnings"] = args.warned.items
    if args.out:
        write_run(Path(args.out), scenario, seed, results, args.warned.items)
    _print_result(args, js, lambda: summary_table(js))
    if args.out:
        _wrote(args, f"wrote {args.out}/ (rows.parquet, rows.csv, summary.csv, "
                     "timeseries.parquet, manifest.json)")  # fmt: skip
    if args.plot or args.report:
        from sim.analysis.charts import run_figures
        from sim.analysis.html import run_page
        from sim.analysis.output import manifest

        figures = run_figures(results, js, scenario, seed)
        doc = manifest(scenario, seed, results)
        _charts_and_report(args, figures, lambda f: run_page(js, f, doc["scenario"], doc))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.analysis.output import write_study
    from sim.analysis.report import compare_table
    from sim.config.workload import workload_changes
    from sim.experiment import compare

    scenarios = [load_scenario(path, args.set or ()) for path in args.scenarios]
    for path, s in zip(args.scenarios[1:], scenarios[1:], strict=True):
        changes = workload_changes(scenarios[0], s)
        if changes:
            args.warned.add(
                f"{path} changes the workload of {args.scenarios[0]} ({'; '.join(changes)}): "
                "its messages differ from the baseline's, so common random numbers no longer "
                "pair them and the differences mix workload and system effects"
            )
    before_run(
        scenarios, args.replications or scenarios[0].replications, args.workers, args.warned.add
    )
    res = compare(
        scenarios,
        args.replications,
        args.seed,
        **_engine_options(args),
    )
    after_run(res.runs, scenarios, args.precision, args.warned.add)
    js = res.to_json()
    js["warnings"] = args.warned.items
    n = len(res.runs[res.baseline])
    if args.out:
        write_study(Path(args.out), "compare", res.runs, scenarios, res.seed,
                    differences=js["differences"], warnings=args.warned.items)  # fmt: skip
    _print_result(args, js, lambda: compare_table(js, res.seed, n))
    if args.out:
        _wrote(args, f"wrote {args.out}/ (rows.parquet, rows.csv, summary.csv, "
                     "differences.csv, timeseries.parquet, manifest.json)")  # fmt: skip
    if args.plot or args.report:
        from sim.analysis.charts import compare_figures
        from sim.analysis.html import compare_page
        from sim.analysis.output import study_manifest

        figures = compare_figures(js, res.seed, n)
        doc = study_manifest("compare", res.runs, scenarios, res.seed)
        _charts_and_report(
            args, figures, lambda f: compare_page(js, f, doc["scenarios"], doc, n)
        )
    return 0


def _parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    import yaml

    grid: dict[str, list[Any]] = {}
    for item in items:
        path, sep, values = item.partition("=")
        if not sep or not path.strip() or not values.strip():
            raise ScenarioError(
                "--grid", [("", item, "expected PATH=V1,V2,... (for example "
                            "components.worker.errors.rate=0.01,0.1)")]
            )
        if path.strip() in grid:
            why = ("given twice; give every value of a path in one --grid "
                   "(PATH=V1,V2,...), or the later one would replace the earlier")  # fmt: skip
            raise ScenarioError("--grid", [(path.strip(), values, why)])
        try:
            grid[path.strip()] = [parse_value(v) for v in values.split(",")]
        except yaml.YAMLError as exc:
            why = f"invalid value: {exc}"
            raise ScenarioError("--grid", [(path.strip(), values, why)]) from None
    return grid


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sim.analysis.output import write_study
    from sim.analysis.report import sweep_table
    from sim.experiment import grid_points, sweep

    scenario = load_scenario(args.scenario, args.set or ())
    grid = _parse_grid(args.grid)
    points = [scenario.with_updates(p) for p in grid_points(grid)]
    before_run(points, args.replications or scenario.replications, args.workers, args.warned.add)
    res = sweep(
        scenario,
        grid,
        args.replications,
        args.seed,
        **_engine_options(args),
    )
    names = [", ".join(f"{k}={v}" for k, v in p.items()) for p in res.points]
    after_run(
        dict(zip(names, res.runs, strict=True)), res.scenarios, args.precision, args.warned.add
    )
    js = res.to_json()
    js["warnings"] = args.warned.items
    n = len(res.runs[0]) if res.runs else 0
    names = [", ".join(f"{k}={v}" for k, v in p.items()) for p in res.points]
    variants = dict(zip(names, res.runs, strict=True))
    if args.out:
        write_study(
            Path(args.out), "sweep", variants, res.scenarios, res.seed, res.points,
            {"grid": grid}, warnings=args.warned.items,
        )
    _print_result(args, js, lambda: sweep_table(js, res.seed, n))
    if args.out:
        _wrote(args, f"wrote {args.out}/ (rows.parquet, rows.csv, summary.csv, "
                     "timeseries.parquet, manifest.json)")  # fmt: skip
    if args.plot or args.report:
        from sim.analysis.charts import sweep_figures
        from sim.analysis.html import sweep_page
        from sim.analysis.output import study_manifest

        figures = sweep_figures(js, res.seed, n)
        doc = study_manifest("sweep", variants, res.scenarios, res.seed, res.points,
                             {"grid": grid})  # fmt: skip
        base = scenario.model_dump(mode="json", by_alias=True)
        _charts_and_report(args, figures, lambda f: sweep_page(js, f, base, doc, n))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import yaml

    from sim.config.schema import file_data

    status, printed = 0, 0
    for path in args.files:
        try:
            scenario = load_scenario(path, args.set or ())
            before_run([scenario], scenario.replications, None, args.warned.add)
        except ScenarioError as exc:
            print(f"evsim: error: {exc}", file=sys.stderr)
            status = 2
            continue
        text = yaml.safe_dump(file_data(scenario), sort_keys=False, allow_unicode=True)
        print(f"{'---' if printed else ''}\n# {path}\n{text}".lstrip("\n"), end="")
        printed += 1
    return status


def _cmd_schema(args: argparse.Namespace) -> int:
    from sim.config.reference import markdown
    from sim.config.schema import json_schema

    if args.markdown:
        sys.stdout.write(markdown())
    else:
        print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.study.validation import run_checks

    if args.files:
        return _cmd_check(args)

    table = run_checks(quick=args.quick, progress=sys.stderr.isatty())
    cols = ["case", "theory", "sim_mean", "ci_low", "ci_high", "inside_ci"]
    print(table[cols].to_string(index=False))
    return 0 if bool(table["inside_ci"].all()) else 1


def _experiments_dir() -> Path:
    from sim.project import project_root

    checkout = project_root() / "experiments"
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parent.parent / "experiments"  # installed with the package


def _cmd_experiments(args: argparse.Namespace) -> int:
    import importlib

    folder = _experiments_dir()
    if str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))  # the studies import each other as experiments.*
    try:
        available = list(importlib.import_module("experiments").STUDIES)
    except ImportError:
        available = []
    names = args.names or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(
            f"evsim: error: unknown experiment(s) {', '.join(unknown)}; "
            f"available: {', '.join(available) or 'none'} (in {folder})",
            file=sys.stderr,
        )
        return 2
    status = 0
    for name in names:
        module = importlib.import_module(f"experiments.{name}")
        print(f"== experiment {name}", file=sys.stderr, flush=True)
        rc = int(module.main(["--quick"] if args.quick else []))
        status = status or rc
    return status


def _study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replications", type=int, help="number of replications")
    p.add_argument("--seed", type=_seed, help="root seed, a whole number ≥ 0 (default: the "
                   "scenario's)")
    p.add_argument(
        "--set", action="append", metavar="PATH=VALUE", help="override a field by dotted path"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write per-replication rows, summary, time series and manifest here",
    )
    p.add_argument("--plot", metavar="DIR", help="write PNG charts here")
    p.add_argument(
        "--report", metavar="FILE.html", help="write one self-contained HTML report here"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run on Dask: 'local' starts a LocalCluster, or a scheduler address tcp://HOST:PORT",
    )
    p.add_argument(
        "--precision",
        type=float,
        help="add replications until every headline metric's 95%% CI half-width is within "
        "this fraction of its mean (e.g. 0.05)",
    )
    p.add_argument(
        "--max-replications", type=int, default=200, help="cap for --precision (default 200)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evsim",
        description="Discrete-event reliability simulator for AWS event-processing architectures.",
    )
    p.add_argument("--version", action="version", version=version_line())
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the replications of a scenario and summarise them")
    run.add_argument("scenario", help="scenario YAML file")
    _study_options(run)
    run.set_defaults(func=_cmd_run)

    cmp_ = sub.add_parser(
        "compare", help="run variants with common random numbers; differences vs the first"
    )
    cmp_.add_argument(
        "scenarios", nargs="+", help="scenario YAML files (the first is the baseline)"
    )
    _study_options(cmp_)
    cmp_.set_defaults(func=_cmd_compare)

    swp = sub.add_parser("sweep", help="run a scenario over a parameter grid")
    swp.add_argument("scenario", help="scenario YAML file")
    swp.add_argument(
        "--grid", action="append", required=True, metavar="PATH=V1,V2,...",
        help="a dotted path and its values (repeat for a cartesian product)",
    )
    _study_options(swp)
    swp.set_defaults(func=_cmd_sweep)

    chk = sub.add_parser(
        "check", help="validate scenario files without running them; print them as loaded"
    )
    chk.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    chk.add_argument(
        "--set", action="append", metavar="PATH=VALUE", help="override a field by dotted path"
    )
    chk.set_defaults(func=_cmd_check)

    sch = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    sch.add_argument(
        "--markdown", action="store_true", help="print the generated reference page instead"
    )
    sch.set_defaults(func=_cmd_schema)

    val = sub.add_parser(
        "validate",
        help="check the simulator against queueing theory; with files, check the files",
    )
    val.add_argument(
        "files", nargs="*", metavar="FILE", help="scenario files to check (as evsim check does)"
    )
    val.add_argument("--quick", action="store_true", help="fewer, shorter replications")
    val.add_argument(
        "--set", action="append", metavar="PATH=VALUE", help="with files: override a field"
    )
    val.set_defaults(func=_cmd_validate)

    exp = sub.add_parser("experiments", help="run the experiment scripts that write results/")
    exp.add_argument("names", nargs="*", help="experiments to run (default: all)")
    exp.add_argument("--quick", action="store_true", help="small, fast versions")
    exp.set_defaults(func=_cmd_experiments)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evsim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    args.warned = _Warnings()
    with warnings.catch_warnings():
        warnings.showwarning = args.warned.showwarning
        warnings.simplefilter("always", EvsimWarning)
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    if getattr(args, "replications", None) is not None and args.replications < 1:
        print("evsim: error: --replications must be ≥ 1", file=sys.stderr)
        return 2
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("evsim: error: --workers must be ≥ 1", file=sys.stderr)
        return 2
    if getattr(args, "max_replications", None) is not None and args.max_replications < 1:
        print("evsim: error: --max-replications must be ≥ 1", file=sys.stderr)
        return 2
    precision = getattr(args, "precision", None)
    if precision is not None and not 0 < precision < 1:
        print("evsim: error: --precision must be in (0, 1), e.g. 0.05", file=sys.stderr)
        return 2
    try:
        status: int = args.func(args)
        return status
    except ScenarioError as exc:
        print(f"evsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

