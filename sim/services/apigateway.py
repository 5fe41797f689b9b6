"""Amazon API Gateway (REST): throttling, payload limit, integration timeout.

Modelled:
    * A token bucket of ``rate_per_s`` tokens per second and capacity ``burst`` (full at the
      start): a request that finds it empty is answered 429 (``throttled``), which the SDK
      client retries. A ``throttled`` outage answers 429 too, an ``unavailable`` one and
      ``errors.rate`` a 5xx.
    * A request whose object is larger than ``max_payload_bytes`` (the ``size_bytes``
      attribute, else the producer's ``size_bytes``) is answered 413, never retried.
    * The integration (an S3 PutObject, a synchronous Lambda invoke) is called after the
      gateway's ``latency_s``; its answer is relayed (a function error is a 502, retriable).
      When it has not answered within ``timeout_s`` the client gets 504 and the integration
      goes on: an object stored or a function run after the timeout still counts, and the
      client's retry may repeat it (a duplicate).
    * Billing: every request that passes throttling is billed (AWS does not bill throttled
      requests). The ledger counts requests and 429 answers (the ``api_requests`` and
      ``api_throttled`` metrics).

Not modelled:
    * Per-method, per-stage and usage-plan throttles (one bucket per API), the Regional
      throttle, caching, authorizers, HTTP APIs' pricing, response latency after the
      integration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.config.apigateway import ApiGatewaySpec
from sim.engine.component import RequestTarget
from sim.engine.context import Context
from sim.engine.faults import THROTTLED
from sim.engine.message import Message, Pair
from sim.engine.ports import CLIENT_ERROR, Plan, Port, Reply
from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket
from sim.services.lambda_ import SyncFunctionPort
from sim.services.s3 import object_size

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring

__all__ = ["ApiGateway"]


class _Call:
    """One integration call: relays the first of its answer and the timeout."""

    __slots__ = ("api", "done", "pairs", "reply")

    def __init__(self, api: ApiGateway, pairs: list[Pair], reply: Reply) -> None:
        self.api = api
        self.pairs = pairs
        self.reply = reply
        self.done = False

    def answer(self, error: str | None) -> None:
        if self.done:  # after the timeout: the integration had its own copies
            if error is not None:
                for pair in self.pairs:
                    self.api.ledger.release(pair)
            return
        self.done = True
        if error is not None:
            self.api.n_failed += 1
        self.reply(error)

    def timeout(self, _: object) -> None:
        if self.done:
            return
        self.done = True
        for pair in self.pairs:  # the integration goes on with copies of its own
            self.api.ledger.copy(pair)
        self.api.n_failed += 1
        if self.api.ledger.trace is not None:
            self.api.ledger.log(self.api.env.now, self.api.name, "timeout", self.pairs[0].msg.id)
        self.reply("timeout")


class ApiGateway(RequestTarget):
    """An API Gateway REST API with one integration."""

    def __init__(self, ctx: Context, name: str, spec: ApiGatewaySpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self._bucket = TokenBucket(spec.rate_per_s, float(spec.burst))
        self._integration: Port | None = None
        self._bill = ctx.cost.counter(name, "apigateway_requests")
        self._trace = ctx.ledger.trace
        #: observation: requests passed to the integration, answered with an error other
        #: than 429, and answered 429
        self.n_sent = 0
        self.n_failed = 0
        self.n_throttled = 0

    def port(self, wiring: Wiring) -> Port:
        """The component is its own port."""
        return self

    def connect(self, wiring: Wiring) -> None:
        """Wire the integration: a function is invoked synchronously, anything else sent to."""
        target = self.spec.integration
        if wiring.is_type(target, "lambda_function"):
            self._integration = SyncFunctionPort(wiring.components[target])
        else:
            self._integration = wiring.ports[target]

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """The integration's plan."""
        assert self._integration is not None
        return self._integration.plan(msg)

    def reachable(self) -> list[str]:
        """The sinks behind the integration."""
        assert self._integration is not None
        return self._integration.reachable()

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """One HTTP request carrying ``msg``."""
        now = self.env.now
        self.ledger.count("api_requests")
        error = self.request_error(now)
        if error is None and not self._bucket.take(now):
            error = THROTTLED
        if error is not None:
            if error == THROTTLED:
                self.n_throttled += 1
                self.ledger.count("api_throttled")
            else:
                self.n_failed += 1
            if self._trace is not None:
                self.ledger.log(now, self.name, error, msg.id)
            reply(error)
            return
        self._bill[0] += 1
        if object_size(msg) > self.spec.max_payload_bytes:
            if self._trace is not None:
                self.ledger.log(now, self.name, "payload_too_large", msg.id)
            self.n_failed += 1
            reply(CLIENT_ERROR)
            return
        self.n_sent += 1
        call = _Call(self, pairs, reply)
        latency = self.request_latency(now)
        if latency <= 0.0:
            self._integrate(call, msg, plan, pairs)
        else:
            call_after(self.env, latency, lambda _: self._integrate(call, msg, plan, pairs))

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """Counts so far, for the time series (``docs/metrics.md``)."""
        return {}, {
            "sent_per_s": self.n_sent,
            "failed_per_s": self.n_failed,
            "throttled_per_s": self.n_throttled,
        }

    def _integrate(self, call: _Call, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        assert self._integration is not None
        call_after(self.env, self.spec.timeout_s, call.timeout)
        self._integration.accept(msg, plan, pairs, call.answer)
