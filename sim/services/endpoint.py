"""Endpoints: terminal receivers (an email inbox, an HTTP service, a phone) — sinks.

Modelled:
    * Each delivery attempt fails with probability ``errors.rate`` (a server-side error the
      sender retries) or during an ``unavailable``/``throttled`` outage; a delivered message is
      processed ``latency_s`` later (× the factor of a ``slow`` outage), which ends its
      successful processing at this sink.

    * As the target of an EventBridge rule the endpoint is an API destination
      (:class:`ApiDestination`): deliveries over ``api_destination.invocation_rate_limit_per_s``
      (InvocationRateLimitPerSecond, one bucket per endpoint, holding one second of calls) are
      held back and retried under the target's retry policy; an answer slower than
      ``api_destination.timeout_s`` (5 s) is a failed attempt that EventBridge retries, while
      the endpoint still processes the message when its latency ends: a duplicate when a retry
      succeeds too (AWS Knowledge Center, "EventBridge API destination target failure").

Not modelled:
    * Client-side errors (they belong to the subscription: ``client_error_rate``), email
      bounces and SMS carrier delivery reports.
    * API destination connections (authorization), HTTP status codes other than 5xx and 429,
      a 5xx that comes after the endpoint's latency (it comes at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.config.endpoint import ApiDestinationSpec, EndpointSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.message import Message, Pair
from sim.engine.ports import TIMEOUT, Attempt, Plan, Reply
from sim.engine.samplers import is_zero, make_sampler
from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring

__all__ = ["ApiDestination", "Endpoint", "EndpointPort"]

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
        #: the endpoint as an EventBridge API destination (used by rule targets only)
        self.api_destination = ApiDestination(self, spec.api_destination)

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
        self.process_after(pair, self.response_latency(self.env.now))

    def response_latency(self, t_s: float) -> float:
        """Draw the latency of a request arriving at ``t_s`` (× a ``slow`` outage's factor)."""
        latency = self._latency() if self._latency is not None else 0.0
        if self._has_outages:
            latency *= self.ctx.faults.slow_factor(self.name, t_s)
        return latency

    def process_after(self, pair: Pair, latency: float) -> None:
        """A message arrived now: it is processed ``latency`` seconds later."""
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


class ApiDestination:
    """The endpoint as an EventBridge API destination: its rate limit and EventBridge's timeout.

    A live retry target (:class:`sim.engine.ports.LiveTarget`): each attempt is made now.
    """

    def __init__(self, endpoint: Endpoint, spec: ApiDestinationSpec) -> None:
        self.endpoint = endpoint
        self.timeout_s = spec.timeout_s
        rate = spec.invocation_rate_limit_per_s
        self._bucket = TokenBucket(rate, rate)

    def failing_until(self, t_s: float) -> float | None:
        """End of the endpoint's outage at ``t_s``."""
        return self.endpoint.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every request fails."""
        return self.endpoint.always_fails()

    def try_deliver(self, msg: Message, plan: Plan, pairs: list[Pair]) -> Attempt:
        """One invocation now: throttled over the rate limit, a 5xx, a timeout or delivered.

        A timed-out request is answered (as a failure) after ``timeout_s``; the endpoint
        processes it anyway when its latency ends, as a copy of the pair of its own.
        """
        ep = self.endpoint
        now = ep.env.now
        pair = pairs[0]
        if not self._bucket.take(now):
            self._log(now, "throttled", msg)
            return THROTTLED, 0.0
        if ep.attempt_fails(now):
            self._log(now, "failed", msg)
            return UNAVAILABLE, 0.0
        latency = ep.response_latency(now)
        if latency > self.timeout_s:
            self._log(now, "timeout", msg)
            ep.ledger.copy(pair)  # the work goes on at the endpoint
            ep.process_after(pair, latency)
            return TIMEOUT, self.timeout_s
        ep.process_after(pair, latency)
        return None, 0.0

    def _log(self, now: float, event: str, msg: Message) -> None:
        if self.endpoint._trace is not None:
            self.endpoint.ledger.log(now, self.endpoint.name, event, msg.id)


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
