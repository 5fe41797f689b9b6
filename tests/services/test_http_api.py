"""The HTTP API dependency, driven directly: concurrency limit, rate limit (token bucket),
a slot held for the whole latency even after the caller gave up, outages, errors, metrics.
"""

from __future__ import annotations

from typing import Any

import pytest
from depcallers import Answers, at, dependency

from sim.services.dependency import CallHandle
from sim.services.http_api import HttpApi


def api(spec: dict[str, Any] | None = None, **kw: Any) -> tuple[Any, HttpApi, Answers]:
    m, dep = dependency({"type": "http_api", "latency_s": 1, **(spec or {})}, **kw)
    assert isinstance(dep, HttpApi)
    return m, dep, Answers(m)


def test_the_default_latency_is_100_ms() -> None:
    m, dep = dependency({"type": "http_api"})
    ans = Answers(m)
    at(m, 0.0, dep, ans, "x")
    m.env.run(until=1)
    assert ans.rows == [(0.1, "x", None)]


def test_requests_beyond_max_concurrency_get_429_at_once() -> None:
    m, a, ans = api({"max_concurrency": 2})
    for tag, t in (("a", 0.0), ("b", 0.0), ("c", 0.5), ("d", 1.2)):
        at(m, t, a, ans, tag)
    m.env.run(until=5)
    assert ans.rows == [(0.5, "c", "throttled"), (1.0, "a", None), (1.0, "b", None),
                        (2.2, "d", None)]  # fmt: skip
    got = a.metrics()
    assert (got["throttled"], got["concurrency_max"], got["utilization_max"]) == (1, 2, 1.0)


def test_the_rate_limit_gives_its_burst_then_its_rate() -> None:
    m, a, ans = api({"rate_limit": {"rate_per_s": 2, "burst": 3}, "latency_s": 0})
    for i in range(4):
        at(m, 0.0, a, ans, f"t0-{i}")
    at(m, 0.25, a, ans, "t0.25")  # half a token
    at(m, 0.5, a, ans, "t0.5")  # one token
    m.env.run(until=5)
    refused = sorted(tag for _, tag, e in ans.rows if e == "throttled")
    assert refused == ["t0-3", "t0.25"]


def test_the_rate_limit_is_checked_before_the_concurrency_limit() -> None:
    m, a, ans = api({"rate_limit": {"rate_per_s": 0.01, "burst": 2}, "max_concurrency": 1})
    at(m, 0.0, a, ans, "first")
    at(m, 0.1, a, ans, "second")  # takes the last token, then finds no free slot
    at(m, 2.0, a, ans, "third")  # the slot is free but the bucket is empty
    m.env.run(until=5)
    assert ans.rows == [(0.1, "second", "throttled"), (1.0, "first", None),
                        (2.0, "third", "throttled")]  # fmt: skip


def test_a_timed_out_request_holds_its_slot_to_the_end_and_wastes_it() -> None:
    m, a, ans = api({"max_concurrency": 1, "latency_s": 2})
    at(m, 0.0, a, ans, "a", timeout_s=0.5)
    at(m, 1.0, a, ans, "b")  # a still holds the slot
    at(m, 2.5, a, ans, "c")
    m.env.run(until=10)
    assert ans.rows == [(0.5, "a", "timeout"), (1.0, "b", "throttled"), (4.5, "c", None)]
    got = a.metrics()
    assert (got["timeouts"], got["wasted_s"], got["succeeded"]) == (1, 2.0, 1)


def test_abandon_keeps_the_slot_and_never_answers() -> None:
    m, a, ans = api({"max_concurrency": 1})
    handles: dict[Any, CallHandle] = {}
    at(m, 0.0, a, ans, "a", handles)
    m.env.run(until=0.5)
    handles["a"].abandon()
    at(m, 0.7, a, ans, "b")
    m.env.run(until=5)
    assert ans.rows == [(0.7, "b", "throttled")]
    got = a.metrics()
    assert (got["abandoned"], got["wasted_s"]) == (1, 1.0)


def test_slow_outage_multiplies_the_latency() -> None:
    m, a, ans = api(outages=[{"component": "dep", "start_s": 1, "duration_s": 5, "mode": "slow",
                              "factor": 5}])  # fmt: skip
    at(m, 0.0, a, ans, "before")
    at(m, 2.0, a, ans, "during")
    m.env.run(until=20)
    assert ans.rows == [(1.0, "before", None), (7.0, "during", None)]


@pytest.mark.parametrize("mode", ["unavailable", "throttled"])
def test_outages_refuse_at_once(mode: str) -> None:
    m, a, ans = api(outages=[{"component": "dep", "start_s": 1, "duration_s": 1, "mode": mode}])
    at(m, 1.5, a, ans, "x")
    m.env.run(until=5)
    assert ans.rows == [(1.5, "x", mode)]
    assert a.metrics()[mode] == 1


def test_errors_are_answered_at_the_end_of_the_latency() -> None:
    m, a, ans = api({"errors": {"rate": 1}})
    at(m, 0.0, a, ans, "x")
    m.env.run(until=5)
    assert ans.rows == [(1.0, "x", "unavailable")]


def test_utilization_is_null_without_a_concurrency_limit() -> None:
    m, a, ans = api()
    at(m, 0.0, a, ans, "x")
    m.env.run(until=4)
    got = a.metrics()
    assert got["utilization_mean"] is None and got["utilization_max"] is None
    assert got["concurrency_max"] == 1

    m, a, ans = api({"max_concurrency": 4})
    at(m, 0.0, a, ans, "x")
    m.env.run(until=4)
    assert a.metrics()["utilization_mean"] == pytest.approx(1 / 4 / 4)
