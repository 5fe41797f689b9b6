"""The SDK client's pieces on their own: backoff with jitter and the retry quota's arithmetic."""

from __future__ import annotations

import pytest

from sim.config.common import RetryQuotaSpec, RetrySpec
from sim.services.sdk import Backoff, RetryQuota


def _draws(*us: float):
    it = iter(us)
    return lambda: next(it)


@pytest.mark.parametrize(
    ("jitter", "expected"),
    [
        ("full", [0.25 * 1, 0.5 * 2, 1.0 * 4, 0.25 * 6]),
        ("equal", [0.5 + 0.125, 1 + 0.5, 2 + 2, 3 + 0.75]),
        ("none", [1, 2, 4, 6]),
    ],
)
def test_backoff_schemes(jitter, expected):
    b = Backoff(RetrySpec(base_s=1, cap_s=6, jitter=jitter), _draws(0.25, 0.5, 1.0, 0.25))
    assert [b.delay(i, 0.0) for i in (1, 2, 3, 4)] == expected


def test_decorrelated_backoff_uses_the_previous_sleep_and_the_cap():
    b = Backoff(RetrySpec(base_s=1, cap_s=5, jitter="decorrelated"), _draws(0.5, 1.0, 1.0))
    first = b.delay(1, 0.0)  # U(1, 3) at 0.5
    assert first == 2.0
    second = b.delay(2, first)  # U(1, 6) at 1.0, capped at 5
    assert second == 5.0
    assert b.delay(3, second) == 5.0


def test_none_draws_nothing():
    b = Backoff(RetrySpec(jitter="none"), _draws())
    assert b.delay(1, 0.0) == 1.0


def test_quota_costs_refusal_and_refunds():
    q = RetryQuota(RetryQuotaSpec(capacity=12))
    assert q.acquire(False) == 5 and q.tokens == 7
    assert q.acquire(True) == 0 and q.tokens == 7  # a timeout needs 10
    assert q.acquire(False) == 5 and q.tokens == 2
    assert q.acquire(False) == 0 and q.tokens == 2  # refused: nothing taken
    q.succeeded(5)  # a success after a retry gives that retry's cost back
    assert q.tokens == 7
    q.succeeded(0)  # a first-attempt success gives 1
    assert q.tokens == 8
    for _ in range(10):
        q.succeeded(5)
    assert q.tokens == 12  # never above the capacity


def test_quota_shorthands():
    assert RetrySpec().quota == RetryQuotaSpec(capacity=500, retry_cost=5, timeout_retry_cost=10,
                                               success_refund=1)  # fmt: skip
    assert RetrySpec(quota=True).quota == RetryQuotaSpec()
    assert RetrySpec(quota=False).quota is None
    assert RetrySpec(quota=None).quota is None
    assert RetrySpec(quota=50).quota == RetryQuotaSpec(capacity=50)
    assert RetrySpec(quota={"retry_cost": 14}).quota == RetryQuotaSpec(retry_cost=14)
