"""Amazon S3 buckets: object puts and the event notifications they produce.

Modelled:
    * PutObject (:meth:`Bucket.send`, from a producer or API Gateway): ``errors.rate`` and
      outages fail it with a 5xx (the sender retries), ``latency_s`` delays the answer; each
      stored object is billed as one PUT.
    * The object: its key is the message's ``key`` attribute (``{id}`` in it is replaced by the
      message id, so that keys can be unique), else ``obj-<id>``; its size the ``size_bytes``
      attribute, else the producer's ``size_bytes``; its other attributes are metadata.
    * Direct notifications (SQS standard queues, SNS standard topics, Lambda functions): each
      notification whose event types include ``s3:ObjectCreated:Put`` and whose prefix and
      suffix match the key gets the event (the ``Records`` JSON, which an SNS body-scope filter
      policy sees) after ``notification_delay_s``; with probability
      ``duplicate_rate`` a second, independent copy (at-least-once); no ordering. A delivery
      that fails (the target's error rate or outage, or a standard queue's ``max_calls_per_s``)
      is retried with ``delivery_retry`` and lost when given up (S3 has no DLQ for
      notifications).
    * ``eventbridge``: every event also goes to that bus as an ``Object Created`` event in
      AWS's shape (``detail.bucket.name``, ``detail.object.key/size/etag/sequencer``,
      ``detail.reason: PutObject``; the metadata as ``detail.object.metadata``, which AWS does
      not send: a modelling convenience for metadata rules), after ``notification_delay_s``,
      retried for up to 24 h (AWS: "durable" delivery).
    * A bucket with neither notifications nor ``eventbridge`` is the sink of its puts: a
      stored object is delivered.

Not modelled:
    * Other event types (deletes, restores, tags), versioning and the lost notification of two
      concurrent writes to one non-versioned key, the 64 KB notification size limit, the URL
      encoding of keys in notifications, storage and data transfer charges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, cast

from sim.config.s3 import S3BucketSpec
from sim.engine.component import RequestTarget
from sim.engine.context import Context
from sim.engine.fates import LOST
from sim.engine.message import Message, Pair
from sim.engine.ports import LiveTarget, Plan, Port, Reply, RetryTarget, is_live
from sim.engine.retry import Retrier
from sim.engine.schedule import call_after, call_at
from sim.services.eventbridge import REGION, envelope, iso_time

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
    from sim.services.eventbridge import EventBus

__all__ = ["Bucket", "S3Object", "object_of", "object_size", "s3_event", "s3_notification"]

_PUT_EVENTS = frozenset({"s3:ObjectCreated:*", "s3:ObjectCreated:Put"})
#: Branch key of the EventBridge branch (notifications use their index).
_EVENTBRIDGE: Final = -1


#: An object: ``(key, size in bytes, metadata)``.
S3Object = tuple[str, int, dict[str, Any]]


def object_size(msg: Message) -> int:
    """The size in bytes of the object that ``msg`` puts."""
    size = msg.attrs.get("size_bytes") if msg.attrs else None
    return msg.size_bytes if size is None else int(max(0, round(float(size))))


def object_of(msg: Message) -> S3Object:
    """The ``(key, size in bytes, metadata)`` of the object that ``msg`` puts."""
    attrs = dict(msg.attrs or {})
    key = attrs.pop("key", None)
    key = f"obj-{msg.id}" if key is None else str(key).replace("{id}", str(msg.id))
    attrs.pop("size_bytes", None)
    return key, object_size(msg), attrs


def s3_notification(bucket: str, msg: Message, obj: S3Object | None = None) -> dict[str, Any]:
    """The direct notification (``Records`` JSON) of the put of ``msg`` into ``bucket``."""
    key, size, _ = obj if obj is not None else object_of(msg)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": iso_time(msg.created_s),
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": key,
                        "size": size,
                        "eTag": f"{msg.id:032x}",
                        "sequencer": f"{msg.id:018X}",
                    },
                },
            }
        ]
    }


def s3_event(bucket: str, msg: Message, obj: S3Object | None = None) -> dict[str, Any]:
    """The EventBridge ``Object Created`` event of the put of ``msg`` into ``bucket``."""
    key, size, metadata = obj if obj is not None else object_of(msg)
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {
            "key": key,
            "size": size,
            "etag": f"{msg.id:032x}",
            "sequencer": f"{msg.id:018X}",
            "metadata": metadata,
        },
        "request-id": f"{msg.id:016X}",
        "requester": "123456789012",
        "reason": "PutObject",
    }
    return envelope(msg, "aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])


class Bucket(RequestTarget):
    """An S3 bucket: puts, direct notifications and EventBridge events."""

    def __init__(self, ctx: Context, name: str, spec: S3BucketSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        streams = ctx.streams
        self._delay = self.sampler(spec.notification_delay_s, "notification_delay")
        self._dup_rate = spec.duplicate_rate
        self._dup_draw = streams.uniform(name, "duplicates") if spec.duplicate_rate else None
        self._retrier = Retrier(ctx.env, spec.delivery_retry, streams.uniform(name, "retry"))
        self._ports: list[RetryTarget] = []
        self._bus: EventBus | None = None
        self._self_sink = not spec.notifications and spec.eventbridge is None
        self._self_plan = Plan((name,))
        #: ``(index, prefix, suffix)`` of the notifications that take object puts
        self._put_filters = [
            (i, n.prefix, n.suffix)
            for i, n in enumerate(spec.notifications)
            if _PUT_EVENTS.intersection(n.events)
        ]
        self._bill_puts = ctx.cost.counter(name, "s3_puts")
        self._trace = ctx.ledger.trace

    def port(self, wiring: Wiring) -> Port:
        """The component is its own port."""
        return self

    def connect(self, wiring: Wiring) -> None:
        """Wire the notification targets and the EventBridge bus, if any."""
        self._ports = [wiring.ports[n.target] for n in self.spec.notifications]
        eb = self.spec.eventbridge
        self._bus = wiring.components[eb] if eb is not None else None

    # -- routing --------------------------------------------------------------------------------

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """The notifications whose filters match the put of ``msg``, and the bus's rules."""
        if self._self_sink:
            return self._self_plan
        obj = object_of(msg)
        key = obj[0]
        branches: list[tuple[Any, Plan]] = []
        record: dict[str, Any] | None = None
        for i, prefix, suffix in self._put_filters:
            if key.startswith(prefix) and key.endswith(suffix):
                if record is None:
                    record = s3_notification(self.name, msg, obj)
                branches.append((i, self._ports[i].plan(msg, record)))
        if self._bus is not None:
            event = s3_event(self.name, msg, obj)
            branches.append((_EVENTBRIDGE, self._bus.plan_event(msg, event)))
        return Plan.join(branches)

    def reachable(self) -> list[str]:
        """The sinks behind every notification and the bus (or the bucket itself)."""
        if self._self_sink:
            return [self.name]
        out = [s for p in self._ports for s in p.reachable()]
        return out + (self._bus.reachable() if self._bus is not None else [])

    # -- PutObject ------------------------------------------------------------------------------

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """PutObject: answered after ``latency_s``; the events follow a stored object."""
        now = self.env.now
        error = self.request_error(now)
        latency = self.request_latency(now)

        def answer() -> None:
            if error is not None:
                if self._trace is not None:
                    self.ledger.log(self.env.now, self.name, "put_failed", msg.id)
                reply(error)
                return
            self._bill_puts[0] += 1
            reply(None)
            self._stored(msg, plan, pairs)

        if latency <= 0.0:
            answer()
        else:
            call_after(self.env, latency, lambda _: answer())

    def _stored(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        ledger = self.ledger
        if self._trace is not None:
            ledger.log(self.env.now, self.name, "stored", msg.id)
        if self._self_sink:
            for pair in pairs:
                ledger.attempt(pair)
                ledger.success(pair)
                ledger.release(pair)
            return
        for key, lo, hi, child in plan.parts:
            assert child is not None
            self._notify(key, msg, child, pairs[lo:hi], True)

    def _notify(self, key: int, msg: Message, child: Plan, pairs: list[Pair], dup: bool) -> None:
        now = self.env.now
        port: RetryTarget
        if key == _EVENTBRIDGE:
            assert self._bus is not None
            port = self._bus
        else:
            port = self._ports[key]
        start = now + (self._delay() if self._delay is not None else 0.0)
        if is_live(port):
            live = cast("LiveTarget", port)

            def done(ok: bool, attempts: int) -> None:
                if not ok:
                    self._lost(msg, pairs)

            self._retrier.run_live(live, start, lambda: live.try_deliver(msg, child, pairs), done)
        else:
            ok, when, _ = self._retrier.decide(port, start)
            if ok:
                call_at(self.env, when, lambda: port.hand_over(msg, child, pairs))
            else:
                call_at(self.env, when, lambda: self._lost(msg, pairs))
        if dup and self._dup_draw is not None and self._dup_draw() < self._dup_rate:
            for pair in pairs:
                self.ledger.copy(pair)
            self._notify(key, msg, child, pairs, False)

    def _lost(self, msg: Message, pairs: list[Pair]) -> None:
        if self._trace is not None:
            self.ledger.log(self.env.now, self.name, "gave_up", msg.id)
        for pair in pairs:
            self.ledger.drop(pair, LOST)
