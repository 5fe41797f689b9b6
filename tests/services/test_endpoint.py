"""Endpoints (email inboxes, HTTP services, phones): latency, errors, outages (unavailable,
throttled, slow), attempts counted at the sink, and what makes an endpoint a sink.
"""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from conftest import events, model, rows, run


def scenario(
    endpoint: dict[str, Any] | None = None,
    *,
    protocol: str = "http",
    count: int = 1,
    spread_s: float = 0.0,
    sub: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
    duration_s: float = 1.0,
    drain_s: float = 600.0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Producer (``count`` messages from t = 0) → topic ``t`` → endpoint ``ep``."""
    data: dict[str, Any] = {
        "name": "endpoint",
        "duration_s": duration_s,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": [{"at_s": 0, "count": count, "spread_s": spread_s}]},
                "send_to": ["t"],
            },
            "t": {"type": "sns_topic", "subscriptions": [{"target": "ep", **(sub or {})}]},
            "ep": {"type": "endpoint", "protocol": protocol, **(endpoint or {})},
            **(extra or {}),
        },
    }
    if outages:
        data["outages"] = outages
    return data


def outage(start_s: float, duration_s: float, **kw: Any) -> dict[str, Any]:
    return {"component": "ep", "start_s": start_s, "duration_s": duration_s, **kw}


# == latency ====================================================================================


def test_zero_latency_processes_at_delivery():
    r = run(scenario())
    assert rows(r) == [(0.0, "t", "publish"), (0.0, "t", "delivered"), (0.0, "ep", "success")]
    m = r.metrics
    assert (m["delivered"], m["attempts"], m["latency_max_s"]) == (1, 1, 0.0)


def test_constant_latency_is_the_time_from_delivery_to_processed():
    r = run(scenario({"latency_s": 2.5}))
    assert events(r, "ep", "success") == [2.5]
    assert r.metrics["latency_max_s"] == 2.5
    assert r.metrics["invocations"] == 0  # an endpoint is no function


def test_a_latency_distribution_is_sampled_per_delivery():
    data = scenario({"latency_s": {"exponential": {"mean": 2.0}}}, count=3000)
    r = run(data, trace=False, keep_samples=True)
    m = r.metrics
    assert m["delivered"] == 3000
    assert m["latency_mean_s"] == pytest.approx(2.0, rel=0.08)
    assert m["latency_p50_s"] == pytest.approx(2.0 * 0.6931, rel=0.1)


def test_a_run_ending_during_the_latency_leaves_the_message_in_flight():
    r = run(scenario({"latency_s": 50}, drain_s=10))
    assert r.metrics["in_flight"] == 1
    assert r.sinks["ep"]["attempts"] == 0  # the successful attempt counts when it ends


# == errors ===================================================================================


def test_error_rate_one_fails_every_attempt():
    r = run(scenario({"errors": {"rate": 1.0}}))
    assert rows(r) == [(0.0, "t", "publish"), (60.0, "t", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 4
    assert r.metrics["lost"] == 1


def test_error_rate_attempts_add_up():
    # http default policy: up to 4 attempts; a delivered message made k ≤ 4 attempts
    r = run(scenario({"errors": {"rate": 0.5}}, count=2000), trace=False)
    m, s = r.metrics, r.sinks["ep"]
    assert m["delivered"] + m["lost"] == 2000
    assert 60 < m["lost"] < 200  # 2000 / 16 = 125 expected
    assert m["delivered"] + 4 * m["lost"] <= s["attempts"] <= 4 * 2000
    assert s["attempts"] == pytest.approx(2000 * (1 - 0.5**4) / 0.5, rel=0.05)


def test_error_draws_are_reproducible():
    a = run(scenario({"errors": {"rate": 0.3}}, count=200), seed=11, trace=False)
    b = run(scenario({"errors": {"rate": 0.3}}, count=200), seed=11, trace=False)
    assert a.metrics == b.metrics and a.sinks == b.sinks


def test_http_attempts_are_billed_per_attempt():
    m = model(scenario({"errors": {"rate": 1.0}}))
    r = m.run()
    assert m.ctx.cost.counts[("t", "sns_http_deliveries")] == 4 == r.sinks["ep"]["attempts"]


# == outages ====================================================================================


@pytest.mark.parametrize("mode", ["unavailable", "throttled"])
def test_an_outage_fails_attempts_until_it_ends(mode):
    r = run(scenario({"latency_s": 1}, outages=[outage(0, 30, mode=mode)]))
    assert rows(r) == [(0.0, "t", "publish"), (40.0, "t", "delivered"), (41.0, "ep", "success")]
    assert r.sinks["ep"]["attempts"] == 3  # 0 and 20 failed, 40 succeeded


def test_an_outage_only_affects_deliveries_inside_it():
    r = run(scenario(count=2, spread_s=100, duration_s=200, outages=[outage(10, 30)]))
    assert events(r, "ep", "success") == [0.0, 50.0]


def test_an_outage_longer_than_the_policy_loses_the_message():
    r = run(scenario(outages=[outage(0, 100)]))
    assert events(r, "t", "gave_up") == [60.0]
    assert r.metrics["lost"] == 1


def test_an_outage_longer_than_the_policy_dead_letters_with_a_dlq():
    m = model(scenario(outages=[outage(0, 100)], sub={"dead_letter": {"target": "d"}},
                       extra={"d": {"type": "sqs_queue"}}))  # fmt: skip
    r = m.run()
    assert events(r, "d", "dead_letter") == [60.0]
    assert r.metrics["dead_lettered"] == 1
    assert m.queues["d"].depth == 1


def test_email_outage_uses_the_customer_managed_policy():
    # attempts at 0 and 10 (AWS's 2 attempts 10 s apart), then backing off from 10 s to 600 s:
    # the first backoff delay is 10 · 60^(1/10) s
    r = run(scenario(protocol="email", outages=[outage(0, 15)]))
    t = 10 + 10 * 60 ** 0.1
    assert events(r, "ep", "success") == [pytest.approx(t)]
    assert r.sinks["ep"]["attempts"] == 3


def test_sms_uses_the_customer_managed_policy():
    r = run(scenario(protocol="sms", outages=[outage(0, 5)]))
    assert events(r, "ep", "success") == [10.0]


def test_https_uses_the_http_default_policy():
    r = run(scenario(protocol="https", outages=[outage(0, 5)]))
    assert events(r, "ep", "success") == [20.0]


# == slow outages ===============================================================================


def test_a_slow_outage_multiplies_latency_of_deliveries_during_it():
    r = run(scenario({"latency_s": 2}, count=2, spread_s=4, duration_s=10,
                     outages=[outage(0, 1, mode="slow", factor=4)]))  # fmt: skip
    # message 1 delivered at 0 (slow: 2 × 4), message 2 at 2 (after the window: 2)
    assert events(r, "ep", "success") == [4.0, 8.0]
    assert sorted(r.trace.loc[r.trace["event"] == "success", "msg_id"]) == [1, 2]
    assert events(r, "ep", "success", 1) == [8.0]
    assert events(r, "ep", "success", 2) == [4.0]


def test_a_slow_outage_does_not_fail_attempts():
    r = run(scenario({"latency_s": 1}, outages=[outage(0, 100, mode="slow")]))
    assert events(r, "t", "delivered") == [0.0]
    assert events(r, "ep", "success") == [10.0]  # default factor 10
    assert r.sinks["ep"]["attempts"] == 1


def test_a_slow_outage_without_latency_changes_nothing():
    r = run(scenario(outages=[outage(0, 100, mode="slow", factor=50)]))
    assert events(r, "ep", "success") == [0.0]


# == sinks ======================================================================================


def test_an_endpoint_nobody_subscribes_to_is_no_sink():
    data = scenario(extra={"lonely": {"type": "endpoint"}})
    r = run(data)
    assert set(r.sinks) == {"ep"}


def test_two_subscriptions_to_one_endpoint_give_two_pairs():
    data = scenario()
    data["components"]["t"]["subscriptions"].append({"target": "ep"})
    r = run(data)
    s = r.sinks["ep"]
    assert (s["deliveries_expected"], s["delivered"], s["attempts"]) == (2, 2, 2)
    assert r.metrics["all_delivered_fraction"] == 1.0


def test_two_topics_feed_one_endpoint():
    data = scenario(extra={
        "t2": {"type": "sns_topic", "subscriptions": [{"target": "ep"}]},
        "p2": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": 3}]},
               "send_to": ["t2"]},
    })  # fmt: skip
    r = run(data)
    assert r.sinks["ep"]["deliveries_expected"] == 4
    assert r.metrics["delivered"] == 4


def test_latency_statistics_match_the_samples():
    data = scenario({"latency_s": {"uniform": {"low": 1, "high": 3}}}, count=500)
    r = run(data, trace=True, keep_samples=True)
    t = r.trace
    times = list(t.loc[(t["component"] == "ep") & (t["event"] == "success"), "t_s"])
    assert r.metrics["latency_mean_s"] == pytest.approx(statistics.fmean(times), rel=1e-9)
    assert r.metrics["latency_max_s"] == pytest.approx(max(times), rel=1e-12)
