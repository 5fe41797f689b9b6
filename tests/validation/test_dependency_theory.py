"""Theory checks for the database dependency, driven by a Poisson caller (no Lambda).

With no contention (σ = κ = 0) and exponential service times, a database with c connections
and per-call connections is a multi-server queue:

* ``waiting: 0`` is M/M/c/c: the refused (throttled) fraction is Erlang B;
* an unlimited line with exponential client timeouts (patience) is M/M/c+M, Erlang A: the
  fraction that leaves the line unserved, and the mean wait over all calls;
* an unlimited line without timeouts is M/M/c: the mean wait is Erlang C's C/(cμ − λ).

Each case runs R independent replications (their own random streams) and passes when the
closed form lies inside the 99% t-interval of the per-replication estimates. Statistical: the
cases take seconds and are marked ``slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from depcallers import PoissonCaller, dependency

from sim.analysis import theory
from sim.analysis.metrics import ci_stats

REPLICATIONS = 30
DURATION_S = 2_000.0
WARMUP_S = 200.0


@dataclass(frozen=True)
class Case:
    """A database, its Poisson load, what to measure per replication, and the closed form."""

    name: str
    connections: int
    waiting: int | None
    rate_per_s: float
    mean_service_s: float
    mean_patience_s: float | None
    measure: Callable[[dict[str, Any]], float]
    theory: float


def fraction(name: str) -> Callable[[dict[str, Any]], float]:
    def read(m: dict[str, Any]) -> float:
        return float(m[name]) / m["calls"]

    return read


def mean_wait(m: dict[str, Any]) -> float:
    return float(m["wait_mean_s"])


CASES = [
    Case("erlang_b_c5_a4", 5, 0, 4.0, 1.0, None, fraction("throttled"), theory.erlang_b(5, 4.0)),
    Case("erlang_b_c2_a1", 2, 0, 2.0, 0.5, None, fraction("throttled"), theory.erlang_b(2, 1.0)),
    Case("erlang_a_abandon_c5_overload", 5, None, 6.0, 1.0, 2.0, fraction("left_line"),
         theory.erlang_a_abandon_probability(6.0, 1.0, 5, 0.5)),
    Case("erlang_a_wait_c5_overload", 5, None, 6.0, 1.0, 2.0, mean_wait,
         theory.erlang_a_mean_wait_s(6.0, 1.0, 5, 0.5)),
    Case("erlang_a_abandon_c3_rho09", 3, None, 2.7, 1.0, 5.0, fraction("left_line"),
         theory.erlang_a_abandon_probability(2.7, 1.0, 3, 0.2)),
    Case("erlang_c_wait_c3_rho08", 3, None, 2.4, 1.0, None, mean_wait,
         theory.mmc_mean_wait_s(2.4, 1.0, 3)),
    Case("erlang_c_wait_c1_rho07", 1, None, 0.7, 1.0, None, mean_wait,
         theory.mmc_mean_wait_s(0.7, 1.0, 1)),
]  # fmt: skip


def replicate(case: Case, rep: int) -> float:
    """One replication: the case's measure over [warm-up, end]."""
    m, db = dependency(
        {
            "type": "database",
            "max_connections": case.connections,
            "waiting": case.waiting,
            "service_time_s": {"exponential": {"mean": case.mean_service_s}},
        },
        duration_s=DURATION_S,
        warmup_s=WARMUP_S,
        seed=2024,
        rep=rep,
    )
    PoissonCaller(m, db, case.rate_per_s, DURATION_S, mean_patience_s=case.mean_patience_s)
    result = m.run()
    return case.measure(result.dependencies["dep"])


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_database_matches_queueing_theory(case: Case) -> None:
    values = [replicate(case, rep) for rep in range(REPLICATIONS)]
    s = ci_stats(values, level=0.99)
    assert s["ci_low"] is not None and s["ci_high"] is not None
    assert s["ci_low"] <= case.theory <= s["ci_high"], (
        f"{case.name}: theory {case.theory:.6g} outside the 99% CI "
        f"[{s['ci_low']:.6g}, {s['ci_high']:.6g}] of the simulated mean {s['mean']:.6g}"
    )


def test_every_case_is_a_distinct_stable_comparison() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names)
    for c in CASES:
        assert 0 < c.theory < 10, c.name
        if c.waiting is None and c.mean_patience_s is None:  # M/M/c needs ρ < 1
            assert c.rate_per_s * c.mean_service_s < c.connections, c.name
