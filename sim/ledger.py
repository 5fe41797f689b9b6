"""The ledger: fates, counters, latencies, duplicates and ordering, per sink.

Every (message, intended sink) pair is created ``in_flight`` and moves between the five fates
of DESIGN §3 only through this module, so conservation
(``delivered + dead_lettered + expired + lost + in_flight == deliveries_expected``) holds by
construction and is checked by :meth:`Ledger.check_conservation`.

Copies and fates. A pair may have several copies (a standard queue's duplicate delivery, a
producer's resend). ``Pair.live`` counts copies on their way, ``Pair.parked`` copies in a
dead-letter queue. A pair that was processed successfully once is ``delivered`` for good; later
successful processings count as ``duplicates``. Otherwise, when no live copy remains, the pair
is ``dead_lettered`` if a copy sits in a DLQ, else it takes the fate of its last dropped copy
(``expired`` or ``lost``). A copy redriven out of a DLQ makes the pair ``in_flight`` again; a
copy that expires in the DLQ makes it ``expired``; a copy consumed by the DLQ's own consumer
leaves it ``dead_lettered``.

Memory follows what is in flight: a resolved pair leaves only counters behind. Latencies go into
a fixed-size log-bucket histogram per sink (bucket ratio 1.01, so quantiles are within 0.5%
relative error; mean, min and max are exact). Raw samples and an event trace are kept only on
request (``keep_samples``, ``trace``).

Messages created before ``warmup_s`` are simulated but counted into a per-sink shadow that is
discarded; everything else the ledger counts is gated by :attr:`Ledger.counting`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from sim.message import DEAD_LETTERED, DELIVERED, FATES, IN_FLIGHT, Message, Pair

__all__ = ["FunctionStats", "LatencyHistogram", "Ledger", "SinkStats", "TraceRow"]

TraceRow = tuple[float, str, str, int]

_GAMMA = 1.01
_LOG_GAMMA = math.log(_GAMMA)
_MIN_S = 1e-6
_MAX_S = 1e9
_OFFSET = -math.floor(math.log(_MIN_S) / _LOG_GAMMA)
_NBUCKETS = _OFFSET + math.ceil(math.log(_MAX_S) / _LOG_GAMMA) + 2
_FLUSH = 4096


class LatencyHistogram:
    """Log-bucket histogram of latencies (seconds) with exact count, sum, min and max.

    Buckets have ratio 1.01 from 1 µs to 10⁹ s (values below 1 µs share bucket 0), so a
    quantile reported at its bucket's geometric midpoint is within 0.5% relative error.
    Observations are binned in blocks of 4,096 with numpy (fixed memory, cheap per value).
    """

    __slots__ = ("_buf", "_count", "_max", "_min", "_total", "buckets")

    def __init__(self) -> None:
        self.buckets = np.zeros(_NBUCKETS, dtype=np.int64)
        self._buf: list[float] = []
        self._count = 0
        self._total = 0.0
        self._min = math.inf
        self._max = -math.inf

    def add(self, x: float) -> None:
        """Record one latency ``x`` (seconds, ≥ 0)."""
        buf = self._buf
        buf.append(x)
        if len(buf) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        xs = np.asarray(self._buf, dtype=float)
        self._buf = []
        self._count += len(xs)
        self._total += math.fsum(xs)
        self._min = min(self._min, float(xs.min()))
        self._max = max(self._max, float(xs.max()))
        with np.errstate(divide="ignore"):
            idx = np.floor(np.log(np.maximum(xs, _MIN_S)) / _LOG_GAMMA).astype(np.int64)
        idx += _OFFSET
        idx[xs < _MIN_S] = 0
        np.clip(idx, 0, _NBUCKETS - 1, out=idx)
        self.buckets += np.bincount(idx, minlength=_NBUCKETS)

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s observations to this histogram."""
        self._flush()
        other._flush()
        self.buckets += other.buckets
        self._count += other._count
        self._total += other._total
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @property
    def count(self) -> int:
        """Number of observations."""
        return self._count + len(self._buf)

    @property
    def min(self) -> float:
        """Smallest observation (inf when empty)."""
        self._flush()
        return self._min

    @property
    def max(self) -> float:
        """Largest observation (-inf when empty)."""
        self._flush()
        return self._max

    @property
    def mean(self) -> float | None:
        """Exact mean, or None with no observations."""
        self._flush()
        return self._total / self._count if self._count else None

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q ≤ 1) within 0.5% relative error, or None if empty."""
        self._flush()
        if not self._count:
            return None
        rank = max(1, math.ceil(q * self._count))
        i = int(np.searchsorted(np.cumsum(self.buckets), rank))
        if i == 0:
            return self._min
        mid = math.exp((i - _OFFSET + 0.5) * _LOG_GAMMA)
        return min(max(mid, self._min), self._max)


class Clock(Protocol):
    """Anything that tells the simulated time."""

    @property
    def now(self) -> float:
        """Current simulated time (seconds)."""
        ...


class Route:
    """The intended sinks behind the targets of a producer, resolved once."""

    __slots__ = ("counted", "n", "shadow")

    def __init__(self, counted: list[SinkStats], shadow: list[SinkStats]) -> None:
        self.counted = counted
        self.shadow = shadow
        self.n = sum(1 for st in counted if st.name != _VOID)


_VOID = "<no sink>"


class SinkStats:
    """Counters of one intended sink (or of its warm-up shadow)."""

    __slots__ = (
        "area",
        "area_t",
        "attempts",
        "duplicates",
        "expected",
        "fates",
        "hist",
        "max_seq",
        "name",
        "ordering_violations",
        "samples",
    )

    def __init__(self, name: str, max_seq: dict[int, int], keep_samples: bool) -> None:
        self.name = name
        self.expected = 0
        self.fates = [0, 0, 0, 0, 0]
        self.attempts = 0
        self.duplicates = 0
        self.ordering_violations = 0
        self.hist = LatencyHistogram()
        self.max_seq = max_seq
        self.samples: list[float] | None = [] if keep_samples else None
        self.area = 0.0  # time integral of the in-flight count (for Little's law)
        self.area_t = 0.0


class FunctionStats:
    """Invocation counters of one Lambda function (sink or not)."""

    __slots__ = ("cold_starts", "invocations", "throttles")

    def __init__(self) -> None:
        self.invocations = 0
        self.throttles = 0
        self.cold_starts = 0


class Ledger:
    """Accounts for every (message, intended sink) pair of one run.

    Args:
        env: The clock: anything with a ``now`` attribute (the SimPy environment).
        warmup_s: Messages created before this time are simulated but not counted.
        keep_samples: Keep raw latency samples per sink (for drill-down and tests).
        trace: Keep a per-event trace of ``(t_s, component, event, msg_id)`` rows.
    """

    def __init__(
        self,
        env: Clock,
        warmup_s: float = 0.0,
        keep_samples: bool = False,
        trace: bool = False,
    ) -> None:
        self._env = env
        self.warmup_s = warmup_s
        self.counting = warmup_s <= 0
        self.keep_samples = keep_samples
        self.trace: list[TraceRow] | None = [] if trace else None
        self.sinks: dict[str, SinkStats] = {}
        self._shadows: dict[str, SinkStats] = {}
        self.functions: dict[str, FunctionStats] = {}
        self._void = SinkStats(_VOID, {}, False)
        self._routes: dict[tuple[str | None, ...], Route] = {}
        self._next_id = 0
        self.produced = 0
        self.unrouted = 0
        self.routed = 0
        self.all_delivered = 0
        self.some_delivered = 0
        self.producer_latency_total = 0.0
        self.producer_latency_n = 0

    # -- registration -------------------------------------------------------------------------

    def sink(self, name: str) -> SinkStats:
        """The counters of sink ``name`` (created on first use)."""
        stats = self.sinks.get(name)
        if stats is None:
            max_seq: dict[int, int] = {}
            stats = self.sinks[name] = SinkStats(name, max_seq, self.keep_samples)
            self._shadows[name] = SinkStats(name, max_seq, False)
        return stats

    def function(self, name: str) -> FunctionStats:
        """The invocation counters of function ``name`` (created on first use)."""
        stats = self.functions.get(name)
        if stats is None:
            stats = self.functions[name] = FunctionStats()
        return stats

    def new_message(
        self,
        created_s: float,
        producer: str,
        group: int,
        seq: int,
        poison_u: float,
        attrs: dict[str, Any] | None,
        size_bytes: int,
    ) -> Message:
        """Create a logical message (counted from ``warmup_s`` on)."""
        self._next_id += 1
        counted = created_s >= self.warmup_s
        if counted:
            self.produced += 1
        return Message(
            self._next_id, created_s, producer, group, seq, poison_u, attrs, size_bytes, counted
        )

    def route(self, sinks: Sequence[str | None]) -> Route:
        """Resolve the intended sinks of a path once (a ``None`` sink: nobody consumes it)."""
        return Route(
            [self._void if n is None else self.sink(n) for n in sinks],
            [self._void if n is None else self._shadows[n] for n in sinks],
        )

    def route_for(self, sinks: tuple[str | None, ...]) -> Route:
        """:meth:`route`, cached by the tuple of sinks (for per-message routing)."""
        r = self._routes.get(sinks)
        if r is None:
            r = self._routes[sinks] = self.route(sinks)
        return r

    def new_pairs(self, msg: Message, route: Route) -> list[Pair]:
        """Fix the intended sinks of ``msg`` (at creation) and return its pairs, in_flight.

        A path with no intended sink (a queue nobody consumes) gets a pair too, so that
        conservation still covers it, but it is reported nowhere.
        """
        msg.n_sinks = route.n
        if msg.counted:
            if route.n:
                self.routed += 1
            else:
                self.unrouted += 1
            targets = route.counted
        else:
            targets = route.shadow
        now = self._env.now
        pairs = []
        for stats in targets:
            stats.expected += 1
            fates = stats.fates
            stats.area += fates[0] * (now - stats.area_t)
            stats.area_t = now
            fates[0] += 1
            pairs.append(Pair(msg, stats))
        return pairs

    # -- fates ----------------------------------------------------------------------------------

    def _area(self, stats: SinkStats, now: float) -> None:
        stats.area += stats.fates[IN_FLIGHT] * (now - stats.area_t)
        stats.area_t = now

    def _move(self, pair: Pair, new: int) -> None:
        stats = pair.stats
        old = pair.state
        if old == IN_FLIGHT or new == IN_FLIGHT:
            self._area(stats, self._env.now)
        stats.fates[old] -= 1
        stats.fates[new] += 1
        pair.state = new

    def _settle(self, pair: Pair) -> None:
        if pair.state != DELIVERED and pair.live == 0:
            new = DEAD_LETTERED if pair.parked else pair.last_drop
            if new != pair.state:
                self._move(pair, new)

    def attempt(self, pair: Pair, n: int = 1) -> None:
        """Count ``n`` processing attempts of ``pair`` at its sink."""
        pair.stats.attempts += n

    def success(self, pair: Pair) -> None:
        """``pair``'s sink finished processing it successfully (now)."""
        stats = pair.stats
        msg = pair.msg
        seq = msg.seq
        max_seq = stats.max_seq
        last = max_seq.get(msg.group, -1)
        if seq > last:
            max_seq[msg.group] = seq
        elif seq < last:
            stats.ordering_violations += 1
        old = pair.state
        if old == DELIVERED:
            stats.duplicates += 1
            return
        now = self._env.now
        fates = stats.fates
        if old == IN_FLIGHT:
            stats.area += fates[IN_FLIGHT] * (now - stats.area_t)
            stats.area_t = now
        fates[old] -= 1
        fates[DELIVERED] += 1
        pair.state = DELIVERED
        latency = now - msg.created_s
        stats.hist.add(latency)
        if stats.samples is not None:
            stats.samples.append(latency)
        n = msg.n_delivered = msg.n_delivered + 1
        if msg.counted:
            if n == 1:
                self.some_delivered += 1
            if n == msg.n_sinks:
                self.all_delivered += 1

    def copy(self, pair: Pair) -> None:
        """A new live copy of ``pair`` appeared (duplicate delivery, resend)."""
        pair.live += 1
        if pair.state != DELIVERED and pair.state != IN_FLIGHT:
            self._move(pair, IN_FLIGHT)

    def drop(self, pair: Pair, fate: int) -> None:
        """A live copy of ``pair`` was dropped with ``fate`` (``EXPIRED`` or ``LOST``)."""
        pair.live -= 1
        pair.last_drop = fate
        self._settle(pair)

    def release(self, pair: Pair) -> None:
        """A live copy of ``pair`` was discarded as a duplicate of another copy."""
        pair.live -= 1
        self._settle(pair)

    def park(self, pair: Pair) -> None:
        """A live copy of ``pair`` moved to a dead-letter queue."""
        pair.live -= 1
        pair.parked += 1
        self._settle(pair)

    def unpark(self, pair: Pair) -> None:
        """A copy of ``pair`` was redriven out of a dead-letter queue (in flight again)."""
        pair.parked -= 1
        pair.live += 1
        if pair.state == DEAD_LETTERED:
            self._move(pair, IN_FLIGHT)

    def unpark_drop(self, pair: Pair, fate: int) -> None:
        """A parked copy left its DLQ: ``EXPIRED`` (retention) or ``DEAD_LETTERED`` (consumed)."""
        pair.parked -= 1
        pair.last_drop = fate
        self._settle(pair)

    # -- other counters -------------------------------------------------------------------------

    def producer_done(self, msg: Message, spent_s: float) -> None:
        """The producer finished sending ``msg`` after ``spent_s`` seconds of sends and retries."""
        if msg.counted:
            self.producer_latency_total += spent_s
            self.producer_latency_n += 1

    def log(self, t_s: float, component: str, event: str, msg_id: int) -> None:
        """Append a trace row (only call when :attr:`trace` is not None)."""
        assert self.trace is not None
        self.trace.append((t_s, component, event, msg_id))

    # -- results --------------------------------------------------------------------------------

    def check_conservation(self) -> None:
        """Raise AssertionError unless every sink's fates add up to its expected pairs."""
        for stats in (*self.sinks.values(), *self._shadows.values(), self._void):
            if sum(stats.fates) != stats.expected or min(stats.fates) < 0:
                raise AssertionError(
                    f"conservation broken at sink {stats.name!r}: fates "
                    f"{dict(zip(FATES, stats.fates, strict=True))} vs expected {stats.expected}"
                )

    def in_flight_area(self, sink: str, until_s: float) -> float:
        """Time integral of the number of in-flight pairs of ``sink`` up to ``until_s``.

        Divided by the measured time it is the time-average number of messages in the system
        (Little's L), computed independently of the latency histogram.
        """
        stats = self.sinks[sink]
        self._area(stats, until_s)
        return stats.area

    def results(self) -> dict[str, Any]:
        """Metrics of the run: ``{"metrics": {...}, "sinks": {SINK: {...}}}`` (DESIGN §3).

        Cost metrics are added by the caller (the builder knows the prices).
        """
        total = LatencyHistogram()
        sinks_out: dict[str, dict[str, Any]] = {}
        agg: dict[str, float] = dict.fromkeys(
            ("deliveries_expected", *FATES, "duplicates", "ordering_violations", "attempts"), 0
        )
        for name, stats in self.sinks.items():
            total.merge(stats.hist)
            fn = self.functions.get(name)
            m = _sink_metrics(stats)
            m["invocations"] = fn.invocations if fn else 0
            m["throttles"] = fn.throttles if fn else 0
            m["cold_starts"] = fn.cold_starts if fn else 0
            sinks_out[name] = m
            for key in agg:
                agg[key] += m[key]
        expected = agg["deliveries_expected"]
        metrics: dict[str, Any] = {
            "messages_produced": self.produced,
            "messages_unrouted": self.unrouted,
            **{k: int(v) for k, v in agg.items()},
            "delivered_fraction": agg["delivered"] / expected if expected else None,
            "all_delivered_fraction": self.all_delivered / self.routed if self.routed else None,
            "partial_fraction": (
                (self.some_delivered - self.all_delivered) / self.routed if self.routed else None
            ),
            "invocations": sum(f.invocations for f in self.functions.values()),
            "throttles": sum(f.throttles for f in self.functions.values()),
            "cold_starts": sum(f.cold_starts for f in self.functions.values()),
            **_latency_metrics(total),
            "producer_latency_mean_s": (
                self.producer_latency_total / self.producer_latency_n
                if self.producer_latency_n
                else None
            ),
        }
        return {"metrics": metrics, "sinks": sinks_out}


def _latency_metrics(h: LatencyHistogram) -> dict[str, float | None]:
    return {
        "latency_mean_s": h.mean,
        "latency_p50_s": h.quantile(0.50),
        "latency_p90_s": h.quantile(0.90),
        "latency_p99_s": h.quantile(0.99),
        "latency_max_s": h.max if h.count else None,
    }


def _sink_metrics(stats: SinkStats) -> dict[str, Any]:
    fates = dict(zip(FATES, stats.fates, strict=True))
    return {
        "deliveries_expected": stats.expected,
        **fates,
        "delivered_fraction": fates["delivered"] / stats.expected if stats.expected else None,
        "duplicates": stats.duplicates,
        "ordering_violations": stats.ordering_violations,
        "attempts": stats.attempts,
        **_latency_metrics(stats.hist),
    }

