"""Retried deliveries (EventBridge and S3 targets), and giving up on a delivery.

A delivery is decided ahead (:meth:`Retrier.decide`: one event at its outcome) unless its target
is live (:func:`sim.engine.ports.is_live`: a rate limit decides each attempt), when each attempt
is made at its own time (:meth:`Retrier.run_live`).

A delivery given up goes to its dead-letter queue when it has one (:class:`DeadLetter`: the
queue parks the pair, which becomes ``dead_lettered``), else its pairs are ``lost``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sim.engine.fates import LOST
from sim.engine.message import Pair

if TYPE_CHECKING:

    from sim.config.common import DeliveryRetrySpec
    from sim.engine.ledger import Ledger
from sim.engine.ports import Attempt, LiveTarget, RetryTarget
from sim.engine.schedule import Environment, call_at

__all__ = ["DeadLetter", "Retrier", "give_up"]


class DeadLetter(Protocol):
    """Where a given-up delivery goes (an SQS queue used as a DLQ)."""

    def store_parked(self, pair: Pair, now: float) -> None:
        """Park ``pair`` (fate ``dead_lettered``), received at ``now``."""
        ...


class Retrier:
    """A retry policy with exponential backoff and jitter, decided ahead (module docstring).

    Retry ``i`` (1, 2, ...) comes ``d/2 + U(0, d/2)`` after the previous attempt, with
    ``d = min(base_s × 2^(i−1), cap_s)``; at most ``max_attempts`` retries, and none after the
    event is ``max_age_s`` old (counted from the first attempt). Attempts inside an outage of the
    target fail without drawing its error stream.
    """

    def __init__(
        self, env: Environment, policy: DeliveryRetrySpec, jitter: Callable[[], float]
    ) -> None:
        self.env = env
        self.max_retries = policy.max_attempts
        self.max_age_s = policy.max_age_s
        self.base_s = policy.base_s
        self.cap_s = policy.cap_s
        self.jitter = jitter

    def decide(self, port: RetryTarget, t0: float) -> tuple[bool, float, int]:
        """``(succeeded, time of the outcome, attempts made)`` of a delivery starting at ``t0``."""
        t = t0
        attempts = 1
        always = port.always_fails()
        while True:
            if not always and port.failing_until(t) is None and not port.attempt_fails(t):
                return True, t, attempts
            nxt, end = self.next_attempt(t, attempts, t0)
            if nxt is None:
                return False, end, attempts
            t = nxt
            attempts += 1

    def next_attempt(self, t: float, attempts: int, t0: float) -> tuple[float | None, float]:
        """What follows failed attempt number ``attempts``, answered at ``t``.

        Returns ``(time of the next attempt, t)``, or ``(None, time the delivery is given
        up)``; the first attempt was at ``t0``.
        """
        if attempts > self.max_retries:
            return None, t
        d = min(self.base_s * 2.0 ** (attempts - 1), self.cap_s)
        nxt = t + 0.5 * d * (1.0 + self.jitter())
        end_of_age = t0 + self.max_age_s
        if nxt > end_of_age:
            return None, end_of_age
        return nxt, t

    def run_live(
        self,
        port: LiveTarget,
        t0: float,
        attempt: Callable[[], Attempt],
        done: Callable[[bool, int], None],
    ) -> None:
        """A delivery starting at ``t0`` whose attempts are made at their own times.

        ``attempt()`` makes one attempt now (``port.try_deliver``, plus what the sender counts);
        ``done(succeeded, attempts)`` is called when the delivery succeeds (at that attempt) or
        is given up. Attempts inside a known outage of the port fail without an event, as in
        :meth:`decide`; every other attempt is one scheduled event.
        """
        env = self.env
        always = port.always_fails()
        attempts = 1

        def give_up_at(t: float, n: int) -> None:
            call_at(env, t, lambda: done(False, n))

        def step() -> None:
            nonlocal attempts
            t = env.now
            while True:
                if not always and port.failing_until(t) is None:
                    if t > env.now:
                        call_at(env, t, step)
                        return
                    error, wait = attempt()
                    if error is None:
                        done(True, attempts)
                        return
                    t += wait
                nxt, end = self.next_attempt(t, attempts, t0)
                if nxt is None:
                    give_up_at(end, attempts)
                    return
                t = nxt
                attempts += 1

        call_at(env, t0, step)


def give_up(
    ledger: Ledger, pairs: list[Pair], dead_letter: DeadLetter | None, now: float
) -> None:
    """A delivery given up: its pairs to ``dead_letter``, else lost."""
    for pair in pairs:
        if dead_letter is not None:
            dead_letter.store_parked(pair, now)
        else:
            ledger.drop(pair, LOST)
