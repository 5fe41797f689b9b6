"""What recording the time series costs: msgs/s with and without it, on the same scenario.

The scenario is ``throughput.py``'s SQS → Lambda M/M/4 queue at ρ = 0.9 (and its 3-stage
pipeline), validated once (not timed). Each repeat builds and runs the scenario
without and with recording (``sim.build.build(scenario, observe=...).run()``) at the default
interval ((duration_s + drain_s) ÷ 600, so 600 samples a run), in alternating order, with the
same seed within a repeat (so the two runs simulate exactly the same messages). msgs/s is
``messages_produced`` ÷ the run's CPU time (``time.process_time``; wall-clock msgs/s is shown
too, but on a shared machine other processes make it swing by tens of percent). Reported: the
medians over ``--repeats`` and their ratio, the median of the per-repeat ratios (target:
recording costs under 10%, a ratio ≥ 0.90), and the share of the recorded run's CPU time spent
inside the recorder's samples.

Run: ``make bench`` (after ``throughput.py``), or ``.venv/bin/python benchmarks/observe.py``
(``--quick`` for a smoke run, ``--json PATH`` to write the figures).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from pathlib import Path
from typing import Any

from sim.build import build
from sim.cli import version_line
from sim.config import Scenario

if __package__:  # imported as benchmarks.observe
    from .throughput import PIPELINE_STAGES, SEED, make_scenario
else:  # run as a script: benchmarks/ is sys.path[0]
    from throughput import PIPELINE_STAGES, SEED, make_scenario

TARGET_RATIO = 0.90
QUICK_MESSAGES = 20_000


def timed(scenario: Scenario, observe: bool) -> dict[str, Any]:
    """One run: msgs/s of wall and of CPU time, and (recorded) the time spent in samples."""
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model = build(scenario, observe=observe)
    result = model.run()
    # the recorder times its own samples (CPU time), whichever build runs it
    in_samples = [model.recorder.sample_cpu_s if model.recorder is not None else 0.0]
    cpu_s = time.process_time() - cpu0
    wall_s = time.perf_counter() - wall0
    produced = result.metrics["messages_produced"]
    ts = result.timeseries
    return {
        "messages": produced,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "messages_per_s": produced / wall_s,
        "messages_per_cpu_s": produced / cpu_s,
        "sampling_cpu_s": in_samples[0],
        "samples": int(ts["t_s"].nunique()) if ts is not None else 0,
        "rows": len(ts) if ts is not None else 0,
        "delivered": result.metrics["delivered"],
    }


def compare(messages: int, repeats: int, stages: int) -> dict[str, Any]:
    """Interleaved repeats of the plain and the recorded run; medians and ratios."""
    runs: dict[str, list[dict[str, Any]]] = {"plain": [], "recorded": []}
    ratios = []
    for rep in range(repeats):
        scenario = make_scenario(messages, SEED + rep, stages)
        order = [False, True] if rep % 2 == 0 else [True, False]
        got = {}
        for observe in order:
            got[observe] = timed(scenario, observe)
        if got[True]["delivered"] != got[False]["delivered"]:
            raise RuntimeError("recording changed the run's metrics")
        runs["plain"].append(got[False])
        runs["recorded"].append(got[True])
        ratios.append(got[True]["messages_per_cpu_s"] / got[False]["messages_per_cpu_s"])
        share = got[True]["sampling_cpu_s"] / got[True]["cpu_s"]
        print(
            f"  {stages}-stage repeat {rep + 1}/{repeats}: plain "
            f"{got[False]['messages_per_cpu_s']:>9,.0f}, recorded "
            f"{got[True]['messages_per_cpu_s']:>9,.0f} msgs per CPU s (wall: "
            f"{got[False]['messages_per_s']:,.0f} and {got[True]['messages_per_s']:,.0f} "
            f"msgs/s), ratio {ratios[-1]:.3f}; {got[True]['samples']} samples "
            f"({got[True]['rows']:,} rows) took {share:.2%} of the CPU time",
            flush=True,
        )
    med = statistics.median
    plain = med(r["messages_per_cpu_s"] for r in runs["plain"])
    recorded = med(r["messages_per_cpu_s"] for r in runs["recorded"])
    return {
        "stages": stages,
        "median_plain_messages_per_cpu_s": plain,
        "median_recorded_messages_per_cpu_s": recorded,
        "median_plain_messages_per_s": med(r["messages_per_s"] for r in runs["plain"]),
        "median_recorded_messages_per_s": med(r["messages_per_s"] for r in runs["recorded"]),
        "ratio_of_medians": recorded / plain,
        "median_ratio": med(ratios),
        "median_sampling_share": med(r["sampling_cpu_s"] / r["cpu_s"] for r in runs["recorded"]),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """Time plain and recorded runs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=300_000,
                        help="messages per run (default 300000)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5,
                        help="interleaved repeats (default 5)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_MESSAGES} messages, 1 repeat")  # fmt: skip
    parser.add_argument(
        "--stages", default=f"1,{PIPELINE_STAGES}",
        help=f"pipeline lengths to time, comma-separated (default 1,{PIPELINE_STAGES})",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.repeats = QUICK_MESSAGES, 1
    if args.messages < 1 or args.repeats < 1:
        parser.error("--messages and --repeats must be ≥ 1")
    print(f"Recording the time series: {args.messages:,} messages, {args.repeats} repeat(s), "
          f"{version_line()}")  # fmt: skip
    stages = [int(v) for v in args.stages.split(",")]
    figures = [compare(args.messages, args.repeats, s) for s in stages]
    print()
    header = ("scenario", "plain msgs/CPU s", "recorded msgs/CPU s", "ratio of medians",
              "median ratio", "in samples", f"target ≥ {TARGET_RATIO}")  # fmt: skip
    rows = [header]
    for f in figures:
        ok = "meets" if f["median_ratio"] >= TARGET_RATIO else "BELOW"
        rows.append((
            f"SQS → Lambda, {f['stages']} stage(s)",
            f"{f['median_plain_messages_per_cpu_s']:,.0f}",
            f"{f['median_recorded_messages_per_cpu_s']:,.0f}",
            f"{f['ratio_of_medians']:.3f}",
            f"{f['median_ratio']:.3f}",
            f"{f['median_sampling_share']:.2%}",
            ok,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for k, row in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("  (msgs per CPU second of the process: steadier than wall time on a shared machine;\n"
          "   'in samples' is the share of the recorded run's CPU time spent taking samples)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"Figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
