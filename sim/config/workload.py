"""What a scenario asks for before it runs: expected arrivals, run size, retry horizons.

Arithmetic on a validated :class:`Scenario` (nothing is simulated), for the checks ``evsim``
makes before and after a run:

* :func:`expected_arrivals`: messages a producer is expected to create in a time window, from
  its rate, profile, rate series, trace and bursts (resends not counted);
* :func:`run_size`: the messages, computing time and memory of a set of runs, from
  :data:`US_PER_MESSAGE` and :data:`BYTES_PER_MESSAGE`;
* :func:`retry_horizons`: how long the slowest retry schedules of the scenario can keep a
  message in flight after its last arrival (what ``drain_s`` must cover);
* :func:`workload_changes`: how a variant's workload differs from a baseline's (common random
  numbers pair messages only while the producers are unchanged).

The two constants were measured on a 2-core machine (Python 3.11) with
``benchmarks/throughput.py`` and one producer sending 1,000,000 messages to a queue without a
consumer: about 14 µs of computing per message through SQS → Lambda (8 µs into a bare queue;
EventBridge, S3 and SNS routing cost 3–5 times more), and about 480 bytes per message held in
flight. A message that has reached its fate costs nothing (the ledger keeps counters and a
fixed-size latency histogram), so memory follows what is in flight at once: small when the
consumers keep up, everything produced when they do not.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sim.config.common import DeliveryRetrySpec
from sim.config.eventbridge import EventBusSpec
from sim.config.fields import ConstantDist
from sim.config.lambda_ import LambdaFunctionSpec
from sim.config.producer import ProducerSpec
from sim.config.s3 import S3BucketSpec
from sim.config.scenario import Scenario
from sim.config.sns import SnsTopicSpec, default_delivery_policy
from sim.config.sqs import SqsQueueSpec

__all__ = [
    "BYTES_PER_MESSAGE",
    "SLOW_RUN_S",
    "US_PER_MESSAGE",
    "RunSize",
    "available_memory_bytes",
    "expected_arrivals",
    "expected_messages",
    "retry_horizons",
    "run_size",
    "workload_changes",
]

#: Computing time per message (µs), measured through SQS → Lambda (see the module docstring).
US_PER_MESSAGE = 14.0
#: Memory per message in flight (bytes), measured (see the module docstring).
BYTES_PER_MESSAGE = 480.0
#: A set of runs expected to take longer than this (seconds) gets a warning first.
SLOW_RUN_S = 300.0


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def expected_arrivals(p: ProducerSpec, start_s: float, end_s: float) -> float:
    """Messages ``p`` is expected to create in ``[start_s, end_s)`` (simulated seconds)."""
    total = 0.0
    if p.rate_per_s is not None:
        total += p.rate_per_s * max(0.0, end_s - max(start_s, 0.0))
    arr = p.arrivals
    if arr is None:
        return total
    if arr.profile:
        ends = [s.start_s for s in arr.profile[1:]] + [math.inf]
        for step, end in zip(arr.profile, ends, strict=True):
            total += step.rate_per_s * _overlap(step.start_s, end, start_s, end_s)
    if arr.rate_series is not None:
        total += arr.rate_series.expected_count(start_s, end_s)
    if arr.trace is not None:
        total += sum(1 for t in arr.trace.times if start_s <= t < end_s)
    for b in arr.bursts:
        if b.spread_s == 0:
            total += b.count if start_s <= b.at_s < end_s else 0
        else:
            k0 = max(0, math.ceil((start_s - b.at_s) * b.count / b.spread_s))
            k1 = min(b.count, math.ceil((end_s - b.at_s) * b.count / b.spread_s))
            total += max(0, k1 - k0)
    return total


def expected_messages(s: Scenario, counted: bool = False) -> float:
    """Messages every producer of ``s`` is expected to create in one replication.

    ``counted``: only those created after ``warmup_s`` (the ones the metrics count).
    """
    start = s.warmup_s if counted else 0.0
    return sum(expected_arrivals(p, start, s.duration_s) for p in s.of_type(ProducerSpec).values())


def available_memory_bytes() -> float | None:
    """Memory this machine can give a run now (Linux ``MemAvailable``), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class RunSize:
    """The size of a set of runs: messages, computing time and the worst-case memory."""

    messages: float  #: messages created in all replications of all variants
    per_replication: float  #: the largest variant's messages per replication
    seconds: float  #: wall-clock estimate on ``workers`` processes
    peak_bytes: float  #: memory if every message of a replication piles up, per running worker
    workers: int


def run_size(scenarios: list[Scenario], replications: int, workers: int) -> RunSize:
    """Estimate ``replications`` runs of each of ``scenarios`` on ``workers`` processes."""
    per = [expected_messages(s) for s in scenarios]
    messages = sum(per) * replications
    parallel = max(1, min(workers, replications * len(scenarios)))
    seconds = messages * US_PER_MESSAGE * 1e-6 / parallel
    peak = max(per, default=0.0) * BYTES_PER_MESSAGE * parallel
    return RunSize(messages, max(per, default=0.0), seconds, peak, parallel)


# --------------------------------------------------------------------------- retry horizons


def _backoff_s(max_attempts: int, base_s: float, cap_s: float) -> float:
    """The longest total backoff of an SDK retry policy (full jitter at most the full delay)."""
    return sum(min(base_s * 2.0**i, cap_s) for i in range(max_attempts - 1))


def _delivery_s(r: DeliveryRetrySpec) -> float:
    """The longest span of an EventBridge (or S3) delivery retry policy."""
    return min(r.max_age_s, _backoff_s(r.max_attempts + 1, r.base_s, r.cap_s))


def _async_targets(s: Scenario) -> set[str]:
    out: set[str] = set()
    for c in s.components.values():
        if isinstance(c, ProducerSpec):
            out.update(c.send_to)
        elif isinstance(c, SnsTopicSpec):
            out.update(sub.target for sub in c.subscriptions)
        elif isinstance(c, EventBusSpec):
            out.update(t.target for rule in c.rules for t in rule.targets)
        elif isinstance(c, S3BucketSpec):
            out.update(n.target for n in c.notifications)
        elif isinstance(c, LambdaFunctionSpec):
            out.update(o.to for o in c.outputs)
            out.update(x for x in (c.async_.on_failure, c.async_.on_success) if x)
    return out


def retry_horizons(s: Scenario) -> Iterator[tuple[float, str]]:
    """``(seconds, what)``: how long each retry schedule of ``s`` can keep a message in flight.

    Upper bounds, counted from a message's last arrival, of the schedules that can run: those
    whose target can fail (``errors.rate`` > 0, or an outage): SDK client retries, receives of
    a queue up to its dead-letter queue (or its retention when it has none), asynchronous
    invocation retries, SNS delivery policies, EventBridge target and S3 delivery retries; and
    outages that end after ``duration_s``.
    """
    comps = s.components
    down = {o.component for o in s.outages}

    def can_fail(name: str) -> bool:
        c = comps.get(name)
        errors = getattr(c, "errors", None)
        rate = getattr(errors, "rate", 0.0) + getattr(errors, "poison_rate", 0.0)
        return name in down or rate > 0
    consumers = {
        f.trigger.source: (name, f)
        for name, f in s.of_type(LambdaFunctionSpec).items()
        if f.trigger is not None
    }
    for name, p in s.of_type(ProducerSpec).items():
        r = p.retry
        if r.max_attempts > 1 and any(can_fail(t) for t in p.send_to):
            yield (_backoff_s(r.max_attempts, r.base_s, r.cap_s),
                   f"the SDK retries of producer {name!r}")  # fmt: skip
    for name, q in s.of_type(SqsQueueSpec).items():
        if name not in consumers:
            continue
        fname, f = consumers[name]
        if not (can_fail(fname) or _can_time_out(f)):
            continue
        per_receive = q.visibility_timeout_s + q.delay_s
        if q.dead_letter is not None:
            k = q.dead_letter.max_receive_count
            yield (k * per_receive, f"{k} receives of queue {name!r} before its dead-letter "
                   f"queue, {q.visibility_timeout_s:g} s of visibility timeout each")  # fmt: skip
        else:
            what = (f"the retention of queue {name!r} (no dead-letter queue: a message that "
                    f"keeps failing at {fname!r} leaves only when it expires)")
            yield q.retention_s, what
    targets = _async_targets(s)
    for name, f in s.of_type(LambdaFunctionSpec).items():
        if f.trigger is None and name in targets and can_fail(name):
            a = f.async_
            gaps = (60.0, 120.0)[: a.max_retries]
            span = min(a.max_event_age_s, sum(gaps) + (a.max_retries + 1) * f.timeout_s)
            yield (span, f"the asynchronous retries of function {name!r}")
    for name, t in s.of_type(SnsTopicSpec).items():
        for sub in t.subscriptions:
            if not can_fail(sub.target):
                continue
            target = comps.get(sub.target)
            protocol = sub.protocol or _protocol(target)
            policy = sub.retry or default_delivery_policy(protocol)
            yield (policy.total_s(), f"the {protocol} delivery policy of topic {name!r} to "
                   f"{sub.target!r}")  # fmt: skip
    for name, b in s.of_type(EventBusSpec).items():
        for rule in b.rules:
            for tg in rule.targets:
                if not can_fail(tg.target):
                    continue
                what = f"the retries of rule {rule.name!r} of bus {name!r} to {tg.target!r}"
                yield _delivery_s(tg.retry), what
    for name, bucket in s.of_type(S3BucketSpec).items():
        reached = [n.target for n in bucket.notifications] + [bucket.eventbridge or ""]
        if any(can_fail(t) for t in reached if t):
            yield _delivery_s(bucket.delivery_retry), f"the delivery retries of bucket {name!r}"
    for o in s.outages:
        end = o.start_s + o.duration_s
        if end > s.duration_s:
            yield (end - s.duration_s, f"the outage of {o.component!r} until t = {end:g} s")


def _can_time_out(f: LambdaFunctionSpec) -> bool:
    """Whether an invocation of ``f`` may run past its timeout (false only when it surely not)."""
    batch = f.trigger.batch_size if f.trigger is not None else 1
    run, per = f.duration_s, f.duration_per_message_s
    if isinstance(run, ConstantDist) and isinstance(per, ConstantDist):
        return run.value + batch * per.value >= f.timeout_s
    return True


def _protocol(target: object) -> str:
    if isinstance(target, SqsQueueSpec):
        return "sqs"
    if isinstance(target, LambdaFunctionSpec):
        return "lambda"
    return str(getattr(target, "protocol", "http"))


# --------------------------------------------------------------------------- workload changes

#: Producer fields that are the client, not the workload: changing them keeps the messages.
_CLIENT_FIELDS = ("send_to", "retry")


def workload_changes(base: Scenario, other: Scenario) -> list[str]:
    """How ``other``'s workload differs from ``base``'s, one phrase each (empty: the same).

    The workload is every producer (by name) but its targets and SDK retries, and the window
    ``duration_s``/``warmup_s`` in which messages are created and counted.
    """
    out = []
    for key in ("duration_s", "warmup_s"):
        a, b = getattr(base, key), getattr(other, key)
        if a != b:
            out.append(f"{key} {a:g} → {b:g}")
    mine, theirs = base.of_type(ProducerSpec), other.of_type(ProducerSpec)
    out += [f"producer {n!r} removed" for n in mine if n not in theirs]
    out += [f"producer {n!r} added" for n in theirs if n not in mine]
    for name in (n for n in mine if n in theirs):
        a = mine[name].model_dump(mode="json", by_alias=True, exclude=set(_CLIENT_FIELDS))
        b = theirs[name].model_dump(mode="json", by_alias=True, exclude=set(_CLIENT_FIELDS))
        changed = [k for k in a if a[k] != b[k]]
        if changed:
            out.append(f"producer {name!r} changes {', '.join(changed)}")
    return out
