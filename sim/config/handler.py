"""What a function's handler does besides running: the messages it emits and the calls it makes.

One attempt at one input message runs: cold start (if any), the function's own ``duration_s``,
its ``calls`` in order, its ``outputs`` in order, then the ``errors.rate`` decision (after the
side effects unless ``errors.after_side_effects`` is false). See ``docs/scenario.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from sim.config.common import RetrySpec
from sim.config.fields import DistSpec, NonNegInt, PosFloat, PosInt, Spec
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    CHOICE,
    MISSING,
    Source,
    Why,
    invalid_error,
)
from sim.config.producer import AttributeSpec, ChoiceSpec

__all__ = [
    "CallSpec", "CircuitBreakerSpec", "CountChoice", "CountSpec", "IdempotencySpec", "OutputSpec",
]  # fmt: skip


class CountChoice(Spec):
    """A count drawn from ``{choice: {values, weights}}`` (values must be whole numbers ≥ 0)."""

    fields_source: ClassVar[Source] = CHOICE

    choice: ChoiceSpec

    @model_validator(mode="after")
    def _check(self) -> CountChoice:
        for v in self.choice.values:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise invalid_error("must be whole numbers ≥ 0", ("choice", "values"), v)
        return self


def _count_kind(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return "constant"
    if isinstance(value, CountChoice) or (isinstance(value, Mapping) and "choice" in value):
        return "choice"
    if isinstance(value, BaseModel | Mapping):
        return "distribution"
    return None


#: How many messages an output emits per input: a whole number ≥ 0, ``{choice: ...}``, or a
#: distribution whose draw is rounded to the nearest whole number (negative draws give 0).
CountSpec = Annotated[
    Annotated[NonNegInt, Tag("constant")]
    | Annotated[CountChoice, Tag("choice")]
    | Annotated[DistSpec, Tag("distribution")],
    Discriminator(
        _count_kind,
        custom_error_type="count",
        custom_error_message="must be a whole number ≥ 0, {choice: {values, weights}} or a "
        "distribution",
    ),
]


class OutputSpec(Spec):
    """Derived messages sent to ``to`` on every attempt that reaches the handler's sends.

    ``count`` per input message (default 1; 0 allowed). ``attributes`` are drawn like a
    producer's; ``from_input`` copies the named attributes of the input message (drawn ones
    win on a clash). ``groups`` draws a message group among that many (default: the input's
    group); ``size_bytes`` defaults to the input's size. ``retry`` is the SDK policy of the send.
    """

    fields_source: ClassVar[Source] = CHOICE

    to: str
    count: CountSpec = 1
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    from_input: tuple[str, ...] = ()
    groups: PosInt | None = None
    size_bytes: Annotated[int, Field(ge=1, le=1_048_576), AWS_RANGE] | None = None
    retry: Annotated[RetrySpec, AWS] = Field(default_factory=RetrySpec)


class CircuitBreakerSpec(Spec):
    """A circuit breaker on one call entry of a function (a client-library pattern, not AWS's).

    The breaker counts the outcomes of the entry's attempts over a sliding window of the last
    ``window_s`` seconds. When the window holds at least ``min_calls`` outcomes and the
    failures among them (errors, throttles, client timeouts) are at least ``failure_ratio`` of
    them, it opens: for ``open_s`` every attempt fails at once without reaching the dependency.
    Then it is half-open: ``half_open_probes`` attempts go through; once they have all
    succeeded it closes (with an empty window), and any failure among them opens it again.
    AWS Prescriptive Guidance describes the pattern ("Circuit breaker pattern") without numbers:
    ``window_s`` is required; the other defaults are assumptions taken from common client
    libraries (a failure-rate threshold of 50% and 60 s open as Resilience4j's defaults; one
    probe, any failure re-opening, as Helidon's; 10 calls at least as Helidon's window).
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    window_s: Annotated[PosFloat, CHOICE]
    failure_ratio: Annotated[float, Field(gt=0, le=1), Why("a fraction of the calls")] = 0.5
    min_calls: PosInt = 10
    open_s: PosFloat = 60.0
    half_open_probes: PosInt = 1

    @model_validator(mode="before")
    @classmethod
    def _window_required(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "window_s" not in data:
            raise invalid_error(
                "required: the breaker counts call outcomes over a sliding window of this many "
                "seconds (a number > 0)",
                ("window_s",),
                MISSING,
            )
        return data


class CallSpec(Spec):
    """Synchronous calls to the dependency ``dependency``, made for each input message.

    ``count`` calls in a row; each attempt waits at most ``timeout_s`` (the client timeout, a
    number or a distribution; none by default) and is retried with ``retry`` (SDK policy).
    ``op``, ``consistent`` and ``size_kb`` size a DynamoDB request in capacity units.
    ``connection`` (database): ``per_call`` takes a connection for each request (a pool or RDS
    Proxy); ``per_environment`` holds one connection for each warm execution environment from
    its first call until the environment is reclaimed. ``circuit_breaker`` guards the calls of
    this entry (:class:`CircuitBreakerSpec`).
    """

    fields_source: ClassVar[Source] = CHOICE

    dependency: str
    count: PosInt = 1
    op: Annotated[Literal["read", "write"], AWS] = "read"
    consistent: Annotated[bool, AWS] = False
    size_kb: Annotated[PosFloat, AWS] = 1.0
    timeout_s: DistSpec | None = None
    connection: Literal["per_call", "per_environment"] = "per_call"
    retry: Annotated[RetrySpec, AWS] = Field(default_factory=RetrySpec)
    circuit_breaker: CircuitBreakerSpec | None = None


class IdempotencySpec(Spec):
    """An idempotent handler: an input processed successfully within ``window_s`` is skipped.

    A skipped message makes no calls and emits nothing; it is acknowledged at once, counted as
    an attempt at the sink but not as a processing (so not as a duplicate). The record of
    processed messages is kept by the application (a DynamoDB table, say); its own cost and
    latency are not modelled.
    """

    window_s: Annotated[PosFloat, CHOICE] = 3600.0
