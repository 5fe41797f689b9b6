"""The AWS SDK client: backoff with jitter, the retry quota, and the adaptive mode's limiter.

Modelled:
    * Backoff before retry ``i`` (1, 2, ...) from ``d = min(base_s × 2^(i−1), cap_s)``:
      ``full`` jitter sleeps U(0, d) (the standard mode's, and evsim's default), ``equal``
      d/2 + U(0, d/2), ``decorrelated`` min(cap_s, U(base_s, 3 × the previous sleep)) (the
      first previous sleep being ``base_s``), ``none`` exactly d. These are the schemes of the
      AWS Architecture Blog's "Exponential Backoff And Jitter"; one uniform draw per retry
      (none for ``none``).
    * The retry quota (:class:`RetryQuota`) of the standard and adaptive modes: a token bucket
      per client. A retry takes ``retry_cost`` tokens (``timeout_retry_cost`` after the
      client's own timeout); when the bucket holds fewer, the request fails at once instead of
      being retried. A request that succeeds at its first attempt puts ``success_refund``
      tokens back, one that succeeds after retries the cost of its last retry; the bucket never
      holds more than its capacity. The bucket of 500, the costs of 5 and 10 and "successes
      refill it" are AWS's; the refill amounts are the SDKs' implementation (an assumption).
    * The adaptive mode's client-side rate limiter (:class:`AdaptiveLimiter`).

Not modelled:
    * The 2026 retry behaviour (opt-in today): set ``base_s`` and ``quota.retry_cost`` (14)
      to approximate it; its separate throttling base delay and ``x-amz-retry-after``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket

if TYPE_CHECKING:
    from sim.config.common import RetryQuotaSpec, RetrySpec

__all__ = ["AdaptiveLimiter", "Backoff", "RetryQuota"]


class Backoff:
    """The sleeps before the retries of one retry policy (``RetrySpec``: base, cap, jitter)."""

    __slots__ = ("base_s", "cap_s", "draw", "kind", "max_attempts")

    def __init__(self, spec: RetrySpec, draw: Callable[[], float]) -> None:
        self.max_attempts = spec.max_attempts
        self.base_s = spec.base_s
        self.cap_s = spec.cap_s
        self.kind = spec.jitter
        self.draw = draw

    def delay(self, attempt: int, previous_s: float) -> float:
        """Sleep before attempt ``attempt + 1`` (``attempt`` ≥ 1 made so far), in seconds.

        ``previous_s`` is the sleep before the previous retry (0 before the first); only the
        decorrelated scheme uses it.
        """
        kind = self.kind
        if kind == "decorrelated":
            low = self.base_s
            high = 3.0 * max(previous_s, low)
            return min(self.cap_s, low + float(self.draw()) * (high - low))
        d: float = min(self.base_s * 2.0 ** (attempt - 1), self.cap_s)
        if kind == "full":
            return float(self.draw()) * d
        if kind == "equal":
            return 0.5 * d + float(self.draw()) * 0.5 * d
        return d


class RetryQuota:
    """One SDK client's retry quota: a token bucket that retries draw on (module docstring)."""

    __slots__ = ("capacity", "refund", "retry_cost", "timeout_cost", "tokens")

    def __init__(self, spec: RetryQuotaSpec) -> None:
        self.capacity = spec.capacity
        self.tokens = spec.capacity
        self.retry_cost = spec.retry_cost
        self.timeout_cost = spec.timeout_retry_cost
        self.refund = spec.success_refund

    def acquire(self, timeout: bool) -> int:
        """Take the cost of one retry (of a timeout if ``timeout``): the cost, or 0 if refused."""
        cost = self.timeout_cost if timeout else self.retry_cost
        if self.tokens < cost:
            return 0
        self.tokens -= cost
        return cost

    def succeeded(self, last_cost: int) -> None:
        """A request succeeded; ``last_cost`` is what its last retry cost (0: no retry)."""
        tokens = self.tokens + (last_cost if last_cost else self.refund)
        self.tokens = tokens if tokens < self.capacity else self.capacity


class AdaptiveLimiter:
    """Client-side rate limiting of the SDK's adaptive retry mode (CUBIC-style).

    Inactive until the first throttling answer. Then every attempt takes a token from a bucket
    filled at ``fill_rate`` (capacity ``max(fill_rate, 1)``), waiting in line, first come first
    served, while the bucket is empty; a change of rate applies to the attempts already
    waiting. At each throttling answer the rate becomes ``BETA`` × the measured send rate, and
    ``t`` seconds after it the rate is ``SCALE × (t − K)^3 + W`` (``W`` the rate at the last
    throttle, ``K = ∛(W (1 − BETA) / SCALE)``), never above twice the measured rate nor below
    ``MIN_RATE``. The send rate is measured in half-second buckets, smoothed. A waiter that
    has given up meanwhile (its ``go`` returns False when granted: a function that timed out)
    leaves the line without spending a token.
    """

    BETA: Final = 0.7
    SCALE: Final = 0.4
    SMOOTH: Final = 0.8
    MIN_RATE: Final = 0.5
    BUCKET_S: Final = 0.5

    __slots__ = (
        "bucket", "count", "enabled", "env", "generation", "k", "last_max", "last_throttle",
        "measured", "start", "waiting",
    )  # fmt: skip

    def __init__(self, env: Any) -> None:
        self.env = env
        self.enabled = False
        self.bucket = TokenBucket(self.MIN_RATE, 1.0)
        self.bucket.tokens = 0.0
        self.last_max = 0.0
        self.last_throttle = 0.0
        self.k = 0.0
        self.measured = 0.0
        self.start = 0.0
        self.count = 0
        self.waiting: deque[Callable[[], bool | None]] = deque()
        self.generation = 0

    @property
    def fill_rate(self) -> float:
        """Tokens per second (the client's allowed send rate)."""
        return self.bucket.rate

    @fill_rate.setter
    def fill_rate(self, rate: float) -> None:
        self.bucket.rate = rate
        self.bucket.capacity = max(rate, 1.0)

    def acquire(self, go: Callable[[], bool | None]) -> None:
        """Call ``go`` when the next attempt may be sent (at once while inactive).

        ``go`` returns False when its caller no longer wants the token (it gave up waiting);
        the token then stays in the bucket for the next waiter.
        """
        if not self.enabled:
            go()
            return
        bucket = self.bucket
        bucket.refill(self.env.now)
        if not self.waiting and bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            go()
            return
        self.waiting.append(go)
        if len(self.waiting) == 1:
            self._wake_later()

    def _wake_later(self) -> None:
        """Schedule the grant of the head of the line at the current fill rate."""
        self.generation += 1
        gen = self.generation
        delay = max(0.0, (1.0 - self.bucket.tokens) / self.bucket.rate)
        call_after(self.env, delay, lambda _: self._wake(gen))

    def _wake(self, gen: int) -> None:
        if gen != self.generation:
            return  # the rate changed since: a newer wake-up is scheduled
        bucket = self.bucket
        bucket.refill(self.env.now)
        while self.waiting and bucket.tokens >= 1.0 - 1e-9:
            bucket.tokens -= 1.0
            if self.waiting.popleft()() is False:
                bucket.tokens += 1.0  # it gave up waiting: the token goes to the next one
        if self.waiting:
            self._wake_later()

    def update(self, now: float, throttled: bool) -> None:
        """An answer arrived now (``throttled``: a 429)."""
        bucket = math.floor(now / self.BUCKET_S) * self.BUCKET_S
        self.count += 1
        if bucket > self.start:
            rate = self.count / (bucket - self.start)
            self.measured = self.SMOOTH * rate + (1.0 - self.SMOOTH) * self.measured
            self.count = 0
            self.start = bucket
        if throttled:
            base = min(self.measured, self.fill_rate) if self.enabled else self.measured
            self.last_max = base
            self.last_throttle = now
            self.k = (base * (1.0 - self.BETA) / self.SCALE) ** (1.0 / 3.0)
            new = base * self.BETA
            self.bucket.refill(now)
            self.enabled = True
        elif self.enabled:
            new = self.SCALE * (now - self.last_throttle - self.k) ** 3 + self.last_max
            self.bucket.refill(now)
        else:
            return
        self.fill_rate = max(self.MIN_RATE, min(new, 2.0 * self.measured))
        if self.waiting:
            self._wake_later()
