"""Asynchronous Lambda invocation: the function's internal event queue and its reader.

Modelled:
    * Invoke with ``InvocationType=Event``: Lambda puts the event on the function's internal
      queue and answers at once. The invoke fails (and the caller retries) only during an
      ``unavailable`` outage of the function; a ``throttled`` function accepts the event and
      throttles it when it is invoked from the internal queue.
    * One internal queue per function, served oldest event first (by the time the event was
      first queued; a retried event keeps its place by age). An event arriving at an empty
      queue is invoked at once when the function has concurrency.
    * The queue is read by Lambda's poller (one reader per function). A throttled invocation
      attempt (no concurrency left, or a ``throttled`` outage) is counted as a throttle and
      puts the event back at the head of the queue; the reader then waits its retry interval
      before it tries again: 1 s after the first throttle, doubling with each throttled try,
      at most 5 minutes (AWS's documented retry interval), and back to 1 s once one of its
      tries gets concurrency or the queue is empty. While events wait, new events queue
      behind them without an invocation attempt of their own: AWS documents that Lambda
      lengthens its retry interval and reads its queue more slowly when the queue is long,
      without numbers; this reader is the model of it (an assumption).
    * When concurrency frees up while events wait (an execution of the function, or of any
      function sharing its concurrency pool, ends), the oldest waiting event is invoked at
      once with it: a reader whose invocation returns reads the next event. So no concurrency
      idles while events wait, whatever the reader's retry interval (an assumption: AWS
      documents no idle capacity, and evsim's earlier per-event timers left a throttled
      function idle between their waves).
    * During an ``unavailable`` outage of the function the reader waits for the end of the
      outage window (skipping the known window, as every retry in evsim does); not a throttle.
    * A function error (``errors.rate`` per attempt, poison messages, a timeout) is retried
      ``max_retries`` times (0–2), 1 minute and then 2 minutes after the failure; the retried
      event then rejoins the queue (by age).
    * An event older than ``max_event_age_s`` is discarded at that age: ``expired``. An event
      that used all its retries, or expired, goes to the ``on_failure`` destination when there
      is one (an SQS queue stores it; a topic or function destination counts as reached): the
      pair is then ``dead_lettered``; otherwise an exhausted event is ``lost``.
    * ``duplicate_rate``: after a success, the event is invoked once more (AWS documents
      occasional duplicates without a rate).
    * ``max_message_age_s`` (the handler's own limit): an event older than this when the
      handler starts, counting from Lambda's accepting the invoke, is dropped unprocessed:
      a successful invocation for Lambda (no retry; the ``on_success`` record is sent), its
      pair ``expired`` (``dropped_too_old``).
    * ``on_success``: after a success, a derived message (the invocation record) is sent to the
      destination. ``on_failure`` to a topic, bus or function: the pair is ``dead_lettered``
      and the same message starts new pairs there (to a queue: see :mod:`sim.services.sqs`).

Not modelled:
    * Events deleted from a long queue without being invoked (AWS: "if the function can't
      keep up ... events might be deleted"), the 1 MB payload limit, and a failed delivery to
      a destination (the record is then lost).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Final, Protocol

from simpy.events import Event

from sim.config.lambda_ import AsyncSpec
from sim.engine.fates import EXPIRED, LOST
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.message import Pair
from sim.engine.ports import Port
from sim.engine.schedule import Environment, Timer, call_after
from sim.services.handler import FAILED, SKIPPED, STALE

if TYPE_CHECKING:

    from sim.engine.context import Context
    from sim.engine.ledger import Ledger
    from sim.engine.stats import FunctionStats
    from sim.services.handler import Handler
    from sim.services.lambda_ import ConcurrencyPool
    from sim.services.sqs.queue import Queue


class Function(Protocol):
    """What the invoker needs of its function (:class:`sim.services.lambda_.LambdaFunction`)."""

    name: str
    env: Environment
    ctx: Context
    ledger: Ledger
    stats: FunctionStats
    timeout_s: float
    max_age_s: float | None
    pool: ConcurrencyPool

    def acquire(self, now: float) -> str | bool:
        """Start an execution: ``THROTTLED``/``UNAVAILABLE``, else whether it is cold."""
        ...

    def release(
        self, now: float, ran_s: float, env: tuple[str, int] | None = None, cold_s: float = 0.0
    ) -> None:
        """End an execution that ran ``ran_s`` seconds after a ``cold_s`` cold start."""
        ...

    def plan_run(self, cold: bool, n_messages: int, now: float) -> tuple[float, float, bool]:
        """Draw one invocation: ``(cold start s, run s capped at the timeout, timed out)``."""
        ...

    def plan_aged_run(
        self, cold: bool, sent_s: list[float], now: float
    ) -> tuple[float, float, bool, list[bool] | None]:
        """:meth:`plan_run` that also finds the inputs too old (``max_message_age_s``)."""
        ...

    def message_fails(self, poison_u: float) -> bool:
        """Draw whether processing one message fails."""
        ...

    def can_start(self, now: float) -> bool:
        """Whether an execution could start now (concurrency, and an environment)."""
        ...

    @property
    def effects(self) -> bool:
        """True when an invocation runs the handler's calls and outputs."""
        ...

    @property
    def handler(self) -> Handler:
        """The handler's calls and outputs."""
        ...

    @property
    def current_env(self) -> tuple[str, int] | None:
        """The environment of the latest acquire, when tracked."""
        ...

__all__ = ["AsyncInvoker", "Function"]

#: Delays before the first and second retry of a function error (seconds).
_ERROR_RETRY_S = (60.0, 120.0)
#: The reader's retry interval after throttles: from 1 s, doubling, at most 5 minutes.
_THROTTLE_FIRST_S: Final = 1.0
_THROTTLE_CAP_S: Final = 300.0

#: Outcomes of one invocation attempt.
_STARTED: Final = True
_REJECTED: Final = False


class _Event:
    """One event in the function's internal queue."""

    __slots__ = (
        "cold_s",
        "enqueued_s",
        "env",
        "errors",
        "invoker",
        "outcome",
        "pair",
        "ran_s",
        "stale",
        "timed_out",
    )

    def __init__(self, invoker: AsyncInvoker, pair: Pair, enqueued_s: float) -> None:
        self.invoker = invoker
        self.pair = pair
        self.enqueued_s = enqueued_s
        self.errors = 0
        self.ran_s = 0.0
        self.cold_s = 0.0
        self.timed_out = False
        self.env: tuple[str, int] | None = None
        self.outcome = -1  # the handler's outcome, when it has side effects
        self.stale: list[bool] | None = None  # [True]: too old when the handler started

    def retry(self, _: Event | None = None) -> None:
        """The wait after a function error is over: back into the queue."""
        self.invoker._arrive(self)

    def done(self, _: Event | None) -> None:
        self.invoker._complete(self)

    def effects(self, _: Event) -> None:
        fn = self.invoker.fn
        run_start = self.invoker.env.now - self.ran_s
        fn.handler.execute([self.pair], False, self.env, run_start, self.effects_done, self.stale)

    def effects_done(self, outcomes: list[int] | None, ran_s: float) -> None:
        self.ran_s = ran_s
        if outcomes is None:
            self.timed_out = True
        else:
            self.outcome = outcomes[0]
        self.invoker._complete(self)


class AsyncInvoker:
    """The asynchronous-invocation side of a Lambda function (its internal event queue)."""

    def __init__(self, fn: Function, spec: AsyncSpec) -> None:
        self.fn = fn
        self.env = fn.env
        self.ledger = fn.ledger
        self.faults = fn.ctx.faults
        self.max_retries = spec.max_retries
        self.max_age_s = spec.max_event_age_s
        self._dup_rate = spec.duplicate_rate
        self._dup_draw = (
            fn.ctx.streams.uniform(fn.name, "async_duplicates") if spec.duplicate_rate else None
        )
        self.destination_queue: Queue | None = None
        self.has_destination = spec.on_failure is not None
        #: the port of a non-queue on-failure destination, and of the on-success destination
        self.failure_port: Port | None = None
        self.success_port: Port | None = None
        self._trace = fn.ledger.trace
        self._aged = fn.max_age_s is not None  # the handler drops events that are too old
        # the waiting events, oldest first: (first queued at, arrival number, event)
        self._queue: list[tuple[float, int, _Event]] = []
        self._arrivals = 0
        self._probe: Timer | None = None  # the reader's next try, while events wait
        self._interval_s = _THROTTLE_FIRST_S  # the reader's next retry interval
        self._expiry_due: float | None = None  # when the oldest waiting event expires

    @property
    def waiting(self) -> int:
        """Events in the internal queue waiting to be invoked (not those waiting for a retry)."""
        return len(self._queue)

    # -- as a delivery target (SNS, direct invokes) -----------------------------------------------

    def attempt_fails(self, t_s: float) -> bool:
        """An Invoke at ``t_s`` fails only during an outage of the function."""
        return self.failing_until(t_s) is not None

    def failing_until(self, t_s: float) -> float | None:
        """End of the ``unavailable`` outage that rejects invokes at ``t_s``, if any.

        A ``throttled`` function still accepts asynchronous invokes: throttling happens when
        the internal queue invokes the function (see :meth:`_try`).
        """
        return self.faults.down_until(self.fn.name, t_s, (UNAVAILABLE,))

    def always_fails(self) -> bool:
        """An asynchronous invoke is always accepted outside outages."""
        return False

    def take_delivery(self, pair: Pair) -> None:
        """The event enters the internal queue now (the invoke was accepted)."""
        ev = _Event(self, pair, self.env.now)
        if self._trace is not None:
            self.ledger.log(ev.enqueued_s, self.fn.name, "queued", pair.msg.id)
        self._arrive(ev)

    def accept(self, pair: Pair, reply: object) -> None:
        """An Invoke from a producer: answered at once (``reply(None)`` or ``reply(error)``)."""
        now = self.env.now
        error = UNAVAILABLE if self.failing_until(now) is not None else None
        if error is None:
            self.take_delivery(pair)
        reply(error)  # type: ignore[operator]

    # -- the internal queue -------------------------------------------------------------------

    def _arrive(self, ev: _Event) -> None:
        """``ev`` is ready to be invoked: at once into an empty queue, else behind the others."""
        if not self._queue:
            if self._try(ev) is _STARTED:
                self._interval_s = _THROTTLE_FIRST_S  # the reader got concurrency
                return
            self._push(ev)
            self._wait_for_capacity()
            return
        self._push(ev)

    def _push(self, ev: _Event) -> None:
        self._arrivals += 1
        heapq.heappush(self._queue, (ev.enqueued_s, self._arrivals, ev))
        due = ev.enqueued_s + self.max_age_s
        if self._expiry_due is None or due < self._expiry_due:
            self._expiry_due = due
            call_after(self.env, max(0.0, due - self.env.now), lambda _: self._on_expiry(due))

    def _try(self, ev: _Event) -> bool:
        """One invocation attempt of ``ev``: started, or rejected (then the reader waits)."""
        fn = self.fn
        now = self.env.now
        got = fn.acquire(now)
        if got in (THROTTLED, UNAVAILABLE):
            until = self.faults.down_until(fn.name, now)
            if got == THROTTLED:
                self.ledger.throttle(fn.stats)
                if self._trace is not None:
                    self.ledger.log(now, fn.name, "throttled", ev.pair.msg.id)
            if until is not None:
                self._schedule_probe(until - now)  # skip the known outage window
            elif got == THROTTLED:
                self._schedule_probe(self._interval_s)
                self._interval_s = min(_THROTTLE_CAP_S, 2.0 * self._interval_s)
            return _REJECTED
        if self._aged:
            cold_s, ev.ran_s, ev.timed_out, ev.stale = fn.plan_aged_run(
                got is True, [ev.enqueued_s], now
            )
        else:
            cold_s, ev.ran_s, ev.timed_out = fn.plan_run(got is True, 1, now)
        ev.cold_s = cold_s
        ev.env = fn.current_env  # released with the run, whether it times out or not
        if fn.effects and not ev.timed_out:
            call_after(self.env, cold_s + ev.ran_s, ev.effects)
        else:
            call_after(self.env, cold_s + ev.ran_s, ev.done)
        return _STARTED

    def _schedule_probe(self, wait_s: float) -> None:
        """The reader tries again ``wait_s`` from now (replacing a try already planned)."""
        if self._probe is not None:
            self._probe.cancel()
        self._probe = Timer(self.env, wait_s, self._on_probe)

    def _wait_for_capacity(self) -> None:
        """Events wait: ask the concurrency pool to hand over any concurrency that frees up."""
        self.fn.pool.wait(self)

    def _drained(self) -> None:
        """The queue is empty: the reader stops trying and its interval starts over."""
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        self._interval_s = _THROTTLE_FIRST_S
        self.fn.pool.unwait(self)

    def _on_probe(self, _: Event) -> None:
        """The reader's retry interval is over: it reads events while it gets concurrency."""
        self._probe = None
        queue = self._queue
        while queue:
            if self._try(queue[0][2]) is _REJECTED:
                return  # the reader waits again (:meth:`_try` planned its next try)
            heapq.heappop(queue)
            self._interval_s = _THROTTLE_FIRST_S  # the reader got concurrency
        self._drained()

    def on_capacity(self) -> None:
        """Concurrency freed up (or the function may scale again): invoke the oldest events."""
        queue = self._queue
        fn = self.fn
        now = self.env.now
        while queue and fn.can_start(now):
            ev = queue[0][2]
            if self._try(ev) is _REJECTED:
                break
            heapq.heappop(queue)
        if not queue:
            self._drained()

    def _on_expiry(self, due: float) -> None:
        if due != self._expiry_due:
            return  # superseded by an earlier expiry
        self._expiry_due = None
        queue = self._queue
        now = self.env.now
        while queue and queue[0][0] + self.max_age_s <= now:
            self._expire(heapq.heappop(queue)[2])
        if queue:
            due = queue[0][0] + self.max_age_s
            self._expiry_due = due
            call_after(self.env, max(0.0, due - now), lambda _: self._on_expiry(due))
        else:
            self._drained()

    def _later(self, ev: _Event, wait_s: float) -> None:
        """Requeue ``ev`` after ``wait_s``, or expire it at its maximum age if that comes first."""
        age_end = ev.enqueued_s + self.max_age_s
        now = self.env.now
        if now + wait_s >= age_end:
            call_after(self.env, max(0.0, age_end - now), lambda _: self._expire(ev))
        else:
            call_after(self.env, wait_s, ev.retry)

    def _complete(self, ev: _Event) -> None:
        fn = self.fn
        now = self.env.now
        # hands the concurrency to a waiting event, if any
        fn.release(now, ev.ran_s, ev.env, ev.cold_s)
        pair = ev.pair
        ledger = self.ledger
        ledger.attempt(pair)
        if ev.timed_out:
            ledger.timeout(fn.stats)
        outcome = ev.outcome
        if outcome >= SKIPPED:
            ev.outcome = -1
            if outcome == STALE:
                self._dropped_too_old(ev)
            else:
                ledger.release(pair)  # already processed: the idempotent handler skipped it
            return
        if outcome >= 0:
            fails = ev.timed_out or outcome == FAILED
        else:
            fails = ev.timed_out or fn.message_fails(pair.msg.poison_u)
        ev.outcome = -1
        if fails:
            ledger.function_error(fn.stats)
            if self._trace is not None:
                ledger.log(now, fn.name, "failure", pair.msg.id)
            if ev.errors < self.max_retries:
                delay = _ERROR_RETRY_S[min(ev.errors, len(_ERROR_RETRY_S) - 1)]
                ev.errors += 1
                self._later(ev, delay)
            else:
                self._fail(ev, LOST)
            return
        if self._trace is not None:
            ledger.log(now, fn.name, "success", pair.msg.id)
        ledger.success(pair)
        if self.success_port is not None:
            fn.handler.send_destination(pair.msg, "success", self.success_port)
        if self._dup_draw is not None and self._dup_draw() < self._dup_rate:
            ledger.copy(pair)
            self.take_delivery(pair)
        ledger.release(pair)

    def _dropped_too_old(self, ev: _Event) -> None:
        """The handler dropped the event as too old: a success for Lambda, ``expired`` here.

        The invocation succeeded, so an ``on_success`` destination gets its record; no
        duplicate invocation is drawn (a duplicate would be dropped too: it is just as old).
        """
        pair = ev.pair
        ledger = self.ledger
        ledger.too_old(pair)
        if self._trace is not None:
            ledger.log(self.env.now, self.fn.name, "too_old", pair.msg.id)
        if self.success_port is not None:
            self.fn.handler.send_destination(pair.msg, "success", self.success_port)
        ledger.release(pair)

    def _expire(self, ev: _Event) -> None:
        if self._trace is not None:
            self.ledger.log(self.env.now, self.fn.name, "expired", ev.pair.msg.id)
        self._fail(ev, EXPIRED)

    def _fail(self, ev: _Event, fate: int) -> None:
        """The event is given up: to the on-failure destination, else dropped with ``fate``."""
        pair = ev.pair
        if self.destination_queue is not None:
            self.destination_queue.store_parked(pair, self.env.now)
        elif self.failure_port is not None:
            # a topic, bus or function destination: the record reached it, and the message
            # starts new pairs there
            self.ledger.park(pair)
            self.fn.handler.forward(pair.msg, self.failure_port)
        else:
            self.ledger.drop(pair, fate)
