"""Producers: arrivals, the SDK client's retries, sequential fan-out, resends and warm-up."""

from __future__ import annotations

import itertools
import math

import pytest
from conftest import events, model, pipeline, rows, run

from sim.engine.streams import RandomStreams


def _jitter(n, seed=0, producer="prod"):
    """The first ``n`` full-jitter uniforms of ``producer``'s retry stream."""
    draw = RandomStreams(seed, 0).uniform(producer, "retry")
    return [draw() for _ in range(n)]


def _fanout(outage_on=None, max_attempts=1):
    data = pipeline(producer={"send_to": ["q", "q2", "q3"], "retry": {
        "max_attempts": max_attempts}})
    comps = data["components"]
    for i in (2, 3):
        comps[f"q{i}"] = {"type": "sqs_queue"}
        comps[f"fn{i}"] = {**comps["fn"], "trigger": {"source": f"q{i}", "batch_size": 1}}
    if outage_on is not None:
        data["outages"] = [{"component": outage_on, "start_s": 0, "duration_s": 100}]
    return data


# -- SDK retry --------------------------------------------------------------------------------


def test_send_during_a_queue_outage_is_retried_with_full_jitter_backoff():
    u1, u2 = _jitter(2)
    t2 = u1 * 1.0  # before retry 1: U * min(base, cap)
    t3 = t2 + u2 * 2.0  # before retry 2: U * min(2 base, cap)
    assert t3 > t2 > 0
    end = (t2 + t3) / 2  # the outage covers attempts 1 and 2, not 3
    r = run(pipeline(
        producer={"retry": {"max_attempts": 3, "base_s": 1, "cap_s": 20}},
        outages=[{"component": "q", "start_s": 0, "duration_s": end}],
    ))
    assert rows(r) == [
        (0.0, "q", "send_failed"),
        (round(t2, 9), "q", "send_failed"),
        (round(t3, 9), "q", "send"),
        (round(t3, 9), "q", "receive"),
        (round(t3 + 1, 9), "fn", "success"),
        (round(t3 + 1, 9), "q", "delete"),
    ]
    m = r.metrics
    assert m["delivered"] == 1
    assert m["producer_latency_mean_s"] == pytest.approx(t3)
    assert m["latency_max_s"] == pytest.approx(t3 + 1)


def test_backoff_is_capped():
    us = _jitter(4)
    r = run(pipeline(
        producer={"retry": {"max_attempts": 5, "base_s": 1, "cap_s": 2}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 1000}],
    ))
    times = events(r, "q", "send_failed")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([us[0] * 1, us[1] * 2, us[2] * 2, us[3] * 2])


def test_send_gives_up_after_max_attempts_and_the_message_is_lost():
    r = run(pipeline(
        producer={"retry": {"max_attempts": 3}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 100}],
    ))
    assert len(events(r, "q", "send_failed")) == 3
    assert events(r, "prod", "gave_up") == [events(r, "q", "send_failed")[-1]]
    m = r.metrics
    assert (m["lost"], m["delivered"], m["in_flight"], m["attempts"]) == (1, 0, 0, 0)


def test_max_attempts_one_means_no_retry():
    r = run(pipeline(
        producer={"retry": {"max_attempts": 1}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 0.5}],
    ))
    assert rows(r) == [(0.0, "q", "send_failed"), (0.0, "prod", "gave_up")]
    assert r.metrics["lost"] == 1
    assert r.metrics["producer_latency_mean_s"] == 0.0


def test_queue_error_rate_fails_sends_independently():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 400}]},
        queue={"errors": {"rate": 0.5}},
        producer={"retry": {"max_attempts": 1}},
    ), trace=False)
    m = r.metrics
    assert m["lost"] + m["delivered"] == 400
    assert abs(m["lost"] - 200) < 4 * math.sqrt(400 * 0.25)


def test_retries_recover_most_sends_under_an_error_rate_without_a_retry_quota():
    # P(lost) = 0.5 vs 0.5^5 = 0.031 while every retry is allowed (no quota: see below)
    def lost(max_attempts):
        return run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 400}]}, queue={
            "errors": {"rate": 0.5}}, producer={"retry": {"max_attempts": max_attempts,
                                                          "quota": False}}),
                   trace=False).metrics["lost"]  # fmt: skip

    assert lost(5) < 30 < 150 < lost(1)


def test_the_retry_quota_caps_the_retries_of_a_burst_under_an_error_rate():
    # 400 sends at once, half failing: the 500-token bucket pays for 100 retries and no more
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 400}]}, queue={
        "errors": {"rate": 0.5}}, producer={"retry": {"max_attempts": 5}}), trace=False)
    m = r.metrics
    # a success refills at most the 5 tokens of one retry
    assert m["sdk_retries"] <= 100 + m["delivered"]
    assert m["sdk_retries_refused"] > 0
    unlimited = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 400}]}, queue={
        "errors": {"rate": 0.5}}, producer={"retry": {"max_attempts": 5, "quota": False}}),
        trace=False).metrics  # fmt: skip
    assert unlimited["sdk_retries_refused"] == 0
    assert m["lost"] > 50 > 3 * unlimited["lost"]  # 90 vs 11 here (0.5^5 × 400 = 12.5)


def test_queue_error_rate_one_loses_everything():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 5}]}, queue={"errors": {"rate": 1.0}}
    ))
    assert r.metrics["lost"] == 5
    assert len(events(r, "q", "send_failed")) == 15  # 3 attempts each (default)


# -- sequential fan-out ---------------------------------------------------------------------


def test_sequential_fanout_stops_at_the_first_failing_target():
    r = run(_fanout(outage_on="q2"))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (0.0, "q2", "send_failed"),
        (0.0, "prod", "gave_up"),  # q3 is never tried
        (1.0, "fn", "success"),
        (1.0, "q", "delete"),
    ]
    assert r.sinks["fn"]["delivered"] == 1
    assert r.sinks["fn2"]["lost"] == 1
    assert r.sinks["fn3"]["lost"] == 1
    m = r.metrics
    assert (m["messages_produced"], m["deliveries_expected"], m["delivered"], m["lost"]) == (
        1, 3, 1, 2
    )
    assert m["partial_fraction"] == 1.0
    assert m["all_delivered_fraction"] == 0.0


def test_sequential_fanout_failing_first_target_loses_all():
    r = run(_fanout(outage_on="q"))
    assert r.metrics["lost"] == 3
    assert r.metrics["partial_fraction"] == 0.0
    assert r.metrics["all_delivered_fraction"] == 0.0


def test_sequential_fanout_all_available_delivers_all():
    r = run(_fanout())
    assert events(r, "q", "send") == events(r, "q2", "send") == events(r, "q3", "send") == [0.0]
    assert r.metrics["delivered"] == 3
    assert r.metrics["all_delivered_fraction"] == 1.0
    assert r.metrics["partial_fraction"] == 0.0


def test_sequential_fanout_last_target_failing_is_partial():
    r = run(_fanout(outage_on="q3"))
    assert r.sinks["fn3"]["lost"] == 1
    assert r.metrics["delivered"] == 2
    assert r.metrics["partial_fraction"] == 1.0


# -- resends ----------------------------------------------------------------------------------


def test_resend_recovers_a_message_whose_first_send_was_lost():
    r = run(pipeline(
        producer={"retry": {"max_attempts": 1}, "resend": {"rate": 1.0, "delay_s": 10}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 5}],
    ))
    assert events(r, "q", "send") == [10.0]
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (1, 0, 0)
    assert m["latency_max_s"] == pytest.approx(11.0)


def test_resend_rate_zero_sends_once():
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 20}]}))
    assert len(events(r, "q", "send")) == 20
    assert r.metrics["duplicates"] == 0


def test_resend_rate_draws_per_message():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 400}]},
        producer={"resend": {"rate": 0.25, "delay_s": 10}},
    ), trace=False)
    assert abs(r.metrics["duplicates"] - 100) < 4 * math.sqrt(400 * 0.25 * 0.75)


# -- arrivals ---------------------------------------------------------------------------------


def test_bursts_spread_evenly():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 10, "count": 4, "spread_s": 2}, {"at_s": 1, "count": 1}]},
        duration_s=20,
    ))
    assert events(r, "q", "send") == [1.0, 10.0, 10.5, 11.0, 11.5]


def test_arrivals_stop_at_duration_s():
    r = run(pipeline(arrivals={"bursts": [{"at_s": 8, "count": 4, "spread_s": 4}]}, duration_s=10))
    assert events(r, "q", "send") == [8.0, 9.0]
    assert r.metrics["messages_produced"] == 2


def test_warmup_excludes_early_messages_from_the_counts():
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}, {"at_s": 10, "count": 2}]},
        duration_s=20,
        warmup_s=5,
    )
    r = run(data)
    assert len(events(r, "fn", "success")) == 5  # all simulated
    m = r.metrics
    assert (m["messages_produced"], m["deliveries_expected"], m["delivered"]) == (2, 2, 2)
    assert (m["attempts"], m["invocations"]) == (2, 2)
    assert m["latency_max_s"] == pytest.approx(1.0)
    assert r.sinks["fn"]["deliveries_expected"] == 2


def test_warmup_excludes_early_failures():
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}, {"at_s": 10, "count": 2}]},
        producer={"retry": {"max_attempts": 1}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 1}],
        duration_s=20,
        warmup_s=5,
    )
    m = run(data).metrics
    assert (m["lost"], m["delivered"], m["deliveries_expected"]) == (0, 2, 2)


def test_poisson_rate_gives_the_expected_count():
    data = pipeline(producer={"rate_per_s": 5.0}, duration_s=1000)
    del data["components"]["prod"]["arrivals"]
    r = run(data, trace=False)
    n = r.metrics["messages_produced"]
    assert abs(n - 5000) < 4 * math.sqrt(5000)


def test_piecewise_rate_profile():
    data = pipeline(
        arrivals={"profile": [
            {"start_s": 0, "rate_per_s": 0},
            {"start_s": 100, "rate_per_s": 10},
            {"start_s": 200, "rate_per_s": 40},
            {"start_s": 300, "rate_per_s": 0},
        ]},
        duration_s=400,
        drain_s=10,
    )
    r = run(data)
    sends = events(r, "q", "send")
    assert min(sends) >= 100 and max(sends) < 300
    n1 = sum(1 for t in sends if t < 200)
    n2 = len(sends) - n1
    assert abs(n1 - 1000) < 4 * math.sqrt(1000)
    assert abs(n2 - 4000) < 4 * math.sqrt(4000)
    assert r.metrics["messages_produced"] == len(sends)


def test_profile_is_cut_at_duration_s():
    data = pipeline(
        arrivals={"profile": [{"start_s": 0, "rate_per_s": 20}]}, duration_s=50, drain_s=10
    )
    sends = events(run(data), "q", "send")
    assert max(sends) < 50
    assert abs(len(sends) - 1000) < 4 * math.sqrt(1000)


def test_csv_trace_arrivals(tmp_path):
    path = tmp_path / "arrivals.csv"
    path.write_text("id,t\n1,2.5\n2,0.5\n3,1.5\n4,9.9\n5,10.5\n")
    r = run(pipeline(arrivals={"trace": {"file": str(path), "column": "t"}}, duration_s=10))
    assert events(r, "q", "send") == [0.5, 1.5, 2.5, 9.9]  # sorted; 10.5 is past duration_s
    assert r.metrics["messages_produced"] == 4


def test_csv_trace_single_column(tmp_path):
    path = tmp_path / "arrivals.csv"
    path.write_text("\n".join(str(0.25 * i) for i in range(40)) + "\n")
    r = run(pipeline(arrivals={"trace": {"file": str(path)}}, duration_s=5), trace=False)
    assert r.metrics["messages_produced"] == 20  # 0, 0.25, ..., 4.75
    assert r.metrics["delivered"] == 20


def test_producer_latency_is_zero_without_faults():
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 3}]}))
    assert r.metrics["producer_latency_mean_s"] == 0.0


# -- SDK retry quota and jitter -------------------------------------------------------------

#: one message per second for 200 s; the queue is down during [0, 99.5) and [150, 159.5)
_QUOTA_OUTAGES = [
    {"component": "q", "start_s": 0, "duration_s": 99.5},
    {"component": "q", "start_s": 150, "duration_s": 9.5},
]


def _quota_run(**retry):
    return run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 200, "spread_s": 200}]},
        producer={"retry": {"max_attempts": 3, **retry}},
        outages=_QUOTA_OUTAGES,
        duration_s=200,
    ))


def _sends_per_message(r):
    """Send attempts (failed or not) of each message, by message id."""
    out: dict[int, int] = {}
    trace = r.trace
    for c, e, m in zip(trace["component"], trace["event"], trace["msg_id"], strict=True):
        if c == "q" and e in ("send", "send_failed"):
            out[int(m)] = out.get(int(m), 0) + 1
    return out


def test_a_long_outage_spends_the_retry_quota_then_sends_are_not_retried():
    r = _quota_run()
    sends = _sends_per_message(r)
    ids = sorted(sends)
    # the first 50 messages retry twice (10 tokens each: the 500-token bucket); the next 50,
    # still inside the outage, find it empty and fail at their first attempt
    assert [sends[i] for i in ids[:50]] == [3] * 50
    assert [sends[i] for i in ids[50:100]] == [1] * 50
    gave_up = events(r, "prod", "gave_up")
    assert events(r, "prod", "quota_empty") == [float(t) for t in range(50, 100)] + [
        float(t) for t in range(155, 160)]  # fmt: skip
    assert len(gave_up) == 110
    m = r.metrics
    assert (m["sdk_retries"], m["sdk_retries_refused"]) == (100 + 10, 50 + 5)
    assert (m["lost"], m["delivered"]) == (110, 90)


def test_successes_refill_the_quota_and_retries_resume():
    r = _quota_run()
    sends = _sends_per_message(r)
    ids = sorted(sends)
    # t = 100 … 149: 50 first-attempt successes put 50 tokens back (1 each): in the second
    # outage the messages of t = 150 … 154 retry twice (5 × 10 tokens), those of 155 … 159 not
    assert [sends[i] for i in ids[100:150]] == [1] * 50
    assert [sends[i] for i in ids[150:155]] == [3] * 5
    assert [sends[i] for i in ids[155:160]] == [1] * 5
    assert [sends[i] for i in ids[160:]] == [1] * 40


def test_quota_false_retries_everything():
    r = _quota_run(quota=False)
    sends = _sends_per_message(r)
    assert [sends[i] for i in sorted(sends)[:100]] == [3] * 100
    assert r.metrics["sdk_retries_refused"] == 0
    assert events(r, "prod", "quota_empty") == []


def test_a_number_sets_the_quota_capacity():
    r = _quota_run(quota=100)  # 10 messages' worth of retries in the first outage
    sends = _sends_per_message(r)
    ids = sorted(sends)
    assert [sends[i] for i in ids[:12]] == [3] * 10 + [1] * 2
    # by t = 150 the 50 successes have refilled 50 tokens: 5 messages' retries again
    assert [sends[i] for i in ids[148:158]] == [1] * 2 + [3] * 5 + [1] * 3


def test_a_successful_retry_gives_its_cost_back():
    # capacity 10: the retry takes 5, its success puts the 5 back, the bucket is full again
    m = model(pipeline(producer={"retry": {"quota": {"capacity": 10}}},
                       outages=[{"component": "q", "start_s": 0, "duration_s": 1e-9}]))
    r = m.run()
    assert events(r, "q", "send_failed") == [0.0]
    assert r.metrics["sdk_retries"] == 1
    assert m.producers["prod"].quota.tokens == 10


def test_the_quota_never_exceeds_its_capacity():
    m = model(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 20}]},
                       producer={"retry": {"quota": 7}}))
    m.run()
    assert m.producers["prod"].quota.tokens == 7


@pytest.mark.parametrize(
    ("jitter", "gaps"),
    [
        ("full", lambda u: [u[0] * 1, u[1] * 2, u[2] * 4, u[3] * 5]),
        ("equal", lambda u: [0.5 + 0.5 * u[0], 1 + u[1], 2 + 2 * u[2], 2.5 + 2.5 * u[3]]),
        ("none", lambda u: [1.0, 2.0, 4.0, 5.0]),
    ],
)
def test_jitter_of_the_backoff(jitter, gaps):
    # base 1 s, cap 5 s: d = 1, 2, 4, 5 before retries 1 … 4
    us = _jitter(4)
    r = run(pipeline(
        producer={"retry": {"max_attempts": 5, "cap_s": 5, "jitter": jitter}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 1000}],
    ))
    times = events(r, "q", "send_failed")
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx(gaps(us))


def test_decorrelated_jitter_grows_from_the_previous_sleep():
    # sleep_i = min(cap, U(base, 3 × sleep_{i-1})), sleep_0 = base
    us = _jitter(4)
    base, cap = 0.5, 8.0
    expected, prev = [], base
    for u in us:
        prev = min(cap, base + u * (3 * prev - base))
        expected.append(prev)
    r = run(pipeline(
        producer={"retry": {"max_attempts": 5, "base_s": base, "cap_s": cap,
                            "jitter": "decorrelated"}},
        outages=[{"component": "q", "start_s": 0, "duration_s": 1000}],
    ))
    times = events(r, "q", "send_failed")
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx(expected)
