"""An HTTP API that handlers call: a concurrency limit, a rate limit, latency and errors.

Modelled:
    * A token bucket (``rate_limit``: ``rate_per_s``, ``burst``, full at the start) checked
      first, as an edge rate limiter does: a request that finds it empty is answered 429
      (``"throttled"``) at once. Then the concurrency limit: a request that finds
      ``max_concurrency`` requests in flight is answered 429 at once (it has used its token).
    * An admitted request holds its concurrency slot for its latency (``latency_s`` × the
      factor of a ``slow`` outage at admission) and is answered at the end of it, even if its
      caller timed out or abandoned it meanwhile (that latency is then wasted).
    * ``errors.rate``: the answer is a retriable server error (5xx) instead of success; an
      ``unavailable`` outage answers 5xx at once, a ``throttled`` one 429 at once.

Not modelled:
    * ``Retry-After`` headers, non-retriable client errors (4xx other than 429), payload
      sizes, keep-alive connections, and per-client quotas.
"""

from __future__ import annotations

import math
from typing import Any

from sim.config.http_api import HttpApiSpec
from sim.engine.context import Context
from sim.engine.faults import THROTTLED
from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket
from sim.services.dependency import SERVING, CallHandle, Dependency, Level

__all__ = ["HttpApi"]


class HttpApi(Dependency):
    """A third-party or internal HTTP API (a dependency)."""

    def __init__(self, ctx: Context, name: str, spec: HttpApiSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self.max_concurrency = spec.max_concurrency
        rl = spec.rate_limit
        self._bucket = None if rl is None else TokenBucket(rl.rate_per_s, float(rl.burst))
        self.in_flight = Level(self.warmup_s)

    def _refusal(self, h: CallHandle, now: float) -> str | None:
        bucket = self._bucket
        if bucket is not None and not bucket.take(now):
            return THROTTLED
        limit = self.max_concurrency
        if limit is not None and self.in_flight.level >= limit:
            return THROTTLED
        return None

    def _enter(self, h: CallHandle, now: float) -> None:
        h.state = SERVING
        h.t_start = now
        self.in_flight.change(now, 1)
        call_after(self.env, self._latency_at(now), h._service_done)

    def _end_service(self, h: CallHandle) -> None:
        self.in_flight.change(self.env.now, -1)
        self._served(h)

    def n_serving(self) -> int:
        """Requests in flight now."""
        return self.in_flight.level

    def capacity_used_s(self, now: float) -> float:
        """Request-seconds in flight since ``warmup_s``, ÷ ``max_concurrency`` (NaN: no limit)."""
        limit = self.max_concurrency
        return math.nan if limit is None else self.in_flight.area_at(now) / limit

    def metrics(self) -> dict[str, Any]:
        """Calls, refusals, timeouts, wasted time, utilisation (``docs/metrics.md``).

        Utilisation is requests in flight ÷ ``max_concurrency`` (null when unlimited).
        """
        now = self.env.now
        limit = self.max_concurrency
        mean = self.in_flight.mean(now)
        return {
            **self.call_metrics(),
            "utilization_mean": None if limit is None or mean is None else mean / limit,
            "utilization_max": None if limit is None else self.in_flight.peak / limit,
            "concurrency_max": self.in_flight.peak,
        }
