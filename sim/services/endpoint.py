"""Endpoints: terminal receivers (an email inbox, an HTTP service, a phone) — sinks.

Modelled:
    * Each delivery attempt fails with probability ``errors.rate`` (a server-side error the
      sender retries) or during an ``unavailable``/``throttled`` outage; a delivered message is
      processed ``latency_s`` later (× the factor of a ``slow`` outage), which ends its
      successful processing at this sink.

Not modelled:
    * Client-side errors (they belong to the subscription: ``client_error_rate``), email
      bounces and SMS carrier delivery reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.config.endpoint import EndpointSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.message import Message, Pair
from sim.engine.ports import Plan, Reply
from sim.engine.samplers import is_zero, make_sampler
from sim.engine.schedule import call_after

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring

__all__ = ["Endpoint", "EndpointPort"]

class Endpoint(Component):
    """A terminal receiver: every message delivered to it is processed here."""

    def __init__(self, ctx: Context, name: str, spec: EndpointSpec) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        self.protocol = spec.protocol
        self._rate = spec.errors.rate
        self._has_outages = ctx.faults.has_outages(name)
        self._latency = (
            None
            if is_zero(spec.latency_s)
            else make_sampler(spec.latency_s, ctx.streams.get(name, "latency"))
        )
        self._trace = ctx.ledger.trace

    def port(self, wiring: Wiring) -> EndpointPort:
        """An HTTP request (or email, SMS) to the endpoint, which is the sink."""
        return EndpointPort(self)

    def attempt_fails(self, t_s: float) -> bool:
        """One delivery attempt at ``t_s`` fails (error rate or outage)."""
        return self.ctx.faults.request_fails(self.name, t_s, self._rate) is not None

    def failing_until(self, t_s: float) -> float | None:
        """End of the outage that makes every attempt at ``t_s`` fail, if any."""
        return self.ctx.faults.down_until(self.name, t_s) if self._has_outages else None

    def always_fails(self) -> bool:
        """True when the error rate is 1."""
        return self._rate >= 1.0

    def take_delivery(self, pair: Pair) -> None:
        """A message arrives now; it is processed after the endpoint's latency."""
        now = self.env.now
        latency = self._latency() if self._latency is not None else 0.0
        if self._has_outages:
            latency *= self.ctx.faults.slow_factor(self.name, now)
        if latency <= 0.0:
            self._processed(pair)
        else:
            call_after(self.env, latency, lambda _: self._processed(pair))

    def _processed(self, pair: Pair) -> None:
        ledger = self.ledger
        if self._trace is not None:
            ledger.log(self.env.now, self.name, "success", pair.msg.id)
        ledger.attempt(pair)
        ledger.success(pair)
        ledger.release(pair)


# --------------------------------------------------------------------------- port


class EndpointPort:
    """An endpoint (an EventBridge API destination): the sink."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.name = endpoint.name
        self.sink: str | None = endpoint.name
        #: the SNS subscription protocol: the endpoint's own (http, https, email, ...)
        self.protocol = endpoint.protocol
        self._plan = Plan((endpoint.name,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the endpoint."""
        return self._plan

    def reachable(self) -> list[str]:
        """The endpoint."""
        return [self.name]

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """An HTTP request answered at once."""
        now = self.endpoint.env.now
        until = self.endpoint.failing_until(now)
        if until is not None or self.endpoint.attempt_fails(now):
            reply("unavailable")
            return
        reply(None)
        self.endpoint.take_delivery(pairs[0])

    def attempt_fails(self, t_s: float) -> bool:
        """A request at ``t_s`` fails."""
        return self.endpoint.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the endpoint's outage at ``t_s``."""
        return self.endpoint.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every request fails."""
        return self.endpoint.always_fails()

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The request succeeds now."""
        self.endpoint.take_delivery(pairs[0])
