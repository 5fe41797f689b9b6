"""Dependencies: what a Lambda handler calls synchronously, and the call interface they share.

A handler *calls* a dependency (a ``database``, a ``dynamodb_table``, an ``http_api``) and
waits for its answer. Each attempt of a call is one :class:`CallRequest` handed to
:meth:`Dependency.call` with a ``reply`` callback; the dependency calls ``reply`` exactly once
(unless the caller abandons the request first): ``reply(None)`` on success, or
``reply(error)`` with ``error`` one of

* ``"throttled"``: refused for lack of capacity (a connection limit, a full waiting line, a
  rate or capacity limit, a ``throttled`` outage), a 429-like answer that clients retry;
* ``"unavailable"``: a retriable server error (an ``unavailable`` outage, or ``errors.rate``);
* ``"timeout"``: the caller's client timeout (``CallRequest.timeout_s``) fired first.

When the answer comes: a refusal (an outage, a capacity or rate limit, a full line, too many
connections) is known at once and is given synchronously, inside ``call()``. Every request
that is admitted is answered from a scheduled event, never inside ``call()``, even when it
takes no time.

Client timeouts and wasted work: the dependency schedules each request's client timeout
itself (one timer; it is ignored if the request was answered first). A caller that times out
while its request waits for a connection takes the request out of the line: no work is done,
and it gets ``reply("timeout")``. A caller that times out while its request is in service gets
``reply("timeout")`` at once, but the request keeps its connection (or concurrency slot, or
capacity) until it completes. :meth:`CallHandle.abandon` gives up the same way without an
answer (the calling function timed out, say). **Wasted time** (``wasted_s``) is the whole
in-service time of every request whose answer its caller never used: it gave up (timed out or
abandoned) before the answer reached it, while the request waited for its answer, was in
service, or was on its way back. A request still in service when the run ends adds nothing.

Counts (calls, refusals, timeouts, ...) are counted from ``warmup_s`` on (``ledger.counting``);
wasted time and utilisation are time integrals over the counted period [``warmup_s``, end of
the run].

Modelled:
    * Per request: ``unavailable`` and ``throttled`` outages refuse it at once; the
      dependency's own capacity check (subclasses) may refuse it at once; an admitted request
      fails with probability ``errors.rate`` (drawn at admission, on the ``errors`` stream),
      in which case it is served as any other and answered ``"unavailable"``.
    * A ``slow`` outage multiplies service times and latencies by its factor (the factor in
      force when the service, or the latency, starts).
    * The caller's client timeout and abandonment, and the wasted work they leave behind.

Not modelled:
    * Cancellation at the server: a request in service always runs to completion.
    * Client-side connection set-up time (TLS handshakes, opening a database connection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from simpy.events import Event

from sim.config.fields import DistSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.faults import SLOW, THROTTLED, UNAVAILABLE
from sim.engine.schedule import call_after

if TYPE_CHECKING:
    from sim.services.breaker import CircuitBreaker

__all__ = ["TIMEOUT", "CallHandle", "CallRequest", "CallStats", "Dependency", "Level"]

#: The error a caller gets when its client timeout fires before the answer.
TIMEOUT: Final = "timeout"

#: States of a request: waiting for a connection, in service, its answer on the way, over.
WAITING: Final = 0
SERVING: Final = 1
ANSWERING: Final = 2
DONE: Final = 3

Reply = Callable[[str | None], None]


class CallRequest:
    """One attempt of one call.

    Attributes:
        op: ``"read"`` or ``"write"`` (DynamoDB capacity units; the others ignore it).
        consistent: A strongly consistent DynamoDB read (else eventually consistent).
        size_kb: Item size in KB (DynamoDB capacity units).
        timeout_s: The caller's client timeout for this attempt, already drawn (seconds);
            None waits for ever.
        holder: For a database, the execution environment that holds one connection for all
            its calls (any hashable key); None opens a connection for this call alone.
    """

    __slots__ = ("consistent", "holder", "op", "size_kb", "timeout_s")

    def __init__(
        self,
        op: str = "read",
        consistent: bool = False,
        size_kb: float = 1.0,
        timeout_s: float | None = None,
        holder: object | None = None,
    ) -> None:
        self.op = op
        self.consistent = consistent
        self.size_kb = size_kb
        self.timeout_s = timeout_s
        self.holder = holder


class CallHandle:
    """A request in progress at a dependency (what :meth:`Dependency.call` returns).

    The caller uses :meth:`abandon` and may read :attr:`answered`; the other attributes are
    the dependency's.
    """

    __slots__ = (
        "answered", "conn", "dep", "error", "gave_up", "kind", "reply", "req", "state", "t_call",
        "t_end", "t_start", "units",
    )  # fmt: skip

    def __init__(self, dep: Dependency, req: CallRequest, reply: Reply, t_call: float) -> None:
        self.dep = dep
        self.req = req
        self.reply = reply
        self.t_call = t_call
        self.t_start = t_call
        self.t_end = t_call
        self.state = WAITING
        self.gave_up = False
        #: Whether ``reply`` has been called (a refusal, the answer, or "timeout").
        self.answered = False
        self.error: str | None = None
        self.conn: Any = None  # the database connection that serves it (per environment)
        self.kind = ""  # DynamoDB: "read" or "write"
        self.units = 0.0  # DynamoDB: capacity units consumed

    def abandon(self) -> None:
        """Give up without waiting for the answer (e.g. the calling function timed out).

        A request still waiting leaves the line (no work is done); one in service runs to
        completion and its in-service time counts as wasted. ``reply`` is never called after
        this; abandoning an answered request does nothing.
        """
        self.dep._give_up(self, None)

    def _timed_out(self, _: Event) -> None:
        self.dep._give_up(self, TIMEOUT)

    def _service_done(self, _: Event) -> None:
        self.dep._end_service(self)

    def _answer_due(self, _: Event) -> None:
        self.dep._answer(self)


class CallStats:
    """Counters of one dependency (counted from ``warmup_s`` on)."""

    __slots__ = (
        "abandoned", "calls", "left_line", "succeeded", "throttled", "timeouts", "unavailable",
        "wasted_s",
    )  # fmt: skip

    def __init__(self) -> None:
        self.calls = 0
        self.succeeded = 0
        self.throttled = 0
        self.unavailable = 0
        self.timeouts = 0
        self.abandoned = 0
        self.left_line = 0
        self.wasted_s = 0.0


class Level:
    """A count that changes over time (connections open, requests in flight).

    Keeps its time integral and its maximum over the counted period [``warmup_s``, now].
    """

    __slots__ = ("area", "level", "peak", "t", "warmup_s")

    def __init__(self, warmup_s: float) -> None:
        self.warmup_s = warmup_s
        self.level = 0
        self.t = 0.0
        self.area = 0.0
        self.peak = 0

    def change(self, now: float, delta: int) -> None:
        """Add ``delta`` to the level at time ``now``."""
        self.integrate(now)
        self.level += delta
        if now >= self.warmup_s and self.level > self.peak:
            self.peak = self.level

    def integrate(self, now: float) -> None:
        """Account for the level in force since the last change, up to ``now``."""
        w = self.warmup_s
        if now >= w:
            lo = self.t if self.t > w else w
            if now > lo:
                self.area += self.level * (now - lo)
            if self.level > self.peak:
                self.peak = self.level
        self.t = now

    def area_at(self, now: float) -> float:
        """The time integral up to ``now`` (≥ the last change), without changing the level."""
        w = self.warmup_s
        lo = self.t if self.t > w else w
        return self.area + self.level * (now - lo) if now > lo else self.area

    def mean(self, now: float) -> float | None:
        """Time average over [``warmup_s``, ``now``] (None for an empty period)."""
        self.integrate(now)
        span = now - self.warmup_s
        return self.area / span if span > 0 else None


class Dependency(Component):
    """The base of the three dependencies: the call interface, outages, errors, timeouts.

    Subclasses decide admission (:meth:`_refusal`), start admitted requests (:meth:`_enter`),
    end their service (:meth:`_end_service`, then :meth:`_served`) and report metrics.
    Dependencies are not sinks and have no port: nothing sends messages to them.
    """

    def __init__(self, ctx: Context, name: str, error_rate: float, latency: DistSpec) -> None:
        super().__init__(ctx, name)
        self.stats = CallStats()
        self._error_rate = error_rate
        self._error_draw = ctx.streams.uniform(name, "errors") if error_rate > 0.0 else None
        self._has_outages = ctx.faults.has_outages(name)
        self._latency = self.sampler(latency, "latency")
        self.warmup_s = ctx.scenario.warmup_s
        #: the circuit breakers of the handlers' call entries that call this dependency
        self.breakers: list[CircuitBreaker] = []

    # -- the call interface -----------------------------------------------------------------

    def call(self, req: CallRequest, reply: Reply) -> CallHandle:
        """Make one request; ``reply`` gets its answer (see the module docstring).

        A refusal is answered synchronously, before this returns; an admitted request is
        answered later, from a scheduled event.
        """
        now = self.env.now
        h = CallHandle(self, req, reply, now)
        counting = self.ledger.counting
        if counting:
            self.stats.calls += 1
        refusal = self._outage(now)
        if refusal is None:
            refusal = self._refusal(h, now)
        if refusal is not None:
            h.state = DONE
            h.answered = True
            if counting:
                if refusal == THROTTLED:
                    self.stats.throttled += 1
                else:
                    self.stats.unavailable += 1
            reply(refusal)
            return h
        draw = self._error_draw
        if draw is not None and draw() < self._error_rate:
            h.error = UNAVAILABLE
        self._enter(h, now)
        if req.timeout_s is not None and h.state != DONE:
            call_after(self.env, req.timeout_s, h._timed_out)
        return h

    def release_holder(self, holder: object) -> None:
        """An execution environment was reclaimed: close its connection (database only)."""

    # -- for subclasses ---------------------------------------------------------------------

    def _outage(self, now: float) -> str | None:
        """The refusal an ``unavailable`` or ``throttled`` outage gives at ``now``, if any."""
        if not self._has_outages:
            return None
        w = self.ctx.faults.window_at(self.name, now)
        return w.mode if w is not None and w.mode != SLOW else None

    def _slow(self, now: float) -> float:
        """The ``slow`` outage factor at ``now`` (1 outside slow windows)."""
        return self.ctx.faults.slow_factor(self.name, now) if self._has_outages else 1.0

    def _latency_at(self, now: float) -> float:
        """Draw one ``latency_s`` (× the slow factor at ``now``)."""
        if self._latency is None:
            return 0.0
        return self._latency() * self._slow(now)

    def _refusal(self, h: CallHandle, now: float) -> str | None:
        """The dependency's own answer to a request it cannot admit (None: admit it)."""
        return None

    def _enter(self, h: CallHandle, now: float) -> None:
        """Start an admitted request (in service, or waiting)."""
        raise NotImplementedError

    def _leave_line(self, h: CallHandle) -> None:
        """Take a waiting request out of the line (its caller gave up)."""

    def _end_service(self, h: CallHandle) -> None:
        """A request's service time is over (scheduled by subclasses that use the timer)."""
        self._served(h)

    def _transit(self, h: CallHandle) -> float:
        """Time from the end of service to the answer reaching the caller (default 0)."""
        return 0.0

    def _served(self, h: CallHandle) -> None:
        """``h``'s service ends now: waste it if its caller gave up, else send the answer."""
        now = self.env.now
        h.t_end = now
        if h.gave_up:
            h.state = DONE
            self._waste(h)
            return
        delay = self._transit(h)
        if delay > 0.0:
            h.state = ANSWERING
            call_after(self.env, delay, h._answer_due)
        else:
            self._answer(h)

    def _answer(self, h: CallHandle) -> None:
        if h.state == DONE:  # its caller gave up while the answer was on its way
            return
        h.state = DONE
        h.answered = True
        if self.ledger.counting:
            if h.error is None:
                self.stats.succeeded += 1
            else:
                self.stats.unavailable += 1
        h.reply(h.error)

    def _give_up(self, h: CallHandle, why: str | None) -> None:
        """The caller of ``h`` gives up: ``why`` is ``"timeout"`` (answered) or None (abandoned)."""
        if h.state == DONE or h.gave_up:
            return
        h.gave_up = True
        counting = self.ledger.counting
        if counting:
            if why is None:
                self.stats.abandoned += 1
            else:
                self.stats.timeouts += 1
        if h.state == WAITING:
            h.state = DONE
            if counting:
                self.stats.left_line += 1
            self._leave_line(h)
        elif h.state == ANSWERING:
            h.state = DONE
            self._waste(h)
        if why is not None:
            h.answered = True
            h.reply(why)

    def _waste(self, h: CallHandle) -> None:
        """Count ``h``'s in-service time [t_start, t_end] (within the counted period) as wasted."""
        lo = h.t_start if h.t_start > self.warmup_s else self.warmup_s
        if h.t_end > lo:
            self.stats.wasted_s += h.t_end - lo

    # -- observation ------------------------------------------------------------------------

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """States now and counts so far, for the time series (``docs/metrics.md``).

        ``utilization`` is a count too: the capacity used so far, in capacity-seconds, whose
        rate over an interval is the mean utilisation in it.
        """
        s = self.stats
        now = self.env.now
        states: dict[str, float] = {"in_service": self.n_serving(), "waiting": self.n_waiting()}
        counts: dict[str, float] = {
            "utilization": self.capacity_used_s(now),
            "calls_per_s": s.calls,
            "throttled_per_s": s.throttled,
            "timeouts_per_s": s.timeouts,
        }
        if self.breakers:
            states["breakers_open"] = sum(b.is_open(now) for b in self.breakers)
            counts["breaker_rejected_per_s"] = sum(b.rejected for b in self.breakers)
        return states, counts

    def n_serving(self) -> int:
        """Requests in service now."""
        raise NotImplementedError

    def n_waiting(self) -> int:
        """Requests waiting for capacity now (0 for a dependency that refuses instead)."""
        return 0

    def capacity_used_s(self, now: float) -> float:
        """Capacity used from ``warmup_s`` to ``now``, in capacity-seconds (NaN: no limit)."""
        raise NotImplementedError

    # -- results ----------------------------------------------------------------------------

    def call_metrics(self) -> dict[str, Any]:
        """The metrics every dependency reports (``docs/metrics.md``), without utilisation."""
        s = self.stats
        return {
            "calls": s.calls,
            "succeeded": s.succeeded,
            "throttled": s.throttled,
            "unavailable": s.unavailable,
            "timeouts": s.timeouts,
            "abandoned": s.abandoned,
            "wasted_s": s.wasted_s,
        }

    def metrics(self) -> dict[str, Any]:
        """This dependency's metrics at the end of the run (``docs/metrics.md``)."""
        raise NotImplementedError
