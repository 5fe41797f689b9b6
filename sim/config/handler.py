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
from sim.config.problems import AWS, AWS_RANGE, CHOICE, Source, invalid_error
from sim.config.producer import AttributeSpec, ChoiceSpec

__all__ = ["CallSpec", "CountChoice", "CountSpec", "IdempotencySpec", "OutputSpec"]


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


class CallSpec(Spec):
    """Synchronous calls to the dependency ``dependency``, made for each input message.

    ``count`` calls in a row; each attempt waits at most ``timeout_s`` (the client timeout, a
    number or a distribution; none by default) and is retried with ``retry`` (SDK policy).
    ``op``, ``consistent`` and ``size_kb`` size a DynamoDB request in capacity units.
    ``connection`` (database): ``per_call`` takes a connection for each request (a pool or RDS
    Proxy); ``per_environment`` holds one connection for each warm execution environment from
    its first call until the environment is reclaimed.
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


class IdempotencySpec(Spec):
    """An idempotent handler: an input processed successfully within ``window_s`` is skipped.

    A skipped message makes no calls and emits nothing; it is acknowledged at once, counted as
    an attempt at the sink but not as a processing (so not as a duplicate). The record of
    processed messages is kept by the application (a DynamoDB table, say); its own cost and
    latency are not modelled.
    """

    window_s: Annotated[PosFloat, CHOICE] = 3600.0
