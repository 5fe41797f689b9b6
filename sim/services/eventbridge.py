"""Amazon EventBridge event buses: rules, targets with retries and DLQs, archive and replay.

Modelled:
    * Events have AWS's envelope (``version``, ``id``, ``detail-type``, ``source``, ``account``,
      ``time``, ``region``, ``resources``, ``detail``); a producer's message becomes a custom
      event (its ``source`` and ``detail-type`` attributes, default the producer's name and
      ``"Event"``; its other attributes are ``detail``). S3 and CloudTrail build their own
      events (:mod:`sim.services.s3`, :mod:`sim.services.cloudtrail`).
    * PutEvents (:meth:`EventBus.accept`, :meth:`EventBus.accept_batch`: one or several
      entries): an outage fails the request (the SDK retries it); ``errors.rate`` fails each
      entry independently inside a successful response (``FailedEntryCount``), which the SDK
      does not retry: the caller must send it again (AWS: "Sending events with PutEvents").
      Custom events are billed per 64 KB chunk, AWS-service events are free.
    * Rules match the event with the full pattern language (:func:`sim.patterns.matches`); every
      target of every matching rule gets the event after ``latency_s``. An SNS topic target
      receives the event as its message body (no message attributes), which its
      subscriptions' filter policies see. Intended sinks are the
      sinks behind those targets, fixed when the message is created.
    * Target delivery: retriable failures (the target's error rate, its outages) are retried
      with exponential backoff and jitter up to ``retry.max_attempts`` retries and
      ``retry.max_age_s`` (:class:`sim.engine.retry.Retrier`); a non-retriable error
      (``client_error_rate``) is not retried. Given up, the event goes to the target's DLQ
      (``dead_lettered``) or is dropped (``lost``).
    * The invocations quota (``invocations_per_s``): over it, first attempts wait in line.
    * At-least-once delivery: ``duplicate_rate`` gives a target a second, independent copy.
    * Archive: events (all, or those matching its pattern) are kept for ``retention_s``; each
      lands in the archive ``lag_s`` after it reached the bus (drawn per event; by default
      uniform over 0–10 minutes: AWS documents a lag and advises waiting 10 minutes before
      replaying, an assumption), and a replay finds only the events landed by its start (in
      memory only those inside the window of a scheduled replay). A replay
      (``replays``) puts the events of an archived time window back on the bus at ``at_s``:
      1-minute slices of arrival time in order, shuffled within a slice, at ``rate_per_s``,
      each carrying ``replay-name``. A replayed event goes to the targets of the rules that
      matched it first and still match it (a rule may exclude replays with
      ``{"replay-name": [{"exists": false}]}``). Replayed events are billed as custom events;
      archived bytes are billed per GB.

Not modelled:
    * Cross-bus targets, input transformers, the PutEvents quota (10,000/s), the 256 KB event
      limit, archive storage charges, the "new" subscriber bus with 5-attempt defaults.
    * Retries do not consume the invocations quota (only first attempts do).
    * A replay reaches only sinks that were intended when the message was created: a rule that
      matches only replayed events is not a target of the replay.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import TYPE_CHECKING, Any, cast

from sim.config.eventbridge import EventBusSpec, ReplaySpec, TargetSpec
from sim.engine.component import RequestTarget
from sim.engine.context import Context
from sim.engine.cost import sqs_chunks
from sim.engine.faults import THROTTLED
from sim.engine.message import Message, Pair
from sim.engine.ports import (
    FAILED_ENTRY,
    TIMEOUT,
    Attempt,
    BatchEntry,
    BatchReply,
    LiveTarget,
    Plan,
    Port,
    Reply,
    RetryTarget,
    is_live,
)
from sim.engine.retry import Retrier, give_up
from sim.engine.schedule import call_after, call_at
from sim.engine.tokens import TokenBucket
from sim.patterns import matches
from sim.services.endpoint import EndpointPort

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
    from sim.services.sqs.queue import Queue

__all__ = ["ACCOUNT", "REGION", "EventBus", "custom_event", "envelope", "iso_time"]

#: The account and Region events are stamped with.
ACCOUNT = "123456789012"
REGION = "us-east-1"
_EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
#: Width of a replay slice (seconds): AWS replays a window one minute at a time.
REPLAY_SLICE_S = 60.0


_last_second: list[Any] = [None, ""]  # the last whole second formatted, and its text


def iso_time(t_s: float) -> str:
    """Simulated time ``t_s`` as an event timestamp (time 0 is 2026-01-01T00:00:00Z)."""
    second = math.floor(t_s)
    if second != _last_second[0]:  # events come in time order: one formatting per second
        text = (_EPOCH + _dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _last_second[0], _last_second[1] = second, text
    return str(_last_second[1])


def envelope(
    msg: Message, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]
) -> dict[str, Any]:
    """An event in EventBridge's shape for ``msg``."""
    return {
        "version": "0",
        "id": f"{msg.id:08x}-0000-4000-8000-{msg.id:012x}",
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": iso_time(msg.created_s),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def custom_event(msg: Message) -> dict[str, Any]:
    """A producer's message as a custom event (PutEvents)."""
    attrs = dict(msg.attrs or {})
    source = str(attrs.pop("source", msg.producer))
    detail_type = str(attrs.pop("detail-type", "Event"))
    return envelope(msg, source, detail_type, attrs, [])


class _Target:
    """One target of a rule: its port, retry policy, DLQ and non-retriable error draw."""

    __slots__ = (
        "client_draw", "client_rate", "dead_letter", "is_endpoint", "live", "port", "retrier",
    )  # fmt: skip

    def __init__(
        self, bus: EventBus, ri: int, ti: int, spec: TargetSpec, port: RetryTarget,
        dlq: Queue | None,
    ) -> None:  # fmt: skip
        streams = bus.ctx.streams
        self.port = port
        self.retrier = Retrier(bus.env, spec.retry, streams.uniform(bus.name, f"retry:{ri}:{ti}"))
        self.dead_letter = dlq
        self.client_rate = spec.client_error_rate
        self.client_draw = (
            streams.uniform(bus.name, f"client_errors:{ri}:{ti}") if self.client_rate else None
        )
        self.is_endpoint = isinstance(port, EndpointPort)
        #: the target when its attempts are made one by one: an endpoint is an API destination
        #: (invocation rate limit, timeout), a FIFO queue has a throughput limit
        self.live: LiveTarget | None = None
        if isinstance(port, EndpointPort):
            self.live = port.endpoint.api_destination
        elif is_live(port):
            self.live = cast("LiveTarget", port)


class _Archived:
    __slots__ = ("landed", "msg", "pairs", "plan", "t")

    def __init__(
        self, t: float, landed: float, msg: Message, plan: Plan, pairs: list[Pair]
    ) -> None:
        self.t = t  # arrival on the bus
        self.landed = landed  # arrival in the archive (after the archive lag)
        self.msg = msg
        self.plan = plan
        self.pairs = pairs


class EventBus(RequestTarget):
    """An EventBridge event bus with rules, targets, an archive and replays."""

    def __init__(self, ctx: Context, name: str, spec: EventBusSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        streams = ctx.streams
        self._targets: list[list[_Target]] = []
        self._patterns = [rule.pattern for rule in spec.rules]
        self._quota = TokenBucket(spec.invocations_per_s, spec.invocations_per_s)
        self._dup_rate = spec.duplicate_rate
        self._dup_draw = streams.uniform(name, "duplicates") if spec.duplicate_rate else None
        self._archive: list[_Archived] | None = [] if spec.archive is not None else None
        self._archive_lag = (
            self.sampler(spec.archive.lag_s, "archive_lag") if spec.archive is not None else None
        )
        self._replay_stream = streams.get(name, "replay")
        self._bill_events = ctx.cost.counter(name, "eventbridge_events")
        self._bill_archive = ctx.cost.counter(name, "eventbridge_archive_gb")
        self._trace = ctx.ledger.trace
        #: observation: events put on the bus, target deliveries made, deliveries retrying
        self.n_published = 0
        self.n_delivered = 0
        self.n_retrying = 0

    def port(self, wiring: Wiring) -> Port:
        """The component is its own port."""
        return self

    def connect(self, wiring: Wiring) -> None:
        """Wire every rule target to its port and DLQ."""
        ports, components = wiring.ports, wiring.components
        for ri, rule in enumerate(self.spec.rules):
            row = []
            for ti, t in enumerate(rule.targets):
                dlq = components[t.dead_letter.target] if t.dead_letter is not None else None
                row.append(_Target(self, ri, ti, t, ports[t.target], dlq))
            self._targets.append(row)

    def start(self) -> None:
        """Schedule the replays."""
        for i, spec in enumerate(self.spec.replays):
            name = spec.name or f"replay-{i + 1}"
            self._schedule_replay(spec, name)

    def _schedule_replay(self, spec: ReplaySpec, name: str) -> None:
        call_after(self.env, spec.at_s, lambda _: self._replay(spec, name))

    # -- routing --------------------------------------------------------------------------------

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """The plan of ``msg`` sent by a producer (a custom event)."""
        return self.plan_event(msg, custom_event(msg))

    def plan_event(self, msg: Message, event: dict[str, Any]) -> Plan:
        """One branch per target of every rule whose pattern matches ``event``."""
        branches: list[tuple[Any, Plan]] = []
        for ri, pattern in enumerate(self._patterns):
            if matches(pattern, event):
                for ti, target in enumerate(self._targets[ri]):
                    branches.append(((ri, ti), target.port.plan(msg, event)))
        return Plan.join(branches, event)

    def reachable(self) -> list[str]:
        """The sinks behind every target."""
        return [s for row in self._targets for t in row for s in t.port.reachable()]

    # -- PutEvents ------------------------------------------------------------------------------

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """PutEvents of one custom event (billed); answered at once.

        An outage fails the request (``unavailable`` or ``throttled``: the SDK retries it);
        ``errors.rate`` fails the entry inside a successful response (:data:`FAILED_ENTRY`:
        the SDK does not retry it; the caller may send it again).
        """
        self.accept_batch([(msg, plan, pairs)], lambda error, entries: reply(error or entries[0]))

    def accept_batch(self, entries: list[BatchEntry], reply: BatchReply) -> None:
        """PutEvents of several custom events (each billed); answered at once, per entry."""
        now = self.env.now
        faults = self.ctx.faults
        error = faults.request_fails(self.name, now, 0.0) if self._has_faults else None
        if error is not None:
            if self._trace is not None:
                for msg, _, _ in entries:
                    self.ledger.log(now, self.name, "put_failed", msg.id)
            reply(error, [])
            return
        errors: list[str | None] = []
        for msg, _, _ in entries:
            failed = self._error_rate > 0.0 and (
                faults.request_fails(self.name, now, self._error_rate) is not None
            )
            if failed and self._trace is not None:
                self.ledger.log(now, self.name, "put_failed", msg.id)
            errors.append(FAILED_ENTRY if failed else None)
        reply(None, errors)
        for (msg, plan, pairs), e in zip(entries, errors, strict=True):
            if e is None:
                self._bill_events[0] += sqs_chunks(msg.size_bytes)
                self.ingest(msg, plan, pairs)

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """An AWS-service event (S3, CloudTrail) reaches the bus now (free of charge)."""
        self.ingest(msg, plan, pairs)

    # -- rules and targets ----------------------------------------------------------------------

    def ingest(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The event is on the bus now: archive it and start every target's delivery."""
        now = self.env.now
        self.n_published += 1
        if self._trace is not None:
            self.ledger.log(now, self.name, "put", msg.id)
        archive = self.spec.archive
        if (
            self._archive is not None
            and archive is not None
            and (archive.pattern is None or matches(archive.pattern, plan.event or {}))
        ):
            self._bill_archive[0] += msg.size_bytes / 1e9
            if any(r.from_s <= now < r.to_s for r in self.spec.replays):
                # kept only while a scheduled replay may pick it (memory stays bounded)
                lag = self._archive_lag() if self._archive_lag is not None else 0.0
                self._archive.append(_Archived(now, now + lag, msg, plan, pairs))
        if not plan.parts:
            return
        start = now + (self._latency() if self._latency is not None else 0.0)
        for key, lo, hi, child in plan.parts:
            self._dispatch(key, msg, child, pairs[lo:hi], start, True)

    def _dispatch(
        self, key: tuple[int, int], msg: Message, child: Plan | None, pairs: list[Pair],
        t_s: float, may_duplicate: bool,
    ) -> None:  # fmt: skip
        target = self._targets[key[0]][key[1]]
        start = self._quota.reserve(t_s)
        assert child is not None
        if target.client_draw is not None and target.client_draw() < target.client_rate:
            call_at(self.env, start, lambda: self._give_up(target, msg, pairs, 1, "client_error"))
        elif target.live is not None:
            self._dispatch_live(target, target.live, msg, child, pairs, start)
        else:
            ok, when, attempts = target.retrier.decide(target.port, start)
            if attempts > 1:
                self.n_retrying += 1
            env = self.env
            if ok:
                call_at(env, when, lambda: self._delivered(target, msg, child, pairs, attempts))
            else:
                call_at(env, when, lambda: self._give_up(target, msg, pairs, attempts, "gave_up"))
        if may_duplicate and self._dup_draw is not None and self._dup_draw() < self._dup_rate:
            for pair in pairs:
                self.ledger.copy(pair)
            self._dispatch(key, msg, child, pairs, t_s, False)

    def _dispatch_live(
        self, target: _Target, port: LiveTarget, msg: Message, child: Plan, pairs: list[Pair],
        start: float,
    ) -> None:  # fmt: skip
        """Deliver to a rate-limited target, each attempt at its own time (module docstring)."""
        retrying = False
        # attempts an endpoint counts itself (timed out but processed) or never saw (throttled)
        processed = 0

        def attempt() -> Attempt:
            nonlocal retrying, processed
            error, wait = port.try_deliver(msg, child, pairs)
            if error is not None and not retrying:
                retrying = True
                self.n_retrying += 1
            if error in (TIMEOUT, THROTTLED):
                processed += 1
            return error, wait

        def done(ok: bool, attempts: int) -> None:
            if ok:
                self._delivered(target, msg, child, pairs, attempts, retrying, processed)
            else:
                self._give_up(target, msg, pairs, attempts, "gave_up", retrying, processed)

        target.retrier.run_live(port, start, attempt, done)

    def _delivered(
        self, target: _Target, msg: Message, child: Plan, pairs: list[Pair], attempts: int,
        retrying: bool | None = None, processed: int | None = None,
    ) -> None:  # fmt: skip
        """The delivery succeeded now.

        ``retrying`` and ``processed`` are given by a live delivery (already handed over):
        whether it waited for a retry, and the attempts the endpoint counted itself (timed
        out) or never saw (throttled).
        """
        self.n_delivered += 1
        if attempts > 1 if retrying is None else retrying:
            self.n_retrying -= 1
        if self._trace is not None:
            self.ledger.log(self.env.now, self.name, "delivered", msg.id)
        if target.is_endpoint:
            # the endpoint counts the attempts it processed (the success, timed-out ones)
            self.ledger.attempt(pairs[0], attempts - 1 - (processed or 0))
        if processed is None:
            target.port.hand_over(msg, child, pairs)

    def _give_up(
        self, target: _Target, msg: Message, pairs: list[Pair], attempts: int, why: str,
        retrying: bool | None = None, processed: int = 0,
    ) -> None:  # fmt: skip
        now = self.env.now
        if attempts > 1 if retrying is None else retrying:
            self.n_retrying -= 1
        if target.is_endpoint:
            self.ledger.attempt(pairs[0], attempts - processed)
        if self._trace is not None:
            event = "dead_letter" if target.dead_letter is not None else why
            self.ledger.log(now, self.name, event, msg.id)
        give_up(self.ledger, pairs, target.dead_letter, now)

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """States now and counts so far, for the time series (``docs/metrics.md``)."""
        return (
            {"retrying": self.n_retrying},
            {"published_per_s": self.n_published, "deliveries_per_s": self.n_delivered},
        )

    # -- replay ---------------------------------------------------------------------------------

    def _replay(self, spec: ReplaySpec, name: str) -> None:
        """Start replaying the archived window of ``spec`` now."""
        assert self._archive is not None and self.spec.archive is not None
        now = self.env.now
        archive = self.spec.archive
        keep = archive.retention_s
        if keep is not None:  # drop what retention has expired
            self._archive = [e for e in self._archive if now - e.t <= keep]
        chosen = [
            e
            for e in self._archive
            if spec.from_s <= e.t < spec.to_s and e.landed <= now
        ]
        slices: dict[int, list[_Archived]] = {}
        for e in chosen:
            slices.setdefault(math.floor((e.t - spec.from_s) / REPLAY_SLICE_S), []).append(e)
        order: list[_Archived] = []
        for k in sorted(slices):
            part = slices[k]
            order.extend(part[i] for i in self._replay_stream.permutation(len(part)))
        gap = 1.0 / spec.rate_per_s
        for k, entry in enumerate(order):
            self._schedule_one(k * gap, entry, name)

    def _schedule_one(self, delay_s: float, entry: _Archived, name: str) -> None:
        call_after(self.env, delay_s, lambda _: self._replay_one(entry, name))

    def _replay_one(self, entry: _Archived, name: str) -> None:
        now = self.env.now
        msg, plan = entry.msg, entry.plan
        event = {**(plan.event or {}), "replay-name": name}
        self._bill_events[0] += sqs_chunks(msg.size_bytes)
        self.ledger.count("events_replayed")
        if self._trace is not None:
            self.ledger.log(now, self.name, "replayed", msg.id)
        start = now + (self._latency() if self._latency is not None else 0.0)
        for key, lo, hi, child in plan.parts:
            if matches(self._patterns[key[0]], event):
                pairs = entry.pairs[lo:hi]
                for pair in pairs:
                    self.ledger.copy(pair)
                self._dispatch(key, msg, child, pairs, start, True)
