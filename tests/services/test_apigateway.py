"""API Gateway: the token bucket (burst, then rate; 429 answers), the payload limit (413, never
retried), the integration timeout (504 while the integration goes on), the synchronous Lambda
integration (success, function errors, throttling, outages), and the SDK client in front of it
(standard retries, adaptive rate limiting).

Every timeline has zero AWS overheads (no cold start, zero latencies) unless said otherwise.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import NO_COLD, conserved, events, model, rows, run

from sim.engine.schedule import Environment
from sim.engine.tokens import TokenBucket
from sim.services.sdk import AdaptiveLimiter

FN: dict[str, Any] = {
    "type": "lambda_function",
    "duration_s": 1,
    "timeout_s": 60,
    "cold_start": dict(NO_COLD),
}
NO_RETRY = {"max_attempts": 1}


def api_scenario(
    integration: dict[str, Any] | None = None,
    *,
    api: dict[str, Any] | None = None,
    bursts: list[dict[str, Any]] | None = None,
    retry: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    duration_s: float = 10.0,
    drain_s: float = 600.0,
) -> dict[str, Any]:
    """Producer ``prod`` → API ``api`` → integration ``integ`` (default: a bucket, its sink)."""
    return {
        "name": "api",
        "duration_s": duration_s,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": bursts or [{"at_s": 0, "count": 1}]},
                "send_to": ["api"],
                "retry": retry or NO_RETRY,
                "attributes": attributes or {},
            },
            "api": {"type": "api_gateway", "integration": "integ", **(api or {})},
            "integ": integration or {"type": "s3_bucket"},
            **(extra or {}),
        },
        "outages": outages or [],
    }


def down(component: str, start_s: float, duration_s: float, **kw: Any) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s, **kw}


# -- the token bucket ---------------------------------------------------------------------------


def test_token_bucket_gives_its_burst_then_its_rate():
    b = TokenBucket(rate=2.0, capacity=3.0)
    assert [b.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(0.4) is False  # 0.8 of a token
    assert b.take(0.5) is True  # 1.0 token
    assert b.take(10.0) and b.take(10.0) and b.take(10.0)  # refilled to capacity, not beyond
    assert b.take(10.0) is False


def test_token_bucket_reservations_wait_in_line():
    b = TokenBucket(rate=4.0, capacity=1.0)
    assert [b.reserve(1.0) for _ in range(4)] == [1.0, 1.25, 1.5, 1.75]
    assert b.reserve(3.0) == 3.0  # the line has cleared


def test_requests_over_burst_and_rate_get_429():
    # arrivals every 0.5 s; bucket of 3 refilled at 1/s: 7 accepted, 3 throttled
    r = run(api_scenario(api={"rate_per_s": 1, "burst": 3},
                         bursts=[{"at_s": 0, "count": 10, "spread_s": 5}]))  # fmt: skip
    assert events(r, "integ", "stored") == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    assert events(r, "api", "throttled") == [2.5, 3.5, 4.5]
    m = r.metrics
    assert (m["api_requests"], m["api_throttled"]) == (10, 3)
    assert (m["delivered"], m["lost"]) == (7, 3)
    conserved(r)


def test_throttled_requests_succeed_on_sdk_retries():
    r = run(api_scenario(api={"rate_per_s": 1, "burst": 1}, bursts=[{"at_s": 0, "count": 3}],
                         retry={"max_attempts": 10, "base_s": 1, "cap_s": 1}))  # fmt: skip
    m = r.metrics
    assert m["delivered"] == 3
    assert m["api_throttled"] >= 2
    assert m["api_requests"] == 3 + m["api_throttled"]
    stored = events(r, "integ", "stored")
    assert stored[0] == 0.0 and all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(stored))
    conserved(r)


def test_throttled_requests_are_not_billed():
    m = model(api_scenario(api={"rate_per_s": 1, "burst": 3},
                           bursts=[{"at_s": 0, "count": 10, "spread_s": 5}]))  # fmt: skip
    r = m.run()
    assert (r.metrics["api_requests"], r.metrics["api_throttled"]) == (10, 3)
    assert m.ctx.cost.counts[("api", "apigateway_requests")] == 7
    assert m.ctx.cost.counts[("integ", "s3_puts")] == 7


def test_a_throttled_outage_answers_429_and_an_unavailable_one_5xx():
    r = run(api_scenario(outages=[down("api", 0, 10, mode="throttled")]))
    assert rows(r) == [(0.0, "api", "throttled"), (0.0, "prod", "gave_up")]
    assert r.metrics["api_throttled"] == 1
    r = run(api_scenario(outages=[down("api", 0, 10)]))
    assert rows(r) == [(0.0, "api", "unavailable"), (0.0, "prod", "gave_up")]
    assert r.metrics["api_throttled"] == 0
    assert r.metrics["lost"] == 1
    conserved(r)


def test_gateway_errors_are_retried_and_then_lost():
    r = run(api_scenario(api={"errors": {"rate": 1.0}},
                         retry={"max_attempts": 3, "base_s": 1, "cap_s": 1}))  # fmt: skip
    assert [e for _, _, e in rows(r)] == ["unavailable"] * 3 + ["gave_up"]
    assert r.metrics["api_requests"] == 3
    assert r.metrics["lost"] == 1
    conserved(r)


# -- payload limit and timeout -------------------------------------------------------------------


def test_a_payload_over_the_limit_is_answered_413_and_not_retried():
    r = run(api_scenario(attributes={"size_bytes": 10_485_761},
                         retry={"max_attempts": 5, "base_s": 1, "cap_s": 1}))  # fmt: skip
    assert rows(r) == [(0.0, "api", "payload_too_large"), (0.0, "prod", "gave_up")]
    m = r.metrics
    assert (m["api_requests"], m["lost"], m["delivered"]) == (1, 1, 0)
    conserved(r)


def test_a_payload_at_the_limit_passes():
    r = run(api_scenario(api={"max_payload_bytes": 5000}, attributes={"size_bytes": 5000}))
    assert rows(r) == [(0.0, "integ", "stored")]
    conserved(r)


@pytest.mark.parametrize("integration", ["bucket", "function"])
def test_a_slow_integration_gets_504_and_still_finishes_so_a_retry_duplicates_it(integration):
    spec = (
        {"type": "s3_bucket", "latency_s": 40}
        if integration == "bucket"
        else {**FN, "duration_s": 40}
    )
    done = "stored" if integration == "bucket" else "success"
    r = run(api_scenario(spec, api={"timeout_s": 29},
                         retry={"max_attempts": 2, "base_s": 1, "cap_s": 1}))  # fmt: skip
    t1, t2 = events(r, "api", "timeout")
    assert t1 == 29.0
    assert 29.0 <= t2 - 29.0 <= 30.0  # the retry came within 1 s, then timed out too
    assert events(r, "integ", done) == [40.0, pytest.approx(t2 - 29.0 + 40.0)]
    assert events(r, "prod", "gave_up") == [t2]
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (1, 0, 1)
    assert m["api_requests"] == 2
    conserved(r)


def test_an_integration_failing_after_the_timeout_leaves_the_pair_lost():
    r = run(api_scenario({"type": "s3_bucket", "latency_s": 40, "errors": {"rate": 1.0}},
                         api={"timeout_s": 29}))  # fmt: skip
    assert rows(r) == [(29.0, "api", "timeout"), (29.0, "prod", "gave_up"),
                       (40.0, "integ", "put_failed")]  # fmt: skip
    assert r.metrics["lost"] == 1
    conserved(r)


def test_the_gateway_latency_comes_before_the_integration():
    r = run(api_scenario(api={"latency_s": 0.25}))
    assert rows(r) == [(0.25, "integ", "stored")]
    assert r.metrics["latency_max_s"] == pytest.approx(0.25)
    conserved(r)


# -- synchronous Lambda integration ---------------------------------------------------------------


def test_a_synchronous_invoke_is_answered_when_the_function_ends():
    r = run(api_scenario(dict(FN)))
    assert rows(r) == [(1.0, "integ", "success")]
    m = r.metrics
    assert (m["delivered"], m["invocations"], m["producer_latency_mean_s"]) == (1, 1, 1.0)
    conserved(r)


def test_a_function_error_is_relayed_and_retried_by_the_client():
    r = run(api_scenario({**FN, "errors": {"rate": 1.0}},
                         retry={"max_attempts": 3, "base_s": 1, "cap_s": 1}))  # fmt: skip
    trace = rows(r)
    assert [e for _, _, e in trace] == ["failure"] * 3 + ["gave_up"]
    assert trace[0][0] == 1.0
    m = r.metrics
    assert (m["invocations"], m["attempts"], m["lost"]) == (3, 3, 1)
    conserved(r)


def test_a_function_timeout_is_an_error_answer():
    r = run(api_scenario({**FN, "duration_s": 5, "timeout_s": 2}))
    assert rows(r) == [(2.0, "integ", "failure"), (2.0, "prod", "gave_up")]
    assert r.metrics["lost"] == 1
    conserved(r)


def test_a_function_without_free_concurrency_throttles_synchronous_invokes():
    r = run(api_scenario({**FN, "reserved_concurrency": 1}, bursts=[{"at_s": 0, "count": 3}]))
    m = r.metrics
    assert (m["invocations"], m["throttles"], m["delivered"], m["lost"]) == (1, 2, 1, 2)
    assert events(r, "integ", "success") == [1.0]
    conserved(r)


def test_throttled_synchronous_invokes_succeed_on_retries():
    r = run(api_scenario({**FN, "reserved_concurrency": 1}, bursts=[{"at_s": 0, "count": 3}],
                         retry={"max_attempts": 20, "base_s": 1, "cap_s": 1}))  # fmt: skip
    m = r.metrics
    assert m["delivered"] == 3 and m["invocations"] == 3 and m["throttles"] >= 2
    ends = events(r, "integ", "success")
    assert ends[0] == 1.0 and all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(ends))
    conserved(r)


def test_a_function_outage_is_an_error_answer_retried_after_it():
    r = run(api_scenario(dict(FN), outages=[down("integ", 0, 0.5)],
                         retry={"max_attempts": 5, "base_s": 1, "cap_s": 1}))  # fmt: skip
    (t,) = events(r, "integ", "success")
    assert 1.5 <= t <= 5.0
    assert r.metrics["delivered"] == 1 and r.metrics["invocations"] == 1
    conserved(r)


# -- API Gateway → S3 → EventBridge ------------------------------------------------------------


def test_uploads_through_the_api_reach_a_rule_target_through_the_bucket():
    extra = {
        "bus": {"type": "event_bus", "rules": [{
            "name": "uploads", "pattern": {"source": ["aws.s3"],
                                           "detail": {"object": {"key": [{"prefix": "up/"}]}}},
            "targets": [{"target": "q"}]}]},
        "q": {"type": "sqs_queue"},
        "c": {**FN, "timeout_s": 10, "trigger": {"source": "q", "batch_size": 1}},
    }  # fmt: skip
    bucket = {"type": "s3_bucket", "eventbridge": "bus", "notification_delay_s": 2}
    r = run(api_scenario(bucket, attributes={"key": "up/{id}"}, extra=extra,
                         api={"rate_per_s": 1, "burst": 2},
                         bursts=[{"at_s": 0, "count": 3}]))  # fmt: skip
    m = r.metrics
    assert (m["deliveries_expected"], m["delivered"], m["lost"], m["api_throttled"]) == (3, 2, 1, 1)
    assert events(r, "bus", "put") == [2.0, 2.0]
    assert events(r, "c", "success") == [3.0, 3.0]
    conserved(r)


# -- the SDK's adaptive mode ---------------------------------------------------------------------


def _granted(lim: AdaptiveLimiter, env: Environment, n: int) -> list[float]:
    """Ask for ``n`` tokens now; the times they are granted (after running the clock)."""
    times: list[float] = []
    for _ in range(n):
        lim.acquire(lambda: times.append(env.now))
    env.run()
    return times


def test_the_adaptive_limiter_waits_for_nothing_until_throttled():
    env = Environment()
    lim = AdaptiveLimiter(env)
    for k in range(20):
        lim.update(k * 0.1, False)
    assert _granted(lim, env, 20) == [0.0] * 20
    assert lim.enabled is False


def test_a_throttle_drops_the_rate_to_beta_times_the_measured_rate():
    env = Environment(initial_time=0.5)
    lim = AdaptiveLimiter(env)
    for k in range(10):  # 10 answers in the first half-second
        lim.update(k * 0.05, False)
    lim.update(0.5, True)  # 11 in 0.5 s: 22/s measured, smoothed to 0.8 × 22
    assert lim.enabled
    assert lim.measured == pytest.approx(0.8 * 22)
    assert lim.fill_rate == pytest.approx(AdaptiveLimiter.BETA * 0.8 * 22)
    # attempts at one instant wait in line, spaced by 1/fill_rate
    t1, t2, t3 = _granted(lim, env, 3)
    assert t2 - t1 == pytest.approx(1 / lim.fill_rate)
    assert t3 - t2 == pytest.approx(1 / lim.fill_rate)


def test_attempts_already_waiting_speed_up_when_the_rate_rises():
    env = Environment(initial_time=0.5)
    lim = AdaptiveLimiter(env)
    lim.update(0.5, True)  # one answer in 0.5 s measured: 0.7 × 0.8 × 2 = 1.12/s
    assert lim.fill_rate == pytest.approx(1.12)
    times: list[float] = []
    for _ in range(5):
        lim.acquire(lambda: times.append(env.now))
    env.run(until=1.0)
    lim.fill_rate = 10.0  # as a later update would set it
    lim._wake_later()
    env.run()
    # at 1.12/s the fifth would wait until 0.5 + 5/1.12 ≈ 4.96 s; at 10/s from t = 1 they are
    # all out by 1.5 s
    assert len(times) == 5 and max(times) <= 1.5
    assert times == sorted(times)  # first come, first served


def test_the_rate_grows_back_to_its_level_before_the_throttle_after_k_seconds():
    lim = AdaptiveLimiter(Environment())
    for k in range(10):
        lim.update(k * 0.05, False)
    lim.update(0.5, True)
    w, k_s = lim.last_max, lim.k
    assert k_s == pytest.approx((w * (1 - AdaptiveLimiter.BETA) / AdaptiveLimiter.SCALE) ** (1 / 3))
    lim.update(0.5 + k_s, False)
    assert lim.fill_rate == pytest.approx(min(w, 2 * lim.measured))


def test_adaptive_mode_sends_fewer_throttled_requests_than_standard_mode():
    # 400 requests over 20 s against 5 requests/s (burst 10)
    out = {}
    for mode in ("standard", "adaptive"):
        r = run(api_scenario(api={"rate_per_s": 5, "burst": 10},
                             bursts=[{"at_s": 0, "count": 400, "spread_s": 20}],
                             retry={"max_attempts": 3, "mode": mode},
                             duration_s=20, drain_s=600), trace=False)  # fmt: skip
        conserved(r)
        out[mode] = r.metrics
    assert out["adaptive"]["api_throttled"] < out["standard"]["api_throttled"] / 5
    assert out["adaptive"]["lost"] < out["standard"]["lost"]


def test_adaptive_clients_drain_their_backlog_at_the_gateway_rate():
    # 400 requests over 20 s against 5/s: at most ~110 s of work; nothing may wait beyond that
    r = run(api_scenario(api={"rate_per_s": 5, "burst": 10},
                         bursts=[{"at_s": 0, "count": 400, "spread_s": 20}],
                         retry={"max_attempts": 3, "mode": "adaptive"},
                         duration_s=20, drain_s=200), trace=False)  # fmt: skip
    conserved(r)
    assert r.metrics["in_flight"] == 0
