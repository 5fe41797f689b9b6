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

    def __post_init__(self) -> None:
        for name, spec in self.scenario.components.items():
            trigger = getattr(spec, "trigger", None)
            if trigger is not None:
                self.consumer_of[trigger.source] = name

    def is_type(self, name: str, component_type: str) -> bool:
        """Whether component ``name`` is of scenario ``type`` ``component_type``."""
        spec = self.scenario.components.get(name)
        return spec is not None and spec.type == component_type

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """One object per ``key`` for the whole model, made on first use (e.g. a shared pool)."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]
