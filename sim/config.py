"""Scenario schema (frozen pydantic models) and YAML loading with clear errors.

A scenario file is YAML (DESIGN.md §4). :func:`load_scenario` reads it, applies ``--set PATH=VALUE``
overrides, validates it into a frozen :class:`Scenario` and emits an :class:`EvsimWarning` for each
setting that is accepted but unrealistic. Nothing runs half-configured: any invalid file raises
one :class:`ScenarioError` whose message has one line per problem,
``{file}: {dotted.field.path}: {offending value!r} — {what is allowed}``.

Semantics:
    * Every field defaults to AWS's documented default; numeric ranges are AWS's ranges, and a
      value outside them is an error that says so. Units are in the field names: ``_s`` seconds of
      simulated time, ``_per_s`` per second, ``_bytes``, ``_mb``; probabilities are in [0, 1].
    * A duration (:data:`DistSpec`) is a number (constant seconds) or a one-key mapping naming
      the family: ``exponential {mean}``, ``lognormal {median, sigma}``, ``uniform {low, high}``,
      ``gamma {mean, cv}``, ``empirical {file}``. Files (empirical samples, arrival traces) are
      resolved against the scenario file's directory and read once, at validation; the numbers
      are stored on the spec, so a validated scenario never reads a file again.
    * Components form a discriminated union on ``type``; references between them (``send_to``,
      ``dead_letter.target``, ``trigger.source``, ``async.on_failure``, outages) are checked, as
      are the FIFO/standard combinations AWS forbids.
    * Variants are made with :meth:`Scenario.with_updates` (dotted paths, a new validated object);
      a scenario is never mutated.

Checked beyond the field ranges:
    * References, one consumer function per queue, DLQ type = source type, FIFO trigger limits
      (batch_size ≤ 10, no batching window), batch_size > 10 needs a batching window ≥ 1,
      timeout_s ≤ the source queue's visibility timeout, FIFO sends need a deduplication id.
    * Duplicate keys in the YAML file (a repeated component would otherwise vanish silently).

Not checked:
    * AWS recommendations (e.g. a visibility timeout of six times the function timeout); only
      hard AWS rules are errors. Numbers are coerced as pydantic's lax mode does (``"3"`` -> 3).
    * Component types of DESIGN.md not built yet (sns_topic, event_bus, s3_bucket, api_gateway,
      cloudtrail, endpoint): they are rejected as "not available yet".
"""

from __future__ import annotations

import copy
import csv
import difflib
import io
import math
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types as at
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from sim.cost import DEFAULT_PRICES

__all__ = [
    "ArrivalsSpec", "AsyncSpec", "AttributeSpec", "BurstSpec", "ChoiceAttr", "ChoiceSpec",
    "ColdStartSpec", "ComponentSpec", "ConstantDist", "DeadLetterSpec", "DistSpec", "Distribution",
    "Duration", "EmpiricalDist", "ErrorsSpec", "EvsimWarning", "ExponentialDist",
    "FunctionErrorsSpec", "GammaDist", "LambdaFunctionSpec", "LognormalDist", "OutageSpec",
    "ProducerSpec", "ProfileStep", "RedriveSpec", "ResendSpec", "RetrySpec", "Scenario",
    "ScenarioError", "SqsQueueSpec", "TraceSpec", "TriggerSpec", "UniformDist",
    "apply_overrides", "load_scenario", "scenario_from_dict", "scenario_warnings",
]  # fmt: skip


# --------------------------------------------------------------------------- errors


class _Sentinel:
    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name

    def __repr__(self) -> str:
        return self.text

    def __reduce__(self) -> str:
        return self.name  # pickled as a reference to the module-level object


_MISSING = _Sentinel("missing", "_MISSING")  # a required value that was not given
_NO_VALUE = _Sentinel("", "_NO_VALUE")  # no single offending value (left out of the line)
_INPUT = _Sentinel("<input>", "_INPUT")  # "the value the validator was given"

#: One problem: (dotted path from the scenario root, offending value, what is allowed).
Problem = tuple[str, Any, str]


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, BaseModel):
        text = repr(value.model_dump(by_alias=True))
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ScenarioError(Exception):
    """An invalid scenario: one line per problem (file, field path, value, what is allowed).

    Attributes:
        file: The scenario file (or the ``source`` label given to :func:`scenario_from_dict`).
        problems: ``(dotted path, offending value, what is allowed)`` per problem.
    """

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        super().__init__("\n".join(self._line(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, list[Problem]]]:
        return type(self), (self.file, self.problems)

    def _line(self, problem: Problem) -> str:
        path, value, allowed = problem
        head = [self.file] + ([path] if path else [])
        head += [] if value is _NO_VALUE else [_show(value)]
        return f"{': '.join(head)} — {allowed}"


class EvsimWarning(UserWarning):
    """A setting that is accepted but is not realistic (e.g. an idealised ``max_concurrency``)."""


_Rel = tuple[tuple[str | int, ...], Any, str]


def _invalid(
    allowed: str, at_: tuple[str | int, ...] = (), value: Any = _INPUT
) -> PydanticCustomError:
    """A validation error carrying its own readable problem(s); see :func:`_problems`."""
    return _invalid_all([(at_, value, allowed)])


def _invalid_all(problems: list[_Rel]) -> PydanticCustomError:
    text = "; ".join(f"{'.'.join(map(str, p)) or '.'}: {a}" for p, _, a in problems)
    return PydanticCustomError("evsim", "{text}", {"text": text, "problems": problems})


@dataclass(frozen=True)
class _Why:
    """Why a numeric bound holds; appended to range errors (``{field}`` is the field's name)."""

    text: str


_AWS = _Why("AWS range for {field}")
_PROB = _Why("a probability")

# --------------------------------------------------------------------------- common field types

Prob = Annotated[float, Field(ge=0, le=1), _PROB]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
PosInt = Annotated[int, Field(ge=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


# --------------------------------------------------------------------------- distributions

_FAMILIES = ("constant", "exponential", "lognormal", "uniform", "gamma", "empirical")
_FAMILIES_HELP = (
    "constant (a number), exponential {mean}, lognormal {median, sigma}, uniform {low, high}, "
    "gamma {mean, cv}, empirical {file}"
)


class ConstantDist(_Spec):
    """Always ``value`` seconds."""

    family: Literal["constant"] = "constant"
    value: NonNegFloat


class ExponentialDist(_Spec):
    """Exponential with mean ``mean`` seconds."""

    family: Literal["exponential"] = "exponential"
    mean: PosFloat


class LognormalDist(_Spec):
    """Lognormal with median ``median`` seconds and log-scale standard deviation ``sigma``."""

    family: Literal["lognormal"] = "lognormal"
    median: PosFloat
    sigma: NonNegFloat


class UniformDist(_Spec):
    """Uniform on [``low``, ``high``] seconds."""

    family: Literal["uniform"] = "uniform"
    low: NonNegFloat
    high: NonNegFloat

    @model_validator(mode="after")
    def _check(self) -> UniformDist:
        if self.high < self.low:
            raise _invalid(f"must be ≥ low ({_show(self.low)})", ("high",), self.high)
        return self


class GammaDist(_Spec):
    """Gamma with mean ``mean`` seconds and coefficient of variation ``cv`` (sd / mean)."""

    family: Literal["gamma"] = "gamma"
    mean: PosFloat
    cv: PosFloat


def _resolve(file: str, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return Path(file) if base is None else Path(base) / file


def _read_column(file: Any, column: str | None, info: ValidationInfo) -> tuple[float, ...]:
    """Numbers from one column of a text/CSV file (a header row is allowed), each ≥ 0."""
    if not isinstance(file, str) or not file:
        raise _invalid("must be a file path (a non-empty string)", ("file",), file)
    path = _resolve(file, info)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _invalid(
            f"file not found: {path} (relative paths are resolved against the scenario file's "
            "directory)",
            ("file",),
            file,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid(f"cannot read {path}: {exc}", ("file",), file) from None
    reader = csv.reader(io.StringIO(text))
    rows = [
        (reader.line_num, [c.strip() for c in row])
        for row in reader
        if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise _invalid(f"{path} holds no numbers", ("file",), file)
    col, first = 0, rows[0][1]
    if not _is_number(first[0]) or (column is not None and column in first):  # a header row
        rows = rows[1:]
        if column is not None and column in first:
            col = first.index(column)
        elif column is not None and len(first) > 1:
            raise _invalid(f"{path} has no column {column!r} (columns: {', '.join(first)})",
                           ("file",), file)  # fmt: skip
    elif column is not None and len(first) > 1:
        raise _invalid(f"{path} needs a header row naming the column {column!r}", ("file",), file)
    out: list[float] = []
    for line, row in rows:
        cell = row[col] if col < len(row) else ""
        if not _is_number(cell) or not math.isfinite(x := float(cell)) or x < 0:
            raise _invalid(f"{path} line {line}: {cell!r} is not a number ≥ 0", ("file",), file)
        out.append(x)
    if not out:
        raise _invalid(f"{path} holds no numbers", ("file",), file)
    return tuple(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class EmpiricalDist(_Spec):
    """Resampled from the numbers in ``file`` (one per line, or the first column of a CSV).

    ``values`` is filled from the file at validation (``file`` relative to the scenario file).
    """

    family: Literal["empirical"] = "empirical"
    file: str
    values: Annotated[tuple[NonNegFloat, ...], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "values" not in data:
            return {**data, "values": _read_column(data.get("file"), None, info)}
        return data


#: A concrete distribution (what :data:`DistSpec` validates to).
Distribution = Union[  # noqa: UP007 (pydantic needs the Union object for the discriminator)
    ConstantDist, ExponentialDist, LognormalDist, UniformDist, GammaDist, EmpiricalDist
]


def _normalise_dist(value: Any) -> Any:
    """``3`` -> constant; ``{"exponential": {"mean": 1}}`` -> ``{"family": "exponential", ...}``."""
    if isinstance(value, BaseModel):
        return value
    if isinstance(value, str) and _is_number(value):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not value >= 0:
            raise _invalid("must be ≥ 0 (a duration in seconds)")
        return {"family": "constant", "value": value}
    if isinstance(value, Mapping):
        if "family" in value:
            if value["family"] not in _FAMILIES:
                raise _invalid(f"unknown distribution family {value['family']!r}; "
                               f"allowed: {_FAMILIES_HELP}")  # fmt: skip
            return dict(value)
        if len(value) == 1:
            family, params = next(iter(value.items()))
            if family not in _FAMILIES:
                raise _invalid(f"unknown distribution family {family!r}; allowed: {_FAMILIES_HELP}")
            if family == "constant" and not isinstance(params, Mapping):
                return _normalise_dist(params)
            if not isinstance(params, Mapping):
                raise _invalid(f"the parameters of {family} must be a mapping; "
                               f"allowed: {_FAMILIES_HELP}")  # fmt: skip
            return {**params, "family": family}
    raise _invalid(f"must be a number of seconds or a one-key mapping naming the family; "
                   f"allowed: {_FAMILIES_HELP}")  # fmt: skip


#: A duration: a number (constant seconds) or a one-key mapping naming the family.
DistSpec = Annotated[
    Distribution, Field(discriminator="family"), BeforeValidator(_normalise_dist)
]
Duration = DistSpec


def _const(seconds: float) -> ConstantDist:
    return ConstantDist(value=seconds)


# --------------------------------------------------------------------------- component helpers


class ErrorsSpec(_Spec):
    """Independent failure probability of each request."""

    rate: Prob = 0.0


class FunctionErrorsSpec(_Spec):
    """``rate``: a message fails, per message and attempt; ``poison_rate``: fails every attempt."""

    rate: Prob = 0.0
    poison_rate: Prob = 0.0


class RetrySpec(_Spec):
    """AWS SDK standard retry mode: ``max_attempts`` in all, full-jitter backoff base..cap."""

    max_attempts: PosInt = 3
    base_s: PosFloat = 1.0
    cap_s: PosFloat = 20.0

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
            for i, (prev, step) in enumerate(zip(self.profile, self.profile[1:], strict=False)):
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
    """Asynchronous invocation: retries, maximum event age and the on-failure destination."""

    max_retries: Annotated[int, Field(ge=0, le=2), _AWS] = 2
    max_event_age_s: Annotated[float, Field(ge=60, le=21_600), _AWS] = 21_600.0
    on_failure: str | None = None


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


#: Any component, chosen by its ``type``.
ComponentSpec = Annotated[
    Union[ProducerSpec, SqsQueueSpec, LambdaFunctionSpec],  # noqa: UP007
    Field(discriminator="type"),
]
_AVAILABLE_TYPES = ("lambda_function", "producer", "sqs_queue")
_FUTURE_TYPES = ("sns_topic", "event_bus", "s3_bucket", "api_gateway", "cloudtrail", "endpoint")


class OutageSpec(_Spec):
    """``component`` fails in ``mode`` during [start_s, start_s + duration_s).

    ``slow`` multiplies latency by ``factor``.
    """

    component: str
    start_s: NonNegFloat
    duration_s: PosFloat
    mode: Literal["unavailable", "slow", "throttled"] = "unavailable"
    factor: Annotated[float, Field(ge=1)] = 10.0


# --------------------------------------------------------------------------- the scenario

_C = TypeVar("_C", bound=BaseModel)


class Scenario(_Spec):
    """A validated, frozen scenario. Make variants with :meth:`with_updates`."""

    name: Annotated[str, Field(min_length=1)] = "scenario"
    seed: Annotated[int, Field(ge=0)] = 0
    duration_s: PosFloat
    drain_s: NonNegFloat = 600.0
    warmup_s: NonNegFloat = 0.0
    replications: PosInt = 10
    account_concurrency: PosInt = 1000
    components: Annotated[dict[str, ComponentSpec], Field(min_length=1)]
    outages: tuple[OutageSpec, ...] = ()
    prices: dict[str, NonNegFloat] = Field(default_factory=dict)

    _source: str = PrivateAttr("<scenario>")
    _base_dir: Path | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are equal (where the scenario was loaded from does not count)."""
        if not isinstance(other, Scenario):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in type(self).model_fields)

    def of_type(self, cls: type[_C]) -> dict[str, _C]:
        """The components of one spec class, by name, in file order."""
        return {k: v for k, v in self.components.items() if isinstance(v, cls)}

    def with_updates(self, updates: Mapping[str, Any]) -> Scenario:
        """A new validated scenario with ``updates`` (dotted path -> value) applied.

        Raises:
            ScenarioError: if a path cannot be set or the result is invalid.
        """
        data = self.model_dump(by_alias=True)
        for path, value in updates.items():
            parent, key = _set_path(data, path, value, self._source, "update")
            if key == "file" and isinstance(parent, dict):  # reload from the new file
                parent.pop("values", None)
                parent.pop("times", None)
        return scenario_from_dict(data, self._source, self._base_dir)

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        problems = _cross_checks(self)
        if problems:
            raise _invalid_all(problems)
        return self


def _cross_checks(s: Scenario) -> list[_Rel]:
    """The rules that span components (references, FIFO/standard combinations)."""
    out: list[_Rel] = []
    comps = s.components
    names = ", ".join(comps)

    def ref(path: tuple[str | int, ...], target: str) -> SqsQueueSpec | None:
        spec = comps.get(target)
        if spec is None:
            out.append((path, target, f"no component of that name (components: {names})"))
        elif not isinstance(spec, SqsQueueSpec):
            out.append((path, target, f"must name an sqs_queue; {target!r} is a {spec.type}"))
        else:
            return spec
        return None

    if "" in comps:
        out.append((("components",), "", "component names must not be empty"))
    if s.warmup_s >= s.duration_s:
        out.append((("warmup_s",), s.warmup_s, f"must be < duration_s ({_show(s.duration_s)})"))
    for price in s.prices:
        if price not in DEFAULT_PRICES:
            out.append((("prices", price), price,
                        f"unknown price name; allowed: {', '.join(DEFAULT_PRICES)}"))  # fmt: skip
    dlq_targets = set()
    consumer: dict[str, str] = {}
    for name, c in comps.items():
        here = ("components", name)
        if isinstance(c, ProducerSpec):
            for i, target in enumerate(c.send_to):
                q = ref((*here, "send_to", i), target)
                content = c.dedup_ids == "content"
                if q is not None and q.fifo and content and not q.content_based_dedup:
                    out.append(((*here, "dedup_ids"), c.dedup_ids,
                                f"FIFO queue {target!r} has no content_based_dedup; AWS rejects a "
                                "FIFO send with neither a deduplication id nor content-based "
                                "deduplication"))  # fmt: skip
        elif isinstance(c, SqsQueueSpec) and c.dead_letter is not None:
            path, target = (*here, "dead_letter", "target"), c.dead_letter.target
            dlq_targets.add(target)
            if target == name:
                out.append((path, target, "a queue cannot be its own dead-letter queue"))
            elif (dlq := ref(path, target)) is not None and dlq.fifo != c.fifo:
                kind = "FIFO" if c.fifo else "standard"
                out.append((path, target, f"must be a {kind} queue like {name!r}; AWS requires "
                            "the DLQ to be the same type as the source queue"))  # fmt: skip
        elif isinstance(c, LambdaFunctionSpec):
            if c.async_.on_failure is not None:
                ref((*here, "async", "on_failure"), c.async_.on_failure)
            if c.trigger is None:
                continue
            t, tp = c.trigger, (*here, "trigger")
            q = ref((*tp, "source"), t.source)
            if q is not None and t.source in consumer:
                out.append(((*tp, "source"), t.source,
                            f"evsim models one consumer function per queue; "
                            f"{consumer[t.source]} already consumes {t.source}"))  # fmt: skip
            consumer.setdefault(t.source, name)
            if q is not None and q.fifo:
                if t.batch_size > 10:
                    out.append(((*tp, "batch_size"), t.batch_size,
                                "a FIFO source allows batch_size 1–10"))  # fmt: skip
                if t.batching_window_s != 0:
                    out.append(((*tp, "batching_window_s"), t.batching_window_s,
                                "must be 0: a batching window is not supported for FIFO "
                                "sources"))  # fmt: skip
            elif t.batch_size > 10 and t.batching_window_s < 1:
                out.append(((*tp, "batch_size"), t.batch_size,
                            f"above 10 requires batching_window_s ≥ 1 (it is "
                            f"{_show(t.batching_window_s)}); AWS rule for SQS event "
                            "sources"))  # fmt: skip
            if q is not None and c.timeout_s > q.visibility_timeout_s:
                out.append(((*here, "timeout_s"), c.timeout_s,
                            f"must be ≤ the source queue's visibility_timeout_s "
                            f"({_show(q.visibility_timeout_s)}); AWS rejects a function timeout "
                            "above the queue's visibility timeout"))  # fmt: skip
    for name, q in s.of_type(SqsQueueSpec).items():
        if q.redrives and name not in dlq_targets:
            out.append((("components", name, "redrives"), _NO_VALUE,
                        f"only allowed on a dead-letter queue; no queue names {name!r} as "
                        "dead_letter.target"))  # fmt: skip
    for i, outage in enumerate(s.outages):
        if outage.component not in comps:
            out.append((("outages", i, "component"), outage.component,
                        f"no component of that name (components: {names})"))  # fmt: skip
    return out


def scenario_warnings(s: Scenario) -> list[str]:
    """Settings accepted but unrealistic, one message per setting (``path: value — why``)."""
    out = []
    for name, f in s.of_type(LambdaFunctionSpec).items():
        mc = f.trigger.max_concurrency if f.trigger else None
        path = f"components.{name}.trigger.max_concurrency"
        if mc == 1:
            out.append(f"{path}: 1 — below AWS's minimum of 2; accepted as an idealised setting")
        if mc is not None and f.reserved_concurrency is not None and mc > f.reserved_concurrency:
            out.append(f"{path}: {mc} — above reserved_concurrency ({f.reserved_concurrency}); "
                       "AWS warns that the function will then be throttled")  # fmt: skip
    return out


# --------------------------------------------------------------------------- pydantic errors


@dataclass
class _Where:
    """Where a pydantic ``loc`` points: the readable path, the model and field, the constraints."""

    path: list[str | int] = field(default_factory=list)
    model: type[BaseModel] | None = None
    name: str = ""
    meta: list[Any] = field(default_factory=list)
    tp: Any = None


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and ``Optional``; return the bare type and the metadata on the way."""
    meta: list[Any] = []
    while True:
        if get_origin(tp) is Annotated:
            tp, *more = get_args(tp)
            meta.extend(more)
        elif _is_union(tp) and type(None) in get_args(tp):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp, meta
            tp = members[0]
        else:
            return tp, meta


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _member(union: Any, tag: Any) -> Any:
    """The member of a tagged union that ``tag`` selects (None if no member matches)."""
    for member in get_args(union):
        bare, meta = _unwrap(member)
        if any(isinstance(m, Tag) and m.tag == tag for m in meta):
            return member
        if _is_model(bare):
            for f in bare.model_fields.values():
                if get_origin(f.annotation) is Literal and tag in get_args(f.annotation):
                    return member
    return None


_SCALAR_TAGS = ("str", "int", "float", "bool")


def _locate(loc: tuple[str | int, ...]) -> _Where:
    """Follow a pydantic ``loc`` through the schema, dropping union tags and other noise."""
    w, lost = _Where(), False
    tp: Any = Scenario
    for seg in loc:
        tp, more = _unwrap(tp)
        w.meta += more
        if seg == "[key]":
            continue
        if lost:
            if isinstance(seg, int) or ("[" not in seg and seg not in _SCALAR_TAGS):
                w.path.append(seg)
            continue
        if _is_model(tp):
            w.model = tp
            for name, info in tp.model_fields.items():
                if seg in (name, info.alias):
                    w.path.append(info.alias or name)
                    w.name, tp, w.meta = info.alias or name, info.annotation, list(info.metadata)
                    break
            else:
                w.path.append(seg)
                w.name, lost = str(seg), True
        elif _is_union(tp):
            member = _member(tp, seg)
            lost = member is None
            tp, w.meta = (tp if lost else member), []
        elif get_origin(tp) is dict:
            w.path.append(seg)
            tp, w.meta = get_args(tp)[1], []
        elif get_origin(tp) in (tuple, list):
            w.path.append(seg)
            tp, w.meta = get_args(tp)[0], []
        else:
            w.path.append(seg)
            lost = True
    w.tp, more = _unwrap(tp)
    w.meta += more
    w.meta += [m for info in w.meta if isinstance(info, FieldInfo) for m in info.metadata]
    return w


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _bounds(w: _Where) -> str:
    parts = []
    for m in w.meta:
        if isinstance(m, at.Gt):
            parts.append(f"> {_num(m.gt)}")
        elif isinstance(m, at.Ge):
            parts.append(f"≥ {_num(m.ge)}")
        elif isinstance(m, at.Lt):
            parts.append(f"< {_num(m.lt)}")
        elif isinstance(m, at.Le):
            parts.append(f"≤ {_num(m.le)}")
    why = [m.text.format(field=w.name) for m in w.meta if isinstance(m, _Why)]
    return " and ".join(parts) + (f" ({why[0]})" if why and parts else "")


_TYPE_TEXT = {
    "float": "a number", "int": "a whole number", "bool": "true or false", "string": "a string",
    "dict": "a mapping", "model": "a mapping", "tuple": "a list", "list": "a list",
}  # fmt: skip


def _allowed(err: Mapping[str, Any], w: _Where) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    bounds = _bounds(w)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"must be {bounds}"
    if kind == "finite_number":
        return f"must be a finite number {bounds}".rstrip()
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden" and w.model is not None:
        fields = [info.alias or n for n, info in w.model.model_fields.items()]
        near = difflib.get_close_matches(w.name, fields, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown field{hint}; allowed fields: {', '.join(fields)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"must have {word} {n} entr{'y' if n == 1 else 'ies'}"
    if kind == "string_too_short":
        return "must not be empty"
    for prefix, text in _TYPE_TEXT.items():
        if kind.startswith(prefix) or kind == f"{prefix}_type":
            return f"must be {text} {bounds}".rstrip()
    return str(err["msg"]).removeprefix("Value error, ")


def _problems(exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into ``(dotted path, value, allowed)`` problems."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        w = _locate(tuple(err["loc"]))
        value, ctx = err.get("input", _MISSING), err.get("ctx") or {}
        if err["type"] == "evsim":
            for rel, v, allowed in ctx["problems"]:
                path = ".".join(str(p) for p in (*w.path, *rel))
                out.append((path, value if v is _INPUT else v, allowed))
            continue
        if err["type"] in ("union_tag_invalid", "union_tag_not_found") and ctx.get(
            "discriminator"
        ) == "'type'":
            tag = ctx.get("tag", _MISSING)
            allowed = f"unknown component type; allowed: {', '.join(_AVAILABLE_TYPES)}"
            if tag is _MISSING:
                allowed = f"required; allowed: {', '.join(_AVAILABLE_TYPES)}"
            elif tag in _FUTURE_TYPES:
                allowed = (f"component type {tag!r} is not available yet in this version of "
                           f"evsim; available: {', '.join(_AVAILABLE_TYPES)}")  # fmt: skip
            out.append((".".join(map(str, [*w.path, "type"])), tag, allowed))
            continue
        if err["type"] == "missing":
            value = _MISSING
        if err["type"] == "extra_forbidden" and w.path:  # as written, not mapped to an alias
            w.path[-1] = err["loc"][-1]
        out.append((".".join(map(str, w.path)), value, _allowed(err, w)))
    return out


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """A safe YAML loader that rejects duplicate keys (a repeated component would vanish)."""


def _mapping_no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = key_node.start_mark.line
        except TypeError:  # an unhashable key; pydantic reports it
            pass
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override (``PATH=VALUE``), validate and return the scenario in a YAML file.

    The name defaults to the file's stem; relative file references resolve against the file's
    directory. Each :func:`scenario_warnings` message is emitted as an :class:`EvsimWarning`.

    Raises:
        ScenarioError: if the file is missing, is not valid YAML or is not a valid scenario.
    """
    file = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(file, [("", _NO_VALUE, f"file not found: {p.absolute()}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(file, [("", _NO_VALUE, f"cannot read the file: {exc}")]) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(file, [(where, _NO_VALUE, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(file, [("", _NO_VALUE, f"invalid YAML: {exc}")]) from None
    if not isinstance(data, Mapping):
        raise _not_a_mapping(file, data)
    data = apply_overrides(data, overrides, file)
    data.setdefault("name", p.stem)
    scenario = scenario_from_dict(data, file, p.absolute().parent)
    for message in scenario_warnings(scenario):
        warnings.warn(f"{file}: {message}", EvsimWarning, stacklevel=2)
    return scenario


def _not_a_mapping(file: str, data: Any) -> ScenarioError:
    what = "the file is empty" if data is None else f"got {type(data).__name__}"
    return ScenarioError(file, [("", _NO_VALUE, f"a scenario must be a mapping of fields "
                                 f"(name, duration_s, components, ...); {what}")])  # fmt: skip


def scenario_from_dict(
    data: Mapping[str, Any], source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate a scenario given as plain data (e.g. parsed YAML or ``model_dump`` output).

    Args:
        data: The scenario's fields.
        source: Names the scenario in error messages (usually the file).
        base_dir: Directory that relative file references resolve against (default: cwd).

    Raises:
        ScenarioError: listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise _not_a_mapping(source, data)
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None
    scenario._source = source
    scenario._base_dir = base_dir
    return scenario


def _set_path(
    data: dict[str, Any], dotted: str, value: Any, source: str, label: str
) -> tuple[Any, Any]:
    """Set ``value`` at ``dotted`` inside ``data`` (in place); return (container, key).

    A component name may contain dots: at a mapping the longest key made of the next segments
    is used when the single segment is not a key.
    """

    def fail(why: str) -> ScenarioError:
        return ScenarioError(source, [(f"{label} {dotted}", value, why)])

    segs = dotted.split(".")
    if not all(segs):
        raise fail("malformed path: empty segment")
    node: Any = data
    i = 0
    while True:
        if isinstance(node, dict):
            key: Any = segs[i]
            j = i + 1
            if key not in node:
                for k in range(len(segs), i + 1, -1):
                    if ".".join(segs[i:k]) in node:
                        key, j = ".".join(segs[i:k]), k
                        break
        elif isinstance(node, list):
            if not segs[i].isdigit() or int(segs[i]) >= len(node):
                raise fail(f"{segs[i]!r} is not an index of the list at "
                           f"{'.'.join(segs[:i])} ({len(node)} entries)")  # fmt: skip
            key, j = int(segs[i]), i + 1
        else:
            raise fail(f"{'.'.join(segs[:i])} is {_show(node)}, not a mapping")
        if j == len(segs):
            node[key] = value
            return node, key
        child = node.get(key) if isinstance(node, dict) else node[key]
        if child is None:
            child = {}
        elif isinstance(child, tuple):
            child = list(child)
        node[key] = child
        node, i = child, j


def apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], source: str = "<scenario>"
) -> dict[str, Any]:
    """A copy of ``data`` with ``PATH=VALUE`` overrides applied (VALUE parsed as YAML).

    Missing intermediate mappings are created; numeric segments index lists.

    Raises:
        ScenarioError: for an override without ``=`` or a path that cannot be set.
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            why = "malformed override; expected PATH=VALUE, e.g. components.worker.errors.rate=0.1"
            raise ScenarioError(source, [("--set", item, why)])
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            why = f"invalid YAML value: {exc}"
            raise ScenarioError(source, [(f"--set {path}", text, why)]) from None
        _set_path(out, path.strip(), value, source, "--set")
    return out
