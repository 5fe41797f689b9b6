"""Component specs: the producer, SQS queue and Lambda function models, their parts and outages.

One frozen model per component ``type`` (:data:`sim.specs_sns.ComponentSpec` is the union,
discriminated on ``type``), with AWS's defaults and ranges (see :mod:`sim.config` for the file
format). Each model checks the rules that concern it alone (e.g. FIFO queues allow no
duplicates); rules that span components live in :mod:`sim.scenario`.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Annotated, Any, Literal

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

from sim.config_errors import _AWS, _MISSING, _NO_VALUE, _invalid, _invalid_all, _Rel, _show, _Why
from sim.dist_specs import (
    DistSpec,
    NonNegFloat,
    PosFloat,
    PosInt,
    Prob,
    _const,
    _read_column,
    _Spec,
)

__all__ = [
    "ArrivalsSpec", "AsyncSpec", "AttributeSpec", "BurstSpec", "ChoiceAttr", "ChoiceSpec",
    "ColdStartSpec", "DeadLetterSpec", "ErrorsSpec", "FunctionErrorsSpec",
    "LambdaFunctionSpec", "OutageSpec", "ProducerSpec", "ProfileStep", "RedriveSpec",
    "ResendSpec", "RetrySpec", "Scalar", "SqsQueueSpec", "TraceSpec", "TriggerSpec",
]  # fmt: skip

# --------------------------------------------------------------------------- component helpers


class ErrorsSpec(_Spec):
    """Independent failure probability of each request."""

    rate: Prob = 0.0


class FunctionErrorsSpec(_Spec):
    """``rate``: a message fails, per message and attempt; ``poison_rate``: fails every attempt."""

    rate: Prob = 0.0
    poison_rate: Prob = 0.0


class RetrySpec(_Spec):
    """AWS SDK client retry: ``max_attempts`` in all, full-jitter backoff base..cap.

    ``mode: standard`` retries throttling (429) and server errors (5xx); ``adaptive`` also
    rate-limits the client after a throttling answer (a CUBIC-style client-side token bucket,
    see :mod:`sim.services.producer`).
    """

    max_attempts: PosInt = 3
    base_s: PosFloat = 1.0
    cap_s: PosFloat = 20.0
    mode: Literal["standard", "adaptive"] = "standard"

    @model_validator(mode="after")
    def _check(self) -> RetrySpec:
        if self.cap_s < self.base_s:
            raise _invalid(f"must be ≥ base_s ({_show(self.base_s)})", ("cap_s",), self.cap_s)
        return self


class ProfileStep(_Spec):
    """From ``start_s`` on, Poisson arrivals at ``rate_per_s`` (until the next step)."""

    start_s: NonNegFloat
    rate_per_s: NonNegFloat


class BurstSpec(_Spec):
    """``count`` extra messages at ``at_s``, spread uniformly over ``spread_s``."""

    at_s: NonNegFloat
    count: PosInt
    spread_s: NonNegFloat = 0.0


class TraceSpec(_Spec):
    """Arrival times replayed from column ``column`` of ``file`` (or a single-column file)."""

    file: str
    column: str = "t_s"
    times: Annotated[tuple[NonNegFloat, ...], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "times" not in data:
            column = data.get("column", "t_s")
            column = column if isinstance(column, str) else "t_s"
            return {**data, "times": _read_column(data.get("file"), column, info)}
        return data

    @field_validator("times")
    @classmethod
    def _sort(cls, times: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(sorted(times))


class ArrivalsSpec(_Spec):
    """Arrivals other than a constant Poisson rate: a rate profile or a trace, plus bursts."""

    profile: Annotated[tuple[ProfileStep, ...], Field(min_length=1)] | None = None
    bursts: tuple[BurstSpec, ...] = ()
    trace: TraceSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> ArrivalsSpec:
        problems: list[_Rel] = []
        if self.profile is not None and self.trace is not None:
            problems.append((("trace",), _NO_VALUE, "profile and trace are mutually exclusive"))
        if self.profile:
            if self.profile[0].start_s != 0:
                problems.append((("profile", 0, "start_s"), self.profile[0].start_s,
                                 "the first profile step must start at 0"))  # fmt: skip
            for i, (prev, step) in enumerate(pairwise(self.profile)):
                if step.start_s <= prev.start_s:
                    problems.append((("profile", i + 1, "start_s"), step.start_s,
                                     f"must be > the previous step's start_s "
                                     f"({_show(prev.start_s)})"))  # fmt: skip
        if problems:
            raise _invalid_all(problems)
        return self


Scalar = str | int | float | bool


class ChoiceSpec(_Spec):
    """One of ``values``, with probabilities proportional to ``weights`` (equal if omitted)."""

    values: Annotated[tuple[Scalar, ...], Field(min_length=1)]
    weights: tuple[NonNegFloat, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> ChoiceSpec:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise _invalid(f"must have one weight per value ({len(self.values)})",
                               ("weights",), self.weights)  # fmt: skip
            if sum(self.weights) <= 0:
                raise _invalid("must not all be 0", ("weights",), self.weights)
        return self


class ChoiceAttr(_Spec):
    """An attribute drawn from a :class:`ChoiceSpec` (``{choice: {values, weights}}``)."""

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


class ResendSpec(_Spec):
    """With probability ``rate`` the application sends a message again ``delay_s`` later."""

    rate: Prob = 0.0
    delay_s: NonNegFloat = 1.0


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


# --------------------------------------------------------------------------- components


class ProducerSpec(_Spec):
    """An application sending messages (Poisson ``rate_per_s`` and/or ``arrivals``)."""

    type: Literal["producer"]
    rate_per_s: Annotated[float, Field(gt=0), _Why("messages per second")] | None = None
    arrivals: ArrivalsSpec | None = None
    send_to: Annotated[tuple[str, ...], Field(min_length=1), BeforeValidator(_as_tuple)]
    retry: RetrySpec = Field(default_factory=RetrySpec)
    groups: PosInt = 1
    dedup_ids: Literal["unique", "content"] = "unique"
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    resend: ResendSpec = Field(default_factory=ResendSpec)
    size_bytes: Annotated[int, Field(ge=1, le=1_048_576), _AWS] = 1024

    @model_validator(mode="after")
    def _check(self) -> ProducerSpec:
        problems: list[_Rel] = []
        arr = self.arrivals
        has_arrivals = arr is not None and bool(arr.profile or arr.trace or arr.bursts)
        if self.rate_per_s is None and not has_arrivals:
            problems.append((("rate_per_s",), _MISSING,
                             "give rate_per_s or arrivals (profile, trace or bursts)"))  # fmt: skip
        if self.rate_per_s is not None and arr is not None:
            for name in ("profile", "trace"):
                if getattr(arr, name) is not None:
                    why = "not allowed with rate_per_s; give one or the other"
                    problems.append((("arrivals", name), _NO_VALUE, why))
        for i, target in enumerate(self.send_to):
            if target in self.send_to[:i]:
                problems.append((("send_to", i), target, "repeated; each target appears once"))
        if problems:
            raise _invalid_all(problems)
        return self


class DeadLetterSpec(_Spec):
    """Redrive policy: after ``max_receive_count`` receives a message moves to ``target``."""

    target: str
    max_receive_count: Annotated[int, Field(ge=1, le=1000), _AWS]


class RedriveSpec(_Spec):
    """A DLQ redrive (StartMessageMoveTask) back to the source queue(s), starting at ``at_s``."""

    at_s: NonNegFloat
    rate_per_s: Annotated[float, Field(gt=0, le=500), _AWS] = 500.0


class SqsQueueSpec(_Spec):
    """An SQS queue (standard, or FIFO with ``fifo: true``).

    ``max_calls_per_s`` limits API calls per second per action; ``None`` means the AWS default
    for the queue type (see :attr:`calls_per_s_limit`).
    """

    type: Literal["sqs_queue"]
    fifo: bool = False
    visibility_timeout_s: Annotated[float, Field(ge=0, le=43_200), _AWS] = 30.0
    retention_s: Annotated[float, Field(ge=60, le=1_209_600), _AWS] = 345_600.0
    delay_s: Annotated[float, Field(ge=0, le=900), _AWS] = 0.0
    dead_letter: DeadLetterSpec | None = None
    content_based_dedup: bool = False
    duplicate_rate: Prob = 0.0
    reorder_rate: Prob = 0.0
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = _const(0.0)
    max_calls_per_s: Annotated[float, Field(gt=0)] | None = None
    redrives: tuple[RedriveSpec, ...] = ()

    @property
    def calls_per_s_limit(self) -> float | None:
        """API calls per second per action: 300 for FIFO, unlimited (None) for standard."""
        if self.max_calls_per_s is not None:
            return self.max_calls_per_s
        return 300.0 if self.fifo else None

    @model_validator(mode="after")
    def _check(self) -> SqsQueueSpec:
        problems: list[_Rel] = []
        if self.content_based_dedup and not self.fifo:
            problems.append((("content_based_dedup",), True,
                             "only allowed on a FIFO queue (fifo: true); AWS rejects it on a "
                             "standard queue"))  # fmt: skip
        for name in ("duplicate_rate", "reorder_rate"):
            if self.fifo and getattr(self, name) > 0:
                problems.append(((name,), getattr(self, name),
                                 "must be 0 on a FIFO queue: FIFO queues deliver exactly once, "
                                 "in order"))  # fmt: skip
        if problems:
            raise _invalid_all(problems)
        return self


class TriggerSpec(_Spec):
    """An SQS event source mapping (the Lambda poller of queue ``source``).

    ``initial_concurrency``, ``scale_up_per_min`` and ``max_batches`` describe the poller
    scaling AWS documents: 5 concurrent batches at first, up to 300 more per minute, at most
    1000 (or ``max_concurrency`` when set).
    """

    source: str
    batch_size: Annotated[int, Field(ge=1, le=10_000), _AWS] = 10
    batching_window_s: Annotated[float, Field(ge=0, le=300), _AWS] = 0.0
    max_concurrency: Annotated[
        int, Field(ge=1, le=1000),
        _Why("AWS range is 2–1000; 1 is accepted, with a warning, as an idealised setting"),
    ] | None = None  # fmt: skip
    report_batch_item_failures: bool = False
    poll_delay_s: DistSpec = _const(0.0)
    initial_concurrency: PosInt = 5
    scale_up_per_min: PosFloat = 300.0
    max_batches: PosInt = 1000


class ColdStartSpec(_Spec):
    """Cold start of a new execution environment, kept warm ``keep_alive_s`` after use.

    AWS documents cold starts from under 100 ms to over 1 s and no keep-alive time: both
    defaults are unconfirmed modelling parameters.
    """

    duration_s: DistSpec = _const(0.25)
    keep_alive_s: NonNegFloat = 600.0


class AsyncSpec(_Spec):
    """Asynchronous invocation: retries, maximum event age and the on-failure destination.

    ``duplicate_rate`` is the probability that an event is invoked once more after a success
    (AWS documents duplicates but no rate: 0 by default).
    """

    max_retries: Annotated[int, Field(ge=0, le=2), _AWS] = 2
    max_event_age_s: Annotated[float, Field(ge=60, le=21_600), _AWS] = 21_600.0
    on_failure: str | None = None
    duplicate_rate: Prob = 0.0


class LambdaFunctionSpec(_Spec):
    """A Lambda function; ``trigger`` makes it the consumer of an SQS queue.

    ``duration_s`` is one invocation whatever its batch size; ``duration_per_message_s`` is added
    per message of the batch.
    """

    type: Literal["lambda_function"]
    trigger: TriggerSpec | None = None
    duration_s: DistSpec = _const(0.1)
    duration_per_message_s: DistSpec = _const(0.0)
    timeout_s: Annotated[float, Field(ge=1, le=900), _AWS] = 3.0
    reserved_concurrency: Annotated[int, Field(ge=0, le=1000), _AWS] | None = None
    memory_mb: Annotated[int, Field(ge=128, le=10_240), _AWS] = 128
    cold_start: ColdStartSpec = Field(default_factory=ColdStartSpec)
    errors: FunctionErrorsSpec = Field(default_factory=FunctionErrorsSpec)
    async_: AsyncSpec = Field(default_factory=AsyncSpec, alias="async")


class OutageSpec(_Spec):
    """``component`` fails in ``mode`` during [start_s, start_s + duration_s).

    ``slow`` multiplies latency by ``factor``.
    """

    component: str
    start_s: NonNegFloat
    duration_s: PosFloat
    mode: Literal["unavailable", "slow", "throttled"] = "unavailable"
    factor: Annotated[float, Field(ge=1)] = 10.0
