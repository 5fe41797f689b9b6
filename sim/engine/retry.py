"""Retried deliveries decided ahead (EventBridge and S3 targets), and giving up on a delivery.

A delivery given up goes to its dead-letter queue when it has one (:class:`DeadLetter`: the
queue parks the pair, which becomes ``dead_lettered``), else its pairs are ``lost``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sim.engine.fates import LOST
from sim.engine.message import Pair

if TYPE_CHECKING:
    import simpy

    from sim.config.common import DeliveryRetrySpec
    from sim.engine.ledger import Ledger
from sim.engine.ports import RetryTarget

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
        self, env: simpy.Environment, policy: DeliveryRetrySpec, jitter: Callable[[], float]
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
        end_of_age = t0 + self.max_age_s
        while True:
            if not always and port.failing_until(t) is None and not port.attempt_fails(t):
                return True, t, attempts
            if attempts > self.max_retries:
                return False, t, attempts
            d = min(self.base_s * 2.0 ** (attempts - 1), self.cap_s)
            nxt = t + 0.5 * d * (1.0 + self.jitter())
            if nxt > end_of_age:
                return False, end_of_age, attempts
            t = nxt
            attempts += 1


def give_up(
    ledger: Ledger, pairs: list[Pair], dead_letter: DeadLetter | None, now: float
) -> None:
    """A delivery given up: its pairs to ``dead_letter``, else lost."""
    for pair in pairs:
        if dead_letter is not None:
            dead_letter.store_parked(pair, now)
        else:
            ledger.drop(pair, LOST)
