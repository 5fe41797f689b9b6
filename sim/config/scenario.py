"""The :class:`Scenario` model: the whole validated scenario, its cross-component rules, variants.

A scenario is frozen; :meth:`Scenario.with_updates` makes a variant by dumping it, setting
dotted paths (:func:`set_path`, shared with ``--set`` overrides in :mod:`sim.config`) and
validating the result again with :func:`validate_scenario`, which reports every problem as one
:class:`~sim.config.problems.ScenarioError`. The rules that span components (references, one
consumer per queue, the FIFO/standard combinations AWS forbids) are
:func:`sim.config.checks.cross_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from sim.config.checks import cross_checks
from sim.config.common import OutageSpec
from sim.config.components import COMPONENT_TYPES, ComponentSpec
from sim.config.fields import NonNegFloat, PosFloat, PosInt, Spec
from sim.config.problems import (
    AWS,
    CHOICE,
    RelProblem,
    ScenarioError,
    Source,
    invalid_all_error,
    problems_from_errors,
    show,
)

__all__ = ["ObserveSpec", "Scenario", "set_path", "validate_scenario"]

_C = TypeVar("_C", bound=BaseModel)

#: Fields that say what is read from a file (a trace, an empirical distribution, a rate series):
#: a variant that changes one reads the file again.
_FILE_KEYS = ("file", "column", "time_column", "value_column")


class ObserveSpec(Spec):
    """The time series of a run: one sample per component and metric every ``interval_s``.

    ``interval_s`` None means (``duration_s`` + ``drain_s``) ÷ 600, to the nearest whole
    second, at least 1 s.
    """

    fields_source: ClassVar[Source] = CHOICE

    interval_s: PosFloat | None = None


class Scenario(Spec):
    """A validated, frozen scenario. Make variants with :meth:`with_updates`."""

    fields_source: ClassVar[Source] = CHOICE

    name: Annotated[str, Field(min_length=1)] = "scenario"
    seed: Annotated[int, Field(ge=0)] = 0
    duration_s: PosFloat
    drain_s: NonNegFloat = 600.0
    warmup_s: NonNegFloat = 0.0
    replications: PosInt = 10
    account_concurrency: Annotated[PosInt, AWS] = 1000
    max_hops: PosInt | None = None
    components: Annotated[dict[str, ComponentSpec], Field(min_length=1)]
    outages: tuple[OutageSpec, ...] = ()
    prices: dict[str, NonNegFloat] = Field(default_factory=dict)
    observe: ObserveSpec | None = None

    _source: str = PrivateAttr("<scenario>")
    _base_dir: Path | None = PrivateAttr(None)

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are equal (where the scenario was loaded from does not count)."""
        if not isinstance(other, Scenario):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in type(self).model_fields)

    @property
    def source(self) -> str:
        """Where the scenario was loaded from (its file), as problem lines name it."""
        return self._source

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
            parent, key = set_path(data, path, value, self._source, "update")
            if key in _FILE_KEYS and isinstance(parent, dict):  # reload from the file
                parent.pop("values", None)
                parent.pop("times", None)
        return validate_scenario(data, self._source, self._base_dir)

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        problems: list[RelProblem] = [
            (("components",), name, why)
            for name in self.components
            if (why := _bad_name(name)) is not None
        ]
        problems += cross_checks(self)
        if problems:
            raise invalid_all_error(problems)
        return self


#: Characters a component name may not hold: they would corrupt the CSV rows and file paths
#: that carry the name (the ``sink`` and ``component`` columns, per-sink file names).
_NAME_FORBIDDEN = {",": "a comma", "/": "a slash", "\\": "a backslash", '"': "a double quote",
                   "*": "'*' (the whole-run marker of the sink column)"}  # fmt: skip


def _bad_name(name: str) -> str | None:
    """Why ``name`` cannot name a component, or None if it can."""
    if not name.strip():
        return "component names must not be empty"
    if name != name.strip():
        return "component names must not start or end with spaces"
    if name in (".", ".."):
        return "component names must not be '.' or '..' (they name folders in file paths)"
    for char, what in _NAME_FORBIDDEN.items():
        if char in name:
            return f"component names must not contain {what}; use letters, digits, '-', '_', '.'"
    if any(not c.isprintable() for c in name):
        return "component names must not contain line breaks, tabs or other control characters"
    return None


def validate_scenario(data: Mapping[str, Any], source: str, base_dir: Path | None) -> Scenario:
    """Validate ``data`` into a :class:`Scenario` that remembers ``source`` and ``base_dir``.

    Raises:
        ScenarioError: listing every problem found.
    """
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = problems_from_errors(exc, Scenario, COMPONENT_TYPES)
        raise ScenarioError(source, problems) from None
    scenario._source = source
    scenario._base_dir = base_dir
    return scenario


def set_path(
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
            raise fail(f"{'.'.join(segs[:i])} is {show(node)}, not a mapping")
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
