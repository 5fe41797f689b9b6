"""Tests for sim.analysis.theory: textbook values, brute-force checks, limits and errors."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest

from sim.analysis import theory

# --- independent reference computations -------------------------------------------------


def _birth_death_stationary(
    arrival_rate_per_s: float, service_rate_per_s: float, servers: int, capacity: int
) -> np.ndarray:
    """Stationary distribution of an M/M/c/K chain, solved numerically from pi Q = 0.

    Builds the full generator matrix Q of the birth-death chain on states 0..capacity and
    solves the global balance equations with one of them replaced by sum(pi) = 1. With
    capacity = servers this is the Erlang loss system; with a large capacity it approximates
    M/M/c (the caller picks the capacity so the truncated tail is below 1e-16).
    """
    n_states = capacity + 1
    q = np.zeros((n_states, n_states))
    for n in range(n_states):
        if n < capacity:
            q[n, n + 1] = arrival_rate_per_s
        if n > 0:
            q[n, n - 1] = min(n, servers) * service_rate_per_s
        q[n, n] = -q[n].sum()
    a = q.T.copy()
    a[-1, :] = 1.0
    b = np.zeros(n_states)
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    return pi


def _mmc_capacity_for(servers: int, rho: float) -> int:
    """A truncation level whose neglected geometric tail mass is below 1e-17."""
    return servers + math.ceil(math.log(1e-17) / math.log(rho)) + 1


def _erlang_c_exact(servers: int, offered_load: Fraction) -> Fraction:
    """Erlang C in exact rational arithmetic from the product-form stationary distribution."""
    rho = offered_load / servers
    terms = [offered_load**n / math.factorial(n) for n in range(servers)]
    tail = offered_load**servers / math.factorial(servers) / (1 - rho)
    return tail / (sum(terms, Fraction(0)) + tail)


STABLE_CASES = [(c, rho) for c in range(1, 9) for rho in (0.05, 0.3, 0.5, 0.8, 0.9, 0.97)]


# --- M/M/1 ------------------------------------------------------------------------------


def test_mm1_textbook_value() -> None:
    assert theory.mm1_mean_sojourn_s(0.9, 1.0) == pytest.approx(10.0, rel=1e-12)


def test_mm1_scales_with_time_unit() -> None:
    # Doubling both rates halves every time: W = 1/(2 - 1.8) = 5 s.
    assert theory.mm1_mean_sojourn_s(1.8, 2.0) == pytest.approx(5.0, rel=1e-12)


def test_mm1_empty_system_is_pure_service() -> None:
    assert theory.mm1_mean_sojourn_s(0.0, 4.0) == pytest.approx(0.25, rel=1e-15)


@pytest.mark.parametrize(
    ("arrival", "service"),
    [
        (1.0, 1.0),
        (2.0, 1.0),
        (-0.1, 1.0),
        (0.5, 0.0),
        (0.5, -1.0),
        (math.nan, 1.0),
        (0.5, math.inf),
    ],
)
def test_mm1_rejects_invalid_or_unstable(arrival: float, service: float) -> None:
    with pytest.raises(ValueError):
        theory.mm1_mean_sojourn_s(arrival, service)


def test_mm1_unstable_message_names_rho() -> None:
    with pytest.raises(ValueError, match="rho"):
        theory.mm1_mean_sojourn_s(1.0, 1.0)


# --- Erlang B ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        (1, 1.0, 0.5),  # a/(1+a)
        (2, 1.0, 0.2),  # (1/2)/(1 + 1 + 1/2)
        (2, 2.0, 0.4),  # 2/(1 + 2 + 2)
        (0, 3.0, 1.0),  # no servers: everyone is blocked
        (5, 0.0, 0.0),  # no traffic: nobody is blocked
    ],
)
def test_erlang_b_textbook_values(servers: int, load: float, expected: float) -> None:
    assert theory.erlang_b(servers, load) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("servers", range(1, 9))
@pytest.mark.parametrize("load", [0.2, 1.0, 3.5, 12.0])
def test_erlang_b_matches_loss_chain(servers: int, load: float) -> None:
    pi = _birth_death_stationary(load, 1.0, servers, capacity=servers)
    assert theory.erlang_b(servers, load) == pytest.approx(pi[-1], rel=1e-12, abs=1e-14)


def test_erlang_b_large_system_is_finite_and_sensible() -> None:
    # a^c / c! overflows a float here; the recursion must not.
    blocking = theory.erlang_b(2000, 1900.0)
    assert 0.0 < blocking < 0.05
    assert theory.erlang_b(2000, 1900.0) < theory.erlang_b(1999, 1900.0)


@pytest.mark.parametrize(("servers", "load"), [(-1, 1.0), (2, -0.5), (2, math.inf), (2, math.nan)])
def test_erlang_b_rejects_invalid(servers: int, load: float) -> None:
    with pytest.raises(ValueError):
        theory.erlang_b(servers, load)


def test_erlang_b_rejects_non_integer_servers() -> None:
    with pytest.raises(ValueError, match="integer"):
        theory.erlang_b(2.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="integer"):
        theory.erlang_b(True, 1.0)


# --- Erlang C ---------------------------------------------------------------------------


def test_erlang_c_two_servers_one_erlang() -> None:
    assert theory.erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0, rel=1e-12)


@pytest.mark.parametrize("rho", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_erlang_c_single_server_equals_rho(rho: float) -> None:
    assert theory.erlang_c(1, rho) == pytest.approx(rho, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("servers", "rho"), STABLE_CASES)
def test_erlang_c_matches_birth_death_chain(servers: int, rho: float) -> None:
    load = rho * servers
    pi = _birth_death_stationary(load, 1.0, servers, _mmc_capacity_for(servers, rho))
    prob_wait = float(pi[servers:].sum())
    assert abs(theory.erlang_c(servers, load) - prob_wait) < 1e-12


@pytest.mark.parametrize("servers", [1, 2, 5, 8, 20, 50])
@pytest.mark.parametrize("load_fraction", [Fraction(1, 10), Fraction(1, 2), Fraction(19, 20)])
def test_erlang_c_matches_exact_rational(servers: int, load_fraction: Fraction) -> None:
    load = load_fraction * servers
    expected = float(_erlang_c_exact(servers, load))
    assert theory.erlang_c(servers, float(load)) == pytest.approx(expected, rel=1e-12)


def test_erlang_c_is_at_least_erlang_b() -> None:
    # Waiting customers stay in the system, so more arrivals find all servers busy.
    for servers in range(1, 9):
        for rho in (0.2, 0.6, 0.95):
            load = rho * servers
            assert theory.erlang_c(servers, load) > theory.erlang_b(servers, load)


@pytest.mark.parametrize(("servers", "load"), [(2, 2.0), (2, 3.0), (0, 0.5), (3, -1.0)])
def test_erlang_c_rejects_unstable_or_invalid(servers: int, load: float) -> None:
    with pytest.raises(ValueError):
        theory.erlang_c(servers, load)


def test_erlang_c_unstable_message_names_rho() -> None:
    with pytest.raises(ValueError, match="rho"):
        theory.erlang_c(4, 4.0)


# --- M/M/c means ------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.8, 0.9, 0.99])
def test_mmc_with_one_server_reduces_to_mm1(rho: float) -> None:
    mu = 2.5
    lam = rho * mu
    assert theory.mmc_mean_sojourn_s(lam, mu, 1) == pytest.approx(
        theory.mm1_mean_sojourn_s(lam, mu), rel=1e-12
    )
    # M/M/1 textbook wait: Wq = rho / (mu - lam).
    assert theory.mmc_mean_wait_s(lam, mu, 1) == pytest.approx(rho / (mu - lam), rel=1e-12)


def test_mmc_two_servers_textbook_value() -> None:
    # c=2, lam=1, mu=1: C = 1/3, Wq = (1/3)/(2-1) = 1/3 s, W = 4/3 s, L = 4/3.
    assert theory.mmc_mean_wait_s(1.0, 1.0, 2) == pytest.approx(1.0 / 3.0, rel=1e-12)
    assert theory.mmc_mean_sojourn_s(1.0, 1.0, 2) == pytest.approx(4.0 / 3.0, rel=1e-12)
    assert theory.mmc_mean_in_system(1.0, 1.0, 2) == pytest.approx(4.0 / 3.0, rel=1e-12)


def test_mmc_sojourn_is_wait_plus_service() -> None:
    wait_s = theory.mmc_mean_wait_s(3.6, 1.0, 4)
    assert theory.mmc_mean_sojourn_s(3.6, 1.0, 4) == pytest.approx(wait_s + 1.0, rel=1e-15)
    assert wait_s > 0.0


@pytest.mark.parametrize(("servers", "rho"), STABLE_CASES)
def test_mmc_mean_in_system_matches_chain_mean(servers: int, rho: float) -> None:
    # L from Little's law (theory) against L = sum n pi_n from the numerically solved chain.
    mu = 0.7
    lam = rho * servers * mu
    pi = _birth_death_stationary(lam, mu, servers, _mmc_capacity_for(servers, rho))
    chain_mean = float(np.arange(pi.size) @ pi)
    assert theory.mmc_mean_in_system(lam, mu, servers) == pytest.approx(chain_mean, rel=1e-9)


def test_mmc_zero_arrivals() -> None:
    assert theory.mmc_mean_wait_s(0.0, 2.0, 3) == 0.0
    assert theory.mmc_mean_sojourn_s(0.0, 2.0, 3) == pytest.approx(0.5, rel=1e-15)
    assert theory.mmc_mean_in_system(0.0, 2.0, 3) == 0.0


def test_mmc_more_servers_never_wait_longer() -> None:
    waits = [theory.mmc_mean_wait_s(3.6, 1.0, c) for c in range(4, 12)]
    assert all(later < earlier for earlier, later in itertools.pairwise(waits))


@pytest.mark.parametrize(
    "func", [theory.mmc_mean_wait_s, theory.mmc_mean_sojourn_s, theory.mmc_mean_in_system]
)
@pytest.mark.parametrize(
    ("arrival", "service", "servers"),
    [
        (4.0, 1.0, 4),
        (5.0, 1.0, 4),
        (1.0, 1.0, 0),
        (1.0, 0.0, 2),
        (-1.0, 1.0, 2),
        (1.0, math.nan, 2),
    ],
)
def test_mmc_rejects_unstable_or_invalid(
    func: Callable[[float, float, int], float], arrival: float, service: float, servers: int
) -> None:
    with pytest.raises(ValueError):
        func(arrival, service, servers)


# --- Erlang A (M/M/c+M) -----------------------------------------------------------------


def _erlang_a_chain(
    lam: float, mu: float, servers: int, theta: float
) -> tuple[float, float, float]:
    """P(wait), P(abandon), E[wait] from the truncated birth-death chain of M/M/c+M.

    State j: j customers present; deaths min(j, c)·μ + max(j − c, 0)·θ. Abandonments happen
    at rate θ per waiting customer, so P(abandon) = θ·E[queue]/λ and E[wait] = E[queue]/λ.
    """
    n = servers + 4000
    pi = np.zeros(n)
    pi[0] = 1.0
    for j in range(1, n):
        pi[j] = pi[j - 1] * lam / (min(j, servers) * mu + max(j - servers, 0) * theta)
    pi /= pi.sum()
    queue = np.maximum(np.arange(n) - servers, 0)
    mean_queue = float((queue * pi).sum())
    return float(pi[servers:].sum()), theta * mean_queue / lam, mean_queue / lam


ERLANG_A_CASES = [
    (6.0, 1.0, 5, 0.5), (4.0, 1.0, 5, 1.0), (2.0, 1.0, 1, 0.1), (50.0, 2.0, 20, 0.05),
    (0.5, 1.0, 3, 10.0), (9.0, 1.0, 10, 2.0), (30.0, 1.0, 10, 0.2),
]  # fmt: skip


@pytest.mark.parametrize(("lam", "mu", "servers", "theta"), ERLANG_A_CASES)
def test_erlang_a_matches_birth_death_chain(
    lam: float, mu: float, servers: int, theta: float
) -> None:
    wait, abandon, mean_wait = _erlang_a_chain(lam, mu, servers, theta)
    assert theory.erlang_a_wait_probability(lam, mu, servers, theta) == pytest.approx(wait)
    assert theory.erlang_a_abandon_probability(lam, mu, servers, theta) == pytest.approx(abandon)
    assert theory.erlang_a_mean_wait_s(lam, mu, servers, theta) == pytest.approx(mean_wait)


@pytest.mark.parametrize(("servers", "rho"), [(1, 0.5), (3, 0.8), (8, 0.9)])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(servers: int, rho: float) -> None:
    lam, mu, theta = rho * servers, 1.0, 1e-7
    assert theory.erlang_a_wait_probability(lam, mu, servers, theta) == pytest.approx(
        theory.erlang_c(servers, lam / mu), rel=1e-4
    )
    assert theory.erlang_a_mean_wait_s(lam, mu, servers, theta) == pytest.approx(
        theory.mmc_mean_wait_s(lam, mu, servers), rel=1e-4
    )


@pytest.mark.parametrize(("servers", "load"), [(1, 0.5), (5, 4.0), (10, 15.0)])
def test_erlang_a_tends_to_erlang_b_as_patience_vanishes(servers: int, load: float) -> None:
    # customers who would wait leave at once: the loss system
    assert theory.erlang_a_abandon_probability(load, 1.0, servers, 1e7) == pytest.approx(
        theory.erlang_b(servers, load), rel=1e-5
    )


def test_erlang_a_is_stable_in_overload_and_abandons_the_excess() -> None:
    # λ = 30 on 10 servers of rate 1: at most 10/s are served, so at least 2/3 abandon
    p = theory.erlang_a_abandon_probability(30.0, 1.0, 10, 0.2)
    assert 2 / 3 <= p < 1


@pytest.mark.parametrize(
    "args", [(0.0, 1.0, 2, 1.0), (1.0, 0.0, 2, 1.0), (1.0, 1.0, 0, 1.0), (1.0, 1.0, 2, 0.0),
             (1.0, 1.0, 2, math.inf), (math.nan, 1.0, 2, 1.0)],
)  # fmt: skip
def test_erlang_a_rejects_invalid(args: tuple[float, float, int, float]) -> None:
    with pytest.raises(ValueError):
        theory.erlang_a_abandon_probability(*args)


# --- retries, redrive and fan-out -------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "k", "expected"), [(0.5, 3, 0.125), (0.1, 5, 1e-5), (0.0, 4, 0.0), (1.0, 7, 1.0)]
)
def test_dead_letter_probability(p: float, k: int, expected: float) -> None:
    assert theory.dead_letter_probability(p, k) == pytest.approx(expected, rel=1e-12)


def test_dead_letter_probability_falls_with_receive_count() -> None:
    values = [theory.dead_letter_probability(0.3, k) for k in range(1, 10)]
    assert all(later < earlier for earlier, later in itertools.pairwise(values))


@pytest.mark.parametrize("p", [0.0, 0.01, 0.25, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_mean_attempts_matches_direct_sum(p: float, k: int) -> None:
    # E[attempts] = sum_{i=1}^{k} P(attempts >= i) = sum_{i=0}^{k-1} p^i.
    direct = math.fsum(p**i for i in range(k))
    assert theory.mean_attempts(p, k) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_mean_attempts_matches_distribution(p: float) -> None:
    # Explicit distribution: stop at attempt i < k on first success, or at k regardless.
    k = 4
    expected = sum(i * p ** (i - 1) * (1 - p) for i in range(1, k)) + k * p ** (k - 1)
    assert theory.mean_attempts(p, k) == pytest.approx(expected, rel=1e-12)


def test_mean_attempts_limits() -> None:
    assert theory.mean_attempts(0.0, 5) == 1.0
    assert theory.mean_attempts(1.0, 5) == 5.0
    assert theory.mean_attempts(0.7, 1) == pytest.approx(1.0, rel=1e-15)
    # Continuous as p -> 1: no cancellation blow-up just below 1.
    assert theory.mean_attempts(1.0 - 1e-12, 5) == pytest.approx(5.0, rel=1e-9)


@pytest.mark.parametrize(
    ("q", "n", "expected"), [(0.1, 2, 0.81), (0.5, 3, 0.125), (0.2, 0, 1.0), (1.0, 3, 0.0)]
)
def test_sequential_fanout_all_delivered(q: float, n: int, expected: float) -> None:
    assert theory.sequential_fanout_all_delivered(q, n) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("p", "retries", "expected"), [(0.1, 2, 1e-3), (0.5, 0, 0.5), (0.3, 1, 0.09)]
)
def test_async_lambda_loss(p: float, retries: int, expected: float) -> None:
    assert theory.async_lambda_loss(p, retries) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("q", "attempts", "expected"), [(0.1, 3, 1e-3), (0.5, 1, 0.5), (0.2, 2, 0.04)]
)
def test_sdk_send_failure(q: float, attempts: int, expected: float) -> None:
    assert theory.sdk_send_failure(q, attempts) == pytest.approx(expected, rel=1e-12)


def test_retry_formulas_agree_on_shared_cases() -> None:
    # Same independent-attempt model, three names: k attempts all failing.
    for p in (0.05, 0.4, 0.95):
        for attempts in (1, 2, 3):
            dlq = theory.dead_letter_probability(p, attempts)
            assert theory.sdk_send_failure(p, attempts) == pytest.approx(dlq, rel=1e-15)
            assert theory.async_lambda_loss(p, attempts - 1) == pytest.approx(dlq, rel=1e-15)


@pytest.mark.parametrize(
    ("func", "prob", "count"),
    [
        (theory.dead_letter_probability, 1.5, 3),
        (theory.dead_letter_probability, -0.1, 3),
        (theory.dead_letter_probability, 0.5, 0),
        (theory.dead_letter_probability, math.nan, 3),
        (theory.mean_attempts, 1.01, 3),
        (theory.mean_attempts, 0.5, 0),
        (theory.sequential_fanout_all_delivered, 2.0, 3),
        (theory.sequential_fanout_all_delivered, 0.5, -1),
        (theory.async_lambda_loss, -0.5, 1),
        (theory.async_lambda_loss, 0.5, -1),
        (theory.sdk_send_failure, 1.2, 3),
        (theory.sdk_send_failure, 0.5, 0),
    ],
)
def test_probability_functions_reject_invalid(
    func: Callable[[float, int], float], prob: float, count: int
) -> None:
    with pytest.raises(ValueError):
        func(prob, count)


def test_count_must_be_integer() -> None:
    with pytest.raises(ValueError, match="integer"):
        theory.dead_letter_probability(0.5, 2.0)  # type: ignore[arg-type]
    # numpy integers are integers.
    assert theory.dead_letter_probability(0.5, np.int64(2)) == pytest.approx(0.25)  # type: ignore[arg-type]
