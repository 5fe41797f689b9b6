"""The database dependency, driven directly through its call interface: exact timelines.

FIFO waiting line, refusal when the line is full, client timeouts while waiting (no work) and in
service (the connection is kept, the time is wasted), abandon(), per-environment connections and
their exhaustion, the Universal Scalability Law's virtual clock (worked out by hand), outages,
errors and the metrics.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import conserved, pipeline, run
from depcallers import Answers, ClosedLoop, at, dependency

from sim.config import ScenarioError, scenario_from_dict
from sim.engine.schedule import call_after
from sim.engine.streams import RandomStreams
from sim.services.database import Database
from sim.services.dependency import CallHandle, CallRequest

ONE: dict[str, Any] = {"type": "database", "max_connections": 1, "service_time_s": 1}


def db(spec: dict[str, Any] | None = None, **kw: Any) -> tuple[Any, Database, Answers]:
    m, dep = dependency({**ONE, **(spec or {})}, **kw)
    assert isinstance(dep, Database)
    return m, dep, Answers(m)


# -- the waiting line -----------------------------------------------------------------------


def test_requests_wait_first_in_first_out_for_the_one_connection() -> None:
    m, d, ans = db()
    for tag, t in (("a", 0.0), ("b", 0.1), ("c", 0.2)):
        at(m, t, d, ans, tag)
    m.env.run(until=10)
    assert ans.rows == [(1.0, "a", None), (2.0, "b", None), (3.0, "c", None)]
    got = d.metrics()
    assert got["calls"] == got["succeeded"] == 3
    assert got["wait_mean_s"] == pytest.approx((0 + 0.9 + 1.8) / 3)
    assert got["in_service_max"] == 1 and got["connections_max"] == 1


def test_a_full_line_refuses_at_once_and_zero_waiting_refuses_when_busy() -> None:
    m, d, ans = db({"waiting": 1})
    for tag, t in (("a", 0.0), ("b", 0.1), ("c", 0.2)):
        at(m, t, d, ans, tag)
    m.env.run(until=10)
    assert ans.rows == [(0.2, "c", "throttled"), (1.0, "a", None), (2.0, "b", None)]
    assert d.metrics()["throttled"] == 1

    m, d, ans = db({"waiting": 0})
    for tag, t in (("a", 0.0), ("b", 0.1), ("c", 1.5)):
        at(m, t, d, ans, tag)
    m.env.run(until=10)
    assert ans.rows == [(0.1, "b", "throttled"), (1.0, "a", None), (2.5, "c", None)]


def test_a_refusal_is_answered_inside_call() -> None:
    m, d, _ = db({"waiting": 0})
    seen: list[str | None] = []
    d.call(CallRequest(), seen.append)
    h = d.call(CallRequest(), seen.append)
    assert seen == ["throttled"] and h.answered  # synchronous
    m.env.run(until=5)
    assert seen == ["throttled", None]


def test_an_admitted_request_is_never_answered_inside_call() -> None:
    m, d, _ = db({"service_time_s": 0, "max_connections": 3})
    seen: list[str | None] = []
    h = d.call(CallRequest(), seen.append)
    assert seen == [] and not h.answered
    m.env.run(until=1)
    assert seen == [None]


def test_a_timeout_while_waiting_leaves_the_line_without_work() -> None:
    m, d, ans = db()
    at(m, 0.0, d, ans, "a")
    at(m, 0.1, d, ans, "b", timeout_s=0.5)
    at(m, 0.2, d, ans, "c")
    m.env.run(until=10)
    assert ans.rows == [(0.6, "b", "timeout"), (1.0, "a", None), (2.0, "c", None)]
    got = d.metrics()
    assert (got["timeouts"], got["left_line"], got["wasted_s"]) == (1, 1, 0.0)
    assert got["wait_mean_s"] == pytest.approx((0 + 0.5 + 0.8) / 3)


def test_a_timeout_in_service_keeps_the_connection_and_wastes_its_time() -> None:
    m, d, ans = db({"service_time_s": 2})
    at(m, 0.0, d, ans, "a", timeout_s=0.5)
    at(m, 0.1, d, ans, "b")
    m.env.run(until=10)
    # a's caller hears "timeout" at 0.5, but a holds the connection until 2: b starts then
    assert ans.rows == [(0.5, "a", "timeout"), (4.0, "b", None)]
    got = d.metrics()
    assert got["wasted_s"] == 2.0
    assert (got["timeouts"], got["left_line"], got["succeeded"]) == (1, 0, 1)


def test_a_timeout_after_service_while_the_answer_travels_wastes_the_service() -> None:
    m, d, ans = db({"service_time_s": 1, "latency_s": 1})
    at(m, 0.0, d, ans, "a", timeout_s=1.5)
    m.env.run(until=10)
    assert ans.rows == [(1.5, "a", "timeout")]
    assert d.metrics()["wasted_s"] == 1.0


def test_abandon_gives_up_without_an_answer() -> None:
    m, d, ans = db({"service_time_s": 2})
    handles: dict[Any, CallHandle] = {}
    at(m, 0.0, d, ans, "a", handles)
    at(m, 0.0, d, ans, "b", handles)
    at(m, 0.7, d, ans, "c", handles)
    m.env.run(until=0.5)
    handles["b"].abandon()  # waiting: leaves the line
    m.env.run(until=1.0)
    handles["a"].abandon()  # in service: runs to 2, wasted
    handles["a"].abandon()  # twice is harmless
    m.env.run(until=10)
    assert ans.rows == [(4.0, "c", None)]
    handles["c"].abandon()  # after the answer: nothing
    got = d.metrics()
    assert (got["abandoned"], got["left_line"], got["timeouts"]) == (2, 1, 0)
    assert got["wasted_s"] == 2.0


def test_no_answer_after_the_timeout_even_when_the_work_completes() -> None:
    m, d, ans = db({"service_time_s": 1})
    at(m, 0.0, d, ans, "a", timeout_s=0.25)
    m.env.run(until=10)
    assert ans.rows == [(0.25, "a", "timeout")]  # Answers asserts "at most once"


# -- per-environment connections --------------------------------------------------------------


def test_environments_hold_connections_until_released() -> None:
    m, d, ans = db({"max_connections": 2})
    at(m, 0.0, d, ans, "e1-1", holder="e1")
    at(m, 0.0, d, ans, "e2-1", holder="e2")
    at(m, 0.0, d, ans, "e3-1", holder="e3")  # a third connection: too many
    at(m, 0.5, d, ans, "pc", holder=None)  # a per-call request waits for a connection
    at(m, 2.0, d, ans, "e1-2", holder="e1")  # runs at once on e1's own connection
    call_after(m.env, 3.5, lambda _: d.release_holder("e1"))
    at(m, 4.0, d, ans, "e3-2", holder="e3")  # the per-call request has the free slot
    at(m, 5.0, d, ans, "e3-3", holder="e3")  # pc is done: e3 may open one now
    m.env.run(until=20)
    assert ans.rows == [
        (0.0, "e3-1", "throttled"),
        (1.0, "e1-1", None),
        (1.0, "e2-1", None),
        (3.0, "e1-2", None),
        (4.0, "e3-2", "throttled"),
        (4.5, "pc", None),
        (6.0, "e3-3", None),
    ]
    got = d.metrics()
    assert got["connections_max"] == 2 and got["throttled"] == 2
    assert d.open_connections == 2  # e2 and e3 still hold theirs
    d.release_holder("e2")
    d.release_holder("e3")
    d.release_holder("never-opened")
    assert d.open_connections == 0


def test_an_environment_reclaimed_mid_request_closes_its_connection_at_the_end() -> None:
    m, d, ans = db({"max_connections": 1, "service_time_s": 2})
    at(m, 0.0, d, ans, "e", holder="env")
    at(m, 0.5, d, ans, "pc")
    call_after(m.env, 1.0, lambda _: d.release_holder("env"))
    m.env.run(until=10)
    assert ans.rows == [(2.0, "e", None), (4.0, "pc", None)]


def test_an_environment_runs_its_requests_one_at_a_time() -> None:
    m, d, ans = db({"max_connections": 5})
    handles: dict[Any, CallHandle] = {}
    at(m, 0.0, d, ans, "x", handles, holder="env", timeout_s=0.2)
    at(m, 0.5, d, ans, "y", handles, holder="env")  # x still runs on the connection
    m.env.run(until=10)
    assert ans.rows == [(0.2, "x", "timeout"), (2.0, "y", None)]
    assert d.metrics()["connections_max"] == 1


# -- load dependence (USL) -------------------------------------------------------------------


def test_usl_two_requests_together_share_the_slowdown() -> None:
    # σ = 0.5, κ = 0: with N = 2 each progresses at 1 / (1 + 0.5·1) = 2/3 of full speed, so a
    # request of S = 1 alone-second takes 1 / (2/3) = 1.5 s: both finish at t = 1.5.
    m, d, ans = db({"max_connections": 2, "contention": {"sigma": 0.5}})
    at(m, 0.0, d, ans, "a")
    at(m, 0.0, d, ans, "b")
    m.env.run(until=10)
    assert ans.rows == [(1.5, "a", None), (1.5, "b", None)]


def test_usl_staggered_requests_follow_the_virtual_clock() -> None:
    # σ = 0.5. [0, 0.5): a alone at full speed, 0.5 done. From 0.5 both run at 2/3: a needs
    # 0.5 more -> 0.75 s -> finishes at 1.25, when b has done 0.5. b alone again at full
    # speed needs 0.5 more -> finishes at 1.75.
    m, d, ans = db({"max_connections": 2, "contention": {"sigma": 0.5}})
    at(m, 0.0, d, ans, "a")
    at(m, 0.5, d, ans, "b")
    m.env.run(until=10)
    assert ans.rows == [(1.25, "a", None), (1.75, "b", None)]
    assert d.metrics()["in_service_mean"] == pytest.approx((1.25 + 1.25) / 10)


def usl_throughput(n: int, sigma: float, kappa: float, horizon_s: float = 1000.0) -> float:
    """Completions per second of a closed loop of ``n`` requests (S = 1 s each)."""
    m, d = dependency({"type": "database", "max_connections": 100, "service_time_s": 1,
                       "contention": {"sigma": sigma, "kappa": kappa}})  # fmt: skip
    loop = ClosedLoop(m, d, n)
    m.env.run(until=horizon_s)
    return len(loop.completions) / horizon_s


def test_usl_closed_loop_throughput_is_exact() -> None:
    # N requests that start together finish together after D(N) = 1 + σ(N−1) + κN(N−1)
    # seconds and start again: N·#{k ≥ 1: k·D(N) < T} completions in [0, T).
    sigma, kappa, horizon = 0.1, 0.001, 1000.0
    for n in (1, 2, 7, 30, 45):
        cycle = 1 + sigma * (n - 1) + kappa * n * (n - 1)
        expected = n * math.floor((horizon - 1e-9) / cycle) / horizon
        assert usl_throughput(n, sigma, kappa, horizon) == pytest.approx(expected), n


def test_usl_throughput_peaks_at_n_star() -> None:
    # X(N) = N / (1 + σ(N − 1) + κN(N − 1)) peaks at N* = √((1 − σ)/κ) = √(0.9/0.001) = 30.
    sigma, kappa = 0.1, 0.001
    horizon = 10_000.0
    xs = {n: usl_throughput(n, sigma, kappa, horizon) for n in range(24, 37)}
    assert max(xs, key=xs.__getitem__) == round(math.sqrt((1 - sigma) / kappa)) == 30
    assert xs[29] < xs[30] > xs[31]


def test_without_contention_each_request_takes_exactly_its_service_time() -> None:
    m, d, ans = db({"max_connections": 3, "service_time_s": {"uniform": {"low": 1, "high": 2}}})
    for i in range(3):
        at(m, 0.1 * i, d, ans, i)
    m.env.run(until=10)
    draws = RandomStreams(0, 0).get("dep", "service").uniform(1, 2, 3)
    assert [t for t, _, _ in sorted(ans.rows, key=lambda r: r[1])] == pytest.approx(
        [0.1 * i + float(s) for i, s in enumerate(draws)]
    )


# -- faults ---------------------------------------------------------------------------------


def test_slow_outage_multiplies_service_time_and_latency() -> None:
    m, d, ans = db(
        {"latency_s": 0.5},
        outages=[{"component": "dep", "start_s": 10, "duration_s": 10, "mode": "slow",
                  "factor": 3}],
    )  # fmt: skip
    at(m, 0.0, d, ans, "before")
    at(m, 12.0, d, ans, "during")
    at(m, 30.0, d, ans, "after")
    m.env.run(until=50)
    assert ans.rows == [(1.5, "before", None), (16.5, "during", None), (31.5, "after", None)]


@pytest.mark.parametrize("mode", ["unavailable", "throttled"])
def test_unavailable_and_throttled_outages_refuse_at_once(mode: str) -> None:
    m, d, ans = db(outages=[{"component": "dep", "start_s": 5, "duration_s": 5, "mode": mode}])
    at(m, 4.0, d, ans, "before")
    at(m, 6.0, d, ans, "during")
    at(m, 10.0, d, ans, "after")
    m.env.run(until=20)
    assert ans.rows == [(5.0, "before", None), (6.0, "during", mode), (11.0, "after", None)]
    got = d.metrics()
    assert got[mode] == 1 and got["calls"] == 3


def test_errors_are_drawn_at_admission_and_answered_after_service() -> None:
    m, d, ans = db({"errors": {"rate": 0.3}, "max_connections": 50})
    for i in range(40):
        at(m, 0.0, d, ans, i)
    m.env.run(until=10)
    draw = RandomStreams(0, 0).uniform("dep", "errors")
    expected = ["unavailable" if draw() < 0.3 else None for _ in range(40)]
    assert [e for _, _, e in sorted(ans.rows, key=lambda r: r[1])] == expected
    assert {t for t, _, _ in ans.rows} == {1.0}  # served like any other
    got = d.metrics()
    assert got["unavailable"] == expected.count("unavailable") > 0


# -- metrics --------------------------------------------------------------------------------


def test_utilization_is_open_connections_over_the_limit() -> None:
    m, d, ans = db({"max_connections": 2})
    at(m, 0.0, d, ans, "a")
    at(m, 0.0, d, ans, "b")
    at(m, 2.0, d, ans, "c")
    m.env.run(until=4)
    got = d.metrics()
    # 2 connections for 1 s and 1 for 1 s, over 4 s and 2 connections: 3 / 8
    assert got["utilization_mean"] == pytest.approx(3 / 8)
    assert got["utilization_max"] == 1.0


def test_counts_start_at_the_warmup() -> None:
    m, d, ans = db({"service_time_s": 2}, warmup_s=3, duration_s=10)
    at(m, 0.0, d, ans, "early", timeout_s=0.5)  # wasted 0..2: before the warm-up
    at(m, 2.5, d, ans, "late", timeout_s=1)  # starts at 2.5, times out at 3.5: counted
    m.env.process(_warmup(m))
    m.env.run(until=10)
    got = d.metrics()
    assert got["calls"] == 0  # both calls came before 3 s
    assert got["timeouts"] == 1  # the late one timed out at 3.5
    assert got["wasted_s"] == pytest.approx(4.5 - 3)  # late's service [2.5, 4.5] from 3 on
    assert got["utilization_mean"] == pytest.approx(1.5 / 7)


def _warmup(m: Any) -> Any:
    yield m.env.timeout(m.scenario.warmup_s)
    m.ledger.counting = True


def test_an_unused_database_in_a_pipeline_loads_builds_and_runs() -> None:
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 5}]})
    data["components"]["db"] = {"type": "database"}
    r = run(data)
    conserved(r)
    assert r.metrics["delivered"] > 0
    assert r.metrics["dependency_calls"] == 0 and r.metrics["dependency_wasted_s"] == 0
    assert r.dependencies["db"]["calls"] == 0
    assert r.dependencies["db"]["utilization_mean"] == 0.0


def test_a_database_cannot_be_a_message_target() -> None:
    with pytest.raises(ScenarioError, match="send_to"):
        scenario_from_dict({"duration_s": 1, "components": {
            "p": {"type": "producer", "rate_per_s": 1, "send_to": ["db"]},
            "db": {"type": "database"},
        }})  # fmt: skip
