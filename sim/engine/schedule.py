"""The event loop and the scheduling helpers: calls after a delay or at a time.

:class:`Environment` is a SimPy environment: processes, timeouts, events and conditions from
:mod:`simpy` run on it unchanged. What differs is inside: its loop (:meth:`Environment.run`,
:meth:`Environment.step`) is part of the compiled core, ``now`` is a plain attribute, and
besides SimPy's events its heap holds :class:`Tick` entries, which the loop fires by calling
their :meth:`Tick.fire` method, with no list of callbacks, no bound method and no event
object of SimPy's behind them.

The hot paths schedule callbacks rather than processes: :func:`call_after` (a delay) and
:func:`call_at` (an absolute time) push one heap entry each; a component that schedules one
thing per message can push the object itself (a subclass of :class:`Tick`).

Heap entries are ``(time, priority, event id, event)`` tuples exactly as in SimPy, so events
at the same time run in the order they were scheduled, whatever their kind.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterable
from typing import Any, Final

from simpy.core import EmptySchedule
from simpy.events import NORMAL, URGENT, AllOf, AnyOf, Event, Process, Timeout

__all__ = ["Environment", "ProcessGen", "Tick", "Timer", "call_after", "call_at"]

ProcessGen = Generator[Event, Any, None]

_NORMAL: Final = 1
_URGENT: Final = 0
# Final module names are C statics in the compiled build (a plain import is a dict lookup)
_heappush: Final = heapq.heappush
_heappop: Final = heapq.heappop
assert _NORMAL == NORMAL and _URGENT == URGENT


class Tick:
    """A heap entry that the loop fires by calling :meth:`fire` at its time.

    Push one with :meth:`Environment.push_at`. Subclasses belong to the compiled core (the
    compiled build's loop calls :meth:`fire` directly); code outside it schedules with
    :func:`call_after` and :func:`call_at`.
    """

    def fire(self) -> None:
        """Called once, at the entry's time."""
        raise NotImplementedError


class Environment:
    """A SimPy environment whose loop is compiled and whose ``now`` is an attribute.

    It offers what SimPy's :class:`simpy.Environment` offers (``now``, ``active_process``,
    ``process``, ``timeout``, ``event``, ``all_of``, ``any_of``, ``schedule``, ``peek``,
    ``step``, ``run``), so SimPy's events and processes run on it. ``run(until=t)`` stops
    at time ``t`` exactly as SimPy's does: events scheduled for ``t`` before the call with
    urgent priority run, the others do not.

    Args:
        initial_time: The time the clock starts at (seconds).
    """

    def __init__(self, initial_time: float = 0.0) -> None:
        self.now = float(initial_time)
        self._queue: list[tuple[float, int, int, Any]] = []
        #: entries pushed so far, the id of the latest: entries due at the same time keep order
        self._eid = 0
        self._active_proc: Any = None
        self._stopped = False
        #: the most entries the heap held before one was processed (how large it grew)
        self.peak_entries = 0

    @property
    def _now(self) -> float:
        """The current time under SimPy's own name for it (``now`` is the attribute)."""
        return self.now

    @property
    def processed(self) -> int:
        """Entries processed so far (what a run costs in events): every one pushed was."""
        return self._eid - len(self._queue)

    @property
    def active_process(self) -> Any:
        """The process running now, or None."""
        return self._active_proc

    def process(self, generator: ProcessGen) -> Process:
        """A new SimPy :class:`~simpy.events.Process` running ``generator``."""
        return Process(self, generator)  # type: ignore[arg-type]

    def timeout(self, delay: float = 0, value: Any = None) -> Timeout:
        """A SimPy :class:`~simpy.events.Timeout` of ``delay`` seconds."""
        return Timeout(self, delay, value)  # type: ignore[arg-type]

    def event(self) -> Event:
        """A new SimPy :class:`~simpy.events.Event`."""
        return Event(self)  # type: ignore[arg-type]

    def all_of(self, events: Iterable[Event]) -> AllOf:
        """A condition met when all ``events`` are."""
        return AllOf(self, events)  # type: ignore[arg-type]

    def any_of(self, events: Iterable[Event]) -> AnyOf:
        """A condition met when any of ``events`` is."""
        return AnyOf(self, events)  # type: ignore[arg-type]

    def schedule(self, event: Any, priority: int = _NORMAL, delay: float = 0.0) -> None:
        """Put ``event`` (a SimPy event or a :class:`Tick`) on the heap, ``delay`` from now."""
        eid = self._eid = self._eid + 1
        _heappush(self._queue, (self.now + delay, priority, eid, event))

    def push_at(self, t_s: float, tick: Tick) -> None:
        """Fire ``tick`` at time ``t_s`` (≥ now, unchecked), after what is already due then."""
        eid = self._eid = self._eid + 1
        _heappush(self._queue, (t_s, _NORMAL, eid, tick))

    def peek(self) -> float:
        """The time of the next entry (infinity when there is none)."""
        queue = self._queue
        return queue[0][0] if queue else float("inf")

    def step(self) -> None:
        """Process the next entry; raise :class:`simpy.core.EmptySchedule` when none is left."""
        queue = self._queue
        n = len(queue)
        if not n:
            raise EmptySchedule()
        if n > self.peak_entries:
            self.peak_entries = n
        entry = _heappop(queue)
        self.now = entry[0]
        event = entry[3]
        if isinstance(event, Tick):
            event.fire()
            return
        # a SimPy event: its callbacks, then its failure unless something defused it
        callbacks = event.callbacks
        event.callbacks = None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            value = event._value
            exc = type(value)(*value.args)
            exc.__cause__ = value
            raise exc

    def run(self, until: float | Event | None = None) -> Any:
        """Process entries until time ``until`` (or the event ``until``); None: until none is left.

        As :meth:`simpy.Environment.run`, and it returns the ``until`` event's value.
        """
        self._stopped = False
        stop: Event | None = None
        if until is not None:
            if isinstance(until, Event):
                if getattr(until, "callbacks") is None:  # noqa: B009 (typed a list: it is not)
                    return until.value
                stop = until
            else:
                at = float(until)
                if at <= self.now:
                    raise ValueError(
                        f"until ({at}) must be greater than the current simulation time"
                    )
                stop = Event(self)  # type: ignore[arg-type]
                stop._ok = True
                stop._value = None
                self.schedule(stop, _URGENT, at - self.now)
            stop.callbacks.append(self._stop)
        try:
            while not self._stopped:
                self.step()
        except EmptySchedule:
            if stop is not None:
                raise RuntimeError(
                    f'No scheduled events left but "until" event was not triggered: {stop}'
                ) from None
            return None
        assert stop is not None
        return stop.value

    def _stop(self, _: Any) -> None:
        self._stopped = True


class Timer(Tick):
    """Calls ``fn(timer)`` after ``delay_s`` seconds (≥ 0, unchecked), unless cancelled.

    The hot-path way to schedule work without a process: one heap entry, one call.
    """

    def __init__(self, env: Environment, delay_s: float, fn: Callable[[Any], None]) -> None:
        self.fn: Callable[[Any], None] | None = fn
        env.push_at(env.now + delay_s, self)

    def fire(self) -> None:
        """Call the function, unless the timer was cancelled."""
        fn = self.fn
        if fn is not None:
            fn(self)

    def cancel(self) -> None:
        """Do not call the function (the heap entry stays and fires into nothing)."""
        self.fn = None


def call_after(env: Environment, delay_s: float, fn: Callable[[Any], None]) -> Timer:
    """Call ``fn(timer)`` after ``delay_s`` seconds (≥ 0; 0 is scheduled too) with one entry."""
    if delay_s < 0.0:
        raise ValueError(f"negative delay {delay_s!r}")
    return Timer(env, delay_s, fn)


class _CallAt(Tick):
    """Calls ``fn()`` at an absolute time, exactly.

    ``now + (t_s - now)`` can round to a neighbour of ``t_s``; two calls for the same time
    made at different times would then fire in the wrong order (an SNS FIFO subscription
    hands a message over at the time of the previous one of its group).
    """

    def __init__(self, env: Environment, t_s: float, fn: Callable[[], None]) -> None:
        self.fn = fn
        env.push_at(t_s, self)

    def fire(self) -> None:
        self.fn()


def call_at(env: Environment, t_s: float, fn: Callable[[], None]) -> None:
    """Call ``fn()`` at time ``t_s``: now if that is not in the future, else with one entry.

    The entry fires at ``t_s`` exactly, so calls for the same time keep the order in which
    they were made.
    """
    if t_s <= env.now:
        fn()
    else:
        _CallAt(env, t_s, fn)
