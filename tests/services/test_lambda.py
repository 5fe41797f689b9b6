"""Lambda functions behind an SQS event source mapping: exact timelines on small scenarios.

Zero AWS overheads and constant durations throughout (see ``conftest.pipeline``).
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import NO_COLD, events, model, msg_ids, pipeline, poison_seed, rows, run

POISON = {"errors": {"poison_rate": 1.0}}
HALF_POISON = {"errors": {"poison_rate": 0.5}}

#: A blocker message at t=0 holds the only batch slot for 1 s while three more arrive at t=0.5;
#: at t=1 they are received together as one batch.
BLOCKER_THEN_3 = {"bursts": [{"at_s": 0, "count": 1}, {"at_s": 0.5, "count": 3}]}


def executions(result, queue="q", fn="fn", duration_s=None):
    """Execution intervals ``(start, end)`` for batch size 1.

    The start is the receive, or ``end - duration_s`` for a constant duration (a throttled
    batch is invoked after its receive).
    """
    starts: dict[int, list[float]] = {}
    out = []
    for t, c, e, m in zip(
        result.trace["t_s"], result.trace["component"], result.trace["event"],
        result.trace["msg_id"], strict=True,
    ):
        if c == queue and e == "receive":
            starts.setdefault(int(m), []).append(float(t))
        elif c == fn and e in ("success", "failure"):
            start = starts[int(m)].pop(0)
            if duration_s is not None:
                start = float(t) - duration_s
            out.append((start, float(t)))
    return out


def max_overlap(intervals):
    """The largest number of intervals ``[start, end)`` open at one time."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    level = peak = 0
    for _, d in points:
        level += d
        peak = max(peak, level)
    return peak


# -- batches: whole-batch failure vs partial batch response ----------------------------------


def _batch_data(**trigger):
    return pipeline(
        arrivals=BLOCKER_THEN_3,
        trigger={"batch_size": 3, "max_concurrency": 1, **trigger},
        function=HALF_POISON,
        dlq=True,
        max_receive_count=2,
    )


#: blocker ok; batch [ok, poison, ok]
BATCH_SEED = poison_seed([False, False, True, False])

BATCH_HEAD = [
    (0.0, "q", "send"),
    (0.0, "q", "receive"),
    (0.5, "q", "send"),
    (0.5, "q", "send"),
    (0.5, "q", "send"),
    (1.0, "fn", "success"),
    (1.0, "q", "delete"),
    (1.0, "q", "receive"),
    (1.0, "q", "receive"),
    (1.0, "q", "receive"),
    (2.0, "fn", "success"),
    (2.0, "fn", "failure"),
    (2.0, "fn", "success"),
]


def test_whole_batch_failure_returns_the_successful_messages_too():
    r = run(_batch_data(), seed=BATCH_SEED)
    assert rows(r) == [
        *BATCH_HEAD,
        (31.0, "q", "visible"),
        (31.0, "q", "visible"),
        (31.0, "q", "visible"),
        (31.0, "q", "receive"),
        (31.0, "q", "receive"),
        (31.0, "q", "receive"),
        (32.0, "fn", "success"),
        (32.0, "fn", "failure"),
        (32.0, "fn", "success"),
        (61.0, "q", "visible"),
        (61.0, "q", "visible"),
        (61.0, "q", "visible"),
        (61.0, "q", "dead_letter"),
        (61.0, "q", "dead_letter"),
        (61.0, "q", "dead_letter"),
    ]
    m = r.metrics
    assert m["duplicates"] == 2
    assert (m["delivered"], m["dead_lettered"], m["attempts"], m["invocations"]) == (3, 1, 7, 3)


def test_report_batch_item_failures_returns_only_the_failed_message():
    r = run(_batch_data(report_batch_item_failures=True), seed=BATCH_SEED)
    assert rows(r) == [
        *BATCH_HEAD,
        (2.0, "q", "delete"),
        (2.0, "q", "delete"),
        (31.0, "q", "visible"),
        (31.0, "q", "receive"),
        (32.0, "fn", "failure"),
        (61.0, "q", "visible"),
        (61.0, "q", "dead_letter"),
    ]
    m = r.metrics
    assert m["duplicates"] == 0
    assert (m["delivered"], m["dead_lettered"], m["attempts"], m["invocations"]) == (3, 1, 5, 3)


def test_fifo_partial_batch_stops_at_the_first_failure():
    data = _batch_data(report_batch_item_failures=True)
    data["components"]["q"]["fifo"] = True
    data["components"]["dlq"]["fifo"] = True
    r = run(data, seed=BATCH_SEED)
    _, ok, poison, after = msg_ids(r)
    assert events(r, "fn", "success", ok) == [2.0]
    assert events(r, "q", "delete", ok) == [2.0]
    assert events(r, "fn", "failure", poison) == [2.0, 32.0]
    # the message behind the failure is returned unprocessed, every time, and shares its fate
    assert events(r, "fn", "success", after) == []
    assert events(r, "q", "receive", after) == [1.0, 31.0]
    assert events(r, "q", "dead_letter", after) == [61.0]
    m = r.metrics
    assert (m["delivered"], m["dead_lettered"], m["duplicates"], m["attempts"]) == (2, 2, 0, 4)
    assert m["ordering_violations"] == 0


# -- timeouts ----------------------------------------------------------------------------------


def test_function_timeout_is_a_failure_at_the_timeout():
    r = run(pipeline(function={"duration_s": 12, "timeout_s": 10}, dlq=True, max_receive_count=1))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (10.0, "fn", "failure"),
        (30.0, "q", "visible"),
        (30.0, "q", "dead_letter"),
    ]
    assert r.metrics["attempts"] == 1


def test_run_exactly_at_the_timeout_succeeds():
    r = run(pipeline(function={"duration_s": 10, "timeout_s": 10}))
    assert events(r, "fn", "success") == [10.0]


def test_timed_out_batch_fails_every_message():
    # blocker: 1 + 4 = 5 s; the batch of three: 1 + 3 * 4 = 13 s > 10 s
    r = run(pipeline(
        arrivals=BLOCKER_THEN_3,
        trigger={"batch_size": 3, "max_concurrency": 1},
        function={"duration_s": 1, "duration_per_message_s": 4, "timeout_s": 10},
        dlq=True,
        max_receive_count=1,
    ))
    assert events(r, "fn", "success") == [5.0]
    assert events(r, "fn", "failure") == [15.0, 15.0, 15.0]
    assert events(r, "q", "dead_letter") == [35.0, 35.0, 35.0]


def test_cold_start_does_not_count_toward_the_timeout():
    r = run(pipeline(function={"duration_s": 9, "timeout_s": 10, "cold_start": {
        "duration_s": 5}}))
    assert events(r, "fn", "success") == [14.0]


# -- batch size and batching window -----------------------------------------------------------


def test_batching_window_gathers_a_partial_batch():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        trigger={"batch_size": 10, "batching_window_s": 5},
    ))
    assert rows(r) == [(0.0, "q", "send")] * 3 + [(5.0, "q", "receive")] * 3 + [
        (6.0, "fn", "success")] * 3 + [(6.0, "q", "delete")] * 3
    assert r.metrics["invocations"] == 1


def test_without_a_window_each_message_is_invoked_at_once():
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 3}]}, trigger={"batch_size": 10}))
    assert events(r, "q", "receive") == [0.0, 0.0, 0.0]
    assert r.metrics["invocations"] == 3


def test_full_batches_do_not_wait_for_the_window():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 25}]},
        trigger={"batch_size": 10, "batching_window_s": 5},
    ))
    assert Counter(events(r, "q", "receive")) == {0.0: 20, 5.0: 5}
    assert r.metrics["invocations"] == 3
    assert r.metrics["delivered"] == 25


def test_batching_window_applies_again_after_a_full_batch():
    # regression: the window timer left over from a batch that filled up early stayed "open",
    # so the next lone message was invoked at once (t=10) instead of waiting for the window
    # t=0: two messages fill a batch of 2 (invoked at once); t=10: a lone message must wait
    # the 5 s window (receive at 15), as the first batch would have
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 2}, {"at_s": 10, "count": 1}]},
        trigger={"batch_size": 2, "batching_window_s": 5},
        duration_s=20,
    ))
    assert events(r, "q", "receive") == [0.0, 0.0, 15.0]


def test_batch_size_caps_the_messages_per_invocation():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 7}]},
        trigger={"batch_size": 3, "batching_window_s": 1, "max_concurrency": 2},
    ))
    assert r.metrics["invocations"] == 3  # 3 + 3 + 1
    successes = events(r, "fn", "success")
    assert successes[:6] == [1.0] * 6  # two full batches at once, on the two slots
    assert len(successes) == 7 and successes[6] > 1.0


def test_duration_per_message_adds_to_the_invocation():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        trigger={"batch_size": 3, "batching_window_s": 1},
        function={"duration_s": 1, "duration_per_message_s": 0.5},
    ))
    # the batch is full at t=0: received at once, runs 1 + 3 * 0.5
    assert events(r, "fn", "success") == [2.5, 2.5, 2.5]


# -- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cap", "last_end"), [(1, 10.0), (2, 5.0), (5, 2.0)])
def test_max_concurrency_caps_parallel_invocations(cap, last_end):
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 10}]}, trigger={"max_concurrency": cap}
    ))
    ex = executions(r)
    assert len(ex) == 10
    assert max_overlap(ex) == cap
    assert max(e for _, e in ex) == last_end
    assert r.metrics["throttles"] == 0


def test_reserved_concurrency_limits_executions_and_throttles():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        function={"reserved_concurrency": 1},
        trigger={"max_concurrency": 3},
    ))
    ex = executions(r, duration_s=1.0)
    assert max_overlap(ex) == 1
    # the second batch is throttled at 0 and gets the slot the first frees at 1; the third,
    # received then, is throttled (and again by the mapping's retry at 1) and runs 2–3
    assert sorted(e for _, e in ex) == [1.0, 2.0, 3.0]
    assert events(r, "fn", "throttled") == [0.0, 1.0, 1.0]
    assert events(r, "q", "receive") == [0.0, 0.0, 1.0]  # no receive while a batch waits
    assert r.metrics["throttles"] == 3
    assert r.metrics["delivered"] == 3


def test_reserved_concurrency_zero_throttles_and_messages_return_after_visibility():
    r = run(pipeline(function={"reserved_concurrency": 0}, drain_s=70))
    # the mapping retries the throttled batch after 1, 2, 4, 8 s; the next wait (16 s) ends
    # at 31, after the visibility timeout (30), when the message is back and received again:
    # throttled at once, retried at 31 (the wait then 32 s, one retry interval for the whole
    # mapping), and again at 60 and 63
    tries = [0.0, 1.0, 3.0, 7.0, 15.0]
    expected = [(0.0, "q", "send"), (0.0, "q", "receive")]
    expected += [(t, "fn", "throttled") for t in tries]
    expected += [(30.0, "q", "visible"), (30.0, "q", "receive"), (30.0, "fn", "throttled"),
                 (31.0, "fn", "throttled")]  # fmt: skip
    expected += [(60.0, "q", "visible"), (60.0, "q", "receive"), (60.0, "fn", "throttled"),
                 (63.0, "fn", "throttled")]  # fmt: skip
    assert rows(r) == expected
    m = r.metrics
    assert m["throttles"] == 9
    assert (m["invocations"], m["attempts"], m["in_flight"]) == (0, 0, 1)


def test_throttled_messages_reach_the_dlq_after_max_receive_count():
    r = run(pipeline(function={"reserved_concurrency": 0}, dlq=True, max_receive_count=2))
    assert events(r, "q", "dead_letter") == [60.0]
    assert r.metrics["dead_lettered"] == 1
    assert r.metrics["attempts"] == 0


# -- cold starts ----------------------------------------------------------------------------


def test_cold_start_then_warm_within_keep_alive_then_cold_again():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": t, "count": 1} for t in (0, 50, 500)]},
        function={"cold_start": {"duration_s": 0.5, "keep_alive_s": 100}},
        duration_s=600,
    ))
    # released at 1.5 -> warm at 50 (48.5 s later) -> released at 51 -> cold at 500
    assert events(r, "fn", "success") == [1.5, 51.0, 501.5]
    assert r.metrics["cold_starts"] == 2
    assert r.metrics["invocations"] == 3


def test_concurrent_invocations_each_need_an_environment():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}, {"at_s": 10, "count": 3}]},
        function={"cold_start": {"duration_s": 0.5}},
        duration_s=20,
    ))
    assert events(r, "fn", "success") == [1.5] * 3 + [11.0] * 3
    assert r.metrics["cold_starts"] == 3


# -- function outages ---------------------------------------------------------------------


def test_function_outage_delays_processing_until_the_message_returns():
    r = run(pipeline(outages=[{"component": "fn", "start_s": 0, "duration_s": 20}]))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (0.0, "fn", "invoke_failed"),
        (1.0, "fn", "invoke_failed"),
        (3.0, "fn", "invoke_failed"),
        (7.0, "fn", "invoke_failed"),
        (15.0, "fn", "invoke_failed"),
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),
        (31.0, "fn", "success"),
        (31.0, "q", "delete"),
    ]
    m = r.metrics
    assert (m["delivered"], m["attempts"], m["throttles"]) == (1, 1, 0)
    assert m["latency_max_s"] == pytest.approx(31.0)


def test_short_function_outage_is_retried_within_the_visibility_timeout():
    r = run(pipeline(outages=[{"component": "fn", "start_s": 0, "duration_s": 5}]))
    assert events(r, "fn", "invoke_failed") == [0.0, 1.0, 3.0]
    assert events(r, "fn", "success") == [8.0]  # retried at 7, runs 1 s
    assert events(r, "q", "receive") == [0.0]


def test_throttled_outage_counts_throttles():
    r = run(pipeline(outages=[{"component": "fn", "start_s": 0, "duration_s": 10,
                               "mode": "throttled"}]))
    assert events(r, "fn", "throttled") == [0.0, 1.0, 3.0, 7.0]
    assert events(r, "fn", "success") == [16.0]
    assert r.metrics["throttles"] == 4


def test_slow_outage_multiplies_the_duration():
    r = run(pipeline(outages=[{"component": "fn", "start_s": 0, "duration_s": 10, "mode": "slow",
                               "factor": 3}]))
    assert events(r, "fn", "success") == [3.0]


def test_function_error_rate_fails_some_attempts():
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 200}]},
        function={"errors": {"rate": 0.5}},
        dlq=True,
        max_receive_count=1,
    ), trace=False)
    m = r.metrics
    assert m["delivered"] + m["dead_lettered"] == 200
    assert 60 < m["dead_lettered"] < 140
    assert m["attempts"] == 200


# -- event source mapping scaling -------------------------------------------------------------


def _backlog():
    # 8 messages at t=0 running 5 s each: 5 concurrent batches at first, then +1 every
    # 60 / 300 = 0.2 s while a backlog remains (6 at 0.2, 7 at 0.4, 8 at 0.6)
    return pipeline(arrivals={"bursts": [{"at_s": 0, "count": 8}]}, function={"duration_s": 5})


def test_poller_scales_up_by_one_batch_per_step_under_a_backlog():
    r = run(_backlog())
    assert events(r, "q", "receive") == [0.0] * 5 + [0.2, 0.4, 0.6]
    assert r.metrics["latency_max_s"] == pytest.approx(5.6)
    assert r.metrics["cold_starts"] == 8


def test_poller_scale_up_does_not_depend_on_the_trace():
    # regression: without a trace, StandardQueue._store_new's fast path dispatched only when a
    # slot was free and never scheduled the poller scale-up (latency_max_s 10 instead of 5.6)
    traced = run(_backlog(), trace=True).metrics
    plain = run(_backlog(), trace=False).metrics
    assert plain["latency_max_s"] == pytest.approx(5.6)
    assert plain["cold_starts"] == 8
    assert plain == traced


def test_poll_delay_between_receive_and_invoke():
    r = run(pipeline(trigger={"poll_delay_s": 0.25}))
    assert events(r, "q", "receive") == [0.0]
    assert events(r, "fn", "success") == [1.25]


# -- FIFO sources -------------------------------------------------------------------------------


def _producers(data, names, arrivals):
    base = data["components"]["prod"]
    for name in names:
        data["components"][name] = {**base, "arrivals": arrivals}  # one message group each
    return data


def test_fifo_concurrency_is_bounded_by_the_active_groups():
    burst = {"bursts": [{"at_s": 0, "count": 4}]}
    data = _producers(pipeline(queue={"fifo": True}, arrivals=burst), ["p2", "p3"], burst)
    r = run(data)
    assert max_overlap(executions(r)) == 3
    assert Counter(events(r, "fn", "success")) == {1.0: 3, 2.0: 3, 3.0: 3, 4.0: 3}


def test_fifo_batch_takes_the_first_group_then_the_next():
    # a blocker (own group) holds the only slot until t=1; meanwhile two groups of two arrive
    data = pipeline(
        queue={"fifo": True},
        arrivals={"bursts": [{"at_s": 0.5, "count": 2}]},
        trigger={"batch_size": 10, "max_concurrency": 1},
    )
    _producers(data, ["p2"], {"bursts": [{"at_s": 0.5, "count": 2}]})
    _producers(data, ["p0"], {"bursts": [{"at_s": 0, "count": 1}]})
    r = run(data)
    assert events(r, "q", "receive") == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert events(r, "fn", "success") == [1.0, 2.0, 2.0, 2.0, 2.0]
    assert r.metrics["invocations"] == 2


# -- event source mapping: back-off on throttles and errors, scale-down ------------------------


def _levels(m, every_s=0.1):
    """Sample the mapping's level every ``every_s`` while ``m`` runs: ``[(t, level), ...]``."""
    from sim.engine.schedule import call_after

    esm = m.queues["q"].consumer
    out = []

    def sample(_):
        out.append((m.env.now, esm.level))
        call_after(m.env, every_s, sample)

    call_after(m.env, 0.0, sample)
    return out


def test_a_burst_against_reserved_concurrency_backs_the_mapping_off():
    # 3,000 messages at once, batch 1, 1 s runs, reserved concurrency 10, VT 30 s, DLQ after
    # 5 receives. The level grows 5 → 10 in 1 s; each scale-up step beyond 10 is throttled
    # once: the throttled batch gives its slot up (the level falls back to 10) and gets the
    # next slot an invocation frees; the mapping adds no batch before its retry interval
    # (1, 2, 4, … s, at most 60 s) is over. Before this back-off the level reached 1,000,
    # 25,215 invokes were throttled and 244 messages (8.1%) were dead-lettered.
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 3000}]},
                    function={"reserved_concurrency": 10, "timeout_s": 5}, dlq=True,
                    max_receive_count=5, drain_s=600)  # fmt: skip
    m = model(data)
    levels = _levels(m)
    r = m.run()
    assert events(r, "fn", "throttled") == pytest.approx(
        [1.2, 2.2, 4.2, 8.2, 16.2, 32.2, 64.2, 124.2, 184.2, 244.2])  # fmt: skip
    assert max(level for _, level in levels) <= 11
    mm = r.metrics
    assert (mm["delivered"], mm["dead_lettered"], mm["throttles"]) == (3000, 0, 10)
    assert mm["latency_max_s"] == pytest.approx(301.0)  # 300 s of work on 10 slots + the ramp


def test_a_throttled_batch_gets_concurrency_freed_elsewhere_in_the_pool():
    # account concurrency 1: g (invoked asynchronously at 0) runs 0–5; the mapping's batch,
    # received at 0.5, is throttled at 0.5, 1.5 and 3.5 and invoked when g's run ends, at 5
    data = pipeline(arrivals={"bursts": [{"at_s": 0.5, "count": 1}]})
    data["account_concurrency"] = 1
    data["components"]["g"] = {"type": "lambda_function", "duration_s": 5, "timeout_s": 10,
                               "cold_start": dict(NO_COLD)}  # fmt: skip
    data["components"]["p2"] = {"type": "producer", "send_to": ["g"],
                                "arrivals": {"bursts": [{"at_s": 0, "count": 1}]}}  # fmt: skip
    r = run(data)
    assert events(r, "fn", "throttled") == [0.5, 1.5, 3.5]
    assert events(r, "g", "success") == [5.0]
    assert events(r, "fn", "success") == [6.0]


@pytest.mark.parametrize("partial", [False, True])
def test_function_errors_back_the_mapping_off_unless_partial_batch_responses(partial):
    # 20 poison messages at once (every attempt fails, 1 s runs): without partial batch
    # responses each failed invocation lowers the level by one, so from t = 1 the scale-up
    # steps only make up for the failures (one receive per 0.2 s); with them (AWS: failures
    # do not scale polling down) the five failed batches are replaced at once
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 20}]},
                     function={"errors": {"poison_rate": 1.0}},
                     trigger={"report_batch_item_failures": partial}, drain_s=5))  # fmt: skip
    receives = events(r, "q", "receive")
    at_1 = receives.count(1.0)
    assert receives.count(0.0) == 5
    assert at_1 == (6 if partial else 1)


def test_the_level_scales_down_when_traffic_falls_and_up_again_at_300_per_minute():
    # 100 messages of 5 s at 0 and again at 200: the level grows by one per 0.2 s while
    # messages wait; once the first burst is done, the level, unused for 60 s, falls back to
    # 5 (at 120.2 s); the second burst then scales up from 5 exactly as the first did
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 100}, {"at_s": 200, "count": 100}]},
                    function={"duration_s": 5}, duration_s=201, drain_s=100)  # fmt: skip
    m = model(data)
    samples = _levels(m, 0.1)
    r = m.run()
    levels = {round(t, 1): lv for t, lv in samples}
    assert levels[10.0] > 40
    assert levels[120.1] > 40 and levels[120.3] == 5 and levels[199.9] == 5
    receives = events(r, "q", "receive")
    first = [round(t, 6) for t in receives if t < 200]
    second = [round(t - 200, 6) for t in receives if t >= 200]
    assert first == second
    assert first[:7] == [0.0] * 5 + [0.2, 0.4]


def test_without_throttles_or_errors_a_level_at_max_concurrency_never_moves():
    # max_concurrency 4 (≤ 5): the level is 4 from the start and stays 4 through idle spells
    data = pipeline(arrivals={"bursts": [{"at_s": t, "count": 6} for t in (0, 100, 300)]},
                    trigger={"max_concurrency": 4}, duration_s=301, drain_s=100)  # fmt: skip
    m = model(data)
    levels = _levels(m, 1.0)
    m.run()
    assert {level for _, level in levels} == {4}


def test_throttled_batches_wait_in_receive_order_even_with_random_poll_delays():
    # random poll delays invoke batches out of receive order: the throttled ones still wait
    # oldest receive first, so each is given up at its own visibility timeout
    from sim.engine.schedule import call_after

    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 60, "spread_s": 6}]},
                    function={"reserved_concurrency": 2, "duration_s": 2, "timeout_s": 5},
                    trigger={"poll_delay_s": {"exponential": {"mean": 1.0}}},
                    queue={"visibility_timeout_s": 8}, dlq=True, max_receive_count=3,
                    duration_s=7, drain_s=300)  # fmt: skip
    m = model(data, trace=False)
    esm = m.queues["q"].consumer
    orders = []

    def sample(_):
        orders.append([b.received_s for b in esm._throttled])
        call_after(m.env, 0.05, sample)

    call_after(m.env, 0.0, sample)
    r = m.run()
    assert any(len(o) > 1 for o in orders)
    assert all(o == sorted(o) for o in orders)
    assert r.metrics["in_flight"] == 0


def test_the_traffic_scale_down_never_raises_a_level_the_back_off_lowered():
    # 8 runs of 5 s at 0 take the level to 8 (scale-down check armed at 0.2, then every 60 s);
    # a message at 70 meets a function outage: its invokes fail at 70, 71, 73, 77 and 85 and
    # back the level off to 3; at the check of 120.2 the most batches in use were 1, below
    # the level: the level stays 3 (it must not rise to the traffic floor of 5)
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 8}, {"at_s": 70, "count": 1}]},
                    function={"duration_s": 5}, duration_s=71, drain_s=100,
                    outages=[{"component": "fn", "start_s": 70, "duration_s": 20}])  # fmt: skip
    m = model(data)
    samples = _levels(m, 1.0)
    r = m.run()
    levels = {round(t): lv for t, lv in samples}
    assert events(r, "fn", "invoke_failed") == [70.0, 71.0, 73.0, 77.0, 85.0]
    assert levels[60] == 8 and levels[86] == 3
    assert levels[121] == 3 and levels[170] == 3
