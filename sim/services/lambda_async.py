"""Asynchronous Lambda invocation (SNS, and later S3 and EventBridge, invoke this way).

Modelled:
    * Invoke with ``InvocationType=Event``: Lambda puts the event on the function's internal
      queue and answers at once. The invoke fails (and the caller retries) only during an
      ``unavailable`` outage of the function; a ``throttled`` function accepts the event and
      throttles it when it is invoked from the internal queue.
    * Each event is then invoked as soon as the function has concurrency. A throttled
      invocation (no concurrency left) goes back to the queue and is retried with a backoff
      doubling from 1 s to 5 minutes; the same during an outage of the function, skipping to
      the end of the outage window at once when it ends before the event's maximum age.
    * A function error (``errors.rate`` per attempt, poison messages, a timeout) is retried
      ``max_retries`` times (0–2), 1 minute and then 2 minutes later.
    * An event older than ``max_event_age_s`` is discarded: ``expired``. An event that used
      all its retries, or expired, goes to the ``on_failure`` destination when there is one
      (an SQS queue stores it; a topic or function destination counts as reached): the pair is
      then ``dead_lettered``; otherwise an exhausted event is ``lost``.
    * ``duplicate_rate``: after a success, the event is invoked once more (AWS documents
      occasional duplicates without a rate).

    * ``on_success``: after a success, a derived message (the invocation record) is sent to the
      destination. ``on_failure`` to a topic, bus or function: the pair is ``dead_lettered``
      and the same message starts new pairs there (to a queue: see :mod:`sim.services.sqs`).

Not modelled:
    * Jitter of the throttle backoff (AWS documents none): events throttled together retry
      together, which makes long bursts pessimistic.
    * Lambda slowing the reading of a long internal queue, the 1 MB payload limit, and a
      failed delivery to a destination (the record is then lost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from simpy.events import Event

from sim.config.lambda_ import AsyncSpec
from sim.engine.fates import EXPIRED, LOST
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.message import Pair
from sim.engine.ports import Port
from sim.engine.schedule import call_after
from sim.services.handler import FAILED, SKIPPED

if TYPE_CHECKING:
    import simpy

    from sim.engine.context import Context
    from sim.engine.ledger import Ledger
    from sim.engine.stats import FunctionStats
    from sim.services.handler import Handler
    from sim.services.sqs.queue import Queue


class Function(Protocol):
    """What the invoker needs of its function (:class:`sim.services.lambda_.LambdaFunction`)."""

    name: str
    env: simpy.Environment
    ctx: Context
    ledger: Ledger
    stats: FunctionStats
    timeout_s: float

    def acquire(self, now: float) -> str | bool:
        """Start an execution: ``THROTTLED``/``UNAVAILABLE``, else whether it is cold."""
        ...

    def release(self, now: float, ran_s: float, env: tuple[str, int] | None = None) -> None:
        """End an execution that ran ``ran_s`` seconds (in environment ``env``, if tracked)."""
        ...

    def plan_run(self, cold: bool, n_messages: int, now: float) -> tuple[float, float, bool]:
        """Draw one invocation: ``(cold start s, run s capped at the timeout, timed out)``."""
        ...

    def message_fails(self, poison_u: float) -> bool:
        """Draw whether processing one message fails."""
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
#: Backoff of throttled invocations: from 1 s, doubling, at most 5 minutes.
_THROTTLE_FIRST_S = 1.0
_THROTTLE_CAP_S = 300.0


class _Event:
    """One event in the function's internal queue."""

    __slots__ = (
        "backoff_s",
        "enqueued_s",
        "env",
        "errors",
        "invoker",
        "outcome",
        "pair",
        "ran_s",
        "timed_out",
    )

    def __init__(self, invoker: AsyncInvoker, pair: Pair, enqueued_s: float) -> None:
        self.invoker = invoker
        self.pair = pair
        self.enqueued_s = enqueued_s
        self.errors = 0
        self.backoff_s = 0.0
        self.ran_s = 0.0
        self.timed_out = False
        self.env: tuple[str, int] | None = None
        self.outcome = -1  # the handler's outcome, when it has side effects

    def attempt(self, _: Event | None = None) -> None:
        self.invoker._attempt(self)

    def done(self, _: Event | None) -> None:
        self.invoker._complete(self)

    def effects(self, _: Event) -> None:
        fn = self.invoker.fn
        run_start = self.invoker.env.now - self.ran_s
        fn.handler.execute([self.pair], False, self.env, run_start, self.effects_done)

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

    # -- as a delivery target (SNS, direct invokes) -----------------------------------------------

    def attempt_fails(self, t_s: float) -> bool:
        """An Invoke at ``t_s`` fails only during an outage of the function."""
        return self.failing_until(t_s) is not None

    def failing_until(self, t_s: float) -> float | None:
        """End of the ``unavailable`` outage that rejects invokes at ``t_s``, if any.

        A ``throttled`` function still accepts asynchronous invokes: throttling happens when
        the internal queue invokes the function (see :meth:`_attempt`).
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
        ev.attempt()

    def accept(self, pair: Pair, reply: object) -> None:
        """An Invoke from a producer: answered at once (``reply(None)`` or ``reply(error)``)."""
        now = self.env.now
        error = UNAVAILABLE if self.failing_until(now) is not None else None
        if error is None:
            self.take_delivery(pair)
        reply(error)  # type: ignore[operator]

    # -- the internal queue -------------------------------------------------------------------

    def _attempt(self, ev: _Event) -> None:
        fn = self.fn
        now = self.env.now
        if now - ev.enqueued_s >= self.max_age_s:
            self._expire(ev)
            return
        got = fn.acquire(now)
        if got in (THROTTLED, UNAVAILABLE):
            if got == THROTTLED:
                self.ledger.throttle(fn.stats)
            until = self.faults.down_until(fn.name, now)
            if until is not None:
                wait = until - now  # skip the known outage window
            else:
                ev.backoff_s = min(_THROTTLE_CAP_S, max(_THROTTLE_FIRST_S, 2 * ev.backoff_s))
                wait = ev.backoff_s
            self._later(ev, wait)
            return
        cold_s, ev.ran_s, ev.timed_out = fn.plan_run(got is True, 1, now)
        ev.env = fn.current_env  # released with the run, whether it times out or not
        if fn.effects and not ev.timed_out:
            call_after(self.env, cold_s + ev.ran_s, ev.effects)
            return
        call_after(self.env, cold_s + ev.ran_s, ev.done)

    def _later(self, ev: _Event, wait_s: float) -> None:
        """Retry ``ev`` after ``wait_s``, or expire it at its maximum age if that comes first."""
        age_end = ev.enqueued_s + self.max_age_s
        now = self.env.now
        if now + wait_s >= age_end:
            call_after(self.env, max(0.0, age_end - now), lambda _: self._expire(ev))
        else:
            call_after(self.env, wait_s, ev.attempt)

    def _complete(self, ev: _Event) -> None:
        fn = self.fn
        now = self.env.now
        fn.release(now, ev.ran_s, ev.env)
        pair = ev.pair
        ledger = self.ledger
        ledger.attempt(pair)
        if ev.timed_out:
            ledger.timeout(fn.stats)
        outcome = ev.outcome
        if outcome == SKIPPED:
            ledger.release(pair)  # already processed: the idempotent handler skipped it
            return
        if outcome >= 0:
            fails = ev.timed_out or outcome == FAILED
        else:
            fails = ev.timed_out or fn.message_fails(pair.msg.poison_u)
        ev.outcome = -1
        if fails:
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
