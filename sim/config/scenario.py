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
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from sim.config.checks import cross_checks
from sim.config.common import OutageSpec
from sim.config.components import COMPONENT_TYPES, ComponentSpec
from sim.config.fields import NonNegFloat, PosFloat, PosInt, Spec
from sim.config.problems import (
    ScenarioError,
    invalid_all_error,
    problems_from_errors,
    show,
)

__all__ = ["ObserveSpec", "Scenario", "set_path", "validate_scenario"]

_C = TypeVar("_C", bound=BaseModel)


class ObserveSpec(Spec):
    """The time series of a run: one sample per component and metric every ``interval_s``.

    ``interval_s`` None means (``duration_s`` + ``drain_s``) ÷ 600, to the nearest whole
    second, at least 1 s.
    """

    interval_s: PosFloat | None = None


class Scenario(Spec):
    """A validated, frozen scenario. Make variants with :meth:`with_updates`."""

    name: Annotated[str, Field(min_length=1)] = "scenario"
    seed: Annotated[int, Field(ge=0)] = 0
    duration_s: PosFloat
    drain_s: NonNegFloat = 600.0
    warmup_s: NonNegFloat = 0.0
    replications: PosInt = 10
    account_concurrency: PosInt = 1000
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
            if key == "file" and isinstance(parent, dict):  # reload from the new file
                parent.pop("values", None)
                parent.pop("times", None)
        return validate_scenario(data, self._source, self._base_dir)

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        problems = cross_checks(self)
        if problems:
            raise invalid_all_error(problems)
        return self


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
