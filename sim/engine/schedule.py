"""Scheduling helpers: calls after a delay or at a time with one SimPy event.

The hot paths schedule callbacks rather than processes: :func:`call_after` (a delay) and
:func:`call_at` (an absolute time) push one heap entry each.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, Event

__all__ = ["Environment", "ProcessGen", "Timer", "call_after", "call_at"]

ProcessGen = Generator[Event, Any, None]


_simpy_step = simpy.Environment.step


class Environment(simpy.Environment):
    """SimPy's environment with ``now`` as a plain attribute instead of a property.

    Every hot path reads the current time several times per message; SimPy's ``now`` is a
    property over ``_now``, and a property read is a Python call. Here ``now`` is an ordinary
    attribute, set in :meth:`step` just before SimPy processes the next event: the time of the
    event at the top of the heap, which is the time SimPy's own ``step`` moves to. Everything
    else is SimPy's. Components work the same on a plain :class:`simpy.Environment` (tests use
    one), only a little slower; ``benchmarks/event_routing.py`` measures the difference.
    """

    now = 0.0  # shadows SimPy's property; the instance attribute below holds the time

    def __init__(self, initial_time: float = 0.0) -> None:
        super().__init__(initial_time)
        self.now = self._now

    def step(self) -> None:
        """Move ``now`` to the next event's time, then let SimPy process that event."""
        queue = self._queue
        if queue:
            self.now = queue[0][0]
        _simpy_step(self)  # SimPy's own step (called directly: cheaper than super())


class Timer(Event):
    """A timer event that calls ``fn(event)`` after ``delay_s`` seconds (≥ 0, unchecked).

    The hot-path way to schedule work without a process: one heap entry, one callback. It
    pushes onto the environment's event queue exactly as ``Environment.schedule`` does, which
    saves the ``Timeout`` object and a bound method per call. This module is the one place
    that touches SimPy internals (``env._queue``, ``env._eid``, ``env._now``); they have been
    stable since 2016 and ``pyproject.toml`` pins simpy below 5.
    """

    def __init__(self, env: simpy.Environment, delay_s: float, fn: Callable[[Event], None]):
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._ok = True
        heappush(env._queue, (env._now + delay_s, NORMAL, next(env._eid), self))


def call_after(env: simpy.Environment, delay_s: float, fn: Callable[[Event], None]) -> Event:
    """Call ``fn(event)`` after ``delay_s`` seconds (≥ 0; 0 is scheduled too) with one event."""
    if delay_s < 0.0:
        raise ValueError(f"negative delay {delay_s!r}")
    return Timer(env, delay_s, fn)


class _TimerAt(Timer):
    """A :class:`Timer` at the absolute time ``t_s`` (> now, unchecked), exactly.

    ``now + (t_s - now)`` can round to a neighbour of ``t_s``; two calls for the same time
    made at different times would then fire in the wrong order (an SNS FIFO subscription
    hands a message over at the time of the previous one of its group).
    """

    def __init__(self, env: simpy.Environment, t_s: float, fn: Callable[[Event], None]):
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._ok = True
        heappush(env._queue, (t_s, NORMAL, next(env._eid), self))


def call_at(env: simpy.Environment, t_s: float, fn: Callable[[], None]) -> None:
    """Call ``fn()`` at time ``t_s``: now if that is not in the future, else with one event.

    The event fires at ``t_s`` exactly, so calls for the same time keep the order in which
    they were made.
    """
    if t_s <= env._now:
        fn()
    else:
        _TimerAt(env, t_s, lambda _: fn())
