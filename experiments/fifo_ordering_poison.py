"""The FIFO study's head-of-line sub-study: exactly one poison message, and its stall.

The variants and their closed form, the send schedule (one producer per group at a fixed
phase), the plan that makes exactly one message of a replication poison, and the per-run
measure that reads the stall from the trace. How and why is told in
:mod:`experiments.fifo_ordering`; the sizes come from its
:class:`~experiments.fifo_ordering_design.Setup` (any object with the ``hol_*`` fields).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

import numpy as np
import pandas as pd

from sim.analysis.metrics import RunResult
from sim.engine.streams import RandomStreams
from sim.study import Detailed, Measured

#: SQS's default message retention (4 days, in seconds).
DEFAULT_RETENTION_S = 345_600.0


def stall_theory_s(max_receive_count: int | None, visibility_timeout_s: float,
                   retention_s: float = DEFAULT_RETENTION_S) -> float:  # fmt: skip
    """When a poison message leaves a FIFO queue, counted from its first receive (s).

    With a DLQ (``max_receive_count`` not None): ``max_receive_count`` × the visibility
    timeout; without one: at the end of the first visibility timeout after ``retention_s``.
    """
    vt = visibility_timeout_s
    if max_receive_count is not None:
        return max_receive_count * vt
    return math.ceil(retention_s / vt) * vt


class HolVariant(NamedTuple):
    """A head-of-line variant: a DLQ after ``max_receive_count`` receives, or none."""

    label: str
    max_receive_count: int | None
    visibility_timeout_s: float
    retention_s: float

    @property
    def theory_stall_s(self) -> float:
        """When the poison message leaves the queue, counted from its first receive (s)."""
        return stall_theory_s(self.max_receive_count, self.visibility_timeout_s,
                              self.retention_s)  # fmt: skip


class HolSizes(Protocol):
    """The sizes of the head-of-line sub-study (fields of the study's ``Setup``)."""

    @property
    def hol_groups(self) -> int:
        """Message groups, one producer each."""

    @property
    def hol_period_s(self) -> float:
        """Seconds between two messages of a group."""

    @property
    def hol_duration_s(self) -> float:
        """Seconds of arrivals."""

    @property
    def hol_reps(self) -> int:
        """Replications per variant."""

    @property
    def hol_variants(self) -> tuple[HolVariant, ...]:
        """The variants."""


def hol_producer(j: int) -> str:
    """The name of group ``j``'s producer."""
    return f"g{j:02d}"


def hol_count(setup: HolSizes) -> int:
    """Messages each group's producer sends."""
    return round(setup.hol_duration_s / setup.hol_period_s)


def hol_send_time(setup: HolSizes, group: int, index: int) -> float:
    """Planned send time (s) of message ``index`` of group ``group`` in study 3."""
    return group * setup.hol_period_s / setup.hol_groups + index * setup.hol_period_s


class PoisonPlan(NamedTuple):
    """The one poison message of a replication of study 3."""

    rep: int
    poison_rate: float
    group: int
    msg_index: int  # the message's index within its group
    send_s: float


def plan_poison(setup: HolSizes, seed: int) -> list[PoisonPlan]:
    """Replications with exactly one poison message, placed so its whole stall is observed.

    The poison message is the one with the smallest ``poison_u`` draw of the run; the
    function's ``poison_rate`` lies halfway to the second smallest draw.
    """
    n = hol_count(setup)
    longest = max(v.theory_stall_s for v in setup.hol_variants)
    earliest = 0.05 * setup.hol_duration_s
    latest = setup.hol_duration_s - longest - 0.05 * setup.hol_duration_s
    plans: list[PoisonPlan] = []
    rep = 0
    while len(plans) < setup.hol_reps:
        streams = RandomStreams(seed, rep)
        draws = np.empty((setup.hol_groups, n))
        for j in range(setup.hol_groups):
            stream = streams.uniform(hol_producer(j), "poison")
            draws[j] = [stream() for _ in range(n)]
        order = np.argsort(draws, axis=None, kind="stable")
        group, index = (int(v) for v in np.unravel_index(order[0], draws.shape))
        t = hol_send_time(setup, group, index)
        if earliest <= t <= latest:
            lo, hi = draws.flat[order[0]], draws.flat[order[1]]
            plans.append(PoisonPlan(rep, float((lo + hi) / 2), group, index, t))
        rep += 1
    return plans


class HolPoint(NamedTuple):
    """A head-of-line variant with the poison plans of its replications."""

    variant: HolVariant
    plans: tuple[PoisonPlan, ...]


def hol_measure(setup: HolSizes, p: HolPoint, r: RunResult) -> Measured:
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
    poison = tr[tr["msg_id"] == pid]
    gone = poison[poison["event"].isin(["dead_letter", "expired"])]
    receives = poison[poison["event"] == "receive"]
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
        "variant": variant_name(v),
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


def variant_name(v: HolVariant) -> str:
    """A variant's label on one line: its name in the tables."""
    return v.label.replace("\n", " ")


def hol_keys(v: HolVariant) -> dict[str, Any]:
    """The columns identifying a head-of-line variant in ``head_of_line.csv``."""
    return {
        "variant": variant_name(v),
        "dead_letter": v.max_receive_count is not None,
        "max_receive_count": v.max_receive_count,
        "visibility_timeout_s": v.visibility_timeout_s,
        "retention_s": v.retention_s,
        "theory_stall_s": v.theory_stall_s,
    }
