"""Scenario errors: :class:`ScenarioError`, :class:`EvsimWarning` and readable problem lines.

Every problem found in a scenario becomes one line,
``{file}: {dotted.field.path}: {offending value!r} — {what is allowed}`` (see :mod:`sim.config`).
Validators in :mod:`sim.config.fields`, :mod:`sim.config` and :mod:`sim.config.scenario` raise
:func:`invalid_error` / :func:`invalid_all_error`, which carry their problems ready-made;
:func:`problems_from_errors` turns pydantic's other errors into the same form by following each
error's ``loc`` through the schema (aliases, dotted paths, the field's bounds and why they hold).

Not handled here:
    * The schema itself; :func:`problems_from_errors` is given the root model and the component
      types.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

__all__ = [
    "ASSUMPTION",
    "AWS",
    "AWS_RANGE",
    "CHOICE",
    "FROM_FILE",
    "INPUT",
    "MISSING",
    "NO_VALUE",
    "PROBABILITY",
    "EvsimWarning",
    "Problem",
    "RelProblem",
    "ScenarioError",
    "Source",
    "Why",
    "invalid_all_error",
    "invalid_error",
    "problems_from_errors",
    "show",
    "unwrap",
]


class _Sentinel:
    def __init__(self, text: str, name: str) -> None:
        self.text, self.name = text, name

    def __repr__(self) -> str:
        return self.text

    def __reduce__(self) -> str:
        return self.name  # pickled as a reference to the module-level object


MISSING = _Sentinel("missing", "MISSING")  # a required value that was not given
NO_VALUE = _Sentinel("", "NO_VALUE")  # no single offending value (left out of the line)
INPUT = _Sentinel("<input>", "INPUT")  # "the value the validator was given"

#: One problem: (dotted path from the scenario root, offending value, what is allowed).
Problem = tuple[str, Any, str]


def show(value: Any) -> str:
    """A value as a problem line shows it (whole floats without ``.0``)."""
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
        head += [] if value is NO_VALUE else [show(value)]
        return f"{': '.join(head)} — {allowed}"


class EvsimWarning(UserWarning):
    """A setting that is accepted but is not realistic (e.g. an idealised ``max_concurrency``)."""


RelProblem = tuple[tuple[str | int, ...], Any, str]


def invalid_error(
    allowed: str, at_: tuple[str | int, ...] = (), value: Any = INPUT
) -> PydanticCustomError:
    """A validation error carrying its own readable problem(s); see :func:`problems_from_errors`."""
    return invalid_all_error([(at_, value, allowed)])


def invalid_all_error(problems: list[RelProblem]) -> PydanticCustomError:
    """A validation error carrying several ready-made problems (relative paths)."""
    text = "; ".join(f"{'.'.join(map(str, p)) or '.'}: {a}" for p, _, a in problems)
    return PydanticCustomError("evsim", "{text}", {"text": text, "problems": problems})


@dataclass(frozen=True)
class Why:
    """Why a numeric bound holds; appended to range errors (``{field}`` is the field's name)."""

    text: str


AWS_RANGE = Why("AWS range for {field}")
PROBABILITY = Why("a probability")


@dataclass(frozen=True)
class Source:
    """Where a field's default and range come from (the ``source`` of the generated reference).

    ``kind`` is ``AWS`` (AWS's documented default, limit or range), ``assumption`` (a number
    evsim picks where AWS documents none that fits a model) or ``scenario`` (a choice of the
    scenario itself: workload, wiring, run length; no AWS counterpart). ``note`` qualifies it,
    for example which part is AWS's. A field annotated with :data:`AWS_RANGE` and no
    :class:`Source` is ``AWS``.
    """

    kind: Literal["AWS", "assumption", "scenario"]
    note: str = ""


AWS = Source("AWS")
ASSUMPTION = Source("assumption")
CHOICE = Source("scenario")


@dataclass(frozen=True)
class FromFile:
    """Marks a field filled, when the scenario is loaded, from the file a sibling field names.

    Such fields (a trace's ``times``, an empirical distribution's ``values``) are not part of
    what a user writes: the JSON Schema does not require them and ``evsim check`` leaves them
    out of what it prints.
    """


FROM_FILE = FromFile()

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


def unwrap(tp: Any) -> tuple[Any, list[Any]]:
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
        bare, meta = unwrap(member)
        if any(isinstance(m, Tag) and m.tag == tag for m in meta):
            return member
        if _is_model(bare):
            for f in bare.model_fields.values():
                if get_origin(f.annotation) is Literal and tag in get_args(f.annotation):
                    return member
    return None


_SCALAR_TAGS = ("str", "int", "float", "bool")


def _locate(loc: tuple[str | int, ...], root: type[BaseModel]) -> _Where:
    """Follow a pydantic ``loc`` through the schema, dropping union tags and other noise."""
    w, lost = _Where(), False
    tp: Any = root
    for seg in loc:
        tp, more = unwrap(tp)
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
    w.tp, more = unwrap(tp)
    w.meta += more
    w.meta += [m for info in w.meta if isinstance(info, FieldInfo) for m in info.metadata]
    return w


_BOUND_TEXT = ((at.Gt, "gt", ">"), (at.Ge, "ge", "≥"), (at.Lt, "lt", "<"), (at.Le, "le", "≤"))


def _bounds(w: _Where) -> str:
    parts = [
        f"{sign} {show(getattr(m, attr))}"
        for m in w.meta
        for kind, attr, sign in _BOUND_TEXT
        if isinstance(m, kind)
    ]
    why = [m.text.format(field=w.name) for m in w.meta if isinstance(m, Why)]
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
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return f"must be at most {n} character{'s' if n != 1 else ''} long"
    for prefix, text in _TYPE_TEXT.items():
        if kind.startswith(prefix):
            return f"must be {text} {bounds}".rstrip()
    return str(err["msg"]).removeprefix("Value error, ")


def problems_from_errors(
    exc: ValidationError,
    root: type[BaseModel],
    available_types: Sequence[str],
) -> list[Problem]:
    """Turn pydantic's errors into ``(dotted path, value, allowed)`` problems.

    Args:
        exc: The error raised when validating ``root``.
        root: The model that was validated (its fields give the paths and the bounds).
        available_types: The component ``type`` values the schema accepts.
    """
    out: list[Problem] = []
    errors = exc.errors(include_url=False)
    inner = {tuple(e["loc"][:i]) for e in errors for i in range(len(e["loc"]))}
    for err in errors:
        if err["type"] == "too_short" and tuple(err["loc"]) in inner:
            continue  # pydantic's echo of an invalid entry: the list itself is not too short
        w = _locate(tuple(err["loc"]), root)
        value, ctx = err.get("input", MISSING), err.get("ctx") or {}
        if err["type"] == "evsim":
            for rel, v, allowed in ctx["problems"]:
                path = ".".join(str(p) for p in (*w.path, *rel))
                out.append((path, value if v is INPUT else v, allowed))
            continue
        if err["type"] in ("union_tag_invalid", "union_tag_not_found") and ctx.get(
            "discriminator"
        ) == "'type'":
            tag = ctx.get("tag", MISSING)
            allowed = f"unknown component type; allowed: {', '.join(available_types)}"
            if tag is MISSING:
                allowed = f"required; allowed: {', '.join(available_types)}"
            out.append((".".join(map(str, [*w.path, "type"])), tag, allowed))
            continue
        if err["type"] == "missing":
            value = MISSING
        if err["type"] == "extra_forbidden" and w.path:  # as written, not mapped to an alias
            w.path[-1] = err["loc"][-1]
        out.append((".".join(map(str, w.path)), value, _allowed(err, w)))
    return out
