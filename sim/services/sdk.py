"""The AWS SDK client's adaptive retry mode: a client-side rate limiter that reacts to throttling.

The standard mode's retries and backoff are decided by the sender (:mod:`sim.services.producer`);
this module holds the limiter that the adaptive mode adds in front of every attempt.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket

if TYPE_CHECKING:
    pass

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    """Client-side rate limiting of the SDK's adaptive retry mode (CUBIC-style).

    Inactive until the first throttling answer. Then every attempt takes a token from a bucket
    filled at ``fill_rate`` (capacity ``max(fill_rate, 1)``), waiting in line, first come first
    served, while the bucket is empty; a change of rate applies to the attempts already
    waiting. At each throttling answer the rate becomes ``BETA`` × the measured send rate, and
    ``t`` seconds after it the rate is ``SCALE × (t − K)^3 + W`` (``W`` the rate at the last
    throttle, ``K = ∛(W (1 − BETA) / SCALE)``), never above twice the measured rate nor below
    ``MIN_RATE``. The send rate is measured in half-second buckets, smoothed.
    """

    BETA = 0.7
    SCALE = 0.4
    SMOOTH = 0.8
    MIN_RATE = 0.5
    BUCKET_S = 0.5

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
        self.waiting: deque[Callable[[], None]] = deque()
        self.generation = 0

    @property
    def fill_rate(self) -> float:
        """Tokens per second (the client's allowed send rate)."""
        return self.bucket.rate

    @fill_rate.setter
    def fill_rate(self, rate: float) -> None:
        self.bucket.rate = rate
        self.bucket.capacity = max(rate, 1.0)

    def acquire(self, go: Callable[[], None]) -> None:
        """Call ``go`` when the next attempt may be sent (at once while inactive)."""
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
            self.waiting.popleft()()
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
