"""The HTTP API spec: a third-party or internal HTTP service that handlers call synchronously."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, PosFloat, Spec, const_dist
from sim.config.problems import ASSUMPTION, CHOICE, Source, Why

__all__ = ["HttpApiSpec", "RateLimitSpec"]

_ONE_REQUEST = Why("an API must serve at least one request at a time")


class RateLimitSpec(Spec):
    """A token bucket: ``rate_per_s`` tokens per second, at most ``burst`` stored (full at 0).

    A request that finds the bucket empty is answered 429 (throttled).
    """

    fields_source: ClassVar[Source] = CHOICE

    rate_per_s: PosFloat
    burst: Annotated[int, Field(ge=1)]


class HttpApiSpec(Spec):
    """An HTTP API (a dependency): a concurrency limit, a rate limit, latency and errors.

    A request beyond ``max_concurrency`` requests in flight (null: unlimited) or beyond the
    ``rate_limit`` is answered 429 at once. An admitted request holds its concurrency slot for
    its ``latency_s`` (× the factor of a ``slow`` outage) and is then answered; ``errors.rate``
    makes that answer a retriable server error (5xx). The default latency, 100 ms, is an
    assumption (a typical HTTP round trip to a service in the same Region; nothing documents
    one for an arbitrary API).
    """

    fields_source: ClassVar[Source] = CHOICE

    type: Literal["http_api"]
    max_concurrency: Annotated[int, Field(ge=1), _ONE_REQUEST] | None = None
    rate_limit: RateLimitSpec | None = None
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.1)
