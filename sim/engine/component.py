"""The component base class and the request-answering base.

Every service is built from ``(ctx, name, spec)``, wired by :mod:`sim.build` through one
``connect`` step, started with ``start()``, and settles the end of the run in ``finalize()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mypy_extensions import mypyc_attr

from sim.config.fields import DistSpec
from sim.engine.context import Context
from sim.engine.samplers import is_zero, make_sampler

if TYPE_CHECKING:
    from sim.engine.ports import Port
    from sim.engine.wiring import Wiring

__all__ = ["Component", "RequestTarget"]


# In the compiled build (mypyc) a class defined outside the compiled modules (a test's or a
# plugin's service) may still subclass these two.
@mypyc_attr(allow_interpreted_subclasses=True)
class Component:
    """Base class of every service: built from ``(ctx, name, spec)``, wired by ``sim.build``."""

    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.ledger = ctx.ledger

    def port(self, wiring: Wiring) -> Port | None:
        """How a sender reaches this component; None if nothing can address it (a producer)."""
        return None

    def connect(self, wiring: Wiring) -> None:
        """Declare this component's outgoing edges (called once by :mod:`sim.build`)."""

    def start(self) -> None:
        """Register standing processes (called once, after every edge exists)."""

    def finalize(self) -> None:
        """Settle what the end of the run decides (called once, after the run)."""

    def end_warmup(self) -> None:
        """The counted period starts now (``warmup_s``): restart peaks kept for the metrics."""

    def observe(self) -> tuple[dict[str, float], dict[str, float]] | None:
        """What the time series records of this component, or None (nothing).

        Returns ``(states, counts)``: each state's value now, and each count so far (since the
        start of the run), keyed by the name of the rate the recorder makes of it.
        """
        return None

    def sampler(self, dist: DistSpec, purpose: str) -> Callable[[], float] | None:
        """A sampler of ``dist`` on this component's ``purpose`` stream; None if always 0."""
        if is_zero(dist):
            return None
        return make_sampler(dist, self.ctx.streams.get(self.name, purpose))


@mypyc_attr(allow_interpreted_subclasses=True)
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
