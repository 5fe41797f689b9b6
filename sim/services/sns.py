"""Amazon SNS topics: publish, filter, and deliver to every subscription with its retry policy.

Modelled:
    * Publish (:meth:`Topic.publish`): per-request error rate and outages (a retriable error for
      the publisher), ``latency_s``, billing per 64 KB chunk. PublishBatch
      (:meth:`Topic.publish_batch`, up to 10 messages): an outage fails the request, the error
      rate each entry; billed by the request's payload per 64 KB chunk.
    * Subscriptions to SQS queues, Lambda functions (asynchronous invocation) and endpoints
      (http, https, email, email-json, sms), each with its protocol's delivery retry policy
      (:mod:`sim.config.sns`) or, for HTTP/S, a custom one. A delivery attempt fails on the
      target's error rate or outage (an SQS SendMessage, a Lambda Invoke during an outage of
      the function, an endpoint's own errors); SNS then retries on schedule. When the policy is
      exhausted the message goes to the subscription's DLQ (``dead_lettered``) or is dropped
      (``lost``). Client-side errors (``client_error_rate``: a deleted or forbidden endpoint)
      are not retried.
    * Filter policies on message attributes or on the body (:mod:`sim.patterns`): a message a
      subscription's policy rejects is not sent to it, and that sink is not an intended sink of
      the message.
    * FIFO topics: only SQS subscribers; per (subscription, message group) a message is not
      delivered before the previous one of its group; publishes with the same deduplication id
      within 5 minutes are accepted and dropped.
    * The whole retry schedule of a delivery is decided when it starts, attempt by attempt, but
      without simulating the hopeless ones: an attempt inside a known outage window of the
      target is skipped arithmetically, and a target that always fails skips to the end of the
      schedule. A delivery costs one simulated event whatever its number of attempts (100,015
      for SQS and Lambda over 23 days); its attempts are counted for cost (and for ``attempts``
      at endpoint sinks) when it ends, so a delivery still retrying at the end of the run is
      neither billed nor counted.
    * A queue with a throughput limit (a FIFO queue: 300 SendMessage calls per second) is tried
      attempt by attempt at each attempt's time instead (a throttled attempt is a failed one,
      retried by the policy); on a FIFO topic the next message of a (subscription, group)
      then starts when the previous one is delivered or given up.

Not modelled:
    * Jitter of retries (AWS applies some, undocumented), the HTTP/S throttle policy, the
      15-minute propagation delay of filter policy changes, raw message delivery and the 30,000
      messages/s publish quota.
    * The email quota beyond first attempts: ``email_rate_per_s`` (10/s) paces the first
      attempts of email deliveries (one every 0.1 s, first come first served, no burst: AWS
      documents the rate, not a burst); retries are not counted against it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from simpy.events import Event

from sim.config.sns import (
    SnsTopicSpec,
    SubscriptionSpec,
    default_delivery_policy,
)
from sim.engine.component import RequestTarget
from sim.engine.context import Context
from sim.engine.cost import sqs_chunks
from sim.engine.message import Message, Pair
from sim.engine.ports import (
    BatchEntry,
    BatchReply,
    LiveTarget,
    Plan,
    Reply,
    RetryTarget,
    is_live,
)
from sim.engine.retry import give_up
from sim.engine.schedule import call_after, call_at
from sim.engine.tokens import TokenBucket
from sim.patterns import filter_policy_matches

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
    from sim.services.sqs.queue import Queue
from sim.services.sns_schedule import Schedule

__all__ = ["DEDUP_WINDOW_S", "Subscription", "Topic", "TopicPort"]

#: FIFO topic deduplication interval (seconds; the same as SQS FIFO, unconfirmed for SNS).
DEDUP_WINDOW_S: Final = 300.0


class Subscription:
    """One subscription: its target, protocol, filter, policy and dead-letter queue."""

    def __init__(
        self,
        spec: SubscriptionSpec,
        protocol: str,
        target: RetryTarget,
        dead_letter: Queue | None,
        sink: str | None,
        client_error_draw: Callable[[], float] | None,
    ) -> None:
        self.spec = spec
        self.protocol = protocol
        self.target = target
        self.dead_letter = dead_letter
        self.sink = sink
        #: what the target is handed on the successful attempt: its one pair
        self.plan = Plan((sink,))
        #: the target when its attempts are made one by one (a rate-limited queue), else None
        self.live: LiveTarget | None = cast("LiveTarget", target) if is_live(target) else None
        self.schedule = Schedule(spec.retry or default_delivery_policy(protocol))
        self.filter_policy = spec.filter_policy
        self.body_scope = spec.filter_policy_scope == "MessageBody"
        self.client_error_rate = spec.client_error_rate
        self.client_error_draw = client_error_draw
        #: an email subscription (paced by the topic's email quota, billed per 100,000)
        self.email = protocol in ("email", "email-json")
        #: an endpoint sink whose attempts the topic counts (SQS and Lambda count their own)
        self.counts_attempts = sink is not None and protocol not in ("sqs", "lambda")

    def accepts(self, msg: Message, body: dict[str, Any] | None = None) -> bool:
        """Whether the subscription's filter policy lets ``msg`` through.

        ``body`` is the JSON body published by an AWS service (an EventBridge event, an S3
        notification), which carries no message attributes; by default the producer's
        attributes are both the attributes and the body.
        """
        if self.filter_policy is None:
            return True
        if body is not None:
            if self.body_scope:
                return filter_policy_matches(self.filter_policy, body=body)
            return filter_policy_matches(self.filter_policy, attributes={})
        attrs: dict[str, Any] = msg.attrs or {}
        if self.body_scope:
            return filter_policy_matches(self.filter_policy, body=attrs)
        return filter_policy_matches(self.filter_policy, attributes=attrs)


class Topic(RequestTarget):
    """An SNS topic (standard or FIFO)."""

    def __init__(self, ctx: Context, name: str, spec: SnsTopicSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self.fifo = spec.fifo
        self.subscriptions: list[Subscription] = []
        self._bill_publish = ctx.cost.counter(name, "sns_publishes")
        self._bill_http = ctx.cost.counter(name, "sns_http_deliveries")
        self._bill_email = ctx.cost.counter(name, "sns_email_deliveries")
        self._trace = ctx.ledger.trace
        self._email_quota = TokenBucket(spec.email_rate_per_s, 1.0)  # paced, no burst
        self._last: dict[tuple[int, int], float] = {}  # FIFO: last delivery per (sub, group)
        self._dedup: dict[int, float] = {}
        self._dedup_order: deque[tuple[float, int]] = deque()
        #: FIFO, live targets: per (subscription, group) in delivery, the pairs waiting for it
        self._live_groups: dict[tuple[int, int], deque[Pair]] = {}
        #: observation: publishes accepted, deliveries made, deliveries waiting for a retry
        self.n_published = 0
        self.n_delivered = 0
        self.n_retrying = 0

    def port(self, wiring: Wiring) -> TopicPort:
        """Publish; each subscription's sink is behind it."""
        return TopicPort(self)

    def connect(self, wiring: Wiring) -> None:
        """Subscribe every target through its port, with its DLQ, and register its sink."""
        for i, spec in enumerate(self.spec.subscriptions):
            port = wiring.ports[spec.target]
            sink = port.sink
            if sink is not None:
                self.ledger.sink(sink)
            dlq = wiring.components[spec.dead_letter.target] if spec.dead_letter else None
            draw = (
                self.ctx.streams.uniform(self.name, f"client_errors:{i}")
                if spec.client_error_rate > 0
                else None
            )
            self.subscriptions.append(Subscription(spec, port.protocol, port, dlq, sink, draw))

    # -- routing ---------------------------------------------------------------------------------

    def plan(
        self, msg: Message, body: dict[str, Any] | None = None
    ) -> list[tuple[int, str | None]]:
        """``(subscription index, intended sink)`` for every subscription ``msg`` passes."""
        return [(i, s.sink) for i, s in enumerate(self.subscriptions) if s.accepts(msg, body)]

    # -- Publish ---------------------------------------------------------------------------------

    def publish(self, msg: Message, plan: list[tuple[int, Pair]], reply: Reply) -> None:
        """Publish ``msg``; on success deliver ``plan``'s pairs to their subscriptions.

        ``reply(None)`` or ``reply(error)`` is called when the publish is answered; on failure
        the publisher keeps the pairs' live units.
        """
        now = self.env.now
        error = self.request_error(now)
        latency = self.request_latency(now)
        if error is None:
            self._bill_publish[0] += sqs_chunks(msg.size_bytes)
            self.n_published += 1
        if self._trace is not None:
            event = "publish" if error is None else "publish_failed"
            self.ledger.log(now, self.name, event, msg.id)
        if latency <= 0.0:
            if error is None:
                self._fan_out(msg, plan)
            reply(error)
            return

        def answer(_: Event) -> None:
            if error is None:
                self._fan_out(msg, plan)
            reply(error)

        call_after(self.env, latency, answer)

    def publish_batch(
        self, entries: list[tuple[Message, list[tuple[int, Pair]]]], reply: BatchReply
    ) -> None:
        """PublishBatch: ``reply(error, entry errors)`` when answered (after ``latency_s``).

        An outage fails the whole request; ``errors.rate`` fails each entry independently (a
        failed entry in a successful response). The request is billed by its total payload
        per 64 KB chunk (AWS: batching cuts publishing costs up to tenfold); the entries that
        succeed are delivered in order when the answer comes.
        """
        now = self.env.now
        faults = self.ctx.faults
        error = faults.request_fails(self.name, now, 0.0) if self._has_faults else None
        errors: list[str | None] = []
        if error is None:
            size = sum(msg.size_bytes for msg, _ in entries)
            self._bill_publish[0] += sqs_chunks(size)
            errors = [
                faults.request_fails(self.name, now, self._error_rate)
                if self._error_rate > 0.0
                else None
                for _ in entries
            ]
        if self._trace is not None:
            for i, (msg, _) in enumerate(entries):
                failed = error is not None or errors[i] is not None
                self.ledger.log(now, self.name, "publish_failed" if failed else "publish", msg.id)
        latency = self.request_latency(now)

        def answer() -> None:
            if error is None:
                for (msg, plan), e in zip(entries, errors, strict=True):
                    if e is None:
                        self.n_published += 1
                        self._fan_out(msg, plan)
            reply(error, errors)

        if latency <= 0.0:
            answer()
        else:
            call_after(self.env, latency, lambda _: answer())

    def _fan_out(self, msg: Message, plan: list[tuple[int, Pair]]) -> None:
        now = self.env.now
        if self.fifo and not self._dedup_admit(msg, now):
            if self._trace is not None:
                self.ledger.log(now, self.name, "deduplicated", msg.id)
            for _, pair in plan:
                self.ledger.release(pair)
            return
        for i, pair in plan:
            self._deliver(i, self.subscriptions[i], pair, now)

    def _dedup_admit(self, msg: Message, now: float) -> bool:
        order = self._dedup_order
        while order and order[0][0] <= now:
            _, key = order.popleft()
            if self._dedup.get(key, math.inf) <= now:
                del self._dedup[key]
        key = msg.dedup_id if msg.dedup_id is not None else msg.id
        if key in self._dedup:
            return False
        self._dedup[key] = now + DEDUP_WINDOW_S
        order.append((now + DEDUP_WINDOW_S, key))
        return True

    # -- as the target of a retried delivery (EventBridge, S3) -----------------------------------

    def accept_published(self, msg: Message, plan: list[tuple[int, Pair]]) -> None:
        """A Publish by a retrying sender (EventBridge, S3) succeeded now.

        It is billed, and ``plan`` is delivered after the topic's ``latency_s``, as for a
        producer's Publish.
        """
        now = self.env.now
        self._bill_publish[0] += sqs_chunks(msg.size_bytes)
        self.n_published += 1
        if self._trace is not None:
            self.ledger.log(now, self.name, "publish", msg.id)
        latency = self.request_latency(now)
        if latency <= 0.0:
            self._fan_out(msg, plan)
        else:
            call_after(self.env, latency, lambda _: self._fan_out(msg, plan))

    # -- delivery --------------------------------------------------------------------------------

    def _deliver(self, index: int, sub: Subscription, pair: Pair, now: float) -> None:
        """Decide the whole attempt sequence now; schedule one event at its outcome."""
        if sub.live is not None:
            self._deliver_live(index, sub, sub.live, pair)
            return
        start = now
        if self.fifo:
            start = max(now, self._last.get((index, pair.msg.group), now))
        elif sub.email:
            start = self._email_quota.reserve(now)
        cursor = sub.schedule.cursor(start)
        target = sub.target
        client_error = (
            sub.client_error_draw is not None and sub.client_error_draw() < sub.client_error_rate
        )
        ok = False
        if not client_error:
            if target.always_fails():
                cursor.exhaust()
            else:
                while cursor.past_outages(target.failing_until):
                    if not target.attempt_fails(cursor.t):
                        ok = True
                        break
                    if not cursor.advance():
                        break
        at = cursor.t
        if self.fifo:
            self._last[(index, pair.msg.group)] = at
        attempts = cursor.attempts
        if attempts > 1:
            self.n_retrying += 1
        if ok:
            call_at(self.env, at, lambda: self._hand_over(sub, pair, attempts))
        else:
            call_at(self.env, at, lambda: self._give_up(sub, pair, client_error, attempts))

    def _deliver_live(self, index: int, sub: Subscription, target: LiveTarget, pair: Pair) -> None:
        """Deliver to a rate-limited queue, each attempt at its own time.

        On a FIFO topic a message of a (subscription, group) starts only when the previous one
        of its group has been delivered or given up.
        """
        if self.fifo:
            key = (index, pair.msg.group)
            waiting = self._live_groups.get(key)
            if waiting is not None:
                waiting.append(pair)
                return
            self._live_groups[key] = deque()
        self._run_live(index, sub, target, pair)

    def _run_live(self, index: int, sub: Subscription, target: LiveTarget, pair: Pair) -> None:
        env = self.env
        cursor = sub.schedule.cursor(env.now)
        client_error = (
            sub.client_error_draw is not None and sub.client_error_draw() < sub.client_error_rate
        )
        retrying = False

        def finish(ok: bool) -> None:
            if retrying:
                self.n_retrying -= 1
            attempts = cursor.attempts
            if ok:
                self._count(sub, pair, attempts, True)
                self.n_delivered += 1
                if self._trace is not None:
                    self.ledger.log(env.now, self.name, "delivered", pair.msg.id)
            else:
                self._give_up(sub, pair, client_error, attempts)
            if self.fifo:
                key = (index, pair.msg.group)
                waiting = self._live_groups[key]
                if waiting:
                    nxt = waiting.popleft()
                    call_after(env, 0.0, lambda _: self._run_live(index, sub, target, nxt))
                else:
                    del self._live_groups[key]

        def step() -> None:
            nonlocal retrying
            while cursor.past_outages(target.failing_until):
                if cursor.t > env.now:
                    call_at(env, cursor.t, step)
                    return
                if target.try_deliver(pair.msg, sub.plan, [pair])[0] is None:
                    finish(True)
                    return
                if not retrying:
                    retrying = True
                    self.n_retrying += 1
                if not cursor.advance():
                    break
            call_at(env, cursor.t, lambda: finish(False))

        if client_error:
            finish(False)
        elif target.always_fails():
            cursor.exhaust()
            if cursor.attempts > 1:
                retrying = True
                self.n_retrying += 1
            call_at(env, cursor.t, lambda: finish(False))
        else:
            step()

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """States now and counts so far, for the time series (``docs/metrics.md``)."""
        return (
            {"retrying": self.n_retrying},
            {"published_per_s": self.n_published, "deliveries_per_s": self.n_delivered},
        )

    def _count(self, sub: Subscription, pair: Pair, attempts: int, ok: bool) -> None:
        """Bill a finished delivery's attempts (and count them at an endpoint sink)."""
        if attempts > 1:
            self.n_retrying -= 1
        if sub.email:
            self._bill_email[0] += attempts
        elif sub.protocol in ("http", "https"):
            self._bill_http[0] += attempts
        if sub.counts_attempts:
            # the endpoint counts the successful attempt itself
            self.ledger.attempt(pair, attempts - 1 if ok else attempts)

    def _hand_over(self, sub: Subscription, pair: Pair, attempts: int) -> None:
        self._count(sub, pair, attempts, True)
        self.n_delivered += 1
        if self._trace is not None:
            self.ledger.log(self.env.now, self.name, "delivered", pair.msg.id)
        sub.target.hand_over(pair.msg, sub.plan, [pair])

    def _give_up(self, sub: Subscription, pair: Pair, client_error: bool, attempts: int) -> None:
        self._count(sub, pair, attempts, False)
        now = self.env.now
        if self._trace is not None:
            event = "client_error" if client_error else "gave_up"
            event = "dead_letter" if sub.dead_letter is not None else event
            self.ledger.log(now, self.name, event, pair.msg.id)
        give_up(self.ledger, [pair], sub.dead_letter, now)


# --------------------------------------------------------------------------- port


class TopicPort:
    """An SNS topic: Publish, then each subscription with its own delivery policy."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.name = topic.name

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One branch per subscription whose filter policy accepts ``msg`` (or ``body``)."""
        entries = self.topic.plan(msg, body)
        return Plan(
            tuple(sink for _, sink in entries),
            [(i, k, k + 1, None) for k, (i, _) in enumerate(entries)],
        )

    def reachable(self) -> list[str]:
        """The sinks of every subscription."""
        return [s.sink for s in self.topic.subscriptions if s.sink is not None]

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Publish."""
        self.topic.publish(msg, _by_key(plan, pairs), reply)

    def accept_batch(self, entries: list[BatchEntry], reply: BatchReply) -> None:
        """PublishBatch."""
        self.topic.publish_batch([(msg, _by_key(p, pairs)) for msg, p, pairs in entries], reply)

    def attempt_fails(self, t_s: float) -> bool:
        """A Publish at ``t_s`` fails."""
        return self.topic.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the topic's outage at ``t_s``."""
        return self.topic.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every Publish fails."""
        return self.topic.always_fails()

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The Publish succeeds now: deliveries start."""
        self.topic.accept_published(msg, _by_key(plan, pairs))


def _by_key(plan: Plan, pairs: list[Pair]) -> list[tuple[int, Pair]]:
    return [(key, pairs[lo]) for key, lo, _, _ in plan.parts]
