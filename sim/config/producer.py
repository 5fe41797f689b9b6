"""The producer spec.

Arrivals (Poisson, profiles, bursts, traces), message attributes, groups, resends and SDK
retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.config.common import RetrySpec
from sim.config.fields import (
    DistSpec,
    NonNegFloat,
    PosInt,
    Prob,
    Spec,
    read_column,
)
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    CHOICE,
    FROM_FILE,
    MISSING,
    NO_VALUE,
    RelProblem,
    Source,
    Why,
    invalid_all_error,
    invalid_error,
    show,
)
from sim.config.rate_series import RateSeriesSpec

__all__ = [
    "ArrivalsSpec",
    "AttributeSpec",
    "BatchSpec",
    "BurstSpec",
    "ChoiceAttr",
    "ChoiceSpec",
    "ProducerSpec",
    "ProfileStep",
    "RateSeriesSpec",
    "ResendSpec",
    "Scalar",
    "TraceSpec",
]


class ProfileStep(Spec):
    """From ``start_s`` on, Poisson arrivals at ``rate_per_s`` (until the next step)."""

    fields_source: ClassVar[Source] = CHOICE

    start_s: NonNegFloat
    rate_per_s: NonNegFloat


class BurstSpec(Spec):
    """``count`` extra messages at ``at_s``, spread uniformly over ``spread_s``."""

    fields_source: ClassVar[Source] = CHOICE

    at_s: NonNegFloat
    count: PosInt
    spread_s: NonNegFloat = 0.0


class TraceSpec(Spec):
    """Arrival times replayed from column ``column`` of ``file`` (or a single-column file)."""

    fields_source: ClassVar[Source] = CHOICE

    file: str
    column: str = "t_s"
    times: Annotated[tuple[NonNegFloat, ...], Field(min_length=1), FROM_FILE]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "times" not in data:
            column = data.get("column", "t_s")
            column = column if isinstance(column, str) else "t_s"
            return {**data, "times": read_column(data.get("file"), column, info)}
        return data

    @field_validator("times")
    @classmethod
    def _sort(cls, times: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(sorted(times))


class ArrivalsSpec(Spec):
    """Arrivals other than a constant Poisson rate, plus bursts.

    One of a rate profile, a trace of arrival times and a rate series, and any bursts.
    """

    fields_source: ClassVar[Source] = CHOICE

    profile: Annotated[tuple[ProfileStep, ...], Field(min_length=1)] | None = None
    bursts: tuple[BurstSpec, ...] = ()
    trace: TraceSpec | None = None
    rate_series: RateSeriesSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> ArrivalsSpec:
        problems: list[RelProblem] = []
        given = [n for n in ("profile", "trace", "rate_series") if getattr(self, n) is not None]
        for name in given[1:]:
            why = f"not allowed with {given[0]}: give one of profile, trace and rate_series"
            problems.append(((name,), NO_VALUE, why))
        if self.profile:
            if self.profile[0].start_s != 0:
                problems.append((("profile", 0, "start_s"), self.profile[0].start_s,
                                 "the first profile step must start at 0"))  # fmt: skip
            for i, (prev, step) in enumerate(pairwise(self.profile)):
                if step.start_s <= prev.start_s:
                    problems.append((("profile", i + 1, "start_s"), step.start_s,
                                     f"must be > the previous step's start_s "
                                     f"({show(prev.start_s)})"))  # fmt: skip
        if problems:
            raise invalid_all_error(problems)
        return self


Scalar = str | int | float | bool


class ChoiceSpec(Spec):
    """One of ``values``, with probabilities proportional to ``weights`` (equal if omitted)."""

    fields_source: ClassVar[Source] = CHOICE

    values: Annotated[tuple[Scalar, ...], Field(min_length=1)]
    weights: tuple[NonNegFloat, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> ChoiceSpec:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise invalid_error(f"must have one weight per value ({len(self.values)})",
                               ("weights",), self.weights)  # fmt: skip
            if sum(self.weights) <= 0:
                raise invalid_error("must not all be 0", ("weights",), self.weights)
        return self


class ChoiceAttr(Spec):
    """An attribute drawn from a :class:`ChoiceSpec` (``{choice: {values, weights}}``)."""

    fields_source: ClassVar[Source] = CHOICE

    choice: ChoiceSpec


def _attribute_kind(value: Any) -> str | None:
    if isinstance(value, str | int | float | bool):
        return "constant"
    if isinstance(value, ChoiceAttr) or (isinstance(value, Mapping) and "choice" in value):
        return "choice"
    if isinstance(value, BaseModel | Mapping):
        return "distribution"
    return None


#: A message attribute: a constant, ``{choice: {values, weights}}`` or a distribution mapping.
AttributeSpec = Annotated[
    Annotated[Scalar, Tag("constant")]
    | Annotated[ChoiceAttr, Tag("choice")]
    | Annotated[DistSpec, Tag("distribution")],
    Discriminator(
        _attribute_kind,
        custom_error_type="attribute",
        custom_error_message="must be a constant, {choice: {values, weights}} or a distribution",
    ),
]


class ResendSpec(Spec):
    """With probability ``rate`` the application sends a message again ``delay_s`` later."""

    fields_source: ClassVar[Source] = ASSUMPTION

    rate: Prob = 0.0
    delay_s: NonNegFloat = 1.0


class BatchSpec(Spec):
    """Batched sends: up to ``size`` messages per request.

    A batch is sent when full or ``linger_s`` after its first message joined it.
    SendMessageBatch, PublishBatch and PutEvents take up to 10 entries per request (AWS), and
    262,144 bytes in all: a batch that a message would take past it is sent first. ``linger_s``
    is how long a batch waits for more messages: 0.2 s is the ``maxBatchOpenMs`` default of the
    AWS SDK for Java's buffered SQS client.
    """

    fields_source: ClassVar[Source] = AWS

    size: Annotated[int, Field(ge=1, le=10), AWS_RANGE] = 10
    linger_s: Annotated[NonNegFloat, Source("AWS", "the SDK for Java's buffered client")] = 0.2


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _one_or_many(schema: dict[str, Any]) -> None:
    """The JSON Schema of a list that one name may stand for (what :func:`_as_tuple` accepts)."""
    as_list = dict(schema)
    schema.clear()
    schema["anyOf"] = [as_list.get("items", {}), as_list]


# --------------------------------------------------------------------------- components


class ProducerSpec(Spec):
    """An application sending messages (Poisson ``rate_per_s`` and/or ``arrivals``).

    ``batch`` sends messages in batches (SendMessageBatch, PublishBatch, multi-entry PutEvents)
    instead of one request each. A batch request, like PutEvents even with one entry, answers
    per entry: an entry can fail (its target's ``errors.rate``, or its message group's
    partition limit on a high-throughput FIFO queue) inside a successful response, and the SDK
    does not resend it. With ``resend_failed_entries`` (AWS's advice: check the failed entries
    and include them in a later request) the producer resends the failed entries of a response
    after a backoff, as its retry policy would (``retry``: attempts, backoff, quota); without
    it, failed entries are lost.
    """

    fields_source: ClassVar[Source] = CHOICE

    type: Literal["producer"]
    rate_per_s: Annotated[float, Field(gt=0), Why("messages per second")] | None = None
    arrivals: ArrivalsSpec | None = None
    send_to: Annotated[
        tuple[str, ...],
        Field(min_length=1, json_schema_extra=_one_or_many),
        BeforeValidator(_as_tuple),
    ]
    retry: Annotated[RetrySpec, AWS] = Field(default_factory=RetrySpec)
    groups: PosInt = 1
    dedup_ids: Literal["unique", "content"] = "unique"
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    resend: Annotated[ResendSpec, ASSUMPTION] = Field(default_factory=ResendSpec)
    batch: BatchSpec | None = None
    resend_failed_entries: Annotated[
        bool, Source("AWS", "AWS's advice to callers; false models a client that ignores it")
    ] = True
    size_bytes: Annotated[
        int, Field(ge=1, le=1_048_576), AWS_RANGE,
        Source("assumption", "the default; the range is AWS's maximum message size"),
    ] = 1024  # fmt: skip

    @model_validator(mode="after")
    def _check(self) -> ProducerSpec:
        problems: list[RelProblem] = []
        arr = self.arrivals
        has_arrivals = arr is not None and bool(
            arr.profile or arr.trace or arr.rate_series or arr.bursts
        )
        if self.rate_per_s is None and not has_arrivals:
            problems.append((("rate_per_s",), MISSING, "give rate_per_s or arrivals (profile, "
                             "trace, rate_series or bursts)"))  # fmt: skip
        if self.rate_per_s is not None and arr is not None:
            for name in ("profile", "trace", "rate_series"):
                if getattr(arr, name) is not None:
                    why = "not allowed with rate_per_s; give one or the other"
                    problems.append((("arrivals", name), NO_VALUE, why))
        for i, target in enumerate(self.send_to):
            if target in self.send_to[:i]:
                problems.append((("send_to", i), target, "repeated; each target appears once"))
        if problems:
            raise invalid_all_error(problems)
        return self
