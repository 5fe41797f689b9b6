"""The API Gateway spec.

Token-bucket throttling, the 29 s integration timeout and the 10 MB payload limit.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, PosFloat, Spec, const_dist
from sim.config.problems import ASSUMPTION, AWS, AWS_RANGE, CHOICE, Source

__all__ = ["ApiGatewaySpec"]


class ApiGatewaySpec(Spec):
    """An API Gateway REST API in front of ``integration`` (an s3_bucket or a lambda_function).

    A token bucket of ``rate_per_s`` tokens per second holding at most ``burst`` answers a
    request 429 when empty (AWS account defaults 10,000/s and 5,000). A request larger than
    ``max_payload_bytes`` (10 MB) is answered 413. The integration is called synchronously;
    when it has not answered within ``timeout_s`` (29 s) the client gets 504 while the
    integration goes on. ``errors.rate``/outages fail a request at the gateway (5xx);
    ``latency_s`` is the gateway's own overhead.
    """

    fields_source: ClassVar[Source] = AWS

    type: Literal["api_gateway"]
    integration: Annotated[str, CHOICE]
    rate_per_s: PosFloat = 10_000.0
    burst: Annotated[int, Field(ge=1)] = 5_000
    timeout_s: Annotated[float, Field(ge=0.05, le=300), AWS_RANGE] = 29.0
    max_payload_bytes: Annotated[int, Field(ge=1, le=10_485_760), AWS_RANGE] = 10_485_760
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
