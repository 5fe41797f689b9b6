"""What :mod:`sim.build` hands every component in the connect phase.

Build constructs every component from ``(ctx, name, spec)``, asks each for its *port* (how a
sender reaches it; see :mod:`sim.engine.ports`) and then calls ``connect(wiring)`` on each, in a
fixed order of component types. A component declares its own outgoing edges there, looking up
what it addresses by name: the port of a target, the component itself where it needs one (a
dead-letter queue, a bus), which function consumes a queue. Nothing outside ``connect`` writes
edges into another component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sim.config.scenario import Scenario  # at run time: compiled dataclasses read the annotations
from sim.engine.ledger import Ledger

__all__ = ["Wiring"]


@dataclass
class Wiring:
    """The components of one model by name, their ports, and shared wiring facts.

    Attributes:
        scenario: The scenario being built.
        ledger: The run's ledger (components register the sinks they lead to).
        components: Every component by name.
        ports: The port of every addressable component by name.
        consumer_of: Queue name -> the function whose trigger consumes it.
    """

    scenario: Scenario
    ledger: Ledger
    components: dict[str, Any]
    ports: dict[str, Any] = field(default_factory=dict)
    consumer_of: dict[str, str] = field(default_factory=dict)
    _shared: dict[str, Any] = field(default_factory=dict)
    #: every string in the component specs -> where it is (see :meth:`mentions`)
    _strings: dict[str, list[tuple[str, tuple[str, ...]]]] | None = None

    def __post_init__(self) -> None:
        for name, spec in self.scenario.components.items():
            trigger = getattr(spec, "trigger", None)
            if trigger is not None:
                self.consumer_of[trigger.source] = name

    def is_type(self, name: str, component_type: str) -> bool:
        """Whether component ``name`` is of scenario ``type`` ``component_type``."""
        spec = self.scenario.components.get(name)
        return spec is not None and spec.type == component_type

    def mentions(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """Every place a component's spec names ``name``: ``(component, field path)`` pairs.

        The path is the field names from the spec down (a list item adds its index, a mapping
        entry its key); any string field equal to ``name`` counts, so a caller that must
        know every edge into a component (who sends to a queue) finds them all, whatever the
        service, and at worst a string that only looks like the name. The specs are read
        once, on the first call.
        """
        if self._strings is None:
            self._strings = {}
            for component, spec in self.scenario.components.items():
                _find(spec, (), component, self._strings)
        return self._strings.get(name, [])

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """One object per ``key`` for the whole model, made on first use (e.g. a shared pool)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]


def _find(
    value: object,
    path: tuple[str, ...],
    component: str,
    found: dict[str, list[tuple[str, tuple[str, ...]]]],
) -> None:
    """Record ``(component, path)`` under every string inside ``value``."""
    if isinstance(value, str):
        found.setdefault(value, []).append((component, path))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _find(getattr(value, name), (*path, name), component, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _find(key, (*path, str(key)), component, found)
            _find(item, (*path, str(key)), component, found)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, (str, BaseModel, dict, list, tuple)):  # not numbers (long)
                _find(item, (*path, str(i)), component, found)
