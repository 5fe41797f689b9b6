"""The ``evsim`` command (DESIGN §5: a stable contract).

``evsim run SCENARIO.yaml [--replications N] [--seed S] [--set PATH=VALUE ...] [--out DIR]
[--json] [--workers N]`` runs the replications and prints a summary table (mean and 95% CI per
metric, then a per-sink breakdown), or with ``--json`` one JSON object on stdout. Warnings and
progress go to stderr. A bad scenario prints one clear message and exits with status 2.

``evsim validate [--quick]`` runs the theory checks of DESIGN §7 and prints theory vs
simulation. ``evsim experiments [NAME ...] [--quick]`` runs the experiment scripts that write
``results/``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sim.config import EvsimWarning, ScenarioError, load_scenario
from sim.metrics import METRICS, summary_json

__all__ = ["main"]


def _warn_to_stderr(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"evsim: warning: {message}", file=sys.stderr)


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.4g}"
    if float(v).is_integer() and a < 1e6:
        return f"{v:,.0f}"
    return f"{v:.4g}" if a < 1 else f"{v:,.4g}" if a < 1000 else f"{v:,.1f}"


def _summary_table(js: dict[str, Any]) -> str:
    lines = [
        f"scenario: {js['scenario']}   replications: {js['replications']}   seed: {js['seed']}",
        "",
        f"{'metric':<26} {'mean':>12} {'95% CI':>27} {'std':>11}",
        "-" * 79,
    ]
    for name in METRICS:
        s = js["metrics"][name]
        ci = (
            f"[{_fmt(s['ci_low'])}, {_fmt(s['ci_high'])}]"
            if s["ci_low"] is not None
            else "—"
        )
        lines.append(f"{name:<26} {_fmt(s['mean']):>12} {ci:>27} {_fmt(s['std']):>11}")
    sinks = js["sinks"]
    if sinks:
        cols = [
            "delivered", "dead_lettered", "expired", "lost", "in_flight", "duplicates",
            "latency_p50_s", "latency_p99_s",
        ]  # fmt: skip
        lines += ["", "per sink (means over replications):"]
        header = f"{'sink':<16}" + "".join(f"{c:>14}" for c in cols)
        lines += [header, "-" * len(header)]
        for sink, block in sinks.items():
            m = block["metrics"]
            lines.append(f"{sink:<16}" + "".join(f"{_fmt(m[c]['mean']):>14}" for c in cols))
    return "\n".join(lines)


def _cmd_run(args: argparse.Namespace) -> int:
    from sim.experiment import run_replications
    from sim.output import write_run

    scenario = load_scenario(args.scenario, args.set or ())
    seed = scenario.seed if args.seed is None else args.seed
    n = scenario.replications if args.replications is None else args.replications
    results = run_replications(
        scenario, n, seed, workers=args.workers, progress=not args.json and sys.stderr.isatty()
    )
    js = summary_json(results, scenario.name, seed)
    if args.out:
        write_run(Path(args.out), scenario, seed, results)
    if args.json:
        print(json.dumps(js, allow_nan=False))
    else:
        print(_summary_table(js))
        if args.out:
            print(f"\nwrote {args.out}/ (rows.parquet, rows.csv, summary.csv, manifest.json)")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from sim.validation import run_checks

    table = run_checks(quick=args.quick, progress=sys.stderr.isatty())
    cols = ["case", "theory", "sim_mean", "ci_low", "ci_high", "inside_ci"]
    print(table[cols].to_string(index=False))
    return 0 if bool(table["inside_ci"].all()) else 1


def _experiments_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "experiments"
    return here if here.is_dir() else Path.cwd() / "experiments"


def _cmd_experiments(args: argparse.Namespace) -> int:
    import importlib.util

    folder = _experiments_dir()
    available = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
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
        path = folder / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"evsim_experiment_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"== experiment {name}", file=sys.stderr, flush=True)
        rc = int(module.main(["--quick"] if args.quick else []))
        status = status or rc
    return status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evsim",
        description="Discrete-event reliability simulator for AWS event-processing architectures.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the replications of a scenario and summarise them")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--replications", type=int, help="number of replications")
    run.add_argument("--seed", type=int, help="root seed (default: the scenario's)")
    run.add_argument(
        "--set", action="append", metavar="PATH=VALUE", help="override a field by dotted path"
    )
    run.add_argument("--out", help="write per-replication rows, summary and manifest here")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: all cores)"
    )
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check the simulator against queueing theory")
    val.add_argument("--quick", action="store_true", help="fewer, shorter replications")
    val.set_defaults(func=_cmd_validate)

    exp = sub.add_parser("experiments", help="run the experiment scripts that write results/")
    exp.add_argument("names", nargs="*", help="experiments to run (default: all)")
    exp.add_argument("--quick", action="store_true", help="small, fast versions")
    exp.set_defaults(func=_cmd_experiments)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evsim`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    warnings.showwarning = _warn_to_stderr
    warnings.simplefilter("always", EvsimWarning)
    if getattr(args, "replications", None) is not None and args.replications < 1:
        print("evsim: error: --replications must be ≥ 1", file=sys.stderr)
        return 2
    try:
        status: int = args.func(args)
        return status
    except ScenarioError as exc:
        print(f"evsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

