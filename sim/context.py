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

from sim.config import DistSpec, Scenario
from sim.cost import CostMeter
from sim.dists import is_zero, make_sampler
from sim.faults import Faults
from sim.ledger import Ledger
from sim.streams import RandomStreams

__all__ = ["Component", "Context", "ProcessGen", "RequestTarget", "Timer", "call_at"]

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

    def sampler(self, dist: DistSpec, purpose: str) -> Callable[[], float] | None:
        """A sampler of ``dist`` on this component's ``purpose`` stream; None if always 0."""
        if is_zero(dist):
            return None
        return make_sampler(dist, self.ctx.streams.get(self.name, purpose))


class RequestTarget(Component):
    """A component that answers requests (SendMessage, Publish, PutEvents, PutObject, HTTP).

    ``error_rate`` and the component's outages fail a request with a retriable error;
    ``latency`` delays the answer (multiplied during ``slow`` outages).
    """

    def __init__(self, ctx: Context, name: str, error_rate: float, latency: DistSpec) -> None:
        super().__init__(ctx, name)
        self._error_rate = error_rate
        self._has_faults = error_rate > 0 or ctx.faults.has_outages(name)
        self._latency = self.sampler(latency, "latency")

    def request_error(self, t_s: float) -> str | None:
        """The error of one request at ``t_s`` (draws the error stream), or None."""
        if not self._has_faults:
            return None
        return self.ctx.faults.request_fails(self.name, t_s, self._error_rate)

    def request_latency(self, t_s: float) -> float:
        """Draw the latency of one request made at ``t_s`` (seconds)."""
        latency = self._latency() if self._latency is not None else 0.0
        if latency > 0.0 and self._has_faults:
            latency *= self.ctx.faults.slow_factor(self.name, t_s)
        return latency

    def attempt_fails(self, t_s: float) -> bool:
        """Whether one request at ``t_s`` fails (for senders that retry on their own)."""
        return self.request_error(t_s) is not None

    def failing_until(self, t_s: float) -> float | None:
        """End of the outage that makes every request at ``t_s`` fail, if any."""
        return self.ctx.faults.down_until(self.name, t_s) if self._has_faults else None

    def always_fails(self) -> bool:
        """True when every request fails (an error rate of 1)."""
        return self._error_rate >= 1.0


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
