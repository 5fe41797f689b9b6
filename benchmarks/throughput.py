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

6. Peak memory of a ``--memory-messages`` backlog: Poisson arrivals (100/s) into the queue while its
   consumer is down for the whole run (an ``unavailable`` outage of the function, so the event
   source mapping does not poll), run ends with every message stored; bytes per queued message =
   (peak − after-imports) ÷ the queue's depth at the end (targets for 2M messages: peak < 500 MB,
   ≤ 150 bytes per queued message, its pair included: the queue packs such a backlog, see
   ``sim.services.sqs.backlog``).
7. µs per message (from the median msgs/s) and Python calls per message: ``sys.setprofile``
   counts the Python-level calls (``call`` events) and the calls of C functions (``c_call``) of
   one ``--calls-messages`` run; compiled (mypyc) functions make no ``call`` events, so the
   compiled build's count is what is left interpreted (SimPy, numpy glue, config).

Builds: every evsim figure is measured for each build that is installed: ``compiled`` (mypyc,
``pip install .``) and ``pure`` (``EVSIM_PURE_PYTHON=1``, or an editable install, which is pure
only). Every run is a fresh child process of this script (its imports are not timed), so both
builds interleave in one ``make bench``.

Run: ``make bench`` (= ``.venv/bin/python benchmarks/throughput.py``); ``--quick`` for a smoke
run; ``--json PATH`` also writes the figures.
"""

from __future__ import annotations

import argparse
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
from sim.build import build, run_once
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
#: The goal for the compiled build against the hand-written deque model.
COMPILED_DEQUE_GOAL = 0.8
BACKLOG_RATE_PER_S = 100.0
#: A 2M-message backlog (a consumer outage): peak resident memory, and bytes per queued message
BACKLOG_MEMORY_TARGET_MB = 500.0
BACKLOG_BYTES_TARGET = 150.0

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


def installed_builds() -> list[str]:
    """The builds this interpreter can run: ``compiled`` (if installed) and ``pure``."""
    if os.environ.get("EVSIM_PURE_PYTHON"):
        return ["pure"]
    import sim.engine.ledger

    return ["pure"] if str(sim.engine.ledger.__file__).endswith(".py") else ["compiled", "pure"]


def _child(args: list[str], which: str | None) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh interpreter of build ``which``; its JSON."""
    env = {k: v for k, v in os.environ.items() if k != "EVSIM_PURE_PYTHON"}
    if which == "pure":
        env["EVSIM_PURE_PYTHON"] = "1"
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} ({which}) failed ({proc.returncode}):\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def one_run(model: str, messages: int, seed: int) -> dict[str, Any]:
    """One timed run of ``model`` in this process (the child's side of :func:`throughput`)."""
    if model == "evsim":
        return run_evsim(make_scenario(messages, seed))
    if model == "evsim_3stage":
        return run_evsim(make_scenario(messages, seed, PIPELINE_STAGES))
    fn = {"simpy_deque": run_deque_mmc, "simpy_resource": run_resource_mmc}[model]
    return run_baseline(fn, messages, seed)


def throughput(messages: int, repeats: int, builds: list[str]) -> dict[str, dict[str, Any]]:
    """Interleaved repeats of evsim (each build) and both baselines, each in a fresh process."""
    runners: list[tuple[str, str, str | None]] = []  # (name, model, build)
    for b in builds:
        runners.append((f"evsim[{b}]", "evsim", b))
        runners.append((f"evsim_3stage[{b}]", "evsim_3stage", b))
    runners += [("simpy_deque", "simpy_deque", None), ("simpy_resource", "simpy_resource", None)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in runners}
    for rep in range(repeats):
        k = rep % len(runners)
        for name, model, which in runners[k:] + runners[:k]:  # rotate to spread drift
            run = _child(["--_one", model, "--messages", str(messages),
                          "--_seed", str(SEED + rep)], which)  # fmt: skip
            runs[name].append(run)
            print(
                f"  repeat {rep + 1}/{repeats} {name:<22} {run['messages_per_s']:>10,.0f} msgs/s"
                f"  wall {run['wall_s']:6.2f} s",
                flush=True,
            )
    out: dict[str, dict[str, Any]] = {}
    for name, _, _ in runners:
        rs = runs[name]
        rate = statistics.median(r["messages_per_s"] for r in rs)
        out[name] = {
            "median_messages_per_s": rate,
            "us_per_message": 1e6 / rate,
            "median_wall_s": statistics.median(r["wall_s"] for r in rs),
            "mean_latency_s": statistics.fmean(r["mean_latency_s"] for r in rs),
            "runs": rs,
        }
    return out


# --------------------------------------------------------------------------- calls per message


def count_calls(model: str, messages: int) -> dict[str, Any]:
    """Python-level and C calls per message of one run under ``sys.setprofile`` (child side)."""
    counts = {"call": 0, "c_call": 0}

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event in counts:
            counts[event] += 1

    if model == "simpy_deque":
        sys.setprofile(profile)
        try:
            r = run_deque_mmc(ARRIVAL_RATE_PER_S, SERVICE_MEAN_S, SERVERS, messages, SEED)
        finally:
            sys.setprofile(None)
        produced = r.messages
    else:
        scenario = make_scenario(messages, SEED, PIPELINE_STAGES if model == "evsim_3stage" else 1)
        sys.setprofile(profile)
        try:
            result = run_once(scenario)
        finally:
            sys.setprofile(None)
        produced = result.metrics["messages_produced"]
    return {
        "messages": produced,
        "python_calls_per_message": counts["call"] / produced,
        "c_calls_per_message": counts["c_call"] / produced,
    }


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


def backlog_scenario(messages: int) -> Scenario:
    """About ``messages`` arrivals into the queue while its consumer is down all run long."""
    d = scenario_dict(messages)
    d["name"] = f"bench-backlog-c{SERVERS}"
    # 100 arrivals/s: 2M arrive in 20,000 s, well inside SQS's default 4-day retention (at
    # 3.6/s the oldest would expire before the end)
    d["components"]["arrivals"]["rate_per_s"] = BACKLOG_RATE_PER_S
    d["duration_s"] = messages / BACKLOG_RATE_PER_S
    d["drain_s"] = 0
    d["outages"] = [{"component": "server", "start_s": 0, "duration_s": d["duration_s"] + 1}]
    return scenario_from_dict(d, source="<benchmark>")


def memory_child(messages: int, stages: int = 1, backlog: bool = False) -> int:
    """In a fresh process: RSS after imports, then after one evsim run; JSON on stdout."""
    # The module-level imports (sim.build pulls in pandas, scipy.stats, pydantic, ...) are done.
    after_imports_mb = _maxrss_mb()
    after_imports_current_mb = _current_rss_mb()
    extra: dict[str, Any] = {}
    if backlog:
        model = build(backlog_scenario(messages))
        start = time.perf_counter()
        result = model.run()
        wall_s = time.perf_counter() - start
        depth = model.components["queue"].depth
        produced = result.metrics["messages_produced"]
        # every message is still in flight; all but the last instant's sends are in the queue
        if result.metrics["in_flight"] != produced or depth < 0.999 * produced:
            raise RuntimeError(f"backlog run: {produced} produced but {depth} queued")
        run = {"messages": produced, "wall_s": wall_s}
        extra["queued"] = depth
    else:
        run = run_evsim(make_scenario(messages, stages=stages))
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
                **extra,
            }
        )
    )
    return 0


def memory(messages: int, stages: int = 1, which: str | None = None,
           backlog: bool = False) -> dict[str, Any]:  # fmt: skip
    """Run :func:`memory_child` in a fresh interpreter of build ``which``; its figures."""
    args = ["--_memory-child", str(messages), "--_stages", str(stages)]
    out = _child([*args, "--_backlog"] if backlog else args, which)
    out["run_adds_mb"] = out["peak_mb"] - out["after_imports_mb"]
    if backlog:
        out["bytes_per_queued_message"] = out["run_adds_mb"] * 2**20 / out["queued"]
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
    builds: list[str],
    tp: dict[str, dict[str, Any]],
    calls: dict[str, dict[str, Any]],
    mem: dict[str, dict[str, Any]],
    total_s: float,
) -> dict[str, Any]:
    """Print the tables and return the figures (what ``--json`` writes)."""
    theory_s = mmc_mean_sojourn_s(ARRIVAL_RATE_PER_S, 1.0 / SERVICE_MEAN_S, SERVERS)
    ok = lambda flag: "meets" if flag else "BELOW"  # noqa: E731
    labels = {"simpy_deque": "SimPy hand-written, deque (run_deque_mmc)",
              "simpy_resource": "SimPy hand-written, Resource (run_resource_mmc)"}  # fmt: skip
    for b in builds:
        labels[f"evsim[{b}]"] = f"evsim SQS → Lambda, {b}"
        labels[f"evsim_3stage[{b}]"] = f"evsim {PIPELINE_STAGES}-stage pipeline, {b} (root msgs)"
    rows = [["model", "msgs/s (median)", "µs/msg", "Python calls/msg", "C calls/msg",
             "mean latency s", "vs Erlang C"]]  # fmt: skip
    for name in sorted(labels, key=lambda n: (n.startswith("simpy"), n)):
        t = tp[name]
        stages = PIPELINE_STAGES if name.startswith("evsim_3stage") else 1
        err = 100.0 * (t["mean_latency_s"] / (stages * theory_s) - 1.0)
        c = calls.get(name)
        rows.append([
            labels[name],
            f"{t['median_messages_per_s']:,.0f}",
            f"{t['us_per_message']:.1f}",
            f"{c['python_calls_per_message']:.1f}" if c else "",
            f"{c['c_calls_per_message']:.1f}" if c else "",
            f"{t['mean_latency_s']:.4f}",
            f"{err:+.2f}%",
        ])  # fmt: skip
    rows.append(["Erlang C (theory.mmc_mean_sojourn_s)", "", "", "", "", f"{theory_s:.4f}", ""])
    print()
    print(
        f"Throughput: M/M/{SERVERS}, ρ = {RHO}, λ = {ARRIVAL_RATE_PER_S:g}/s, "
        f"{args.messages:,} messages, median of {args.repeats} interleaved repeat(s), each run "
        f"a fresh process; calls counted over {args.calls_messages:,} messages"
    )
    print(_table(rows))
    print()
    deque_rate = tp["simpy_deque"]["median_messages_per_s"]
    resource_rate = tp["simpy_resource"]["median_messages_per_s"]
    ratios: dict[str, dict[str, float]] = {}
    ratio_rows = [["ratio (median msgs/s)", "value", f"target ≥ {RATIO_TARGET}"]]
    for b in builds:
        rate = tp[f"evsim[{b}]"]["median_messages_per_s"]
        r = ratios[b] = {
            "evsim_over_deque": rate / deque_rate,
            "evsim_over_resource": rate / resource_rate,
            "pipeline_over_single": tp[f"evsim_3stage[{b}]"]["median_messages_per_s"] / rate,
        }
        ratio_rows += [
            [f"evsim {b} / SimPy deque baseline (fast)", f"{r['evsim_over_deque']:.3f}",
             ok(r["evsim_over_deque"] >= RATIO_TARGET)
             + (f"; goal ≥ {COMPILED_DEQUE_GOAL}: "
                f"{ok(r['evsim_over_deque'] >= COMPILED_DEQUE_GOAL)}" if b == "compiled" else "")],
            [f"evsim {b} / SimPy Resource baseline (idiomatic)",
             f"{r['evsim_over_resource']:.3f}", ok(r["evsim_over_resource"] >= RATIO_TARGET)],
            [f"evsim {b}: {PIPELINE_STAGES}-stage / single stage (root msgs/s)",
             f"{r['pipeline_over_single']:.3f}", f"(1/{PIPELINE_STAGES} if stages cost the same)"],
        ]  # fmt: skip
    if "compiled" in builds:
        speedup = (tp["evsim[compiled]"]["median_messages_per_s"]
                   / tp["evsim[pure]"]["median_messages_per_s"])  # fmt: skip
        ratios["compiled_over_pure"] = {"single_stage": speedup}
        ratio_rows.append(["evsim compiled / pure (single stage)", f"{speedup:.2f}", ""])
    print(_table(ratio_rows))
    print()
    print(f"Peak memory: one run of {args.memory_messages:,} messages, each in a fresh process "
          "(ru_maxrss; 'adds' = peak − after imports)")  # fmt: skip
    mem_rows = [["run", "after imports MB", "peak MB", "adds MB", "bytes/queued msg", "target"]]
    for key, m in mem.items():
        kind, _, b = key.partition("[")
        b = b.rstrip("]")
        target = {"flowing": MEMORY_TARGET_MB, "pipeline": PIPELINE_MEMORY_TARGET_MB,
                  "backlog": BACKLOG_MEMORY_TARGET_MB}.get(kind)  # fmt: skip
        label = {"flowing": "flowing (SQS → Lambda)", "backlog": "backlog (consumer down)",
                 "pipeline": f"flowing ({PIPELINE_STAGES}-stage pipeline)"}[kind]  # fmt: skip
        mem_rows.append([
            f"{label}, {b}",
            f"{m['after_imports_mb']:.1f}",
            f"{m['peak_mb']:.1f}",
            f"{m['run_adds_mb']:.1f}",
            f"{m['bytes_per_queued_message']:.0f}" if "queued" in m else "",
            f"< {target:g} MB: {ok(m['peak_mb'] < target)}" if target else "",
        ])  # fmt: skip
        if "queued" in m:
            per = m["bytes_per_queued_message"]
            mem_rows[-1][-1] += (
                f", ≤ {BACKLOG_BYTES_TARGET:g} B/msg: {ok(per <= BACKLOG_BYTES_TARGET)}"
            )
    print(_table(mem_rows))
    print("  (imports: sim.build pulls in pandas, scipy.stats and pydantic; the backlog run ends "
          "with every message stored in the queue)")  # fmt: skip
    print()
    print(f"Total benchmark time {total_s:.1f} s on {os.cpu_count()} CPU(s), "
          f"Python {platform.python_version()}, builds: {', '.join(builds)}")  # fmt: skip
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "builds": builds,
        "parameters": {
            "servers": SERVERS,
            "rho": RHO,
            "arrival_rate_per_s": ARRIVAL_RATE_PER_S,
            "service_mean_s": SERVICE_MEAN_S,
            "drain_s": DRAIN_S,
            "seed": SEED,
            "messages": args.messages,
            "memory_messages": args.memory_messages,
            "calls_messages": args.calls_messages,
            "repeats": args.repeats,
        },
        "erlang_c_mean_sojourn_s": theory_s,
        "throughput": tp,
        "calls": calls,
        "ratios": ratios,
        "memory": mem,
        "total_s": total_s,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the throughput, calls and memory benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=300_000,
                        help="messages per throughput run (default 300000)")  # fmt: skip
    parser.add_argument("--memory-messages", type=int, default=2_000_000,
                        help="messages of the peak-memory runs (default 2000000)")  # fmt: skip
    parser.add_argument("--calls-messages", type=int, default=50_000,
                        help="messages of the call-counting runs (default 50000)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved repeats of each throughput run (default 3)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_MESSAGES} messages, {QUICK_MEMORY_MESSAGES} for "
                             "memory, 1 repeat")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--_memory-child", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--_stages", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--_backlog", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_one", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--_calls", metavar="MODEL", help=argparse.SUPPRESS)
    parser.add_argument("--_seed", type=int, default=SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._memory_child is not None:
        return memory_child(args._memory_child, args._stages, args._backlog)
    if args._one is not None:
        print(json.dumps(one_run(args._one, args.messages, args._seed)))
        return 0
    if args._calls is not None:
        print(json.dumps(count_calls(args._calls, args.calls_messages)))
        return 0
    if args.quick:
        args.messages, args.memory_messages, args.repeats = (
            QUICK_MESSAGES, QUICK_MEMORY_MESSAGES, 1
        )  # fmt: skip
        args.calls_messages = min(args.calls_messages, QUICK_MESSAGES)
    if min(args.messages, args.memory_messages, args.calls_messages, args.repeats) < 1:
        parser.error("--messages, --memory-messages, --calls-messages and --repeats must be ≥ 1")

    start = time.perf_counter()
    builds = installed_builds()
    print(f"Builds: {', '.join(builds)}. Throughput runs ({args.messages:,} messages, "
          f"{args.repeats} repeat(s)):", flush=True)  # fmt: skip
    tp = throughput(args.messages, args.repeats, builds)
    print(f"Counting calls ({args.calls_messages:,} messages) ...", flush=True)
    calls: dict[str, dict[str, Any]] = {}
    for b in builds:
        for model in ("evsim", "evsim_3stage"):
            calls[f"{model}[{b}]"] = _child(["--_calls", model, "--calls-messages",
                                             str(args.calls_messages)], b)  # fmt: skip
    calls["simpy_deque"] = _child(["--_calls", "simpy_deque", "--calls-messages",
                                   str(args.calls_messages)], None)  # fmt: skip
    mem: dict[str, dict[str, Any]] = {}
    for b in builds:
        for kind, stages, backlog in (("flowing", 1, False), ("backlog", 1, True),
                                      ("pipeline", PIPELINE_STAGES, False)):  # fmt: skip
            print(f"Memory run: {kind}, {b} ({args.memory_messages:,} messages) ...", flush=True)
            mem[f"{kind}[{b}]"] = memory(args.memory_messages, stages, b, backlog)
    figures = report(args, builds, tp, calls, mem, time.perf_counter() - start)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"Figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
