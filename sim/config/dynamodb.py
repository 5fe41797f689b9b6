"""The DynamoDB table spec: capacity mode, provisioned units and burst, on-demand scaling."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, NonNegFloat, Spec, const_dist
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    MISSING,
    RelProblem,
    Source,
    Why,
    invalid_all_error,
)

__all__ = ["DynamoDbTableSpec"]

_BURST = Why("at least one second of capacity; DynamoDB retains up to 300 s")


class DynamoDbTableSpec(Spec):
    """A DynamoDB table that handlers call (GetItem, PutItem) synchronously.

    ``capacity_mode: provisioned`` needs ``read_capacity_units`` and ``write_capacity_units``
    (whole numbers ≥ 1, as AWS's ``ProvisionedThroughput``); a token bucket per kind refills at
    that many units per second and holds ``burst_s`` seconds of them (300 s: DynamoDB retains up
    to five minutes of unused capacity), full at the start. ``capacity_mode: on_demand`` (the
    default) takes no units: AWS rejects ``ProvisionedThroughput`` on a pay-per-request table,
    and so does evsim. It accommodates up to twice the previous peak at once and scales to a
    higher level ``scale_delay_s`` after it is first offered (AWS: throttling may occur above
    double the previous peak within 30 minutes), up to ``max_read_request_units`` and
    ``max_write_request_units`` per second (the default table quota, 40,000 each).
    ``burst_s`` is ignored on demand, ``scale_delay_s`` and the maxima when provisioned.

    ``latency_s`` (default 5 ms, an assumption: AWS states "single-digit millisecond" latency
    and publishes no distribution) is the time to answer a request; ``errors.rate`` the
    probability that a request fails with a server error.
    """

    fields_source: ClassVar[Source] = AWS

    type: Literal["dynamodb_table"]
    capacity_mode: Literal["on_demand", "provisioned"] = "on_demand"
    read_capacity_units: Annotated[int, Field(ge=1), AWS_RANGE] | None = None
    write_capacity_units: Annotated[int, Field(ge=1), AWS_RANGE] | None = None
    burst_s: Annotated[
        float, Field(ge=1), _BURST, Source("AWS", "300 s; full at the start is an assumption")
    ] = 300.0
    scale_delay_s: Annotated[
        NonNegFloat, Source("AWS", "within 30 minutes; the mechanism is an assumption")
    ] = 1800.0
    max_read_request_units: Annotated[int, Field(ge=1)] = 40_000
    max_write_request_units: Annotated[int, Field(ge=1)] = 40_000
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.005)

    @model_validator(mode="after")
    def _check(self) -> DynamoDbTableSpec:
        problems: list[RelProblem] = []
        for name in ("read_capacity_units", "write_capacity_units"):
            value = getattr(self, name)
            if self.capacity_mode == "provisioned" and value is None:
                problems.append(((name,), MISSING, "required with capacity_mode: provisioned "
                                 "(a whole number of units per second, ≥ 1)"))  # fmt: skip
            elif self.capacity_mode == "on_demand" and value is not None:
                why = ("only with capacity_mode: provisioned; AWS rejects provisioned "
                       "throughput on an on-demand table")
                problems.append(((name,), value, why))
        if problems:
            raise invalid_all_error(problems)
        return self
