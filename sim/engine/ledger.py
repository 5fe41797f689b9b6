"""The ledger: fates, counters, latencies, duplicates and ordering, per sink.

Every (message, intended sink) pair is created ``in_flight`` and moves between the five fates
of ``docs/metrics.md`` only through this module, so conservation
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

from collections.abc import Sequence
from typing import Any, Protocol

from sim.engine.fates import DEAD_LETTERED, DELIVERED, EXPIRED, FATES, IN_FLIGHT
from sim.engine.message import Lineage, Message, Pair
from sim.engine.stats import (
    FunctionStats,
    LatencyHistogram,
    SinkStats,
    latency_metrics,
    sink_metrics,
)

__all__ = ["Clock", "Ledger", "Route", "TraceRow"]

TraceRow = tuple[float, str, str, int]

#: Run-level counters (metric names): requests that reached API Gateway, those it throttled
#: (429), events replayed from EventBridge archives, retries made by SDK clients (producers,
#: handlers' calls and sends), retries their retry quota refused, and failed entries of batch
#: and PutEvents responses that producers sent again.
COUNTERS = (
    "api_requests", "api_throttled", "events_replayed", "sdk_retries", "sdk_retries_refused",
    "entries_resent",
)  # fmt: skip


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


def _counts(msg: Message) -> Message | Lineage:
    """What holds the lineage counts of ``msg``: its :class:`Lineage`, or the root itself."""
    lineage = msg.lineage
    return msg if lineage is None else lineage


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
        self.derived = 0
        self._next_group = 0
        self.unrouted = 0
        self.routed = 0
        self.all_delivered = 0
        self.some_delivered = 0
        self.producer_latency_total = 0.0
        self.producer_latency_n = 0
        #: Run-level counts that belong to no sink (see :data:`COUNTERS`).
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)

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

    def new_derived(
        self,
        parent: Message,
        producer: str,
        group: int,
        seq: int,
        poison_u: float,
        attrs: dict[str, Any] | None,
        size_bytes: int,
    ) -> Message:
        """A message derived from ``parent`` by ``producer``'s handler (not yet sent).

        Its latency clock is its root's (``created_s`` is the root's creation) and it is
        counted when its root is; :meth:`derived_sent` counts it once its first send succeeds.
        """
        self._next_id += 1
        lineage = parent.lineage
        if lineage is None:  # the first message derived from this root: share its counts
            lineage = parent.lineage = Lineage(
                parent.counted, parent.created_s, parent.n_sinks, parent.n_delivered
            )
        msg = Message(
            self._next_id, lineage.created_s, producer, group, seq, poison_u, attrs, size_bytes,
            lineage.counted,
        )  # fmt: skip
        msg.lineage = lineage
        msg.hops = parent.hops + 1
        return msg

    def new_group_key(self) -> int:
        """A fresh message-group key for derived messages (negative: producers use ≥ 0)."""
        self._next_group -= 1
        return self._next_group

    def derived_sent(self, msg: Message) -> None:
        """A derived message's first send succeeded: it exists (``messages_derived``)."""
        if msg.counted:
            self.derived += 1

    def lineage_pairs(self, msg: Message, sinks: tuple[str | None, ...]) -> list[Pair]:
        """New in_flight pairs of an existing message for ``sinks`` (derived, dead-lettered).

        They join the lineage of the message's root, which counts as all-delivered only when
        every pair of its lineage is delivered.
        """
        route = self.route_for(sinks)
        pairs = self._open(msg, route.counted if msg.counted else route.shadow)
        if route.n:
            root = _counts(msg)
            if root.counted and root.n_sinks == 0:
                # a root that had no pair of its own gains its first ones
                self.unrouted -= 1
                self.routed += 1
            self._resize_lineage(root, route.n)
        return pairs

    def arrival_pairs(self, msg: Message, sinks: tuple[str | None, ...]) -> list[Pair]:
        """Pairs of ``msg`` at sinks it reaches after being dead-lettered, one per sink.

        The first arrival at a sink starts the pair ``(msg, sink)``
        (:meth:`lineage_pairs`); a later arrival of the same message there (a resent copy,
        say) is another live copy of that same pair.
        """
        children = msg.children
        if children is None:
            children = msg.children = {}
        pairs = []
        for sink in sinks:
            key = ("pair", sink, 0)
            pair = children.get(key)
            if pair is None:
                pair = children[key] = self.lineage_pairs(msg, (sink,))[0]
            else:
                self.copy(pair)
            pairs.append(pair)
        return pairs

    def _resize_lineage(self, root: Message | Lineage, n: int) -> None:
        """``n`` pairs join (or, negative, leave) ``root``'s lineage; keep all-delivered true."""
        if root.counted and root.n_sinks and root.n_delivered == root.n_sinks:
            self.all_delivered -= 1  # it was complete; recount it below
        root.n_sinks += n
        if root.counted and root.n_sinks and root.n_delivered == root.n_sinks:
            self.all_delivered += 1

    def retract(self, pairs: list[Pair]) -> None:
        """Undo :meth:`lineage_pairs` for a derived message whose send failed (it never existed).

        Each pair must still be in_flight with its single original unit.
        """
        now = self._env.now
        n = 0
        for pair in pairs:
            stats = pair.stats
            assert pair.state == IN_FLIGHT and pair.live == 1 and pair.parked == 0, pair
            pair.live = 0
            stats.area += stats.fates[IN_FLIGHT] * (now - stats.area_t)
            stats.area_t = now
            stats.fates[IN_FLIGHT] -= 1
            stats.expected -= 1
            if stats.name != _VOID:
                n += 1
        if n:
            self._resize_lineage(_counts(pairs[0].msg), -n)

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
        return self._open(msg, targets)

    def _open(self, msg: Message, targets: list[SinkStats]) -> list[Pair]:
        """One new in_flight pair of ``msg`` per sink of ``targets``."""
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

    def invocation(self, fn: FunctionStats, cold: bool) -> None:
        """Count one Lambda invocation of ``fn`` (a batch is one); ``cold``: a new environment."""
        if self.counting:
            fn.invocations += 1
            if cold:
                fn.cold_starts += 1

    def timeout(self, fn: FunctionStats) -> None:
        """Count one invocation of ``fn`` that ran into its timeout."""
        if self.counting:
            fn.timeouts += 1

    def function_error(self, fn: FunctionStats) -> None:
        """Count one invocation of ``fn`` that ended in a function error (or its timeout)."""
        if self.counting:
            fn.errors += 1

    def throttle(self, fn: FunctionStats) -> None:
        """Count one throttled invocation attempt of ``fn``."""
        if self.counting:
            fn.throttles += 1

    def count(self, counter: str, n: int = 1) -> None:
        """Add ``n`` to the run-level counter ``counter`` (one of :data:`COUNTERS`)."""
        if self.counting:
            self.counters[counter] += n

    def attempt(self, pair: Pair, n: int = 1) -> None:
        """Count ``n`` processing attempts of ``pair`` at its sink."""
        pair.stats.attempts += n

    def success(self, pair: Pair, attempts: int = 0) -> None:
        """``pair``'s sink finished processing it successfully (now).

        ``attempts`` adds that many processing attempts as :meth:`attempt` does (1 for a
        sink that counts the successful attempt in the same step).
        """
        stats = pair.stats
        stats.attempts += attempts
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
        lineage = msg.lineage
        if lineage is None:  # (two branches: one type each, for the compiled build)
            n = msg.n_delivered = msg.n_delivered + 1
            counted = msg.counted
            n_sinks = msg.n_sinks
        else:
            n = lineage.n_delivered = lineage.n_delivered + 1
            counted = lineage.counted
            n_sinks = lineage.n_sinks
        if counted:
            if n == 1:
                self.some_delivered += 1
            if n == n_sinks:
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

    def too_old(self, pair: Pair) -> None:
        """A handler dropped a copy of ``pair`` unprocessed as too old (``max_message_age_s``).

        Counted in ``dropped_too_old``. The copy is still live: its source deletes it
        (:meth:`release`), and the pair, unless delivered or still carried by another copy,
        is then ``expired``.
        """
        pair.last_drop = EXPIRED
        pair.stats.dropped_too_old += 1

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
        """Metrics of the run: ``{"metrics": {...}, "sinks": {SINK: {...}}}`` (``docs/metrics.md``).

        Cost metrics are added by the caller (the builder knows the prices).
        """
        total = LatencyHistogram()
        sinks_out: dict[str, dict[str, Any]] = {}
        agg: dict[str, float] = dict.fromkeys(
            (
                "deliveries_expected", *FATES, "duplicates", "ordering_violations", "attempts",
                "dropped_too_old",
            ),
            0,
        )
        for name, stats in self.sinks.items():
            total.merge(stats.hist)
            fn = self.functions.get(name)
            m = sink_metrics(stats)
            m["invocations"] = fn.invocations if fn else 0
            m["throttles"] = fn.throttles if fn else 0
            m["cold_starts"] = fn.cold_starts if fn else 0
            m["function_timeouts"] = fn.timeouts if fn else 0
            sinks_out[name] = m
            for key in agg:
                agg[key] += m[key]
        expected = agg["deliveries_expected"]
        metrics: dict[str, Any] = {
            "messages_produced": self.produced,
            "messages_unrouted": self.unrouted,
            "messages_derived": self.derived,
            **{k: int(v) for k, v in agg.items()},
            "delivered_fraction": agg["delivered"] / expected if expected else None,
            "all_delivered_fraction": self.all_delivered / self.routed if self.routed else None,
            "partial_fraction": (
                (self.some_delivered - self.all_delivered) / self.routed if self.routed else None
            ),
            "invocations": sum(f.invocations for f in self.functions.values()),
            "throttles": sum(f.throttles for f in self.functions.values()),
            "cold_starts": sum(f.cold_starts for f in self.functions.values()),
            "function_timeouts": sum(f.timeouts for f in self.functions.values()),
            **latency_metrics(total),
            "producer_latency_mean_s": (
                self.producer_latency_total / self.producer_latency_n
                if self.producer_latency_n
                else None
            ),
        }
        return {"metrics": metrics, "sinks": sinks_out}
