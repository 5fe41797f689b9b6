"""What every component gets: the SimPy environment, streams, ledger, faults and cost meter.

Also the :class:`Component` base class: the small surface every service offers
(``__init__(ctx, name, spec)`` stores and takes its streams, ``start()`` registers standing
processes once all edges exist, ``finalize()`` settles what the end of the run decides, such as
retention expiry of messages still stored).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, Event

from sim.config import Scenario
from sim.cost import CostMeter
from sim.faults import Faults
from sim.ledger import Ledger
from sim.streams import RandomStreams

__all__ = ["Component", "Context", "ProcessGen", "Timer", "call_at"]

ProcessGen = Generator[Event, Any, None]


@dataclass(slots=True)
class Context:
    """Shared services of one run (one replication)."""

    env: simpy.Environment
    streams: RandomStreams
    ledger: Ledger
    faults: Faults
    cost: CostMeter
    scenario: Scenario


class Component:
    """Base class of every service: built from ``(ctx, name, spec)``, wired by ``sim.build``."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.ledger = ctx.ledger

    def start(self) -> None:
        """Register standing processes (called once, after every edge exists)."""

    def finalize(self) -> None:
        """Settle what the end of the run decides (called once, after the run)."""


class Timer(Event):
    """A timer event that calls ``fn(event)`` after ``delay_s`` seconds (≥ 0, unchecked).

    The hot-path way to schedule work without a process: one heap entry, one callback. It
    pushes onto the environment's event queue exactly as ``Environment.schedule`` does.
    Hot paths also read ``env._now`` rather than the ``env.now`` property; both are SimPy 4
    internals that have been stable since 2016 (``pyproject.toml`` pins simpy below 5).
    """

    def __init__(self, env: simpy.Environment, delay_s: float, fn: Callable[[Event], None]):
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._ok = True
        heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), self))


def call_at(env: simpy.Environment, delay_s: float, fn: Callable[[Event], None]) -> Event:
    """Schedule ``fn(event)`` after ``delay_s`` seconds (≥ 0) with a single SimPy event."""
    if delay_s < 0.0:
        raise ValueError(f"negative delay {delay_s!r}")
    return Timer(env, delay_s, fn)
