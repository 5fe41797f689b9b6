"""The DynamoDB table dependency, driven directly: capacity units, provisioned burst credit
(accepted = burst + R·t exactly), on-demand doubling and scaling after the delay, latency,
client timeouts, errors, outages, billing and utilisation.
"""

from __future__ import annotations

from typing import Any

import pytest
from depcallers import Answers, Periodic, at, dependency

from sim.config.prices import DEFAULT_PRICES
from sim.services.dependency import CallRequest
from sim.services.dynamodb import Table, capacity_units

WRITE = {"op": "write", "size_kb": 1.0}


def table(spec: dict[str, Any] | None = None, **kw: Any) -> tuple[Any, Table, Answers]:
    m, dep = dependency({"type": "dynamodb_table", **(spec or {})}, **kw)
    assert isinstance(dep, Table)
    return m, dep, Answers(m)


def provisioned(rcu: int = 10, wcu: int = 10, **more: Any) -> dict[str, Any]:
    return {"capacity_mode": "provisioned", "read_capacity_units": rcu,
            "write_capacity_units": wcu, **more}  # fmt: skip


# -- capacity units -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "consistent", "size_kb", "expected"),
    [
        ("write", False, 2.5, ("write", 3.0)),  # ⌈2.5 / 1⌉
        ("write", False, 1.0, ("write", 1.0)),
        ("write", False, 0.0, ("write", 1.0)),  # at least one unit
        ("read", True, 9.0, ("read", 3.0)),  # ⌈9 / 4⌉
        ("read", False, 9.0, ("read", 1.5)),  # half of it
        ("read", True, 4.0, ("read", 1.0)),
        ("read", False, 4.0, ("read", 0.5)),
        ("read", True, 8.0, ("read", 2.0)),
        ("read", False, 0.5, ("read", 0.5)),
    ],
)
def test_capacity_units(op: str, consistent: bool, size_kb: float, expected: Any) -> None:
    assert capacity_units(CallRequest(op, consistent, size_kb)) == expected


def test_an_unknown_operation_is_an_error() -> None:
    with pytest.raises(ValueError, match="'read' or a 'write'"):
        capacity_units(CallRequest("scan"))


def test_a_request_consumes_its_units_from_the_bucket() -> None:
    m, t, ans = table(provisioned(rcu=3, burst_s=1))  # the read bucket holds 3 units
    at(m, 0.0, t, ans, "strong-9kb", op="read", consistent=True, size_kb=9)  # 3 units
    at(m, 0.0, t, ans, "eventual-1kb", op="read", size_kb=1)  # 0.5: none left
    at(m, 0.5, t, ans, "eventual-at-0.5", op="read", size_kb=1)  # 1.5 refilled
    at(m, 0.5, t, ans, "strong-at-0.5", op="read", consistent=True, size_kb=9)  # 1 left
    m.env.run(until=5)
    assert ans.rows == [
        (0.0, "eventual-1kb", "throttled"),
        (0.005, "strong-9kb", None),
        (0.5, "strong-at-0.5", "throttled"),
        (0.505, "eventual-at-0.5", None),
    ]
    got = t.metrics()
    assert (got["read_units"], got["write_units"], got["throttled"]) == (3.5, 0.0, 2)


# -- provisioned: burst credit ----------------------------------------------------------------


def test_accepted_equals_burst_plus_rate_times_t_under_a_steady_overload() -> None:
    # R = 10 WCU, 50 writes/s of 1 KB at t = 0, 0.02, 0.04, ..., burst 300 s: the bucket starts
    # with 3,000 units and every arrival takes one while it can. The credit lasts until
    # 3,000 + 10·t = 50·t, t = 75 s; from then on a unit accrues every 0.1 s and the arrival at
    # that instant takes it. So the writes admitted in [0, t] number exactly 3,000 + 10·t.
    m, t, _ = table(provisioned(wcu=10))
    load = Periodic(m, t, 50, 0.0, 600.01, **WRITE)
    m.env.run(until=601)
    for horizon in (75, 100, 300, 599.9, 600):
        assert load.admitted_before(horizon + 1e-9) == 3000 + 10 * horizon, horizon
    assert load.admitted_before(50 + 1e-9) == 50 * 50 + 1  # all of them, credit left
    # once the credit is spent, 1 − R/λ = 80% of the requests are throttled
    assert load.refused_in(100, 600) == 0.8 * 50 * 500


def test_no_throttling_under_capacity() -> None:
    m, t, _ = table(provisioned(wcu=10))
    load = Periodic(m, t, 9.5, 0.0, 600.0, **WRITE)
    m.env.run(until=601)
    assert load.refused_at == []
    assert t.metrics()["throttled"] == 0


def test_no_burst_means_the_per_second_capacity_only() -> None:
    m, t, _ = table(provisioned(wcu=10, burst_s=1))
    load = Periodic(m, t, 50, 0.0, 100.0, **WRITE)
    m.env.run(until=101)
    assert abs(len(load.admitted_at) - (10 + 10 * 100)) <= 1


# -- on demand --------------------------------------------------------------------------------


def test_a_new_table_serves_4000_writes_or_12000_reads_or_a_combination() -> None:
    for reads, writes, refused in ((12_000, 0, 0), (12_001, 0, 1), (0, 4_001, 1),
                                    (6_000, 2_000, 0), (6_001, 2_000, 1)):  # fmt: skip
        _, t, _ = table()
        seen: list[str | None] = []
        for _ in range(writes):
            t.call(CallRequest("write", size_kb=1), seen.append)
        for _ in range(reads):
            t.call(CallRequest("read", consistent=True, size_kb=4), seen.append)
        assert seen.count("throttled") == refused, (reads, writes)


def test_a_step_above_double_the_peak_throttles_until_the_scaling_delay_has_passed() -> None:
    # 1,000 writes/s, then 10,000/s from t = 5 s. The previous peak of a new table is 2,000
    # WRU/s, so 4,000/s are admitted (6,000/s throttled) until the 10,000/s first offered in
    # [5, 6) is accommodated scale_delay_s = 10 s after that window ended: from t = 16 on.
    m, t, _ = table({"scale_delay_s": 10, "latency_s": 0})
    low = Periodic(m, t, 1_000, 0.0, 5.0, **WRITE)
    high = Periodic(m, t, 10_000, 5.0, 20.0, **WRITE)
    m.env.run(until=21)
    assert low.refused_at == []
    for second in range(5, 20):
        refused = high.refused_in(second, second + 1)
        assert refused == (6_000 if second < 16 else 0), second
    got = t.metrics()
    assert got["throttled"] == 11 * 6_000
    assert got["utilization_max"] == 1.0  # the limit was full while throttling
    assert t.limit_units_per_s == 20_000  # twice the new peak


def test_on_demand_stops_at_the_table_quota() -> None:
    m, t, _ = table({"max_write_request_units": 100, "scale_delay_s": 0})
    load = Periodic(m, t, 150, 0.0, 10.0, **WRITE)
    m.env.run(until=11)
    assert len(load.refused_at) == 10 * 50


def test_traffic_up_to_a_previous_peak_returns_without_throttling() -> None:
    m, t, _ = table({"scale_delay_s": 5, "latency_s": 0})
    Periodic(m, t, 6_000, 0.0, 2.0, **WRITE)  # 4,000 admitted per second, peak 6,000 offered
    quiet_then_back = Periodic(m, t, 12_000, 30.0, 32.0, **WRITE)  # twice the peak: all fit
    m.env.run(until=40)
    assert quiet_then_back.refused_at == []


# -- answers ----------------------------------------------------------------------------------


def test_answers_come_after_the_latency_and_a_slow_outage_multiplies_it() -> None:
    m, t, ans = table(outages=[{"component": "dep", "start_s": 10, "duration_s": 10,
                                "mode": "slow", "factor": 4}])  # fmt: skip
    at(m, 1.0, t, ans, "normal", **WRITE)
    at(m, 12.0, t, ans, "slow", **WRITE)
    m.env.run(until=30)
    assert ans.rows == [(1.005, "normal", None), (12.02, "slow", None)]


def test_a_timeout_before_the_answer_wastes_the_latency_and_still_bills() -> None:
    m, t, ans = table({"latency_s": 1})
    at(m, 0.0, t, ans, "late", timeout_s=0.2, **WRITE)
    m.env.run(until=5)
    assert ans.rows == [(0.2, "late", "timeout")]
    got = t.metrics()
    assert (got["timeouts"], got["wasted_s"], got["write_units"]) == (1, 1.0, 1.0)
    assert m.ctx.cost.counts[("dep", "dynamodb_write_request_units")] == 1.0


@pytest.mark.parametrize("mode", ["unavailable", "throttled"])
def test_outages_refuse_at_once(mode: str) -> None:
    m, t, ans = table(outages=[{"component": "dep", "start_s": 1, "duration_s": 1, "mode": mode}])
    at(m, 1.5, t, ans, "x", **WRITE)
    m.env.run(until=5)
    assert ans.rows == [(1.5, "x", mode)]
    assert t.metrics()["write_units"] == 0.0


def test_errors_consume_units_and_are_not_billed() -> None:
    m, t, ans = table({"errors": {"rate": 1.0}})
    at(m, 0.0, t, ans, "x", op="write", size_kb=3)
    m.env.run(until=5)
    assert ans.rows == [(0.005, "x", "unavailable")]
    assert t.metrics()["write_units"] == 3.0
    assert m.ctx.cost.counts[("dep", "dynamodb_write_request_units")] == 0.0


# -- billing and utilisation ---------------------------------------------------------------


def test_on_demand_bills_request_units_of_successful_requests() -> None:
    m, t, ans = table()
    for i in range(10):
        at(m, 0.1 * i, t, ans, f"w{i}", op="write", size_kb=2.5)  # 3 WRU each
    for i in range(4):
        at(m, 0.1 * i, t, ans, f"r{i}", op="read", size_kb=9)  # 1.5 RRU each
    r = m.run()
    got = r.dependencies["dep"]
    assert (got["write_units"], got["read_units"]) == (30.0, 6.0)
    price = 30 / 1e6 * DEFAULT_PRICES["dynamodb_write_per_million"] + 6 / 1e6 * DEFAULT_PRICES[
        "dynamodb_read_per_million"
    ]
    assert got["cost_usd"] == pytest.approx(price)
    assert r.metrics["cost_usd"] == pytest.approx(price)
    assert r.metrics["dependency_calls"] == 14


def test_provisioned_capacity_is_billed_per_unit_hour_of_the_counted_run() -> None:
    m, _ = dependency({"type": "dynamodb_table", **provisioned(rcu=5, wcu=10)},
                      duration_s=7200, warmup_s=3600)  # fmt: skip
    r = m.run()
    expected = 5 * DEFAULT_PRICES["dynamodb_rcu_hour"] + 10 * DEFAULT_PRICES["dynamodb_wcu_hour"]
    assert r.dependencies["dep"]["cost_usd"] == pytest.approx(expected)


def test_provisioned_utilization_is_per_second_use_over_capacity() -> None:
    m, t, _ = table(provisioned(rcu=10, wcu=10), duration_s=10)
    Periodic(m, t, 5, 0.0, 10.0, op="read", consistent=True, size_kb=4)
    Periodic(m, t, 2, 0.0, 10.0, **WRITE)
    m.env.run(until=10)
    got = t.metrics()
    assert got["utilization_mean"] == pytest.approx(0.5)  # reads: 5 of 10 units per second
    assert got["utilization_max"] == pytest.approx(0.5)
