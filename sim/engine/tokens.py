"""A token bucket: rate limits with a burst (SQS FIFO, SNS email, API Gateway, SDK, DynamoDB)."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` stored (full at time 0)."""

    __slots__ = ("capacity", "rate", "t", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.t = 0.0

    def refill(self, now: float) -> None:
        """Add the tokens accrued since the last refill, up to ``capacity``."""
        if now > self.t:
            self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
            self.t = now

    def take(self, now: float) -> bool:
        """Take a token if one is there (else nothing happens)."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def take_units(self, now: float, units: float) -> bool:
        """Take ``units`` tokens if that many are there (else nothing happens).

        A shortfall below 1e-9 of a token counts as there: it is the rounding of the refills,
        not a missing token (DynamoDB capacity units are multiples of 0.5).
        """
        self.refill(now)
        if self.tokens + 1e-9 >= units:
            self.tokens -= units
            return True
        return False

    def ready_at(self, now: float) -> float:
        """When the next token will be there (``now`` if one is)."""
        self.refill(now)
        return now if self.tokens >= 1.0 else now + (1.0 - self.tokens) / self.rate

    def reserve(self, now: float) -> float:
        """Take the next token, waiting in line if needed: the time it is granted."""
        self.refill(now)
        self.tokens -= 1.0
        return now if self.tokens >= 0.0 else now + -self.tokens / self.rate
