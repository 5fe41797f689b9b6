"""Spec parts that several services share.

Request errors, SDK retries, retried deliveries (EventBridge and S3 targets) and outages.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    model_validator,
)

from sim.config.fields import (
    NonNegFloat,
    PosFloat,
    PosInt,
    Prob,
    Spec,
)
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    CHOICE,
    Source,
    invalid_all_error,
    invalid_error,
    show,
)

__all__ = ["DeliveryRetrySpec", "ErrorsSpec", "OutageSpec", "RetrySpec"]

# --------------------------------------------------------------------------- component helpers


class ErrorsSpec(Spec):
    """Independent failure probability of each request (AWS publishes no error rates)."""

    fields_source: ClassVar[Source] = ASSUMPTION

    rate: Prob = 0.0


class RetrySpec(Spec):
    """AWS SDK client retry: ``max_attempts`` in all, full-jitter backoff base..cap.

    ``mode: standard`` retries throttling (429) and server errors (5xx); ``adaptive`` also
    rate-limits the client after a throttling answer (a CUBIC-style client-side token bucket,
    see :mod:`sim.services.producer`).
    """

    fields_source: ClassVar[Source] = AWS

    max_attempts: PosInt = 3
    base_s: Annotated[PosFloat, ASSUMPTION] = 1.0
    cap_s: Annotated[PosFloat, ASSUMPTION] = 20.0
    mode: Literal["standard", "adaptive"] = "standard"

    @model_validator(mode="after")
    def _check(self) -> RetrySpec:
        if self.cap_s < self.base_s:
            raise invalid_error(f"must be ≥ base_s ({show(self.base_s)})", ("cap_s",), self.cap_s)
        return self


class OutageSpec(Spec):
    """``component`` fails in ``mode`` during [start_s, start_s + duration_s).

    ``slow`` multiplies latency by ``factor``.
    """

    fields_source: ClassVar[Source] = CHOICE

    component: str
    start_s: NonNegFloat
    duration_s: PosFloat
    mode: Literal["unavailable", "slow", "throttled"] = "unavailable"
    factor: Annotated[float, Field(ge=1), ASSUMPTION] = 10.0


class DeliveryRetrySpec(Spec):
    """A retry policy of EventBridge targets (and of S3's own deliveries).

    ``max_age_s`` is AWS's MaximumEventAgeInSeconds (60–86,400 s, default 24 h) and
    ``max_attempts`` its MaximumRetryAttempts (0–185, default 185): the retries after the
    first attempt. Retry ``i`` (1, 2, ...) waits ``d/2 + U(0, d/2)`` with
    ``d = min(base_s × 2^(i−1), cap_s)`` ("exponential backoff with jitter"). AWS documents
    neither the base, the cap nor the jitter: ``base_s`` (1 s) and ``cap_s`` (600 s) are
    unconfirmed parameters, chosen so that the 185 default retries span about 22 hours, inside
    the 24 h default age.
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    max_age_s: Annotated[float, Field(ge=60, le=86_400), AWS_RANGE] = 86_400.0
    max_attempts: Annotated[int, Field(ge=0, le=185), AWS_RANGE] = 185
    base_s: PosFloat = 1.0
    cap_s: PosFloat = 600.0

    @model_validator(mode="after")
    def _check(self) -> DeliveryRetrySpec:
        if self.cap_s < self.base_s:
            why = f"must be ≥ base_s ({show(self.base_s)})"
            raise invalid_all_error([(("cap_s",), self.cap_s, why)])
        return self
