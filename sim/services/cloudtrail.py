"""AWS CloudTrail: recorded API calls become "AWS API Call via CloudTrail" events on a bus.

Modelled:
    * A producer sending to a ``cloudtrail`` makes API calls; the message's attributes are the
      call (``eventSource`` such as ``dynamodb.amazonaws.com``, ``eventName`` such as
      ``DeleteTable``, and any others). The call itself always succeeds.
    * The event ``{"source": "aws.<service>", "detail-type": "AWS API Call via CloudTrail",
      "detail": {"eventSource", "eventName", "eventVersion", "eventTime", "awsRegion",
      "eventType", ...}}`` reaches the bus after ``delivery_delay_s``.
    * Best effort (AWS): each event is lost with probability ``loss_rate``, and one that the
      bus rejects (its error rate or outage) is lost too: CloudTrail does not retry it.
    * AWS-service events on the default bus are free.

Not modelled:
    * Console sign-in, console action, service and Insight events; trails, log files in S3,
      the opt-in for read-only management events, data events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.config.cloudtrail import CloudTrailSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.fates import LOST
from sim.engine.message import Message, Pair
from sim.engine.ports import Plan, Port, Reply
from sim.engine.schedule import call_at
from sim.services.eventbridge import REGION, envelope, iso_time

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
    from sim.services.eventbridge import EventBus

__all__ = ["Trail", "cloudtrail_event"]


def cloudtrail_event(msg: Message) -> dict[str, Any]:
    """The "AWS API Call via CloudTrail" event of the API call ``msg``."""
    attrs = dict(msg.attrs or {})
    event_source = str(attrs.get("eventSource", "unknown.amazonaws.com"))
    detail = {
        "eventVersion": "1.08",
        "eventTime": iso_time(msg.created_s),
        "awsRegion": REGION,
        "eventType": "AwsApiCall",
        **attrs,
        "eventSource": event_source,
    }
    source = "aws." + event_source.split(".", 1)[0]
    return envelope(msg, source, "AWS API Call via CloudTrail", detail, [])


class Trail(Component):
    """CloudTrail delivering API-call events to one event bus, best effort."""

    def __init__(self, ctx: Context, name: str, spec: CloudTrailSpec) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        streams = ctx.streams
        self._delay = self.sampler(spec.delivery_delay_s, "delivery_delay")
        self._loss_rate = spec.loss_rate
        self._loss_draw = streams.uniform(name, "loss") if spec.loss_rate else None
        self._bus: EventBus | None = None
        self._trace = ctx.ledger.trace

    def port(self, wiring: Wiring) -> Port:
        """The component is its own port."""
        return self

    def connect(self, wiring: Wiring) -> None:
        """Wire the bus the trail delivers to."""
        self._bus = wiring.components[self.spec.bus]

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """The bus's rules matched by the CloudTrail event of ``msg``."""
        assert self._bus is not None
        return self._bus.plan_event(msg, cloudtrail_event(msg))

    def reachable(self) -> list[str]:
        """The sinks behind the bus."""
        assert self._bus is not None
        return self._bus.reachable()

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Record the API call now; its event follows after the delivery delay."""
        reply(None)
        if self._loss_draw is not None and self._loss_draw() < self._loss_rate:
            self._lost(msg, pairs, "lost")
            return
        delay = self._delay() if self._delay is not None else 0.0
        call_at(self.env, self.env.now + delay, lambda: self._deliver(msg, plan, pairs))

    def _deliver(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        bus = self._bus
        assert bus is not None
        now = self.env.now
        if bus.failing_until(now) is not None or bus.attempt_fails(now):
            self._lost(msg, pairs, "rejected")
            return
        bus.hand_over(msg, plan, pairs)

    def _lost(self, msg: Message, pairs: list[Pair], why: str) -> None:
        if self._trace is not None:
            self.ledger.log(self.env.now, self.name, why, msg.id)
        for pair in pairs:
            self.ledger.drop(pair, LOST)
