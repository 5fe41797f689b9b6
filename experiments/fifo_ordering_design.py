"""The FIFO study's design: sizes, scenarios, per-run measures and the four designs.

The question and the method are stated in :mod:`experiments.fifo_ordering`; the head-of-line
sub-study's poison plans, closed form and trace measure are in
:mod:`experiments.fifo_ordering_poison`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import pandas as pd

from experiments.fifo_ordering_poison import (
    HOL_UNITS,
    HolPoint,
    HolVariant,
    hol_count,
    hol_keys,
    hol_measure,
    hol_producer,
    hol_send_time,
    plan_poison,
)
from experiments.fifo_ordering_poison import stall_theory_s as stall_theory_s  # for notebooks
from sim.analysis.metrics import RunResult
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, Run

LEVEL = 0.95

#: Lambda duration of one invocation, whatever its batch size (seconds): gamma, mean 0.1, cv 0.5.
MEAN_DURATION_S = 0.1
DURATION = {"gamma": {"mean": MEAN_DURATION_S, "cv": 0.5}}
#: Standard-queue anomalies (AWS documents them, with no number).
STANDARD_QUEUE = {"duplicate_rate": 0.001, "reorder_rate": 0.01}
#: FIFO SendMessage limit without high-throughput mode (calls per second).
FIFO_CALLS_PER_S = 300.0


class Setup(NamedTuple):
    """Sizes of the four studies (full run or ``--quick``)."""

    ordering_rate_per_s: float
    ordering_duration_s: float
    ordering_reps: int
    error_rates: tuple[float, ...]
    groups: tuple[int, ...]
    groups_rate_per_s: float
    groups_duration_s: float
    groups_reps: int
    hol_groups: int
    hol_period_s: float
    hol_duration_s: float
    hol_reps: int
    hol_variants: tuple[HolVariant, ...]
    limit_loads: tuple[float, ...]
    limit_duration_s: float
    limit_warmup_s: float
    limit_reps: int


FULL = Setup(
    ordering_rate_per_s=100.0,
    ordering_duration_s=300.0,
    ordering_reps=10,
    error_rates=(0.0, 0.001, 0.01),
    groups=(1, 2, 5, 10, 20, 100, 1000),
    groups_rate_per_s=50.0,
    groups_duration_s=300.0,
    groups_reps=8,
    hol_groups=10,
    hol_period_s=1.0,
    hol_duration_s=1200.0,
    hol_reps=10,
    hol_variants=(
        HolVariant("DLQ, maxReceiveCount 3,\nvisibility 30 s", 3, 30.0, 345_600.0),
        HolVariant("DLQ, maxReceiveCount 10,\nvisibility 30 s", 10, 30.0, 345_600.0),
        HolVariant("no DLQ, retention 600 s,\nvisibility 30 s", None, 30.0, 600.0),
    ),
    limit_loads=(100.0, 200.0, 300.0, 400.0, 500.0, 700.0, 1000.0),
    limit_duration_s=50.0,
    limit_warmup_s=10.0,
    limit_reps=6,
)

QUICK = Setup(
    ordering_rate_per_s=100.0,
    ordering_duration_s=30.0,
    ordering_reps=3,
    error_rates=(0.0, 0.01),
    groups=(1, 10, 100),
    groups_rate_per_s=50.0,
    groups_duration_s=30.0,
    groups_reps=2,
    hol_groups=4,
    hol_period_s=2.0,
    hol_duration_s=240.0,
    hol_reps=2,
    hol_variants=(
        HolVariant("DLQ, maxReceiveCount 3,\nvisibility 10 s", 3, 10.0, 345_600.0),
        HolVariant("no DLQ, retention 60 s,\nvisibility 10 s", None, 10.0, 60.0),
    ),
    limit_loads=(200.0, 500.0),
    limit_duration_s=20.0,
    limit_warmup_s=5.0,
    limit_reps=2,
)


def setup_of(o: Options) -> Setup:
    """The sizes of an invocation (``--replications`` sets every study's replications)."""
    setup = QUICK if o.quick else FULL
    n = o.replications
    return setup if n is None else setup._replace(
        ordering_reps=n, groups_reps=n, hol_reps=n, limit_reps=n)  # fmt: skip


# ------------------------------------------------------------------------------- scenarios


def worker_spec(source: str, batch_size: int, **extra: Any) -> dict[str, Any]:
    """The consumer function: :data:`DURATION` per invocation, 10 s timeout (``extra`` added).

    A ``trigger`` in ``extra`` updates the event source mapping (source, batch size).
    """
    trigger: dict[str, Any] = {"source": source, "batch_size": batch_size}
    trigger.update(extra.pop("trigger", {}))
    return {
        "type": "lambda_function",
        "trigger": trigger,
        "duration_s": DURATION,
        "timeout_s": 10,
        **extra,
    }


def queue_spec(fifo: bool, **extra: Any) -> dict[str, Any]:
    """An SQS queue, visibility timeout 30 s; a standard one with :data:`STANDARD_QUEUE`."""
    q: dict[str, Any] = {"type": "sqs_queue", "fifo": fifo, "visibility_timeout_s": 30}
    if not fifo:
        q.update(STANDARD_QUEUE)
    q.update(extra)
    return q


def queue_label(fifo: bool) -> str:
    """``"FIFO"`` or ``"standard"``."""
    return "FIFO" if fifo else "standard"


def error_label(rate: float) -> str:
    """A function error rate as a legend label (``"0.1% errors"``)."""
    return f"{rate * 100:g}% function errors"


#: Study 1's control: a standard queue without reordering (its violations are concurrency's).
NO_REORDER = "standard, reorder_rate 0"


def ordering_variants(setup: Setup) -> list[tuple[str, float]]:
    """Study 1's (queue, function error rate) variants; the control runs without errors only."""
    out = [(q, e) for q in ("standard", "FIFO") for e in setup.error_rates]
    return [*out, (NO_REORDER, 0.0)]


def _orders(name: str, duration_s: float, drain_s: float, orders: dict[str, Any],
            jobs: dict[str, Any], worker: dict[str, Any], **top: Any) -> Scenario:  # fmt: skip
    """A producer ``orders`` → queue ``jobs`` → function ``worker`` scenario."""
    return scenario_from_dict({
        "name": name, "duration_s": duration_s, **top, "drain_s": drain_s,
        "components": {"orders": {"type": "producer", "send_to": ["jobs"], **orders},
                       "jobs": jobs, "worker": worker},
    })  # fmt: skip


def ordering_scenario(setup: Setup, queue: str, error_rate: float) -> Scenario:
    """Study 1: 10 groups, batch 10, ≤ 10 concurrent batches, partial batch responses."""
    jobs = queue_spec(queue == "FIFO", **({"reorder_rate": 0.0} if queue == NO_REORDER else {}))
    return _orders(
        f"ordering {queue} errors={error_rate:g}", setup.ordering_duration_s, 120,
        {"rate_per_s": setup.ordering_rate_per_s, "groups": 10,
         "resend": {"rate": 0.001, "delay_s": 1.0}},
        jobs,
        worker_spec("jobs", 10, errors={"rate": error_rate},
                    trigger={"max_concurrency": 10, "report_batch_item_failures": True}),
    )  # fmt: skip


def groups_scenario(setup: Setup, fifo: bool, groups: int) -> Scenario:
    """Study 2: batch size 1, no drain (throughput = delivered ÷ arrival window)."""
    return _orders(f"groups {queue_label(fifo)} G={groups}", setup.groups_duration_s, 0,
                   {"rate_per_s": setup.groups_rate_per_s, "groups": groups},
                   queue_spec(fifo), worker_spec("jobs", 1))  # fmt: skip


def limit_scenario(setup: Setup, load: float) -> Scenario:
    """Study 4: FIFO queue, 100 groups, batch size 10, default SDK retry (3 attempts)."""
    return _orders(f"limit {load:g}/s", setup.limit_duration_s, 30,
                   {"rate_per_s": load, "groups": 100}, queue_spec(True),
                   worker_spec("jobs", 10), warmup_s=setup.limit_warmup_s)  # fmt: skip


def hol_scenario(setup: Setup, v: HolVariant, poison_rate: float) -> Scenario:
    """Study 3: one producer per group, one message per period each, batch size 10."""
    n = hol_count(setup)
    comps: dict[str, Any] = {}
    for j in range(setup.hol_groups):
        burst = {"at_s": hol_send_time(setup, j, 0), "count": n, "spread_s": n * setup.hol_period_s}
        comps[hol_producer(j)] = {
            "type": "producer", "send_to": ["jobs"], "arrivals": {"bursts": [burst]},
        }  # fmt: skip
    extra: dict[str, Any] = {"visibility_timeout_s": v.visibility_timeout_s,
                             "retention_s": v.retention_s}  # fmt: skip
    if v.max_receive_count is not None:
        extra["dead_letter"] = {"target": "jobs-dlq", "max_receive_count": v.max_receive_count}
        comps["jobs-dlq"] = {"type": "sqs_queue", "fifo": True}
    comps["jobs"] = queue_spec(True, **extra)
    comps["worker"] = worker_spec("jobs", 10, errors={"poison_rate": poison_rate})
    return scenario_from_dict({
        "name": f"hol {v.label}",
        "duration_s": setup.hol_duration_s,
        "drain_s": 60,
        "components": comps,
    })  # fmt: skip


# ------------------------------------------------------------------------------- measures


def per_10k(metrics: dict[str, Any], name: str) -> float | None:
    """Metric ``name`` per 10,000 produced messages (None when nothing was produced)."""
    produced = metrics["messages_produced"]
    return metrics[name] / produced * 1e4 if produced else None


def _backlog(r: RunResult) -> float | None:
    expected = r.metrics["deliveries_expected"]
    return r.metrics["in_flight"] / expected if expected else None


PER_10K = "per 10,000 messages"
ORDERING_UNITS = {
    "ordering_violations_per_10k": PER_10K,
    "duplicates_per_10k": PER_10K,
    "delivered_fraction": "fraction",
    "backlog_fraction": "fraction",
    "latency_p50_s": "s",
    "latency_p99_s": "s",
}


def ordering_measure(p: Any, r: RunResult) -> dict[str, float | None]:
    """Study 1, one replication: violations and duplicates per 10,000 produced messages."""
    m = r.metrics
    return {
        "ordering_violations_per_10k": per_10k(m, "ordering_violations"),
        "duplicates_per_10k": per_10k(m, "duplicates"),
        "delivered_fraction": m["delivered_fraction"],
        "backlog_fraction": _backlog(r),
        "latency_p50_s": m["latency_p50_s"],
        "latency_p99_s": m["latency_p99_s"],
    }


GROUPS_UNITS = {
    "throughput_per_s": "messages/s",
    "latency_p50_s": "s",
    "latency_p99_s": "s",
    "backlog_fraction": "fraction",
    "ordering_violations_per_10k": PER_10K,
}


def groups_measure(setup: Setup, p: Any, r: RunResult) -> dict[str, float | None]:
    """Study 2, one replication: throughput = delivered ÷ arrival window (no drain)."""
    m = r.metrics
    return {
        "throughput_per_s": m["delivered"] / setup.groups_duration_s,
        "latency_p50_s": m["latency_p50_s"],
        "latency_p99_s": m["latency_p99_s"],
        "backlog_fraction": _backlog(r),
        "ordering_violations_per_10k": per_10k(m, "ordering_violations"),
    }


LIMIT_UNITS = {
    "accepted_sends_per_s": "messages/s",
    "throttled_sends_per_s": "calls/s",
    "send_attempts_per_message": "attempts",
    "lost_fraction": "fraction",
    "delivered_fraction": "fraction",
    "producer_latency_mean_s": "s",
    "latency_p99_s": "s",
}


def limit_measure(setup: Setup, p: Any, r: RunResult) -> dict[str, float | None]:
    """Study 4, one replication, from the trace and the ledger.

    ``accepted_sends_per_s`` counts successful SendMessage calls during the measured window
    (after the warm-up, before arrivals stop): the queue's throughput, free of the end effect
    of retries that run on after the last arrival. Attempts per message and the lost count are
    read from the trace for the messages the ledger counts (first attempt after the warm-up);
    the lost count must equal the ledger's.

    Raises:
        RuntimeError: if the trace and the ledger disagree on lost messages.
    """
    tr = r.trace
    assert tr is not None
    lo, hi = setup.limit_warmup_s, setup.limit_duration_s
    calls = tr[(tr["component"] == "jobs") & tr["event"].isin(["send", "send_failed"])]
    in_window = (calls["t_s"] >= lo) & (calls["t_s"] < hi)
    ok = calls["event"] == "send"
    first = calls.groupby("msg_id", observed=True)["t_s"].transform("min")
    counted = calls[first >= lo]
    attempts = counted.groupby("msg_id", observed=True).size()
    gave_up = tr[(tr["event"] == "gave_up")]
    gave_up_counted = int(gave_up["msg_id"].isin(attempts.index).sum())
    m = r.metrics
    if gave_up_counted != m["lost"]:
        raise RuntimeError(f"{r.scenario} rep {r.rep}: trace and ledger disagree on lost sends")
    return {
        "accepted_sends_per_s": float((in_window & ok).sum()) / (hi - lo),
        "throttled_sends_per_s": float((in_window & ~ok).sum()) / (hi - lo),
        "send_attempts_per_message": float(attempts.mean()),
        "lost_fraction": m["lost"] / m["deliveries_expected"],
        "delivered_fraction": m["delivered_fraction"],
        "producer_latency_mean_s": m["producer_latency_mean_s"],
        "latency_p99_s": m["latency_p99_s"],
    }


# ------------------------------------------------------------------------------- designs


def designs(o: Options) -> list[Design[Any]]:
    """The four studies; head-of-line runs the replications its poison plans chose."""
    setup = setup_of(o)
    plans = tuple(plan_poison(setup, o.seed))
    reps = [plan.rep for plan in plans]
    common: dict[str, Any] = {"seed_column": False, "level": LEVEL}
    return [
        Design("limit", [float(x) for x in setup.limit_loads],
               lambda load: limit_scenario(setup, load), functools.partial(limit_measure, setup),
               setup.limit_reps, "throughput_limit", trace=True, units=LIMIT_UNITS,
               columns=lambda load: {"offered_per_s": load,
                                     "limit_calls_per_s": FIFO_CALLS_PER_S}, **common),
        Design("hol", [HolPoint(v, plans) for v in setup.hol_variants],
               lambda p: hol_scenario(setup, p.variant, plans[0].poison_rate),
               functools.partial(hol_measure, setup), setup.hol_reps, "head_of_line",
               lambda p: hol_keys(p.variant), trace=True, units=HOL_UNITS,
               rep_indices=lambda n: reps,
               rep_scenario=lambda p, rep: hol_scenario(
                   setup, p.variant, next(x for x in plans if x.rep == rep).poison_rate),
               **common),
        Design("ordering", ordering_variants(setup),
               lambda p: ordering_scenario(setup, *p), ordering_measure, setup.ordering_reps,
               "ordering", lambda p: {"queue": p[0], "function_error_rate": p[1]},
               units=ORDERING_UNITS, **common),
        Design("groups", [(fifo, g) for fifo in (True, False) for g in setup.groups],
               lambda p: groups_scenario(setup, *p), functools.partial(groups_measure, setup),
               setup.groups_reps, "groups", lambda p: {
                   "queue": queue_label(p[0]), "groups": p[1],
                   "offered_per_s": setup.groups_rate_per_s,
                   "fifo_bound_per_s": min(setup.groups_rate_per_s, p[1] / MEAN_DURATION_S)
                   if p[0] else None}, units=GROUPS_UNITS, **common),
    ]  # fmt: skip


def timeline(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """``head_of_line_timeline``: every variant's first planned replication, message by message."""
    hol = next(d for d in designs if d.name == "hol")
    parts = [run.details[p][rep] for p in hol.points for rep in sorted(run.details.get(p, {}))]
    return {"head_of_line_timeline": pd.concat(parts, ignore_index=True)}
