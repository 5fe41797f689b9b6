"""Producers: the workload (arrivals, attributes, groups, poison draws) and the SDK client.

Modelled:
    * Arrivals: a Poisson process (``rate_per_s``); a piecewise-constant Poisson rate profile
      (exact, by restarting the exponential clock at each step, which memorylessness allows);
      bursts of ``count`` messages spread evenly over ``spread_s`` from ``at_s``; replay of a CSV
      of timestamps; a rate series from a CSV of measurements (counts or rates per interval),
      run as a rate profile. Producers emit during ``[0, duration_s)``.
    * Workload randomness is drawn when a message is created, on the producer's own streams
      (arrivals, group, attributes, poison draw, resend), so system variants see the same
      messages (common random numbers).
    * Message groups: ``groups`` groups, chosen uniformly per message; a sequence number per
      group (used by FIFO queues and by the ordering metric on any queue).
    * FIFO deduplication ids: unique per logical message (``dedup_ids: unique``) or none, for
      content-based deduplication (``dedup_ids: content``).
    * SDK client retry, standard mode: up to ``max_attempts`` attempts per send; before retry
      ``i`` (1, 2, ...) the client sleeps a jittered ``min(base_s × 2^(i-1), cap_s)`` (``jitter``,
      full by default: :class:`~sim.services.sdk.Backoff`). Throttling (429), server errors
      (5xx) and timeouts are retried; client errors (4xx such as 413) are not.
    * The retry quota (:class:`~sim.services.sdk.RetryQuota`, on by default in both modes):
      one token bucket per producer (its SDK client). Each retry takes 5 tokens; with fewer
      left the send fails at once (``sdk_retries_refused``; the producer gives up as after its
      last attempt); each successful send puts tokens back. So during a long outage the
      producer stops retrying once 100 retries have drained the bucket, and retries again once
      successes have refilled it.
    * Adaptive mode (``retry.mode: adaptive``): the standard retries plus a client-side rate
      limiter (:class:`AdaptiveLimiter`) that every attempt passes once the client has been
      throttled: the rate drops to 0.7 × the measured send rate at each 429 and grows back
      along a cubic curve (the CUBIC scheme AWS's SDKs document). One limiter per producer
      (one SDK client); its constants are the SDKs' and unconfirmed here.
    * ``send_to`` with several targets: sequential fan-out (option 1). The client sends to each
      target in turn and stops at the first one whose send still fails after its retries; the
      pairs of that target and of every later one are lost.
    * Resend: with probability ``resend.rate`` the application sends the same message again
      ``resend.delay_s`` later (same dedup id), as when a timeout hides a successful send.
    * Failed entries: a PutEvents response can report its entry failed (``FailedEntryCount``;
      the bus's ``errors.rate``), which the SDK does not retry. With
      ``resend_failed_entries`` (AWS's advice) the producer sends it again after the backoff
      its retry policy would use (counted in ``entries_resent``, drawing on the retry quota,
      within ``max_attempts``); without, the message is given up there (``lost``).
    * Batched sends (``batch``: SendMessageBatch, PublishBatch, multi-entry PutEvents):
      :mod:`sim.services.producer_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from simpy.events import Event

from sim.config.producer import ProducerSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.fates import LOST
from sim.engine.faults import THROTTLED
from sim.engine.ledger import Route
from sim.engine.message import Message, Pair
from sim.engine.ports import CLIENT_ERROR, FAILED_ENTRY, BatchEntry, BatchPort, Plan
from sim.engine.samplers import attribute_sampler
from sim.engine.schedule import ProcessGen, Tick, call_after
from sim.engine.streams import buffered
from sim.services.producer_batch import Batcher
from sim.services.sqs.queue import QueuePort

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
from sim.services.sdk import AdaptiveLimiter, Backoff, RetryQuota

__all__ = ["Producer", "SendStats"]

_MAX_GROUPS_KEY: Final = 1 << 32


class _PoissonChain(Tick):
    """Arrivals of a piecewise-constant Poisson process, one heap entry each.

    Within a segment ``[start, end)`` of mean gap ``mean``, the next arrival is the last one
    plus an exponential gap; a gap crossing ``end`` restarts the clock at the next segment
    (exact, by memorylessness). The chain is its own heap entry: one per arrival, nothing
    else allocated.
    """

    __slots__ = ("env", "k", "producer", "segments", "t")

    def __init__(self, producer: Producer, segments: list[tuple[float, float, float]]) -> None:
        self.producer = producer
        self.env = producer.env
        self.segments = segments
        self.k = 0
        self.t = segments[0][0] if segments else 0.0

    def schedule_next(self) -> None:
        draw = self.producer._unit_exp
        segments = self.segments
        while self.k < len(segments):
            start, mean, end = segments[self.k]
            if self.t < start:
                self.t = start
            gap: float = draw()
            t = self.t + gap * mean
            if t < end:
                self.t = t
                env = self.env
                env.push_at(env.now + (t - env.now), self)  # as call_after(t - now) does
                return
            self.k += 1

    def fire(self) -> None:
        """The next arrival."""
        self.producer.emit()
        self.schedule_next()


class SendStats:
    """A producer's sends given up (after the retries) and attempts answered "throttled"."""

    __slots__ = ("failed", "throttled")

    def __init__(self) -> None:
        self.failed = 0
        self.throttled = 0


class _Send:
    """One pass of a message over the producer's targets (sequential fan-out)."""

    __slots__ = (
        "attempt", "cost", "first", "i", "msg", "pairs", "plans", "producer", "slept", "spans",
        "t0",
    )  # fmt: skip

    def __init__(
        self,
        producer: Producer,
        msg: Message,
        pairs: list[Pair],
        t0: float,
        first: bool = True,
        spans: list[tuple[int, int]] | None = None,
        plans: list[Plan] | None = None,
    ) -> None:
        self.producer = producer
        self.first = first
        self.msg = msg
        self.pairs = pairs
        self.spans = spans  # target i carries pairs[a:b]; None: one pair per target
        self.plans = plans  # per target: the plan its pairs follow
        self.i = 0
        self.attempt = 1
        self.cost = 0  # tokens the latest retry of the current send took from the quota
        self.slept = 0.0  # the sleep before that retry
        self.t0 = t0

    def step(self, _: Event | None = None) -> None:
        p = self.producer
        if p.batchers is not None:
            p.batchers[self.i].add(self)
            return
        limiter = p.limiter
        if limiter is not None:
            limiter.acquire(self._go)
        else:
            self._go()

    def entry(self) -> BatchEntry:
        """The message's entry for its current target: ``(msg, plan, pairs)``."""
        assert self.spans is not None and self.plans is not None
        a, b = self.spans[self.i]
        return self.msg, self.plans[self.i], self.pairs[a:b]

    def _go(self, _: Event | None = None) -> None:
        if self.spans is None:
            self.producer.targets[self.i].accept(self.pairs[self.i], self.reply)
            return
        assert self.plans is not None
        a, b = self.spans[self.i]
        target = self.producer.targets[self.i]
        target.accept(self.msg, self.plans[self.i], self.pairs[a:b], self.reply)

    def reply(self, error: str | None) -> None:
        p = self.producer
        if p.limiter is not None:
            p.limiter.update(p.env.now, error == THROTTLED)
        if error == THROTTLED:
            p.send_stats.throttled += 1
        quota = p.quota
        failed_entry = error == FAILED_ENTRY  # a successful response reporting the entry failed
        if error is None or failed_entry:
            if quota is not None:
                quota.succeeded(self.cost)
            if error is None:
                self.advance()
                return
            if not p.resend_failed_entries:
                self.give_up()
                return
        if self.attempt < p.max_attempts and error != CLIENT_ERROR:
            # the producer's answers never come from its own timeout (it has none)
            cost = quota.acquire(False) if quota is not None else -1
            if cost:
                delay = p.backoff.delay(self.attempt, self.slept)
                self.attempt += 1
                self.cost = cost if cost > 0 else 0
                self.slept = delay
                p.ledger.count("entries_resent" if failed_entry else "sdk_retries")
                call_after(p.env, delay, self.step)
                return
            p.ledger.count("sdk_retries_refused")
            if p.trace is not None:
                p.ledger.log(p.env.now, p.name, "quota_empty", self.msg.id)
        self.give_up()

    def advance(self) -> None:
        """The send to the current target succeeded: on to the next one, or done."""
        p = self.producer
        self.i += 1
        self.attempt = 1
        self.cost = 0
        self.slept = 0.0
        if self.i < len(p.targets):
            self.step()
        elif self.first:
            p.ledger.producer_done(self.msg, p.env.now - self.t0)

    def give_up(self) -> None:
        """The send to the current target failed for good.

        Its pairs and those of the later targets are lost (sequential fan-out stops here).
        """
        p = self.producer
        ledger = p.ledger
        p.send_stats.failed += 1
        if p.trace is not None:
            ledger.log(p.env.now, p.name, "gave_up", self.msg.id)
        first_lost = self.i if self.spans is None else self.spans[self.i][0]
        for pair in self.pairs[first_lost:]:
            ledger.drop(pair, LOST)
        if self.first:
            ledger.producer_done(self.msg, p.env.now - self.t0)


class Producer(Component):
    """A producer: creates messages and sends each to its targets in turn."""

    def __init__(self, ctx: Context, name: str, spec: ProducerSpec) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        # the producer's ordinal among the scenario's producers keeps group keys apart
        producers = [n for n, s in ctx.scenario.components.items() if s.type == "producer"]
        index = producers.index(name)
        streams = ctx.streams
        self.targets: list[Any] = []
        self._last_spans: tuple[list[tuple[int, int]], list[Plan]] = ([], [])
        self._route: Route | None = None
        self._instant = False
        self._single_instant = False
        self.trace = ctx.ledger.trace
        self.max_attempts = spec.retry.max_attempts
        self.backoff = Backoff(spec.retry, streams.uniform(name, "retry"))
        #: the SDK client's retry quota (one client per producer), None when turned off
        self.quota = RetryQuota(spec.retry.quota) if spec.retry.quota is not None else None
        self.limiter = AdaptiveLimiter(self.env) if spec.retry.mode == "adaptive" else None
        self._unit_exp = buffered(streams.get(name, "arrivals"), lambda g, n: g.exponential(1.0, n))
        self._poison = streams.uniform(name, "poison")
        self._groups = spec.groups
        self._group_draw = (
            buffered(streams.get(name, "group"), lambda g, n: g.integers(0, spec.groups, n))
            if spec.groups > 1
            else None
        )
        self._group_base = index * _MAX_GROUPS_KEY
        self._seq = [0] * spec.groups
        self._attrs = [
            (k, attribute_sampler(v, streams.get(name, f"attr:{k}")))
            for k, v in spec.attributes.items()
        ]
        self._resend_rate = spec.resend.rate
        self._resend_delay_s = spec.resend.delay_s
        self._resend_draw = streams.uniform(name, "resend") if spec.resend.rate > 0 else None
        self._unique_dedup = spec.dedup_ids == "unique"
        self._size = spec.size_bytes
        self._horizon_s = ctx.scenario.duration_s
        #: per target, the batches being filled (None: every message is sent alone)
        self.batchers: list[Batcher] | None = None
        self.resend_failed_entries = spec.resend_failed_entries
        #: for observation: sends given up and attempts answered "throttled" (one attribute:
        #: see :class:`sim.services.sqs.queue.Queue` on keeping instances within 30)
        self.send_stats = SendStats()

    def connect(self, wiring: Wiring) -> None:
        """Send to the ``send_to`` targets in turn, through their ports.

        Fast path, chosen here once for the run: when every target is an SQS queue and no
        adaptive limiter paces the sends, the producer talks to the queues directly with the
        intended sinks fixed for the run (one :class:`~sim.engine.ledger.Route`); otherwise it
        plans each message's sinks behind the ports when the message is created.
        """
        ports = [wiring.ports[t] for t in self.spec.send_to]
        batch = self.spec.batch
        if batch is not None:
            self.batchers = [Batcher(self, cast("BatchPort", p), batch) for p in ports]
        elif (
            self.ctx.fast
            and self.limiter is None
            and all(isinstance(p, QueuePort) for p in ports)
        ):
            queues = [p.queue for p in ports]
            self.targets = queues
            self._route = wiring.ledger.route([p.sink for p in ports])
            self._instant = all(q.instant for q in queues)
            self._single_instant = self._instant and len(queues) == 1
            return
        for port in ports:
            for sink in port.reachable():
                wiring.ledger.sink(sink)
        self.targets = ports
        self._route = None

    def _emit_dynamic(self, msg: Message, now: float) -> list[Pair]:
        names: list[str | None] = []
        spans: list[tuple[int, int]] = []
        plans: list[Plan] = []
        for port in self.targets:
            a = len(names)
            plan = port.plan(msg)
            plans.append(plan)
            names.extend(plan.sinks)
            spans.append((a, len(names)))
        pairs = self.ledger.new_pairs(msg, self.ledger.route_for(tuple(names)))
        _Send(self, msg, pairs, now, spans=spans, plans=plans).step()
        self._last_spans = (spans, plans)
        return pairs

    def start(self) -> None:
        """Start the arrival processes."""
        spec = self.spec
        arrivals = spec.arrivals
        if spec.rate_per_s is not None:
            self.env.process(self._run_profile([(0.0, spec.rate_per_s)]))
        if arrivals is not None:
            if arrivals.profile:
                steps = [(s.start_s, s.rate_per_s) for s in arrivals.profile]
                self.env.process(self._run_profile(steps))
            if arrivals.trace is not None:
                self.env.process(self._run_times(arrivals.trace.times))
            if arrivals.rate_series is not None:
                self.env.process(self._run_profile(arrivals.rate_series.steps()))
            for burst in arrivals.bursts:
                n = burst.count
                times = [burst.at_s + burst.spread_s * k / n for k in range(n)]
                self.env.process(self._run_times(times))

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """Counts so far, for the time series (``docs/metrics.md``).

        Messages created are the sum of the per-group sequence numbers (no counter per message).
        """
        return {}, {
            "sent_per_s": sum(self._seq),
            "failed_per_s": self.send_stats.failed,
            "throttled_per_s": self.send_stats.throttled,
        }

    # -- arrival processes ----------------------------------------------------------------------

    def _run_profile(self, steps: list[tuple[float, float]]) -> ProcessGen:
        """A piecewise-constant Poisson process, as a chain of scheduled callbacks."""
        horizon = self._horizon_s
        ends = [st for st, _ in steps[1:]] + [horizon]
        segments = [
            (start, 1.0 / rate, min(end, horizon))
            for (start, rate), end in zip(steps, ends, strict=True)
            if rate > 0.0 and start < horizon
        ]
        _PoissonChain(self, segments).schedule_next()
        yield from ()

    def _run_times(self, times: Sequence[float]) -> ProcessGen:
        env = self.env
        for t in times:
            if t >= self._horizon_s:
                return
            if t > env.now:
                yield env.timeout(t - env.now)
            self.emit()

    # -- messages -------------------------------------------------------------------------------

    def emit(self) -> Message:
        """Create one message now and start sending it."""
        now = self.env.now
        g = int(self._group_draw()) if self._group_draw is not None else 0
        seq = self._seq[g]
        self._seq[g] = seq + 1
        attrs = {k: draw() for k, draw in self._attrs} if self._attrs else None
        ledger = self.ledger
        msg = ledger.new_message(
            now, self.name, self._group_base + g, seq, self._poison(), attrs, self._size
        )
        if self._unique_dedup:
            msg.dedup_id = msg.id
        if self._route is None:
            pairs = self._emit_dynamic(msg, now)
            if self._resend_draw is not None and self._resend_draw() < self._resend_rate:
                spans, plans = self._last_spans
                call_after(
                    self.env,
                    self._resend_delay_s,
                    lambda _: self._resend(msg, pairs, spans, plans),
                )
            return msg
        pairs = ledger.new_pairs(msg, self._route)
        quota = self.quota
        if self._single_instant:
            error = self.targets[0].send_now(pairs[0])
            if error is not None:
                _Send(self, msg, pairs, now).reply(error)
            else:
                if quota is not None and quota.tokens < quota.capacity:
                    quota.succeeded(0)
                ledger.producer_done(msg, 0.0)  # answered at once: 0 s spent
        elif self._instant:
            # every target answers at once: no send object unless a send fails
            for i, target in enumerate(self.targets):
                error = target.send_now(pairs[i])
                if error is not None:
                    send = _Send(self, msg, pairs, now)
                    send.i = i
                    send.reply(error)
                    break
                if quota is not None and quota.tokens < quota.capacity:
                    quota.succeeded(0)
            else:
                ledger.producer_done(msg, 0.0)  # answered at once: 0 s spent
        else:
            _Send(self, msg, pairs, now).step()
        if self._resend_draw is not None and self._resend_draw() < self._resend_rate:
            call_after(self.env, self._resend_delay_s, lambda _: self._resend(msg, pairs))
        return msg

    def _resend(
        self,
        msg: Message,
        pairs: list[Pair],
        spans: list[tuple[int, int]] | None = None,
        plans: list[Plan] | None = None,
    ) -> None:
        for pair in pairs:
            self.ledger.copy(pair)
        _Send(self, msg, pairs, self.env.now, False, spans, plans).step()
