"""SNS delivery policies as attempt schedules, with arithmetic skipping of long phases.

A policy (immediate retries, pre-backoff, backoff, post-backoff; :mod:`sim.services.sns`) is
a list of gaps between attempts; a cursor walks it without one event per attempt, so that
AWS's 100,015-attempt schedule over 23 days costs a few arithmetic steps per delivery.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sim.config.sns import (
    DeliveryPolicySpec,
)

__all__ = ["Schedule"]


class Schedule:
    """The attempt times of a delivery policy, with arithmetic skipping of long phases.

    Offsets are relative to the first attempt (offset 0). Phases: ``immediate`` retries at +0,
    ``pre_backoff`` at +min_delay, ``backoff`` growing from min_delay to max_delay, and
    ``post_backoff`` at +max_delay each.
    """

    __slots__ = ("_gaps",)

    def __init__(self, policy: DeliveryPolicySpec) -> None:
        self._gaps = policy.runs()

    def cursor(self, t0: float) -> Cursor:
        """A cursor at the first attempt, made at ``t0``."""
        return Cursor(self._gaps, t0)


class Cursor:
    """Position in a schedule: the current attempt's time and how many attempts were made."""

    __slots__ = ("attempts", "gaps", "i", "left", "t")

    def __init__(self, gaps: list[tuple[int, float]], t0: float) -> None:
        self.gaps = gaps
        self.i = 0
        self.left = gaps[0][0] if gaps else 0
        self.t = t0
        self.attempts = 1

    def advance(self) -> bool:
        """Move to the next attempt; False when the schedule is exhausted."""
        while self.i < len(self.gaps):
            if self.left > 0:
                self.left -= 1
                self.t += self.gaps[self.i][1]
                self.attempts += 1
                return True
            self.i += 1
            if self.i < len(self.gaps):
                self.left = self.gaps[self.i][0]
        return False

    def advance_to(self, until_s: float) -> bool:
        """Move to the first attempt at or after ``until_s``; False if the schedule ends first.

        Attempts passed over are counted in :attr:`attempts` (they fail: the caller knows the
        target is down until ``until_s``).
        """
        while self.t < until_s:
            if self.i >= len(self.gaps):
                return False
            gap = self.gaps[self.i][1]
            if self.left > 1 and gap > 0:
                k = min(self.left - 1, max(0, math.ceil((until_s - self.t) / gap) - 1))
                if k > 0:
                    self.left -= k
                    self.t += k * gap
                    self.attempts += k
            if not self.advance():
                return False
        return True

    def past_outages(self, failing_until: Callable[[float], float | None]) -> bool:
        """Move past the attempts that fall in the target's known outages.

        ``failing_until(t)`` is the end of an outage in force at ``t`` (None: none). False if
        the schedule ends inside an outage.
        """
        while (until := failing_until(self.t)) is not None:
            if not self.advance_to(until):
                return False
        return True

    def exhaust(self) -> None:
        """Move to the last attempt of the schedule (every attempt fails)."""
        while self.i < len(self.gaps):
            gap = self.gaps[self.i][1]
            self.t += self.left * gap
            self.attempts += self.left
            self.left = 0
            self.i += 1
            if self.i < len(self.gaps):
                self.left = self.gaps[self.i][0]
