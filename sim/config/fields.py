"""Spec building blocks: the frozen base model, common field types and the duration specs.

A duration (:data:`DistSpec`) is a number (constant seconds) or a one-key mapping naming the
family (see :mod:`sim.config`); :func:`_normalise_dist` turns either into the tagged form that
selects one of the ``*Dist`` models. Files of numbers (empirical samples, and arrival traces in
:mod:`sim.config`) are read by :func:`read_column` once, at validation, relative to the
``base_dir`` given in the validation context. :mod:`sim.engine.samplers` turns these specs
into samplers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from sim.config.problems import (
    CHOICE,
    FROM_FILE,
    PROBABILITY,
    RelProblem,
    Source,
    invalid_all_error,
    invalid_error,
    show,
    unwrap,
)

__all__ = [
    "ConstantDist",
    "DistSpec",
    "Distribution",
    "Duration",
    "EmpiricalDist",
    "ExponentialDist",
    "GammaDist",
    "LognormalDist",
    "NonNegFloat",
    "NonNegInt",
    "PosFloat",
    "PosInt",
    "Prob",
    "Spec",
    "UniformDist",
    "const_dist",
    "dist_from_dict",
    "read_column",
    "resolve_path",
]

# --------------------------------------------------------------------------- common field types

Prob = Annotated[float, Field(ge=0, le=1), PROBABILITY]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]


class Spec(BaseModel):
    """The base of every spec: frozen, no unknown fields, aliases accepted, no inf or NaN.

    Numbers and booleans are not coerced into each other: ``true`` where a number is expected
    (``rate_per_s: true``) and ``1`` where ``true``/``false`` is expected are errors, not 1.0
    and true. Numbers written as strings (``"3"``) are still read as numbers.

    ``fields_source`` is the :class:`~sim.config.problems.Source` of every field that does not
    carry one in its annotation (see the generated reference).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )
    fields_source: ClassVar[Source | None] = None

    @model_validator(mode="before")
    @classmethod
    def _no_bool_number_coercion(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        problems: list[RelProblem] = []
        for name, info in cls.model_fields.items():
            key = info.alias if info.alias is not None and info.alias in data else name
            if key in data:
                problems += _coercion_problems(info.annotation, data[key], (key,))
        if problems:
            raise invalid_all_error(problems)
        return data


_NUMBER_TEXT = {int: "a whole number", float: "a number"}


def _coercion_problems(tp: Any, value: Any, at: tuple[str | int, ...]) -> list[RelProblem]:
    """Problems with a bool given for a number (or a non-bool for a bool) in ``value``."""
    bare, _ = unwrap(tp)
    if bare in _NUMBER_TEXT and isinstance(value, bool):
        return [(at, value, f"must be {_NUMBER_TEXT[bare]}, not {str(value).lower()}")]
    if bare is bool and value is not None and not isinstance(value, bool):
        return [(at, value, "must be true or false")]
    args = get_args(bare)
    if get_origin(bare) is tuple and len(args) == 2 and args[1] is Ellipsis:
        if isinstance(value, list | tuple):
            item = args[0]
            return [p for i, v in enumerate(value) for p in _coercion_problems(item, v, (*at, i))]
    elif get_origin(bare) is dict and isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _coercion_problems(args[1], v, (*at, k))]
    return []


# --------------------------------------------------------------------------- distributions

_FAMILIES = ("constant", "exponential", "lognormal", "uniform", "gamma", "empirical")
_FAMILIES_HELP = (
    "constant (a number), exponential {mean}, lognormal {median, sigma}, uniform {low, high}, "
    "gamma {mean, cv}, empirical {file}"
)


class ConstantDist(Spec):
    """Always ``value`` seconds."""

    fields_source: ClassVar[Source] = CHOICE
    family: Literal["constant"] = "constant"
    value: NonNegFloat


class ExponentialDist(Spec):
    """Exponential with mean ``mean`` seconds."""

    fields_source: ClassVar[Source] = CHOICE
    family: Literal["exponential"] = "exponential"
    mean: PosFloat


class LognormalDist(Spec):
    """Lognormal with median ``median`` seconds and log-scale standard deviation ``sigma``."""

    fields_source: ClassVar[Source] = CHOICE
    family: Literal["lognormal"] = "lognormal"
    median: PosFloat
    sigma: NonNegFloat


class UniformDist(Spec):
    """Uniform on [``low``, ``high``] seconds."""

    fields_source: ClassVar[Source] = CHOICE
    family: Literal["uniform"] = "uniform"
    low: NonNegFloat
    high: NonNegFloat

    @model_validator(mode="after")
    def _check(self) -> UniformDist:
        if self.high < self.low:
            raise invalid_error(f"must be ≥ low ({show(self.low)})", ("high",), self.high)
        return self


class GammaDist(Spec):
    """Gamma with mean ``mean`` seconds and coefficient of variation ``cv`` (sd / mean)."""

    fields_source: ClassVar[Source] = CHOICE
    family: Literal["gamma"] = "gamma"
    mean: PosFloat
    cv: PosFloat


def resolve_path(file: str, info: ValidationInfo) -> Path:
    """``file`` relative to the ``base_dir`` of the validation context (the scenario's folder)."""
    base = (info.context or {}).get("base_dir")
    return Path(file) if base is None else Path(base) / file


def read_column(file: Any, column: str | None, info: ValidationInfo) -> tuple[float, ...]:
    """Numbers from one column of a text/CSV file (a header row is allowed), each ≥ 0."""
    if not isinstance(file, str) or not file:
        raise invalid_error("must be a file path (a non-empty string)", ("file",), file)
    path = resolve_path(file, info)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise invalid_error(
            f"file not found: {path} (relative paths are resolved against the scenario file's "
            "directory)",
            ("file",),
            file,
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid_error(f"cannot read {path}: {exc}", ("file",), file) from None
    reader = csv.reader(io.StringIO(text))
    rows = [
        (reader.line_num, [c.strip() for c in row])
        for row in reader
        if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise invalid_error(f"{path} holds no numbers", ("file",), file)
    col, first = 0, rows[0][1]
    if not _is_number(first[0]) or (column is not None and column in first):  # a header row
        rows = rows[1:]
        if column is not None and column in first:
            col = first.index(column)
        elif column is not None and len(first) > 1:
            raise invalid_error(f"{path} has no column {column!r} (columns: {', '.join(first)})",
                           ("file",), file)  # fmt: skip
    elif column is not None and len(first) > 1:
        raise invalid_error(
            f"{path} needs a header row naming the column {column!r}", ("file",), file
        )
    out: list[float] = []
    for line, row in rows:
        cell = row[col] if col < len(row) else ""
        if not _is_number(cell) or not math.isfinite(x := float(cell)) or x < 0:
            raise invalid_error(
                f"{path} line {line}: {cell!r} is not a number ≥ 0", ("file",), file
            )
        out.append(x)
    if not out:
        raise invalid_error(f"{path} holds no numbers", ("file",), file)
    return tuple(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class EmpiricalDist(Spec):
    """Resampled from the numbers in ``file`` (one per line, or the first column of a CSV).

    ``values`` is filled from the file at validation (``file`` relative to the scenario file).
    """

    fields_source: ClassVar[Source] = CHOICE

    family: Literal["empirical"] = "empirical"
    file: str
    values: Annotated[tuple[NonNegFloat, ...], Field(min_length=1), FROM_FILE]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "values" not in data:
            return {**data, "values": read_column(data.get("file"), None, info)}
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
            raise invalid_error("must be ≥ 0 (a duration in seconds)")
        return {"family": "constant", "value": value}
    if isinstance(value, Mapping) and ("family" in value or len(value) == 1):
        tagged = "family" in value
        family, params = (value["family"], value) if tagged else next(iter(value.items()))
        if family not in _FAMILIES:
            raise invalid_error(
                f"unknown distribution family {family!r}; allowed: {_FAMILIES_HELP}"
            )
        if tagged:
            return dict(value)
        if family == "constant" and not isinstance(params, Mapping):
            return _normalise_dist(params)
        if not isinstance(params, Mapping):
            raise invalid_error(f"the parameters of {family} must be a mapping; "
                           f"allowed: {_FAMILIES_HELP}")  # fmt: skip
        return {**params, "family": family}
    raise invalid_error(f"must be a number of seconds or a one-key mapping naming the family; "
                   f"allowed: {_FAMILIES_HELP}")  # fmt: skip


#: A duration: a number (constant seconds) or a one-key mapping naming the family.
DistSpec = Annotated[Distribution, Field(discriminator="family"), BeforeValidator(_normalise_dist)]
Duration = DistSpec


def const_dist(seconds: float) -> ConstantDist:
    """A constant duration of ``seconds`` (for defaults)."""
    return ConstantDist(value=seconds)


def dist_from_dict(data: dict[str, Any]) -> Any:
    """A distribution spec from its file form (for defaults)."""
    from pydantic import TypeAdapter

    return TypeAdapter(DistSpec).validate_python(data)
