"""Throughput and peak memory of evsim on an SQS → Lambda M/M/c queue, against hand-written SimPy.

What is measured (c = 4 servers, ρ = 0.9: Poisson arrivals λ = 3.6/s, exponential durations of
mean 1 s; SQS latency, poll delay and cold start 0; batch size 1; warm-up 0):

1. evsim: the scenario is validated once with ``sim.config.scenario_from_dict`` (not timed),
   then ``sim.build.run_once(scenario)`` is timed (model build + ``env.run`` + metrics).
   ``duration_s = N / λ``, so about N messages arrive (a Poisson count); msgs/s is evsim's
   ``messages_produced`` divided by that wall time. Its mean latency is shown next to Erlang C.
2. The hand-written SimPy baselines of ``benchmarks/simpy_baseline.py`` with the same
   parameters and exactly N customers: ``run_deque_mmc`` (source + c server processes + deque,
   the fast way) and ``run_resource_mmc`` (one process per customer + ``simpy.Resource``, the
   idiomatic way). msgs/s is completed customers divided by their wall time.
   The three are interleaved (order rotated each repeat) ``--repeats`` times; medians reported.
3. Ratios evsim / deque and evsim / resource of the median msgs/s (target: ≥ 0.5 against a
   hand-written SimPy model of the same queue).
4. The same queue as a 3-stage pipeline (``evsim_3stage``): SQS → Lambda → SQS → Lambda →
   SQS → Lambda, each function emitting one derived message to the next queue, each stage
   the same M/M/4 at ρ = 0.9; interleaved with the others. msgs/s counts root messages (each
   is processed three times), so the single-stage cost per stage is about a third of it.
5. Peak resident memory of one ``--memory-messages`` evsim run in a fresh child process
   (``ru_maxrss`` at the end of the child), and the child's peak RSS after its imports only;
   the same for the 3-stage pipeline (target < 400 MB for 2M messages).

Run: ``make bench`` (= ``.venv/bin/python benchmarks/throughput.py``); ``--quick`` for a smoke
run; ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sim.analysis.theory import mmc_mean_sojourn_s
from sim.build import run_once
from sim.config import Scenario, scenario_from_dict

if __package__:  # imported as benchmarks.throughput
    from .simpy_baseline import BaselineResult, run_deque_mmc, run_resource_mmc
else:  # run as a script: benchmarks/ is sys.path[0]
    from simpy_baseline import BaselineResult, run_deque_mmc, run_resource_mmc

SERVERS = 4
RHO = 0.9
SERVICE_MEAN_S = 1.0
ARRIVAL_RATE_PER_S = RHO * SERVERS / SERVICE_MEAN_S  # 3.6
#: Simulated time after the last arrival: far more than the backlog of an M/M/4 at ρ = 0.9
#: needs at 4 msgs/s; every run is checked to have delivered every message.
DRAIN_S = 3600.0
SEED = 20240601
MEMORY_TARGET_MB = 300.0
PIPELINE_STAGES = 3
PIPELINE_MEMORY_TARGET_MB = 400.0
RATIO_TARGET = 0.5

QUICK_MESSAGES = 20_000
QUICK_MEMORY_MESSAGES = 50_000


def scenario_dict(messages: int, seed: int = SEED, stages: int = 1) -> dict[str, Any]:
    """The SQS → Lambda M/M/c scenario with about ``messages`` arrivals (``stages`` in a row)."""
    if stages > 1:
        return pipeline_dict(messages, seed, stages)
    return {
        "name": f"bench-mmc-c{SERVERS}-rho{RHO}",
        "seed": seed,
        "duration_s": messages / ARRIVAL_RATE_PER_S,
        "drain_s": DRAIN_S,
        "warmup_s": 0,
        "replications": 1,
        "components": {
            "arrivals": {
                "type": "producer",
                "rate_per_s": ARRIVAL_RATE_PER_S,
                "send_to": ["queue"],
            },
            "queue": {"type": "sqs_queue", "visibility_timeout_s": 43_200, "latency_s": 0},
            "server": {
                "type": "lambda_function",
                "trigger": {
                    "source": "queue",
                    "batch_size": 1,
                    "max_concurrency": SERVERS,
                    "poll_delay_s": 0,
                },
                "duration_s": {"exponential": {"mean": SERVICE_MEAN_S}},
                "cold_start": {"duration_s": 0},
                "timeout_s": 900,
            },
        },
    }


def pipeline_dict(messages: int, seed: int, stages: int) -> dict[str, Any]:
    """``stages`` SQS → Lambda stages in a row, each function emitting to the next queue."""
    one = scenario_dict(messages, seed)
    comps = one["components"]
    out: dict[str, Any] = {"arrivals": comps["arrivals"]}
    for i in range(stages):
        queue = "queue" if i == 0 else f"queue{i}"
        server = {**comps["server"], "trigger": {**comps["server"]["trigger"], "source": queue}}
        if i + 1 < stages:
            server["outputs"] = [{"to": f"queue{i + 1}"}]
        out[queue] = comps["queue"]
        out[f"server{i}"] = server
    return {**one, "name": f"bench-pipeline{stages}-c{SERVERS}-rho{RHO}", "components": out}


def make_scenario(messages: int, seed: int = SEED, stages: int = 1) -> Scenario:
    """Validate the benchmark scenario (not timed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the scenario is meant to be warning-free
        return scenario_from_dict(scenario_dict(messages, seed, stages), source="<benchmark>")


def run_evsim(scenario: Scenario) -> dict[str, Any]:
    """Time ``run_once(scenario)``; check that every message was delivered exactly once."""
    start = time.perf_counter()
    result = run_once(scenario)
    wall_s = time.perf_counter() - start
    m = result.metrics
    produced = m["messages_produced"]
    stages = len(result.sinks)
    if m["delivered"] != produced * stages or m["in_flight"] or m["duplicates"] or m["lost"]:
        raise RuntimeError(
            f"evsim run did not deliver every message once: produced {produced}, "
            f"delivered {m['delivered']}, in flight {m['in_flight']}, "
            f"duplicates {m['duplicates']}, lost {m['lost']} (drain_s {DRAIN_S} too short?)"
        )
    return {
        "messages": produced,
        "wall_s": wall_s,
        "messages_per_s": produced / wall_s,
        # end to end: at the last stage's sink (the run's mean is over every stage's pairs)
        "mean_latency_s": result.sinks[list(result.sinks)[-1]]["latency_mean_s"],
    }


def run_baseline(fn: Callable[..., BaselineResult], messages: int, seed: int) -> dict[str, Any]:
    """One run of a hand-written SimPy baseline with the benchmark's parameters."""
    r = fn(ARRIVAL_RATE_PER_S, SERVICE_MEAN_S, SERVERS, messages, seed)
    if r.messages != messages:
        raise RuntimeError(f"{fn.__name__} completed {r.messages} of {messages} customers")
    return {
        "messages": r.messages,
        "wall_s": r.wall_s,
        "messages_per_s": r.messages_per_s,
        "mean_latency_s": r.mean_sojourn_s,
    }


def throughput(messages: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Interleaved repeats of evsim and both baselines; per model, every run and the medians."""
    runners: dict[str, Callable[[int], dict[str, Any]]] = {
        "evsim": lambda seed: run_evsim(make_scenario(messages, seed)),
        "evsim_3stage": lambda seed: run_evsim(make_scenario(messages, seed, PIPELINE_STAGES)),
        "simpy_deque": lambda seed: run_baseline(run_deque_mmc, messages, seed),
        "simpy_resource": lambda seed: run_baseline(run_resource_mmc, messages, seed),
    }
    names = list(runners)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for rep in range(repeats):
        order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate to spread drift
        for name in order:
            gc.collect()
            run = runners[name](SEED + rep)
            runs[name].append(run)
            print(
                f"  repeat {rep + 1}/{repeats} {name:<15} {run['messages_per_s']:>10,.0f} msgs/s"
                f"  wall {run['wall_s']:6.2f} s",
                flush=True,
            )
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        rs = runs[name]
        out[name] = {
            "median_messages_per_s": statistics.median(r["messages_per_s"] for r in rs),
            "median_wall_s": statistics.median(r["wall_s"] for r in rs),
            "mean_latency_s": statistics.fmean(r["mean_latency_s"] for r in rs),
            "runs": rs,
        }
    return out


# --------------------------------------------------------------------------- memory (child)


def _maxrss_mb() -> float:
    """Peak resident set size of this process so far, in MB (``ru_maxrss`` is KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes on macOS
        kib //= 1024
    return kib / 1024.0


def _current_rss_mb() -> float | None:
    """Current resident set size in MB (``VmRSS``; None where /proc is not available)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def memory_child(messages: int, stages: int = 1) -> int:
    """In a fresh process: RSS after imports, then after one evsim run; JSON on stdout."""
    # The module-level imports (sim.build pulls in pandas, scipy.stats, pydantic, ...) are done.
    after_imports_mb = _maxrss_mb()
    after_imports_current_mb = _current_rss_mb()
    scenario = make_scenario(messages, stages=stages)
    run = run_evsim(scenario)
    peak_mb = _maxrss_mb()
    print(
        json.dumps(
            {
                "messages": run["messages"],
                "wall_s": run["wall_s"],
                "after_imports_mb": after_imports_mb,
                "after_imports_current_mb": after_imports_current_mb,
                "peak_mb": peak_mb,
                "end_current_mb": _current_rss_mb(),
            }
        )
    )
    return 0


def memory(messages: int, stages: int = 1) -> dict[str, Any]:
    """Run :func:`memory_child` in a fresh interpreter (same environment) and read its figures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_memory-child", str(messages),
           "--_stages", str(stages)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed ({proc.returncode}):\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["run_adds_mb"] = out["peak_mb"] - out["after_imports_mb"]
    return out


# --------------------------------------------------------------------------- report


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        rest = [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        cells = [row[0].ljust(widths[0]), *rest]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def report(
    args: argparse.Namespace,
    tp: dict[str, dict[str, Any]],
    mem: dict[str, Any],
    total_s: float,
    mem3: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print the tables and return the figures (what ``--json`` writes)."""
    theory_s = mmc_mean_sojourn_s(ARRIVAL_RATE_PER_S, 1.0 / SERVICE_MEAN_S, SERVERS)
    labels = {
        "evsim": "evsim SQS → Lambda (run_once)",
        "evsim_3stage": f"evsim {PIPELINE_STAGES}-stage pipeline (root msgs)",
        "simpy_deque": "SimPy hand-written, deque (run_deque_mmc)",
        "simpy_resource": "SimPy hand-written, Resource (run_resource_mmc)",
    }
    evsim_rate = tp["evsim"]["median_messages_per_s"]
    ratios = {
        "evsim_over_deque": evsim_rate / tp["simpy_deque"]["median_messages_per_s"],
        "evsim_over_resource": evsim_rate / tp["simpy_resource"]["median_messages_per_s"],
    }
    rows = [["model", "msgs/s (median)", "wall s (median)", "mean latency s", "vs Erlang C"]]
    for name, label in labels.items():
        t = tp[name]
        stages = PIPELINE_STAGES if name == "evsim_3stage" else 1
        err = 100.0 * (t["mean_latency_s"] / (stages * theory_s) - 1.0)
        rows.append([
            label,
            f"{t['median_messages_per_s']:,.0f}",
            f"{t['median_wall_s']:.2f}",
            f"{t['mean_latency_s']:.4f}",
            f"{err:+.2f}%",
        ])  # fmt: skip
    rows.append(["Erlang C (theory.mmc_mean_sojourn_s)", "", "", f"{theory_s:.4f}", ""])
    rows.append([f"  × {PIPELINE_STAGES} stages (Jackson)", "", "",
                 f"{PIPELINE_STAGES * theory_s:.4f}", ""])  # fmt: skip
    ratios["pipeline_over_single"] = (
        tp["evsim_3stage"]["median_messages_per_s"] / evsim_rate
    )
    print()
    print(
        f"Throughput: M/M/{SERVERS}, ρ = {RHO}, λ = {ARRIVAL_RATE_PER_S:g}/s, "
        f"{args.messages:,} messages, median of {args.repeats} interleaved repeat(s)"
    )
    print(_table(rows))
    print()
    ok = lambda flag: "meets" if flag else "BELOW"  # noqa: E731
    print(_table([
        ["ratio (median msgs/s)", "value", f"target ≥ {RATIO_TARGET}"],
        ["evsim / SimPy deque baseline (fast)", f"{ratios['evsim_over_deque']:.3f}",
         ok(ratios["evsim_over_deque"] >= RATIO_TARGET)],
        ["evsim / SimPy Resource baseline (idiomatic)", f"{ratios['evsim_over_resource']:.3f}",
         ok(ratios["evsim_over_resource"] >= RATIO_TARGET)],
        [f"{PIPELINE_STAGES}-stage pipeline / single stage (root msgs/s)",
         f"{ratios['pipeline_over_single']:.3f}", f"(1/{PIPELINE_STAGES} = "
         f"{1 / PIPELINE_STAGES:.3f} if a stage costs the same)"],
    ]))  # fmt: skip
    print()
    print(f"Peak memory: one evsim run of {args.memory_messages:,} messages in a fresh process")
    print(_table([
        ["resident memory", "MB", f"target < {MEMORY_TARGET_MB:g} MB peak"],
        ["ru_maxrss after imports only (baseline)", f"{mem['after_imports_mb']:.1f}", ""],
        ["ru_maxrss at end of the run (peak)", f"{mem['peak_mb']:.1f}",
         ok(mem["peak_mb"] < MEMORY_TARGET_MB)],
        ["added by the run (peak − baseline)", f"{mem['run_adds_mb']:.1f}", ""],
        ["VmRSS after imports / at end of the run",
         f"{_mb(mem['after_imports_current_mb'])} / {_mb(mem['end_current_mb'])}", ""],
    ]))  # fmt: skip
    print("  (imports: sim.build pulls in pandas, scipy.stats and pydantic; ru_maxrss is the "
          "kernel's high-water mark and can trail the current VmRSS by < 1 MB)")  # fmt: skip
    print(
        f"  ({mem['messages']:,} messages produced; run wall {mem['wall_s']:.1f} s, "
        f"{mem['messages'] / mem['wall_s']:,.0f} msgs/s)"
    )
    if mem3 is not None:
        print()
        print(f"Peak memory: one {PIPELINE_STAGES}-stage pipeline run of "
              f"{args.memory_messages:,} root messages in a fresh process")  # fmt: skip
        print(_table([
            ["resident memory", "MB", f"target < {PIPELINE_MEMORY_TARGET_MB:g} MB peak"],
            ["ru_maxrss at end of the run (peak)", f"{mem3['peak_mb']:.1f}",
             ok(mem3["peak_mb"] < PIPELINE_MEMORY_TARGET_MB)],
            ["added by the run (peak − baseline)", f"{mem3['run_adds_mb']:.1f}", ""],
        ]))  # fmt: skip
    print()
    print(f"Total benchmark time {total_s:.1f} s on {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}")  # fmt: skip
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "servers": SERVERS,
            "rho": RHO,
            "arrival_rate_per_s": ARRIVAL_RATE_PER_S,
            "service_mean_s": SERVICE_MEAN_S,
            "drain_s": DRAIN_S,
            "seed": SEED,
            "messages": args.messages,
            "memory_messages": args.memory_messages,
            "repeats": args.repeats,
        },
        "erlang_c_mean_sojourn_s": theory_s,
        "throughput": tp,
        "ratios": ratios,
        "memory": mem,
        "memory_pipeline": mem3,
        "total_s": total_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the throughput and memory benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=300_000,
                        help="messages per throughput run (default 300000)")  # fmt: skip
    parser.add_argument("--memory-messages", type=int, default=2_000_000,
                        help="messages of the peak-memory run (default 2000000)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repeats of each throughput run (default 3)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_MESSAGES} messages, {QUICK_MEMORY_MESSAGES} for "
                             "memory, 1 repeat")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--_memory-child", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--_stages", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._memory_child is not None:
        return memory_child(args._memory_child, args._stages)
    if args.quick:
        args.messages, args.memory_messages, args.repeats = (
            QUICK_MESSAGES, QUICK_MEMORY_MESSAGES, 1
        )  # fmt: skip
    if args.messages < 1 or args.memory_messages < 1 or args.repeats < 1:
        parser.error("--messages, --memory-messages and --repeats must be ≥ 1")

    start = time.perf_counter()
    print(f"Throughput runs ({args.messages:,} messages, {args.repeats} repeat(s)):", flush=True)
    tp = throughput(args.messages, args.repeats)
    print(f"Memory run ({args.memory_messages:,} messages, fresh process) ...", flush=True)
    mem = memory(args.memory_messages)
    print(f"Memory run, {PIPELINE_STAGES}-stage pipeline ({args.memory_messages:,} messages) ...",
          flush=True)  # fmt: skip
    mem3 = memory(args.memory_messages, PIPELINE_STAGES)
    figures = report(args, tp, mem, time.perf_counter() - start, mem3)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"Figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
