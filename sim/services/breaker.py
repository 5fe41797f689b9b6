"""A circuit breaker on a handler's calls to a dependency (a client-side pattern, not AWS's).

AWS Prescriptive Guidance describes the pattern ("Circuit breaker pattern", Cloud design
patterns): a caller that has seen repeated failures or timeouts stops calling the dependency
for a while, then lets a few calls through to find out whether it has recovered. AWS gives no
numbers; the parameters (:class:`~sim.config.handler.CircuitBreakerSpec`) are assumptions.

Modelled:
    * One breaker per call entry of a function (``calls[i].circuit_breaker``), shared by all
      the function's execution environments, as the SDK retry quota is. (A breaker kept in a
      module-level client lives per execution environment on AWS; one per function is the
      aggregate view: it trips on the function's whole traffic, not on one environment's.)
    * The breaker sits inside the SDK retry loop: every attempt passes it and every attempt's
      outcome is recorded (the composition "retry around breaker" that client libraries
      recommend). A failure is any error answer: throttled, a server error, the client's own
      timeout. An attempt the function abandons (its own timeout) records nothing.
    * Closed: the outcomes of the last ``window_s`` seconds (a sliding time window, exact)
      are kept; after each outcome, when the window holds at least ``min_calls`` of them and
      failures / outcomes ≥ ``failure_ratio``, the breaker opens.
    * Open for ``open_s``: every attempt is refused at once (``SHORT_CIRCUITED``), without
      reaching the dependency (no load on it, no cost); the refusal is not retried, so the call
      fails and so does its input, as after any failed call.
    * Then half-open: up to ``half_open_probes`` attempts go through (the others are refused
      as when open); when all of them have succeeded the breaker closes with an empty window;
      the first failure among them opens it again for ``open_s``. A probe abandoned by its
      function gives its place to another attempt.
    * Outcomes that arrive after the state they were admitted in has ended (an answer to an
      attempt let through before the breaker opened) are ignored.

Not modelled:
    * Slow-call thresholds, count-based windows, fallbacks, and a breaker shared across
      functions (or stored in a table, as some serverless implementations do).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sim.config.handler import CircuitBreakerSpec
    from sim.engine.ledger import Ledger

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "SHORT_CIRCUITED", "CircuitBreaker"]

#: The error of an attempt refused by an open (or full half-open) breaker.
SHORT_CIRCUITED: Final = "short_circuited"

#: The breaker's states.
CLOSED: Final = 0
OPEN: Final = 1
HALF_OPEN: Final = 2


class CircuitBreaker:
    """The breaker of one call entry of one function (module docstring).

    Args:
        spec: The entry's ``circuit_breaker``.
        ledger: The run's ledger (its ``counting`` gates the counts).
        counted_from_s: Start of the counted period (``warmup_s``).
        horizon_s: End of the run (``duration_s + drain_s``).

    Attributes:
        rejected: Attempts refused (counted period).
        opened: Times the breaker opened (counted period).
        open_s: Time spent open within the counted period (exact: each opening lasts
            ``open_s``).
    """

    __slots__ = (
        "counted_from_s", "epoch", "failures", "horizon_s", "issued", "ledger", "min_calls",
        "open_for_s", "open_s", "open_until", "opened", "passed", "probes", "ratio", "rejected",
        "state", "window", "window_s",
    )  # fmt: skip

    def __init__(
        self, spec: CircuitBreakerSpec, ledger: Ledger, counted_from_s: float, horizon_s: float
    ) -> None:
        self.ledger = ledger
        self.window_s = spec.window_s
        self.ratio = spec.failure_ratio
        self.min_calls = spec.min_calls
        self.open_for_s = spec.open_s
        self.probes = spec.half_open_probes
        self.counted_from_s = counted_from_s
        self.horizon_s = horizon_s
        self.state = CLOSED
        #: changes with every change of state; an attempt carries the epoch it was admitted in
        self.epoch = 0
        self.window: deque[tuple[float, bool]] = deque()
        self.failures = 0
        self.open_until = 0.0
        self.issued = 0  # half-open: probes let through
        self.passed = 0  # half-open: probes that succeeded
        self.rejected = 0
        self.opened = 0
        self.open_s = 0.0

    def admit(self, now: float) -> int:
        """May an attempt go through now? Its ticket (≥ 0) to :meth:`record`, or -1: refused."""
        state = self.state
        if state == CLOSED:
            return self.epoch
        if state == OPEN:
            if now < self.open_until:
                return self._refuse()
            self.state = HALF_OPEN
            self.epoch += 1
            self.issued = 0
            self.passed = 0
        if self.issued < self.probes:
            self.issued += 1
            return self.epoch
        return self._refuse()

    def _refuse(self) -> int:
        if self.ledger.counting:
            self.rejected += 1
        return -1

    def record(self, ticket: int, failed: bool, now: float) -> str | None:
        """The outcome of an attempt admitted with ``ticket``, known now.

        Returns ``"breaker_opened"`` or ``"breaker_closed"`` when the breaker changed state.
        """
        if ticket != self.epoch:
            return None  # admitted in a state that has ended since
        if self.state == HALF_OPEN:
            if failed:
                self._open(now)
                return "breaker_opened"
            self.passed += 1
            if self.passed < self.probes:
                return None
            self.state = CLOSED
            self.epoch += 1
            self.window.clear()
            self.failures = 0
            return "breaker_closed"
        window = self.window
        cut = now - self.window_s
        while window and window[0][0] <= cut:
            if window.popleft()[1]:
                self.failures -= 1
        window.append((now, failed))
        if failed:
            self.failures += 1
        n = len(window)
        if n >= self.min_calls and self.failures / n >= self.ratio:
            self._open(now)
            return "breaker_opened"
        return None

    def is_open(self, now: float) -> bool:
        """Whether the breaker refuses every attempt at ``now`` (open, not yet half-open)."""
        return self.state == OPEN and now < self.open_until

    def abandon(self, ticket: int) -> None:
        """The attempt admitted with ``ticket`` was abandoned: a probe frees its place."""
        if ticket == self.epoch and self.state == HALF_OPEN:
            self.issued -= 1

    def _open(self, now: float) -> None:
        self.state = OPEN
        self.epoch += 1
        self.open_until = now + self.open_for_s
        self.window.clear()
        self.failures = 0
        if self.ledger.counting:
            self.opened += 1
        lo = now if now > self.counted_from_s else self.counted_from_s
        hi = self.open_until if self.open_until < self.horizon_s else self.horizon_s
        if hi > lo:
            self.open_s += hi - lo
