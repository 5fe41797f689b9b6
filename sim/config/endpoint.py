"""The endpoint spec: an HTTP(S), email or SMS receiver with its errors and latency."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, Spec, const_dist
from sim.config.problems import ASSUMPTION, CHOICE, Source

__all__ = ["EndpointSpec"]


class EndpointSpec(Spec):
    """A terminal receiver (an email inbox, an HTTP service, a phone): a sink.

    ``errors.rate`` is the probability that one delivery attempt fails (a server-side error,
    retried by the sender); ``latency_s`` is the time from delivery to processed.
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    type: Literal["endpoint"]
    protocol: Annotated[Literal["email", "email-json", "http", "https", "sms"], CHOICE] = "http"
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = const_dist(0.0)
