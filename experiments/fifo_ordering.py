"""FIFO ordering (DESIGN A2): what strict per-group order costs, SQS standard vs FIFO → Lambda.

Four studies, every variant of a study run with common random numbers (the same root seed and
replication indices, unchanged producers: the same messages, message by message):

1. **Ordering and duplicates** — ordering violations and duplicate processings per 10,000
   produced messages, standard queue (``duplicate_rate`` 0.001, ``reorder_rate`` 0.01) vs FIFO
   queue (deduplication ids), 10 message groups, batch size 10, up to 10 concurrent batches,
   partial batch responses, a producer that re-sends 0.1% of its messages 1 s later (same
   deduplication id), and a transient function error rate of 0, 0.1% or 1%.
2. **Message groups** — delivered throughput and p99 latency against the number of groups
   (1 … 1,000) at 50 msg/s with batch size 1 and 0.1 s per invocation: one group can carry
   at most ~10 msg/s (one batch in flight per group), so the group count caps the concurrency.
   The standard queue is the reference (groups only label its messages).
3. **Head-of-line blocking** — one poison message in a known group of a FIFO queue; how long
   the group stalls with a DLQ (theory: ``max_receive_count`` × visibility timeout) and
   without one (until retention: 600 s here, instead of the default 4 days, to keep the runs
   short), measured from a per-event trace (``run_once(..., trace=True)``).
4. **FIFO throughput limit** — offered load above 300 SendMessage calls/s: throttled sends,
   SDK retries (3 attempts, full-jitter backoff), messages lost after the retries, producer
   time per message, delivered throughput against offered load.

How exactly one poison message is made (study 3). A message is poison when its workload draw
``poison_u`` (one uniform per message on the producer's ``poison`` stream) is below the
function's ``poison_rate``. Each group is its own producer (``groups: 1``) sending one message
every ``period`` seconds at a fixed phase (bursts spread evenly), so every message's group and
index follow from its send time in the trace, and each producer sends a known number of
messages. Before a replication runs, the script reads the producers' ``poison`` streams from
``RandomStreams(seed, rep)`` and sets ``poison_rate`` halfway between the smallest and the
second smallest draw of the whole run: exactly one message, the one with the smallest draw, is
poison. Replications whose poison message would land too early or too late to observe the whole
stall are skipped (a search over replication indices: it conditions on the poison's position,
nothing else). After the run the trace must show failures of that one message only, in the
planned group at the planned time; otherwise the script stops with an error.

Writes into ``--out`` (default ``results/fifo_ordering/``): ``ordering.csv``, ``groups.csv``,
``head_of_line.csv``, ``head_of_line_timeline.csv``, ``throughput_limit.csv`` (tidy: one row per
variant and metric with n, mean, std and the 95% t-interval), four PNG charts, ``findings.md``
(numbers read back from the CSVs), then ``results/README.md``. Same seed ⇒ same bytes.

Usage: ``python experiments/fifo_ordering.py [--quick] [--out DIR] [--seed S] [--workers N]``
or ``evsim experiments fifo_ordering [--quick]``.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.config import Scenario, scenario_from_dict
from sim.engine.streams import RandomStreams
from sim.study import Design, Detailed, Measured, Options, Report, Run, Study, run_study

LEVEL = 0.95

#: Lambda duration of one invocation, whatever its batch size (seconds): gamma, mean 0.1, cv 0.5.
MEAN_DURATION_S = 0.1
DURATION = {"gamma": {"mean": MEAN_DURATION_S, "cv": 0.5}}
#: Standard-queue anomalies (AWS documents them, with no number).
STANDARD_QUEUE = {"duplicate_rate": 0.001, "reorder_rate": 0.01}
#: FIFO SendMessage limit without high-throughput mode (calls per second).
FIFO_CALLS_PER_S = 300.0


class HolVariant(NamedTuple):
    """A head-of-line variant: a DLQ after ``max_receive_count`` receives, or none."""

    label: str
    max_receive_count: int | None
    visibility_timeout_s: float
    retention_s: float

    @property
    def theory_stall_s(self) -> float:
        """When the poison message leaves the queue, counted from its first receive (s)."""
        vt = self.visibility_timeout_s
        if self.max_receive_count is not None:
            return self.max_receive_count * vt
        return math.ceil(self.retention_s / vt) * vt


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

# ------------------------------------------------------------------------------- scenarios


def _worker(source: str, batch_size: int, **extra: Any) -> dict[str, Any]:
    trigger: dict[str, Any] = {"source": source, "batch_size": batch_size}
    trigger.update(extra.pop("trigger", {}))
    return {
        "type": "lambda_function",
        "trigger": trigger,
        "duration_s": DURATION,
        "timeout_s": 10,
        **extra,
    }


def _queue(fifo: bool, **extra: Any) -> dict[str, Any]:
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


def ordering_scenario(setup: Setup, queue: str, error_rate: float) -> Scenario:
    """Study 1: 10 groups, batch 10, ≤ 10 concurrent batches, partial batch responses."""
    fifo = queue == "FIFO"
    jobs = _queue(fifo, **({"reorder_rate": 0.0} if queue == NO_REORDER else {}))
    return scenario_from_dict({
        "name": f"ordering {queue} errors={error_rate:g}",
        "duration_s": setup.ordering_duration_s,
        "drain_s": 120,
        "components": {
            "orders": {
                "type": "producer", "rate_per_s": setup.ordering_rate_per_s,
                "send_to": ["jobs"], "groups": 10, "resend": {"rate": 0.001, "delay_s": 1.0},
            },
            "jobs": jobs,
            "worker": _worker(
                "jobs", 10, errors={"rate": error_rate},
                trigger={"max_concurrency": 10, "report_batch_item_failures": True},
            ),
        },
    })  # fmt: skip


def groups_scenario(setup: Setup, fifo: bool, groups: int) -> Scenario:
    """Study 2: batch size 1, no drain (throughput = delivered ÷ arrival window)."""
    return scenario_from_dict({
        "name": f"groups {queue_label(fifo)} G={groups}",
        "duration_s": setup.groups_duration_s,
        "drain_s": 0,
        "components": {
            "orders": {
                "type": "producer", "rate_per_s": setup.groups_rate_per_s,
                "send_to": ["jobs"], "groups": groups,
            },
            "jobs": _queue(fifo),
            "worker": _worker("jobs", 1),
        },
    })  # fmt: skip


def _hol_producer(setup: Setup, j: int) -> str:
    return f"g{j:02d}"


def _hol_count(setup: Setup) -> int:
    return round(setup.hol_duration_s / setup.hol_period_s)


def hol_send_time(setup: Setup, group: int, index: int) -> float:
    """Planned send time (s) of message ``index`` of group ``group`` in study 3."""
    return group * setup.hol_period_s / setup.hol_groups + index * setup.hol_period_s


def hol_scenario(setup: Setup, v: HolVariant, poison_rate: float) -> Scenario:
    """Study 3: one producer per group, one message per period each, batch size 10."""
    n = _hol_count(setup)
    comps: dict[str, Any] = {}
    for j in range(setup.hol_groups):
        burst = {"at_s": hol_send_time(setup, j, 0), "count": n, "spread_s": n * setup.hol_period_s}
        comps[_hol_producer(setup, j)] = {
            "type": "producer", "send_to": ["jobs"], "arrivals": {"bursts": [burst]},
        }  # fmt: skip
    extra: dict[str, Any] = {"visibility_timeout_s": v.visibility_timeout_s,
                             "retention_s": v.retention_s}  # fmt: skip
    if v.max_receive_count is not None:
        extra["dead_letter"] = {"target": "jobs-dlq", "max_receive_count": v.max_receive_count}
        comps["jobs-dlq"] = {"type": "sqs_queue", "fifo": True}
    comps["jobs"] = _queue(True, **extra)
    comps["worker"] = _worker("jobs", 10, errors={"poison_rate": poison_rate})
    return scenario_from_dict({
        "name": f"hol {v.label}",
        "duration_s": setup.hol_duration_s,
        "drain_s": 60,
        "components": comps,
    })  # fmt: skip


class PoisonPlan(NamedTuple):
    """The one poison message of a replication of study 3."""

    rep: int
    poison_rate: float
    group: int
    msg_index: int  # the message's index within its group
    send_s: float


def plan_poison(setup: Setup, seed: int) -> list[PoisonPlan]:
    """Replications with exactly one poison message, placed so its whole stall is observed.

    The poison message is the one with the smallest ``poison_u`` draw of the run; the
    function's ``poison_rate`` lies halfway to the second smallest draw.
    """
    n = _hol_count(setup)
    longest = max(v.theory_stall_s for v in setup.hol_variants)
    earliest = 0.05 * setup.hol_duration_s
    latest = setup.hol_duration_s - longest - 0.05 * setup.hol_duration_s
    plans: list[PoisonPlan] = []
    rep = 0
    while len(plans) < setup.hol_reps:
        streams = RandomStreams(seed, rep)
        draws = np.empty((setup.hol_groups, n))
        for j in range(setup.hol_groups):
            stream = streams.uniform(_hol_producer(setup, j), "poison")
            draws[j] = [stream() for _ in range(n)]
        order = np.argsort(draws, axis=None, kind="stable")
        group, index = (int(v) for v in np.unravel_index(order[0], draws.shape))
        t = hol_send_time(setup, group, index)
        if earliest <= t <= latest:
            lo, hi = draws.flat[order[0]], draws.flat[order[1]]
            plans.append(PoisonPlan(rep, float((lo + hi) / 2), group, index, t))
        rep += 1
    return plans


def limit_scenario(setup: Setup, load: float) -> Scenario:
    """Study 4: FIFO queue, 100 groups, batch size 10, default SDK retry (3 attempts)."""
    return scenario_from_dict({
        "name": f"limit {load:g}/s",
        "duration_s": setup.limit_duration_s,
        "warmup_s": setup.limit_warmup_s,
        "drain_s": 30,
        "components": {
            "orders": {
                "type": "producer", "rate_per_s": load, "send_to": ["jobs"], "groups": 100,
            },
            "jobs": _queue(True),
            "worker": _worker("jobs", 10),
        },
    })  # fmt: skip


# ------------------------------------------------------------------------------- measures


def _per_10k(r: RunResult, name: str) -> float | None:
    produced = r.metrics["messages_produced"]
    return r.metrics[name] / produced * 1e4 if produced else None


def _backlog(r: RunResult) -> float | None:
    expected = r.metrics["deliveries_expected"]
    return r.metrics["in_flight"] / expected if expected else None


ORDERING_UNITS = {
    "ordering_violations_per_10k": "per 10,000 messages",
    "duplicates_per_10k": "per 10,000 messages",
    "delivered_fraction": "fraction",
    "backlog_fraction": "fraction",
    "latency_p50_s": "s",
    "latency_p99_s": "s",
}


def ordering_measure(p: Any, r: RunResult) -> dict[str, float | None]:
    """Study 1, one replication: violations and duplicates per 10,000 produced messages."""
    m = r.metrics
    return {
        "ordering_violations_per_10k": _per_10k(r, "ordering_violations"),
        "duplicates_per_10k": _per_10k(r, "duplicates"),
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
    "ordering_violations_per_10k": "per 10,000 messages",
}


def groups_measure(setup: Setup, p: Any, r: RunResult) -> dict[str, float | None]:
    """Study 2, one replication: throughput = delivered ÷ arrival window (no drain)."""
    m = r.metrics
    return {
        "throughput_per_s": m["delivered"] / setup.groups_duration_s,
        "latency_p50_s": m["latency_p50_s"],
        "latency_p99_s": m["latency_p99_s"],
        "backlog_fraction": _backlog(r),
        "ordering_violations_per_10k": _per_10k(r, "ordering_violations"),
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


# ------------------------------------------------------------------------ head-of-line trace


class HolPoint(NamedTuple):
    """A head-of-line variant with the poison plans of its replications."""

    variant: HolVariant
    plans: tuple[PoisonPlan, ...]


def hol_measure(setup: Setup, p: HolPoint, r: RunResult) -> Measured:
    """Head-of-line metrics of one replication, from its trace (in its worker).

    In the first planned replication, also the latencies of two groups' messages around the
    poison message (the timeline, as the measure's detail).

    Raises:
        RuntimeError: if the trace does not show exactly the planned poison message.
    """
    tr = r.trace
    assert tr is not None
    v, plan = p.variant, next(x for x in p.plans if x.rep == r.rep)
    g, period = setup.hol_groups, setup.hol_period_s
    sends = tr[(tr["event"] == "send") & (tr["component"] == "jobs")]
    sent = pd.DataFrame({"msg_id": sends["msg_id"].to_numpy(), "t": sends["t_s"].to_numpy()})
    slot = np.rint(sent["t"].to_numpy() * g / period).astype(np.int64)
    sent["group"] = slot % g
    sent["index"] = slot // g
    planned = sent["group"] * period / g + sent["index"] * period
    if (sent["t"] - planned).abs().max() > 1e-6 or sent["msg_id"].duplicated().any():
        raise RuntimeError(f"{r.scenario} rep {r.rep}: sends off the planned schedule")
    firsts = tr[tr["event"] == "success"].groupby("msg_id", observed=True)["t_s"].min()
    sent["done"] = sent["msg_id"].map(firsts)
    sent["latency"] = sent["done"] - sent["t"]
    failed = tr.loc[tr["event"] == "failure", "msg_id"].unique()
    row = sent[(sent["group"] == plan.group) & (sent["index"] == plan.msg_index)]
    if len(failed) != 1 or len(row) != 1 or int(row["msg_id"].iloc[0]) != int(failed[0]):
        raise RuntimeError(
            f"{r.scenario} rep {r.rep}: expected one poison message (group {plan.group}, "
            f"index {plan.msg_index}); failures of messages {list(failed)}"
        )
    pid = int(failed[0])
    t_p = float(row["t"].iloc[0])
    gone = tr[(tr["msg_id"] == pid) & tr["event"].isin(["dead_letter", "expired"])]
    receives = tr[(tr["msg_id"] == pid) & (tr["event"] == "receive")]
    if len(gone) != 1:
        raise RuntimeError(f"{r.scenario} rep {r.rep}: the poison message never left the queue")
    t_gone = float(gone["t_s"].iloc[0])
    # two independent latency computations must agree: the trace's and the ledger's
    delivered = sent["latency"].dropna()
    ledger_mean = r.metrics["latency_mean_s"]
    if abs(delivered.mean() - ledger_mean) > 1e-9 * max(1.0, ledger_mean):
        raise RuntimeError(f"{r.scenario} rep {r.rep}: trace and ledger latencies disagree")
    same = sent[(sent["group"] == plan.group) & (sent["index"] > plan.msg_index)]
    behind = same[same["t"] < t_gone]
    others = sent[(sent["group"] != plan.group) & (sent["t"] >= t_p) & (sent["t"] < t_gone)]
    other_lat = others["latency"].dropna().to_numpy()
    metrics = {
        "stall_s": t_gone - t_p,
        "group_recovery_s": float(behind["done"].max()) - t_p,
        "next_message_latency_s": float(same.sort_values("index")["latency"].iloc[0]),
        "blocked_messages": float(len(behind)),
        "blocked_latency_mean_s": float(behind["latency"].mean()),
        "other_groups_latency_mean_s": float(other_lat.mean()),
        "other_groups_latency_p99_s": float(np.quantile(other_lat, 0.99, method="higher")),
        "poison_receives": float(len(receives)),
        "messages_dead_lettered": float(r.metrics["dead_lettered"]),
    }
    if plan.rep != p.plans[0].rep:
        return metrics
    other_group = (plan.group + 1) % g
    window = sent[(sent["t"] >= t_p - 30) & (sent["t"] <= t_gone + 60)]
    window = window[window["group"].isin([plan.group, other_group])]
    timeline = pd.DataFrame({
        "variant": v.label.replace("\n", " "),
        "rep": r.rep,
        "group": np.where(window["group"] == plan.group, "poison's group", "another group"),
        "created_rel_s": (window["t"] - t_p).round(6),
        "latency_s": window["latency"].round(6),
    })  # fmt: skip
    return Detailed(metrics, timeline)


HOL_UNITS = {
    "stall_s": "s", "group_recovery_s": "s", "next_message_latency_s": "s",
    "blocked_messages": "messages", "blocked_latency_mean_s": "s",
    "other_groups_latency_mean_s": "s", "other_groups_latency_p99_s": "s",
    "poison_receives": "receives", "messages_dead_lettered": "messages",
}  # fmt: skip


def hol_keys(v: HolVariant) -> dict[str, Any]:
    """The columns identifying a head-of-line variant in ``head_of_line.csv``."""
    return {
        "variant": v.label.replace("\n", " "),
        "dead_letter": v.max_receive_count is not None,
        "max_receive_count": v.max_receive_count,
        "visibility_timeout_s": v.visibility_timeout_s,
        "retention_s": v.retention_s,
        "theory_stall_s": v.theory_stall_s,
    }


# ------------------------------------------------------------------------------- charts

#: Colours of successive series (the order of their first appearance in a table).
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
CI_LEGEND = f"mean, {LEVEL:.0%} CI"
#: A dashed reference line: label, xs, ys.
Reference = tuple[str, Sequence[float], Sequence[float]]


def _series(df: pd.DataFrame, col: str) -> dict[Any, str]:
    return {v: COLORS[i % len(COLORS)] for i, v in enumerate(dict.fromkeys(df[col]))}


def _axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def _bars(df: pd.DataFrame, ax: Axes, *, category: str, series: str, ylabel: str, title: str,
          xlabel: str = "", log: bool = False, theory_label: str | None = None,
          legend_below: bool = False) -> None:  # fmt: skip
    """Grouped CI bars labelled with their means (categories and series in table order)."""
    if log:
        ax.set_yscale("log")
    colors = _series(df, series)
    ci_bars(df, ax, category, series, {c: str(c) for c in dict.fromkeys(df[category])},
            {k: str(k) for k in colors}, colors, annotate=True,
            theory="theory" if theory_label else None, theory_label=theory_label or "")
    ax.tick_params(axis="x", labelsize=8)
    ax.margins(y=0.15)
    _axes(ax, xlabel, ylabel, title)
    below: dict[str, Any] = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncol": 2}
    ax.legend(fontsize=7, title=CI_LEGEND, title_fontsize=7, **(below if legend_below else {}))


def _lines(df: pd.DataFrame, ax: Axes, *, x: str, series: str, xlabel: str, ylabel: str,
           title: str, logx: bool = False, logy: bool = False, xticks: Sequence[float] = (),
           references: Sequence[Reference] = ()) -> None:  # fmt: skip
    """CI lines against ``x`` (one per series, table order) and dashed reference lines."""
    colors = _series(df, series)
    ci_lines(df, ax, x, series, {k: f"{k} ({CI_LEGEND})" for k in colors}, colors)
    for j, (label, xs, ys) in enumerate(references):
        ax.plot(list(xs), list(ys), ("--", ":", "-.")[j % 3], color="0.25", linewidth=1.1,
                label=label)  # fmt: skip
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    if xticks:
        ax.set_xticks(list(xticks), [f"{v:,g}" for v in xticks])
        ax.minorticks_off()
    _axes(ax, xlabel, ylabel, title)
    ax.legend(fontsize=7)


def _timeline(df: pd.DataFrame, ax: Axes, *, x: str, y: str, series: str, xlabel: str,
              ylabel: str, title: str, muted: str, vline: tuple[str, float]) -> None:  # fmt: skip
    """Per-message values against time (no CIs); the ``muted`` series grey, behind."""
    i = 0
    for name in dict.fromkeys(df[series]):
        sub = df[df[series] == name].sort_values(x)
        color = "0.6" if name == muted else COLORS[i % len(COLORS)]
        i += name != muted
        ax.plot(sub[x].astype(float), sub[y].astype(float), marker=".", markersize=3,
                linewidth=0.8, color=color, zorder=1.0 if name == muted else 2.0, label=name)
    ax.axvline(vline[1], color="black", linestyle=":", linewidth=1.0, label=vline[0])
    ax.set_yscale("log")
    ax.grid(color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    _axes(ax, xlabel, ylabel, title)
    ax.legend(fontsize=7)


def _pick(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return df[df["metric"] == metric].reset_index(drop=True)


def ordering_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Violations, duplicates and p99 latency per queue type and function error rate."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    df = df[df["queue"] != NO_REORDER]
    df = df.assign(errors=[error_label(e) for e in df["function_error_rate"]])
    panels = [
        ("ordering_violations_per_10k", "ordering violations per 10,000 messages",
         "(a) Out-of-order processings", False),
        ("duplicates_per_10k", "duplicate processings per 10,000 messages",
         "(b) Duplicate processings", False),
        ("latency_p99_s", "p99 end-to-end latency (s, log scale)",
         "(c) p99 latency, producer to processed", True),
    ]  # fmt: skip
    for ax, (metric, ylabel, title, log) in zip(axes, panels, strict=True):
        _bars(_pick(df, metric), ax, category="queue", series="errors", ylabel=ylabel,
                     title=title, xlabel="queue type", log=log)  # fmt: skip
    reps = setup.ordering_reps
    fig.suptitle(
        f"SQS standard vs FIFO → Lambda, {setup.ordering_rate_per_s:g} msg/s in 10 groups, "
        f"batch 10, ≤ 10 concurrent batches, 0.1% producer re-sends; standard: 0.1% duplicates, "
        f"1% reordering\n{setup.ordering_duration_s:g} s of arrivals, {reps} replications with "
        f"common random numbers, 95% CIs",
        fontsize=10,
    )
    save_png(fig, path)


def groups_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Throughput, p99 latency and ordering violations against the number of groups."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    xs = sorted(set(df["groups"]))
    rate = setup.groups_rate_per_s
    bound = [min(rate, x / MEAN_DURATION_S) for x in xs]
    _lines(
        _pick(df, "throughput_per_s"), axes[0], x="groups", series="queue",
        xlabel="message groups (log scale)", ylabel="delivered throughput (messages/s)",
        title="(a) Throughput", logx=True, xticks=xs,
        references=[(f"offered load {rate:g} msg/s", xs, [rate] * len(xs)),
                    ("FIFO bound min(load, groups ÷ 0.1 s)", xs, bound)],
    )  # fmt: skip
    _lines(
        _pick(df, "latency_p99_s"), axes[1], x="groups", series="queue",
        xlabel="message groups (log scale)", ylabel="p99 latency of delivered messages (s, log)",
        title="(b) p99 latency", logx=True, logy=True, xticks=xs,
    )  # fmt: skip
    _lines(
        _pick(df, "ordering_violations_per_10k"), axes[2], x="groups", series="queue",
        xlabel="message groups (log scale)", ylabel="ordering violations per 10,000 messages",
        title="(c) Ordering violations", logx=True, xticks=xs,
    )  # fmt: skip
    fig.suptitle(
        f"FIFO concurrency is capped by the number of message groups: {rate:g} msg/s, batch "
        f"size 1, 0.1 s per invocation (≤ 10 msg/s per group)\n{setup.groups_duration_s:g} s "
        f"of arrivals, {setup.groups_reps} replications with common random numbers, 95% CIs",
        fontsize=10,
    )
    save_png(fig, path)


def hol_chart(df: pd.DataFrame, timeline: pd.DataFrame, setup: Setup, path: Path) -> None:
    """A replication's latencies around the poison message, and stall vs theory."""
    fig, axes = new_panels(1, 2, 13.0, 4.8)
    tl = timeline.dropna(subset=["latency_s"])
    first = str(tl["variant"].iloc[0])
    poison = tl[tl["group"] == "poison's group"]
    poison = poison.assign(series=[f"poison's group, {v}" for v in poison["variant"]])
    other = tl[(tl["group"] == "another group") & (tl["variant"] == first)]
    other = other.assign(series="another group (the same in every variant)")
    _timeline(
        pd.concat([other, poison], ignore_index=True), axes[0], x="created_rel_s",
        y="latency_s", series="series",
        xlabel="message creation time − poison message's creation time (s)",
        ylabel="end-to-end latency (s, log scale)",
        title=f"(a) One replication (rep {int(timeline['rep'].iloc[0])}): latency of each "
              "message of two groups",
        muted="another group (the same in every variant)",
        vline=("poison message created (never processed)", 0.0),
    )  # fmt: skip
    names = {
        "stall_s": "poison message blocks its group",
        "next_message_latency_s": "latency of the next message in its group",
        "other_groups_latency_p99_s": "p99 latency of other groups meanwhile",
    }
    bars = df[df["metric"].isin(list(names))].copy()
    bars["what"] = bars["metric"].map(names)
    bars["theory"] = np.where(bars["metric"] == "stall_s", bars["theory_stall_s"], np.nan)
    bars["variant"] = [str(v).replace(", visibility", "\nvisibility") for v in bars["variant"]]
    _bars(
        bars, axes[1], category="variant", series="what", ylabel="seconds (log scale)",
        title="(b) Stall of the poison's group vs other groups", log=True,
        theory_label="theory: maxReceiveCount × visibility, or retention", legend_below=True,
    )  # fmt: skip
    fig.suptitle(
        f"Head-of-line blocking: one poison message in one of {setup.hol_groups} FIFO groups "
        f"(1 msg per {setup.hol_period_s:g} s each), batch size 10\n{setup.hol_reps} "
        f"replications with common random numbers (same poison message in every variant), "
        f"95% CIs",
        fontsize=10,
    )
    save_png(fig, path)


def limit_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Delivered throughput, loss and producer time against the offered load."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    xs = sorted(set(df["offered_per_s"]))
    calls = df[df["metric"].isin(["accepted_sends_per_s", "throttled_sends_per_s"])].copy()
    calls["series"] = calls["metric"].map({
        "accepted_sends_per_s": "accepted sends (queue throughput)",
        "throttled_sends_per_s": "throttled sends (first tries and retries)",
    })  # fmt: skip
    _lines(
        calls, axes[0], x="offered_per_s", series="series", xlabel="offered load (messages/s)",
        ylabel="SendMessage calls per second", title="(a) Accepted and throttled sends",
        xticks=xs,
        references=[("no limit (accepted = offered)", xs, xs),
                    (f"FIFO limit {FIFO_CALLS_PER_S:g} calls/s", xs,
                     [FIFO_CALLS_PER_S] * len(xs))],
    )  # fmt: skip
    lost = _pick(df, "lost_fraction").assign(series="FIFO queue")
    for c in ("mean", "ci_low", "ci_high"):
        lost[c] = lost[c] * 100
    _lines(
        lost, axes[1], x="offered_per_s", series="series", xlabel="offered load (messages/s)",
        ylabel="messages lost after 3 send attempts (%)", title="(b) Lost messages",
        xticks=xs, references=[("1 − limit ÷ load", xs,
                     [max(0.0, 1 - FIFO_CALLS_PER_S / x) * 100 for x in xs])],
    )  # fmt: skip
    times = df[df["metric"].isin(["producer_latency_mean_s", "latency_p99_s"])].copy()
    times["series"] = times["metric"].map({
        "producer_latency_mean_s": "producer time per message",
        "latency_p99_s": "p99 end-to-end latency",
    })  # fmt: skip
    _lines(
        times, axes[2], x="offered_per_s", series="series", xlabel="offered load (messages/s)",
        ylabel="seconds", title="(c) Producer time and latency", xticks=xs,
    )  # fmt: skip
    fig.suptitle(
        f"FIFO throughput limit ({FIFO_CALLS_PER_S:g} SendMessage calls/s, no batching): "
        f"throttled sends, SDK retries (3 attempts, full-jitter backoff 1–20 s)\n"
        f"{setup.limit_duration_s - setup.limit_warmup_s:g} s measured after a "
        f"{setup.limit_warmup_s:g} s warm-up, {setup.limit_reps} replications, 95% CIs",
        fontsize=10,
    )
    save_png(fig, path)


# ------------------------------------------------------------------------------- findings


def _get(df: pd.DataFrame, metric: str, **where: Any) -> pd.Series:
    sel = df["metric"] == metric
    for k, v in where.items():
        sel &= df[k] == v
    hit = df[sel]
    if len(hit) != 1:
        raise KeyError(f"{metric} {where}: {len(hit)} rows")
    return hit.iloc[0]


def _num(v: float, pct: bool = False) -> str:
    """A number for prose: percentages, thousands separators, 3 significant digits."""
    if pct:
        return f"{v:.1%}"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _ci(row: pd.Series, pct: bool = False) -> str:
    """``mean (95% CI low – high)`` of a summary row (just the mean without a CI)."""
    mean = _num(row["mean"], pct)
    if pd.isna(row["ci_low"]) or row["ci_low"] == row["ci_high"]:
        return mean
    return f"{mean} (95% CI {_num(row['ci_low'], pct)} – {_num(row['ci_high'], pct)})"


def _ordering_findings(o: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    def get(metric: str, queue: str, err: float) -> pd.Series:
        return _get(o, metric, queue=queue, function_error_rate=err)

    lines = [
        "## 1. Ordering violations and duplicates, standard vs FIFO",
        "",
        f"![violations, duplicates and p99 latency]({name}/ordering.png)",
        "",
        f"Setup: {setup.ordering_rate_per_s:g} msg/s in 10 message groups for "
        f"{setup.ordering_duration_s:g} s, batch size 10, up to 10 concurrent batches, partial "
        "batch responses, 0.1 s per invocation; the producer re-sends 0.1% of its messages 1 s "
        "later with the same deduplication id; the standard queue has `duplicate_rate` 0.001 "
        f"and `reorder_rate` 0.01. {setup.ordering_reps} replications per variant.",
        "",
    ]
    for err in setup.error_rates:
        f_b = get("backlog_fraction", "FIFO", err)
        backlog = (
            f"; the FIFO queue still held {_num(f_b['mean'], True)} of the messages at the end "
            "of the run: its groups cannot keep up"
            if f_b["mean"] > 0.01 else ""
        )
        lines.append(
            f"- **{error_label(err) if err else 'No function errors'}.** Ordering violations "
            "per 10,000 messages: "
            f"standard {_ci(get('ordering_violations_per_10k', 'standard', err))}, FIFO "
            f"{_ci(get('ordering_violations_per_10k', 'FIFO', err))}. Duplicates per 10,000: "
            f"standard {_ci(get('duplicates_per_10k', 'standard', err))}, FIFO "
            f"{_ci(get('duplicates_per_10k', 'FIFO', err))}. p99 latency: standard "
            f"{_ci(get('latency_p99_s', 'standard', err))} s, FIFO "
            f"{_ci(get('latency_p99_s', 'FIFO', err))} s{backlog}."
        )
    ctrl = get("ordering_violations_per_10k", NO_REORDER, 0.0)
    std = get("ordering_violations_per_10k", "standard", 0.0)
    lines += [
        f"- Where the standard queue's violations come from: with `reorder_rate` 0 it still has "
        f"{_ci(ctrl)} per 10,000 messages, so `reorder_rate` 0.01 adds only "
        f"{_num(std['mean'] - ctrl['mean'])} of the {_num(std['mean'])} (the queue reorders a "
        "message only while it waits behind the next one, and here the pollers take almost "
        "every message at once). Concurrent batches of the same group cause the rest. Its "
        "duplicates match the two sources configured (≈ 10 per 10,000 from `duplicate_rate`, "
        "≈ 10 from re-sends); FIFO deduplication drops the re-sends and the queue adds none.",
        "- What FIFO order costs when messages fail: a failed message blocks its whole group "
        "for the visibility timeout (30 s), and again if a message fails during the catch-up; "
        "the standard queue delays only the failed message itself (with "
        f"{error_label(max(setup.error_rates))} that is just enough to lift its p99 to "
        f"{_num(get('latency_p99_s', 'standard', max(setup.error_rates))['mean'])} s: about 1% "
        "of its messages wait the 30-s visibility timeout).",
        "",
    ]
    return lines


def _groups_findings(gr: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    groups = sorted(set(gr["groups"]))
    lines = [
        "## 2. Throughput and p99 latency against the number of message groups",
        "",
        f"![throughput, p99 latency and violations against groups]({name}/groups.png)",
        "",
        f"Setup: {setup.groups_rate_per_s:g} msg/s for {setup.groups_duration_s:g} s, batch "
        "size 1, 0.1 s per invocation (gamma, cv 0.5): FIFO keeps at most one batch of a group "
        "in flight, so a group carries at most ~10 msg/s and FIFO concurrency ≤ active groups. "
        "Throughput = messages delivered by the end of the arrival window ÷ its length; p99 "
        "over delivered messages (a lower bound when a backlog remains). "
        f"{setup.groups_reps} replications per point.",
        "",
    ]
    for g in groups:
        b = _get(gr, "backlog_fraction", queue="FIFO", groups=g)
        lines.append(
            f"- FIFO, {g:,} group{'s' if g > 1 else ''}: "
            f"{_ci(_get(gr, 'throughput_per_s', queue='FIFO', groups=g))} msg/s delivered, p99 "
            f"{_ci(_get(gr, 'latency_p99_s', queue='FIFO', groups=g))} s, "
            f"{_num(b['mean'], True)} of the messages still queued at the end."
        )
    sv = [_get(gr, "ordering_violations_per_10k", queue="standard", groups=g) for g in groups]
    lines += [
        "- Standard queue (the reference; groups only label its messages): "
        f"{_ci(_get(gr, 'throughput_per_s', queue='standard', groups=groups[-1]))} msg/s, p99 "
        f"{_ci(_get(gr, 'latency_p99_s', queue='standard', groups=groups[-1]))} s, but "
        f"{_num(sv[0]['mean'])} ordering violations per 10,000 messages with {groups[0]} group, "
        f"falling to {_num(sv[-1]['mean'])} with {groups[-1]:,} groups; FIFO has none.",
        "",
    ]
    return lines


def _hol_findings(hol: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    lines = [
        "## 3. Head-of-line blocking by one poison message",
        "",
        f"![latency around the poison message and stall vs theory]({name}/head_of_line.png)",
        "",
        f"Setup: {setup.hol_groups} groups, each sending one message every "
        f"{setup.hol_period_s:g} s for {setup.hol_duration_s:g} s, batch size 10. Exactly one "
        "message of each run is poison: poison is decided per message by its workload draw "
        "(`poison_u < poison_rate`), so the script reads the producers' poison streams before "
        "the run and sets the function's `poison_rate` halfway between the smallest and second "
        "smallest draw; each group is its own producer sending at a fixed phase, so the trace's "
        "send times tell every message's group. Replications where the poison message would "
        "come too early or too late to observe its whole stall are skipped; the trace is "
        "checked to show failures of that one message only. Stall = time from the poison "
        "message's creation to its leaving the queue (dead-lettered or expired). Retention is "
        "shortened to 600 s (AWS minimum 60 s, default 4 days) to keep the run short. "
        f"{setup.hol_reps} replications per variant, the same poison message in every variant.",
        "",
    ]
    for variant in dict.fromkeys(hol["variant"]):
        def get(metric: str, variant: str = variant) -> pd.Series:
            return _get(hol, metric, variant=variant)

        stall = get("stall_s")
        lines.append(
            f"- {variant}: the group stalls {_ci(stall)} s (theory "
            f"{_num(stall['theory_stall_s'])} s; the poison message was received "
            f"{_num(get('poison_receives')['mean'])} times). The next message of the group "
            f"waits {_ci(get('next_message_latency_s'))} s, "
            f"{_num(get('blocked_messages')['mean'])} messages pile up behind the poison, and "
            f"the group is back to normal {_num(get('group_recovery_s')['mean'])} s after the "
            "poison message arrived. Other groups meanwhile: p99 latency "
            f"{_ci(get('other_groups_latency_p99_s'))} s. Messages dead-lettered per run: "
            f"{_num(get('messages_dead_lettered')['mean'])}."
        )
    lines += [
        "- Blocking is per group: the other groups' latency does not change. With no DLQ and "
        "the default retention of 4 days (345,600 s) the group would stall for 4 days.",
        "",
    ]
    return lines


def _limit_findings(lim: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    lines = [
        f"## 4. The FIFO throughput limit ({FIFO_CALLS_PER_S:g} SendMessage calls/s)",
        "",
        f"![accepted and throttled sends, loss and producer time]({name}/throughput_limit.png)",
        "",
        "Setup: one producer, 100 groups, one message per SendMessage call (batched sends are "
        "not modelled), the SDK's standard retry (3 attempts, full-jitter backoff); "
        f"{setup.limit_duration_s - setup.limit_warmup_s:g} s measured after a "
        f"{setup.limit_warmup_s:g}-s warm-up; accepted and throttled calls are counted in the "
        "trace during that window. "
        f"{setup.limit_reps} replications per load.",
        "",
    ]
    for load in sorted(set(lim["offered_per_s"])):
        def get(metric: str, load: float = load) -> pd.Series:
            return _get(lim, metric, offered_per_s=load)

        lines.append(
            f"- Offered {load:,g} msg/s: {_ci(get('accepted_sends_per_s'))} sends/s accepted, "
            f"{_ci(get('throttled_sends_per_s'))} throttled; "
            f"{get('send_attempts_per_message')['mean']:.2f} send attempts per message; "
            f"{_ci(get('lost_fraction'), True)} of the messages lost after the retries; "
            f"producer time {_ci(get('producer_latency_mean_s'))} s per message."
        )
    lines += [
        f"- Above {FIFO_CALLS_PER_S:g} sends/s the queue accepts exactly its limit and the "
        "excess is lost after the retries (close to 1 − 300 ÷ load); retries add producer "
        "time and throttled calls but no throughput. Beyond 300 msg/s FIFO needs "
        "SendMessageBatch (up to 3,000 msg/s) or high-throughput mode.",
        "",
    ]
    return lines


def _headlines(
    o: pd.DataFrame, gr: pd.DataFrame, hol: pd.DataFrame, lim: pd.DataFrame, setup: Setup
) -> list[str]:
    errs = [e for e in setup.error_rates if e > 0]
    low = min(errs) if errs else 0.0
    groups = sorted(set(gr["groups"]))
    loads = sorted(set(lim["offered_per_s"]))
    stalls = [
        (v, _get(hol, "stall_s", variant=v)) for v in dict.fromkeys(hol["variant"])
    ]
    stall_text = "; ".join(f"{_num(r['mean'])} s with {v}" for v, r in stalls)
    others = max(_get(hol, "other_groups_latency_p99_s", variant=v)["mean"] for v, _ in stalls)

    def order(metric: str, queue: str, err: float = 0.0) -> str:
        return _num(_get(o, metric, queue=queue, function_error_rate=err)["mean"])

    def lim_get(metric: str) -> pd.Series:
        return _get(lim, metric, offered_per_s=loads[-1])

    return [
        "## Headlines",
        "",
        f"- **Order and duplicates.** FIFO: {order('ordering_violations_per_10k', 'FIFO')} "
        f"ordering violations and {order('duplicates_per_10k', 'FIFO')} duplicates per 10,000 "
        f"messages; standard queue with 10 concurrent batches: "
        f"{order('ordering_violations_per_10k', 'standard')} and "
        f"{order('duplicates_per_10k', 'standard')}.",
        f"- **Order costs concurrency.** FIFO runs at most one batch per group: with "
        f"{groups[0]} group it delivers "
        f"{_num(_get(gr, 'throughput_per_s', queue='FIFO', groups=groups[0])['mean'])} of "
        f"{setup.groups_rate_per_s:g} msg/s offered; with {groups[-1]:,} groups "
        f"{_num(_get(gr, 'throughput_per_s', queue='FIFO', groups=groups[-1])['mean'])} msg/s "
        f"at p99 {_num(_get(gr, 'latency_p99_s', queue='FIFO', groups=groups[-1])['mean'])} s, "
        "like the standard queue.",
        f"- **Order costs latency when messages fail.** With {low:.1%} transient function "
        f"errors, p99 latency is {order('latency_p99_s', 'FIFO', low)} s on FIFO vs "
        f"{order('latency_p99_s', 'standard', low)} s on standard: a failure blocks its group "
        "for the visibility timeout.",
        f"- **One poison message stalls its group** for maxReceiveCount × visibility timeout "
        f"with a DLQ, or until retention without one: {stall_text}. Other groups are "
        f"unaffected (p99 ≤ {_num(others)} s).",
        f"- **The FIFO send limit.** At {loads[-1]:,g} msg/s offered the queue accepts "
        f"{_num(lim_get('accepted_sends_per_s')['mean'])} sends/s; "
        f"{_num(lim_get('lost_fraction')['mean'], True)} of the messages are lost after 3 "
        f"attempts, and the producer spends "
        f"{_num(lim_get('producer_latency_mean_s')['mean'])} s per message on sends and retries.",
        "",
    ]


def findings(
    tables: dict[str, pd.DataFrame], setup: Setup, name: str, quick: bool, seed: int
) -> str:
    """The findings section (markdown) for ``results/README.md``, from the CSVs' tables."""
    o, gr, hol, lim = (tables[k] for k in ("ordering", "groups", "head_of_line",
                                            "throughput_limit"))  # fmt: skip
    files = ", ".join(
        f"[`{t}.csv`]({name}/{t}.csv)"
        for t in ("ordering", "groups", "head_of_line", "head_of_line_timeline",
                  "throughput_limit")
    )  # fmt: skip
    lines = [
        "# FIFO ordering: what strict per-group order costs (SQS standard vs FIFO → Lambda)",
        "",
        f"Script `experiments/fifo_ordering.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}; files in [`{name}/`]({name}/): {files} and four PNG charts. Every number "
        "below is read from those CSVs: the mean over replications with its 95% t-interval "
        "(a lower bound below 0 only means that few replications saw the event). The "
        "variants of each study ran with common random numbers (the same messages).",
        "",
        *_headlines(o, gr, hol, lim, setup),
        *_ordering_findings(o, setup, name),
        *_groups_findings(gr, setup, name),
        *_hol_findings(hol, setup, name),
        *_limit_findings(lim, setup, name),
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- study


def _setup(o: Options) -> Setup:
    """The sizes of this invocation (``--replications`` sets every study's replications)."""
    setup = QUICK if o.quick else FULL
    n = o.replications
    return setup if n is None else setup._replace(
        ordering_reps=n, groups_reps=n, hol_reps=n, limit_reps=n)  # fmt: skip


def designs(o: Options) -> list[Design[Any]]:
    """The four studies; head-of-line runs the replications its poison plans chose."""
    setup = _setup(o)
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


def report(rep: Report) -> str:
    """The four charts and the findings, from the five CSV tables."""
    setup, t, out = _setup(rep.options), rep.tables, rep.out
    ordering_chart(t["ordering"], setup, out / "ordering.png")
    groups_chart(t["groups"], setup, out / "groups.png")
    hol_chart(t["head_of_line"], t["head_of_line_timeline"], setup, out / "head_of_line.png")
    limit_chart(t["throughput_limit"], setup, out / "throughput_limit.png")
    return findings(dict(t), setup, out.name, rep.quick, rep.seed)


STUDY = Study(
    "fifo_ordering",
    "SQS standard vs FIFO → Lambda (DESIGN A2); writes results/fifo_ordering/.",
    20260402,
    designs,
    report,
    extra_tables=timeline,
    extra_table_names=("head_of_line_timeline",),
    float_format="%.10g",
    quick_help="shorter runs, fewer replications",
    replications_help="replications per variant of every study (default: the study's)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the four studies (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
