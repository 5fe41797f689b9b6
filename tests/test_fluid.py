"""sim.analysis.fluid: the mean-field model of the queue → function → database loop."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from scipy.optimize import brentq

from sim.analysis import fluid
from sim.analysis.fluid import FluidParams, Trigger

BASE = FluidParams(rate_per_s=7.0)  # 20 connections, S = 0.4 s, σ = 0.05, κ = 0.01, τ = 10 s


def test_usl_throughput_and_backoffs() -> None:
    for n in (1, 5, 10, 20):
        s = 0.4 * (1 + 0.05 * (n - 1) + 0.01 * n * (n - 1))
        assert fluid.service_time_s(BASE, n) == pytest.approx(s)
        assert fluid.throughput_per_s(BASE, n) == pytest.approx(n / s)
    assert fluid.throughput_per_s(BASE, 10, factor=2.0) == pytest.approx(
        fluid.throughput_per_s(BASE, 10) / 2)  # fmt: skip
    assert fluid.throughput_per_s(BASE, 0) == 0
    # full jitter sleeps half of min(base × 2^(i−1), cap) on average; none all of it
    assert fluid.mean_backoffs_s(replace(BASE, max_attempts=6)) == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert fluid.mean_backoffs_s(replace(BASE, max_attempts=7, jitter="none"))[-1] == 20.0
    assert fluid.mean_backoffs_s(replace(BASE, max_attempts=1)) == []


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"redelivery_s": (1.0,)},
                                    {"jitter": "decorrelated"}])  # fmt: skip
def test_bad_parameters_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FluidParams(rate_per_s=1.0, **kwargs)  # type: ignore[arg-type]


def test_without_retries_or_timeout_one_stable_equilibrium_below_capacity() -> None:
    """No retries, no client timeout: for λ below X(c) both starts end in the same state,
    the one where the database completes λ per second: X(n*) = λ with n* below the knee."""
    p = replace(BASE, max_attempts=1, client_timeout_s=math.inf)
    x_c = fluid.throughput_per_s(p, p.connections)
    rates = [0.3 * x_c, 0.6 * x_c, 0.95 * x_c]
    for row in fluid.equilibrium_branches(p, rates, settle_s=900.0, saturated_backlog=300.0,
                                          dt=0.1):  # fmt: skip
        assert row["bistable"] == 0
        assert row["low_goodput_per_s"] == pytest.approx(row["rate_per_s"], rel=1e-3)
        # the saturated start has drained (goodput λ) or still drains (goodput X(c) > λ)
        assert row["high_goodput_per_s"] >= row["rate_per_s"] * (1 - 1e-3)
        n_star = brentq(lambda n, r=row["rate_per_s"]: fluid.throughput_per_s(p, n) - r,
                        1e-6, 10.0)  # fmt: skip
        # sampled after a step's completions: short by up to one step's arrivals (λ · dt)
        slack = row["rate_per_s"] * 0.1 + 0.02 * n_star
        assert row["low_at_db"] == pytest.approx(n_star, abs=slack)


def test_timeouts_and_retries_make_the_loop_bistable() -> None:
    """With the 10 s client timeout the same load has a second, collapsed state: started
    saturated, the loop stays there, with most of the database's work wasted."""
    (row,) = fluid.equilibrium_branches(BASE, [BASE.rate_per_s], settle_s=900.0, dt=0.1)
    assert row["bistable"] == 1
    assert row["low_goodput_per_s"] == pytest.approx(BASE.rate_per_s, rel=1e-3)
    assert row["high_goodput_per_s"] < 0.6 * BASE.rate_per_s
    assert row["high_at_db"] > BASE.connections


def test_mass_balance() -> None:
    """Arrivals = processed + dead-lettered + still in the system, at every sample."""
    trig = Trigger("spike", 3.0, 300.0, 90.0)
    fr = fluid.run(BASE, trig, 3600.0, step_s=60.0, dt=0.1)
    arrived = (fr.offered_per_s[1:] * 60.0).cumsum()
    balance = fr.delivered[1:] + fr.failed_out[1:] + fr.backlog[1:]
    assert balance == pytest.approx(arrived, rel=1e-6, abs=1e-6)
    assert fr.failed_out[-1] > 0  # the collapse dead-letters messages


def test_small_triggers_recover_large_ones_collapse_and_length_is_monotone() -> None:
    collapsed_small, rec = fluid.collapses(BASE, Trigger("spike", 1.5, 300.0, 10.0))
    assert not collapsed_small and rec <= 60.0
    assert fluid.collapses(BASE, Trigger("spike", 3.0, 300.0, 90.0))[0]
    assert fluid.collapses(BASE, Trigger("slow", 3.0, 300.0, 90.0))[0]
    outcomes = [fluid.collapses(BASE, Trigger("spike", 2.0, 300.0, length))[0]
                for length in (5.0, 15.0, 30.0, 60.0, 120.0)]  # fmt: skip
    assert outcomes == sorted(outcomes)  # once a length collapses, every longer one does
    assert outcomes[0] is False and outcomes[-1] is True


def test_bounded_concurrency_at_the_knee_never_collapses() -> None:
    """Ten callers at most: no waiting line, no timeouts; any backlog drains at X(10) − λ."""
    p = replace(BASE, max_level=10.0)
    for trig in (Trigger("spike", 3.0, 300.0, 90.0), Trigger("slow", 3.0, 300.0, 90.0)):
        collapsed, rec = fluid.collapses(p, trig)
        assert not collapsed and rec > 0


def test_the_retry_quota_cuts_retries_in_a_collapse() -> None:
    """A collapse empties the retry bucket: far fewer attempts than without the quota."""
    trig = Trigger("spike", 3.0, 300.0, 90.0)
    with_quota = fluid.run(BASE, trig, 1800.0, step_s=60.0, dt=0.1)
    without = fluid.run(replace(BASE, quota_tokens=None), trig, 1800.0, step_s=60.0, dt=0.1)
    assert with_quota.attempts[-1] < without.attempts[-1]


def test_recovery_counts_from_the_first_bin_that_ends_after_the_trigger() -> None:
    fr = fluid.run(BASE, None, 1200.0, step_s=60.0, dt=0.1)
    assert fluid.recovery_s(fr, 330.0, 30.0) == 0.0  # healthy all along
    assert math.isnan(fluid.recovery_s(fr, 1000.0, 30.0))  # no room for the 300 s hold
