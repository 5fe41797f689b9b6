"""The endpoint spec: an HTTP(S), email or SMS receiver with its errors and latency."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, PosFloat, Spec, const_dist
from sim.config.problems import ASSUMPTION, AWS, AWS_RANGE, CHOICE, Source

__all__ = ["ApiDestinationSpec", "EndpointSpec"]


class ApiDestinationSpec(Spec):
    """How EventBridge reaches the endpoint as an API destination (rule targets only).

    ``invocation_rate_limit_per_s`` is the destination's ``InvocationRateLimitPerSecond``
    (1–300, per destination, shared by every rule that targets it): a delivery over it is
    held back and retried under the target's retry policy. AWS gives the range; the default
    of 300 is unconfirmed. ``timeout_s`` is how long EventBridge waits for the answer (5 s,
    from an AWS Knowledge Center article, not an API parameter): a slower answer is a failed
    attempt, retried, while the endpoint may still do the work (a duplicate).
    """

    invocation_rate_limit_per_s: Annotated[
        float, Field(ge=1, le=300), AWS_RANGE,
        Source("AWS", "the range; the default of 300 is unconfirmed"),
    ] = 300.0  # fmt: skip
    timeout_s: Annotated[
        PosFloat, Source("AWS", "an AWS Knowledge Center article; not a setting on AWS")
    ] = 5.0


class EndpointSpec(Spec):
    """A terminal receiver (an email inbox, an HTTP service, a phone): a sink.

    ``errors.rate`` is the probability that one delivery attempt fails (a server-side error,
    retried by the sender); ``latency_s`` is the time from delivery to processed (for an HTTP
    endpoint behind an EventBridge rule, the time to its answer, which ``api_destination``
    bounds).
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    type: Literal["endpoint"]
    protocol: Annotated[Literal["email", "email-json", "http", "https", "sms"], CHOICE] = "http"
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = const_dist(0.0)
    api_destination: Annotated[ApiDestinationSpec, AWS] = Field(
        default_factory=ApiDestinationSpec
    )
