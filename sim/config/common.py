"""Spec parts that several services share.

Request errors, SDK retries, retried deliveries (EventBridge and S3 targets) and outages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    model_validator,
)

from sim.config.fields import (
    NonNegFloat,
    NonNegInt,
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

__all__ = ["DeliveryRetrySpec", "ErrorsSpec", "OutageSpec", "RetryQuotaSpec", "RetrySpec"]

# --------------------------------------------------------------------------- component helpers


class ErrorsSpec(Spec):
    """Independent failure probability of each request (AWS publishes no error rates)."""

    fields_source: ClassVar[Source] = ASSUMPTION

    rate: Prob = 0.0


class RetryQuotaSpec(Spec):
    """The SDK retry quota: a token bucket of ``capacity`` tokens that a client's retries draw on.

    A retry costs ``retry_cost`` tokens (``timeout_retry_cost`` after the client's own timeout);
    with too few tokens left the request fails at once instead of being retried. A request that
    succeeds at its first attempt puts ``success_refund`` tokens back; one that succeeds after
    retries puts back what its last retry cost. The bucket never holds more than ``capacity``.
    AWS documents the bucket of 500 tokens, the retry cost of 5 (10 for a timeout) and that
    successes refill it; the refill amounts are the SDKs' implementation (an assumption).
    """

    fields_source: ClassVar[Source] = AWS

    capacity: PosInt = 500
    retry_cost: PosInt = 5
    timeout_retry_cost: PosInt = 10
    success_refund: Annotated[NonNegInt, ASSUMPTION] = 1


def _quota_shorthand(value: Any) -> Any:
    """``quota``: true (the defaults), false or null (off), a number (the capacity), a mapping."""
    if value is True:
        return {}
    if value is False:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        whole = isinstance(value, int) or (math.isfinite(value) and value.is_integer())
        if not whole or value < 1:
            raise invalid_error(
                "must be a whole number ≥ 1 (the bucket's capacity in tokens; false turns the "
                "quota off)"
            )
        return {"capacity": int(value)}
    if value is not None and not isinstance(value, Mapping | RetryQuotaSpec):
        raise invalid_error("must be true, false, a number (the capacity) or a mapping")
    return value


class RetrySpec(Spec):
    """AWS SDK client retry: ``max_attempts`` in all, exponential backoff base..cap with jitter.

    ``mode: standard`` retries throttling (429) and server errors (5xx); ``adaptive`` also
    rate-limits the client after a throttling answer (a CUBIC-style client-side token bucket,
    see :mod:`sim.services.sdk`). ``jitter`` shapes the sleep before retry ``i`` from
    ``d = min(base_s × 2^(i−1), cap_s)``: ``full`` U(0, d), ``equal`` d/2 + U(0, d/2),
    ``decorrelated`` min(cap_s, U(base_s, 3 × the previous sleep)), ``none`` d. ``quota`` is
    the retry quota (:class:`RetryQuotaSpec`), on by default in both modes; ``false`` turns it
    off and a number sets the bucket's capacity.
    """

    fields_source: ClassVar[Source] = AWS

    max_attempts: PosInt = 3
    base_s: Annotated[PosFloat, ASSUMPTION] = 1.0
    cap_s: Annotated[PosFloat, ASSUMPTION] = 20.0
    mode: Literal["standard", "adaptive"] = "standard"
    jitter: Literal["full", "equal", "decorrelated", "none"] = "full"
    quota: Annotated[RetryQuotaSpec | None, BeforeValidator(_quota_shorthand)] = Field(
        default_factory=RetryQuotaSpec
    )

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
