"""SQS queue semantics on small deterministic scenarios: exact ``(t_s, component, event)`` logs.

Every scenario has zero AWS overheads (no latency, no poll delay, no cold start) and constant
durations, so that the timelines are exact (DESIGN §7, "Semantics").
"""

from __future__ import annotations

import copy

import pytest
from conftest import events, model, msg_ids, pipeline, poison_seed, rows, run, scenario

from sim.config import ScenarioError

POISON = {"errors": {"poison_rate": 1.0}}


# -- visibility timeout, redrive to the DLQ, retention ---------------------------------------


def test_failing_message_is_redelivered_at_each_visibility_timeout_then_dead_lettered():
    r = run(pipeline(function=POISON, dlq=True, max_receive_count=3))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (1.0, "fn", "failure"),
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),
        (31.0, "fn", "failure"),
        (60.0, "q", "visible"),
        (60.0, "q", "receive"),
        (61.0, "fn", "failure"),
        (90.0, "q", "visible"),
        # the 4th receive finds ReceiveCount == maxReceiveCount: moved, not delivered
        (90.0, "q", "dead_letter"),
    ]
    m = r.metrics
    assert (m["dead_lettered"], m["delivered"], m["attempts"], m["invocations"]) == (1, 0, 3, 3)


@pytest.mark.parametrize("k", [1, 2, 4, 7])
def test_poison_message_reaches_dlq_after_exactly_max_receive_count_receives(k):
    r = run(pipeline(function=POISON, dlq=True, max_receive_count=k, queue={
        "visibility_timeout_s": 20}))
    expected = [(0.0, "q", "send")]
    for i in range(k):
        t = 20.0 * i
        if i:
            expected.append((t, "q", "visible"))
        expected += [(t, "q", "receive"), (t + 1.0, "fn", "failure")]
    expected += [(20.0 * k, "q", "visible"), (20.0 * k, "q", "dead_letter")]
    assert rows(r) == expected
    assert r.metrics["attempts"] == k
    assert r.metrics["dead_lettered"] == 1
    assert r.sinks["fn"]["dead_lettered"] == 1


def test_dlq_move_is_not_an_attempt_and_the_dlq_holds_the_message():
    m = model(pipeline(function=POISON, dlq=True, max_receive_count=2))
    r = m.run()
    assert r.metrics["attempts"] == 2
    assert m.queues["dlq"].depth == 1
    assert m.queues["q"].depth == 0


@pytest.mark.parametrize(
    ("retention_s", "receives", "expired_s"),
    [(60, [0.0, 30.0], 60.0), (100, [0.0, 30.0, 60.0, 90.0], 120.0)],
)
def test_failing_message_without_dlq_cycles_until_retention_expiry(
    retention_s, receives, expired_s
):
    # retention is checked when the message would become visible again (sqs.py docstring)
    r = run(pipeline(function=POISON, queue={"retention_s": retention_s}))
    assert events(r, "q", "receive") == receives
    assert events(r, "fn", "failure") == [t + 1.0 for t in receives]
    assert rows(r)[-1] == (expired_s, "q", "expired")
    m = r.metrics
    assert (m["expired"], m["dead_lettered"], m["lost"], m["in_flight"]) == (1, 0, 0, 0)
    assert m["attempts"] == len(receives)


def test_exact_timeline_retention_60():
    r = run(pipeline(function=POISON, queue={"retention_s": 60}))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (1.0, "fn", "failure"),
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),
        (31.0, "fn", "failure"),
        (60.0, "q", "expired"),
    ]


def test_poison_message_without_dlq_is_in_flight_when_the_run_ends_before_retention():
    r = run(pipeline(function=POISON, drain_s=200))
    assert r.metrics["in_flight"] == 1
    assert len(events(r, "q", "receive")) == 7  # 0, 30, ..., 180


def test_visibility_timeout_shorter_than_the_run_redelivers_while_processing():
    # cold start 5 s + run 8 s = 13 s > visibility timeout 10 s (the cold start is not part of
    # the function timeout, so this is a valid configuration)
    r = run(pipeline(
        queue={"visibility_timeout_s": 10},
        function={"duration_s": 8, "timeout_s": 10, "cold_start": {"duration_s": 5}},
    ))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (10.0, "q", "visible"),
        (10.0, "q", "receive"),  # a second, concurrent execution (cold again)
        (13.0, "fn", "success"),  # the first one's delete quotes a stale receipt: no delete
        (20.0, "q", "visible"),
        (20.0, "q", "receive"),  # the first environment is warm again: 8 s
        (23.0, "fn", "success"),
        (28.0, "fn", "success"),
        (28.0, "q", "delete"),
    ]
    m = r.metrics
    assert (m["delivered"], m["duplicates"], m["attempts"], m["cold_starts"]) == (1, 2, 3, 2)
    assert m["latency_max_s"] == pytest.approx(13.0)


def test_visibility_timeout_longer_than_the_run_gives_no_duplicate():
    r = run(pipeline(
        queue={"visibility_timeout_s": 14},
        function={"duration_s": 8, "timeout_s": 10, "cold_start": {"duration_s": 5}},
    ))
    assert events(r, "q", "receive") == [0.0]
    assert r.metrics["duplicates"] == 0


def test_delay_s_delays_the_first_receive():
    r = run(pipeline(queue={"delay_s": 7}))
    assert rows(r) == [
        (0.0, "q", "send"),
        (7.0, "q", "receive"),
        (8.0, "fn", "success"),
        (8.0, "q", "delete"),
    ]
    assert r.metrics["latency_max_s"] == pytest.approx(8.0)


def test_delay_s_does_not_apply_to_redeliveries():
    r = run(pipeline(queue={"delay_s": 7}, function=POISON, dlq=True, max_receive_count=2))
    assert events(r, "q", "receive") == [7.0, 37.0]
    assert events(r, "q", "dead_letter") == [67.0]


def test_standard_duplicate_rate_one_delivers_again_after_the_visibility_timeout():
    r = run(pipeline(queue={"duplicate_rate": 1.0}, drain_s=45))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (1.0, "fn", "success"),  # the delete misses a replica
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),
        (31.0, "fn", "success"),
    ]
    m = r.metrics
    assert (m["delivered"], m["duplicates"], m["attempts"]) == (1, 1, 2)
    assert m["latency_max_s"] == pytest.approx(1.0)  # latency is to the first success


def test_delete_during_a_queue_outage_fails_and_the_message_is_processed_again():
    r = run(pipeline(outages=[{"component": "q", "start_s": 0.5, "duration_s": 1.0}]))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (1.0, "fn", "success"),
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),
        (31.0, "fn", "success"),
        (31.0, "q", "delete"),
    ]
    assert r.metrics["duplicates"] == 1


def test_receive_waits_for_the_end_of_a_queue_outage():
    # A (t=0) runs 0-2 on the only slot; B (t=1) is stored before the outage [1.5, 11.5):
    # A's delete at t=2 fails, B can only be received at 11.5, A comes back at t=30
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 1}, {"at_s": 1, "count": 1}]},
        outages=[{"component": "q", "start_s": 1.5, "duration_s": 10}],
        function={"duration_s": 2},
        trigger={"max_concurrency": 1},
        duration_s=5,
    )
    r = run(data)
    a, b = sorted(set(r.trace["msg_id"]))
    assert rows(r, b) == [
        (1.0, "q", "send"),
        (11.5, "q", "receive"),
        (13.5, "fn", "success"),
        (13.5, "q", "delete"),
    ]
    assert events(r, "q", "receive", a) == [0.0, 30.0]
    assert r.metrics["duplicates"] == 1


# -- dead-letter queues: retention and redrive ----------------------------------------------


@pytest.mark.parametrize(("fifo", "fate"), [(False, "expired"), (True, "dead_lettered")])
def test_dlq_retention_standard_keeps_enqueue_time_fifo_resets_it(fifo, fate):
    # moved to the DLQ at t=60; DLQ retention 100 s; the run ends at t=130:
    # standard: 0 + 100 <= 130 -> expired; FIFO: 60 + 100 > 130 -> still dead-lettered
    data = pipeline(
        queue={"fifo": fifo}, function=POISON, dlq={"retention_s": 100}, max_receive_count=2,
        drain_s=129,
    )
    r = run(data)
    assert events(r, "q", "dead_letter") == [60.0]
    assert r.metrics[fate] == 1
    assert sum(r.metrics[f] for f in ("expired", "dead_lettered")) == 1


@pytest.mark.parametrize("fifo", [False, True])
def test_dlq_copy_expires_once_its_own_retention_has_passed(fifo):
    data = pipeline(
        queue={"fifo": fifo}, function=POISON, dlq={"retention_s": 100}, max_receive_count=2,
        drain_s=199,
    )
    r = run(data)
    assert r.metrics["expired"] == 1
    assert events(r, "dlq", "expired")


def _redrive_data(drain_s, outage_s=100.0, **dlq):
    return pipeline(
        dlq={"redrives": [{"at_s": 200, "rate_per_s": 1}], **dlq},
        max_receive_count=2,
        outages=[{"component": "fn", "start_s": 0, "duration_s": outage_s}],
        drain_s=drain_s,
    )


def test_redrive_moves_a_dead_lettered_message_back_and_it_is_delivered():
    r = run(_redrive_data(drain_s=300))
    assert rows(r)[-6:] == [
        (60.0, "q", "visible"),
        (60.0, "q", "dead_letter"),
        (200.0, "dlq", "redrive"),
        (200.0, "q", "receive"),
        (201.0, "fn", "success"),
        (201.0, "q", "delete"),
    ]
    m = r.metrics
    assert (m["delivered"], m["dead_lettered"], m["in_flight"]) == (1, 0, 0)
    assert m["latency_max_s"] == pytest.approx(201.0)


def test_redrive_fates_before_and_after_the_move():
    before = run(_redrive_data(drain_s=150))
    assert before.metrics["dead_lettered"] == 1
    # redriven at 200, but the function is down until 300: in flight again at the end
    after = run(_redrive_data(drain_s=250, outage_s=300))
    assert events(after, "dlq", "redrive") == [200.0]
    assert after.metrics["in_flight"] == 1
    assert after.metrics["dead_lettered"] == 0


def test_redrive_resets_the_receive_count():
    data = pipeline(
        function=POISON, dlq={"redrives": [{"at_s": 200}]}, max_receive_count=2, drain_s=400
    )
    r = run(data)
    assert events(r, "q", "receive") == [0.0, 30.0, 200.0, 230.0]
    assert events(r, "q", "dead_letter") == [60.0, 260.0]
    assert r.metrics["dead_lettered"] == 1
    assert r.metrics["attempts"] == 4


def test_redrive_rate_spaces_the_moves():
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        function=POISON,
        dlq={"redrives": [{"at_s": 100, "rate_per_s": 0.5}]},
        max_receive_count=1,
        drain_s=105,
    )
    r = run(data)
    assert events(r, "dlq", "redrive") == [100.0, 102.0, 104.0]


# -- FIFO queues --------------------------------------------------------------------------


def _two_producers(fifo: bool) -> dict:
    data = pipeline(queue={"fifo": fifo})
    comps = data["components"]
    comps["prod2"] = dict(comps["prod"])
    return data


def test_fifo_group_is_blocked_while_its_head_is_in_flight():
    r = run(pipeline(queue={"fifo": True}, arrivals={"bursts": [{"at_s": 0, "count": 2}]}))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (0.0, "q", "send"),
        (1.0, "fn", "success"),
        (1.0, "q", "delete"),
        (1.0, "q", "receive"),  # only now that the first one is deleted
        (2.0, "fn", "success"),
        (2.0, "q", "delete"),
    ]
    assert r.metrics["ordering_violations"] == 0


def test_standard_queue_processes_the_same_messages_in_parallel():
    r = run(pipeline(arrivals={"bursts": [{"at_s": 0, "count": 2}]}))
    assert events(r, "q", "receive") == [0.0, 0.0]
    assert events(r, "fn", "success") == [1.0, 1.0]


def test_fifo_two_groups_proceed_in_parallel():
    # each producer has its own message group
    r = run(_two_producers(fifo=True))
    assert events(r, "q", "receive") == [0.0, 0.0]
    assert events(r, "fn", "success") == [1.0, 1.0]
    assert r.metrics["delivered"] == 2


def test_fifo_head_of_line_poison_blocks_its_group_until_dead_lettered():
    seed = poison_seed([True, False, False])
    data = pipeline(
        queue={"fifo": True},
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        function={"errors": {"poison_rate": 0.5}},
        dlq=True,
        max_receive_count=2,
    )
    r = run(data, seed=seed)
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (0.0, "q", "send"),
        (0.0, "q", "send"),
        (1.0, "fn", "failure"),
        (30.0, "q", "visible"),
        (30.0, "q", "receive"),  # the head again, not the next message of its group
        (31.0, "fn", "failure"),
        (60.0, "q", "visible"),
        (60.0, "q", "dead_letter"),
        (60.0, "q", "receive"),
        (61.0, "fn", "success"),
        (61.0, "q", "delete"),
        (61.0, "q", "receive"),
        (62.0, "fn", "success"),
        (62.0, "q", "delete"),
    ]
    ids = sorted(set(r.trace["msg_id"]))
    assert events(r, "q", "dead_letter", ids[0]) == [60.0]
    assert events(r, "fn", "success", ids[1]) == [61.0]
    assert events(r, "fn", "success", ids[2]) == [62.0]
    m = r.metrics
    assert (m["delivered"], m["dead_lettered"], m["ordering_violations"]) == (2, 1, 0)


def test_standard_poison_head_does_not_block_the_others():
    seed = poison_seed([True, False, False])
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 3}]},
        function={"errors": {"poison_rate": 0.5}},
        dlq=True,
        max_receive_count=2,
    )
    r = run(data, seed=seed)
    assert events(r, "fn", "success") == [1.0, 1.0]


@pytest.mark.parametrize("content", [False, True])
def test_fifo_deduplicates_a_resend_within_five_minutes(content):
    queue = {"fifo": True, "content_based_dedup": content}
    producer = {"resend": {"rate": 1.0, "delay_s": 10}}
    if content:
        producer["dedup_ids"] = "content"
    r = run(pipeline(queue=queue, producer=producer))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (1.0, "fn", "success"),
        (1.0, "q", "delete"),
        (10.0, "q", "deduplicated"),
    ]
    m = r.metrics
    assert (m["delivered"], m["duplicates"], m["attempts"]) == (1, 0, 1)
    assert m["lost"] == 0


def test_fifo_deduplicates_a_resend_while_the_original_is_still_queued():
    r = run(pipeline(
        queue={"fifo": True, "visibility_timeout_s": 60},
        producer={"resend": {"rate": 1.0, "delay_s": 10}},
        function={"duration_s": 20, "timeout_s": 30},
    ))
    assert events(r, "q", "deduplicated") == [10.0]
    assert events(r, "q", "receive") == [0.0]
    assert r.metrics["duplicates"] == 0


def test_standard_queue_delivers_a_resend_twice():
    r = run(pipeline(producer={"resend": {"rate": 1.0, "delay_s": 10}}))
    assert events(r, "q", "send") == [0.0, 10.0]
    assert events(r, "fn", "success") == [1.0, 11.0]
    assert r.metrics["duplicates"] == 1
    assert r.metrics["delivered"] == 1


def test_fifo_resend_after_the_dedup_window_is_delivered_again():
    r = run(pipeline(queue={"fifo": True}, producer={"resend": {"rate": 1.0, "delay_s": 400}}))
    assert events(r, "q", "send") == [0.0, 400.0]
    assert events(r, "fn", "success") == [1.0, 401.0]
    assert "deduplicated" not in {e for _, _, e in rows(r)}
    assert r.metrics["duplicates"] == 1


def test_fifo_resend_just_inside_the_window_is_deduplicated():
    r = run(pipeline(queue={"fifo": True}, producer={"resend": {"rate": 1.0, "delay_s": 299}}))
    assert events(r, "q", "deduplicated") == [299.0]
    assert r.metrics["duplicates"] == 0


@pytest.mark.parametrize("fifo", [False, True])
def test_redrive_does_not_resurrect_a_message_past_its_dlq_retention(fifo):
    # regression: the move task redrove copies without checking retention (found delivered)
    # dead-lettered at t=60; DLQ retention 100 s ends at t=100 (standard: from the original
    # enqueue at 0) or t=160 (FIFO: from the move); the redrive starts at t=200
    data = pipeline(
        queue={"fifo": fifo},
        dlq={"retention_s": 100, "redrives": [{"at_s": 200}]},
        max_receive_count=2,
        outages=[{"component": "fn", "start_s": 0, "duration_s": 100}],
        drain_s=300,
    )
    r = run(data)
    assert events(r, "dlq", "redrive") == []
    assert r.metrics["expired"] == 1
    assert r.metrics["delivered"] == 0


def test_dlq_consumer_leaves_the_pair_dead_lettered_and_delivers_a_pair_of_its_own():
    data = pipeline(function=POISON, dlq=True, max_receive_count=1)
    data["components"]["dlq-fn"] = {
        "type": "lambda_function", "trigger": {"source": "dlq", "batch_size": 1},
        "duration_s": 1, "cold_start": {"duration_s": 0},
    }
    r = run(data)
    assert rows(r)[-4:] == [
        (30.0, "q", "dead_letter"),
        (30.0, "dlq", "receive"),
        (31.0, "dlq-fn", "success"),
        (31.0, "dlq", "delete"),
    ]
    assert (r.sinks["fn"]["dead_lettered"], r.sinks["fn"]["delivered"]) == (1, 0)
    # the DLQ's consumer is a sink of the message that arrived there
    assert (r.sinks["dlq-fn"]["delivered"], r.sinks["dlq-fn"]["attempts"]) == (1, 1)
    assert r.metrics["deliveries_expected"] == 2


def test_dlq_consumer_with_errors_fails_like_any_function():
    # regression: a copy moved from a DLQ (parked) never failed, whatever the consumer's errors
    data = pipeline(function=POISON, dlq=True, max_receive_count=1)
    data["components"]["dlq-fn"] = {
        "type": "lambda_function", "trigger": {"source": "dlq", "batch_size": 1},
        "duration_s": 1, "cold_start": {"duration_s": 0}, "errors": {"rate": 1.0},
    }
    r = run(data)
    assert events(r, "dlq-fn", "success") == []
    assert events(r, "dlq-fn", "failure")[:2] == [31.0, 61.0]


# -- latency and throughput limits ----------------------------------------------------------


def test_queue_latency_delays_the_store_and_the_producer():
    r = run(pipeline(queue={"latency_s": 0.5}))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.5, "q", "receive"),
        (1.5, "fn", "success"),
        (1.5, "q", "delete"),
    ]
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(0.5)


def test_fifo_throughput_limit_rejects_sends_beyond_the_rate():
    r = run(pipeline(
        queue={"fifo": True, "max_calls_per_s": 2},
        arrivals={"bursts": [{"at_s": 0, "count": 5}]},
        producer={"retry": {"max_attempts": 1}},
    ))
    assert len(events(r, "q", "send")) == 2
    assert len(events(r, "q", "send_failed")) == 3
    assert (r.metrics["delivered"], r.metrics["lost"]) == (2, 3)


def _two_groups(queue):
    """Two producers (one message group each) sending 5 messages each at once, no retry."""
    data = pipeline(queue={"fifo": True, **queue}, arrivals={"bursts": [{"at_s": 0, "count": 5}]},
                    producer={"retry": {"max_attempts": 1}})  # fmt: skip
    data["components"]["prod2"] = copy.deepcopy(data["components"]["prod"])
    return data


@pytest.mark.parametrize(
    ("queue", "delivered"),
    [
        ({"max_calls_per_s": 2}, 2),  # one limit for the queue
        ({"high_throughput": True, "partition_calls_per_s": 2}, 4),  # one per group
        ({"high_throughput": True, "partition_calls_per_s": 2, "max_calls_per_s": 3}, 3),
    ],
)
def test_fifo_high_throughput_limits_calls_per_message_group_and_per_queue(queue, delivered):
    r = run(_two_groups(queue))
    assert len(events(r, "q", "send")) == delivered
    assert (r.metrics["delivered"], r.metrics["lost"]) == (delivered, 10 - delivered)


def test_fifo_high_throughput_defaults_are_300_per_group_and_70000_per_queue():
    spec = scenario(pipeline(queue={"fifo": True, "high_throughput": True})).components["q"]
    assert (spec.group_calls_per_s_limit, spec.calls_per_s_limit) == (300, 70_000)
    spec = scenario(pipeline(queue={"fifo": True})).components["q"]
    assert (spec.group_calls_per_s_limit, spec.calls_per_s_limit) == (None, 300)


def test_high_throughput_is_rejected_on_a_standard_queue():
    with pytest.raises(ScenarioError, match=r"components\.q\.high_throughput: True — only "
                                            r"allowed on a FIFO queue"):
        scenario(pipeline(queue={"high_throughput": True}))


def test_slow_queue_outage_multiplies_the_send_latency():
    r = run(pipeline(
        queue={"latency_s": 0.5},
        outages=[{"component": "q", "start_s": 0, "duration_s": 1, "mode": "slow", "factor": 4}],
    ))
    assert events(r, "q", "receive") == [2.0]
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(2.0)


# -- order ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reorder_rate", "violations"), [(0.0, 0), (1.0, 1)])
def test_standard_reorder_rate_stores_a_message_ahead_of_the_previous_one(
    reorder_rate, violations
):
    # a blocker holds the only slot while b, c, d arrive; with reordering each new message is
    # stored ahead of the last one: [b] -> [c, b] -> [c, d, b]
    r = run(pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 1}, {"at_s": 0.5, "count": 3}]},
        queue={"reorder_rate": reorder_rate},
        trigger={"max_concurrency": 1},
    ))
    blocker, b, c, d = msg_ids(r)
    order = [m for m in (blocker, b, c, d) for _ in events(r, "fn", "success", m)]
    by_time = sorted(order, key=lambda m: events(r, "fn", "success", m)[0])
    assert by_time == ([blocker, b, c, d] if reorder_rate == 0 else [blocker, c, d, b])
    assert r.metrics["ordering_violations"] == violations


def test_fifo_retention_is_checked_when_a_blocked_message_would_be_delivered():
    r = run(pipeline(
        queue={"fifo": True, "retention_s": 60, "visibility_timeout_s": 120},
        function={"duration_s": 100, "timeout_s": 120},
        arrivals={"bursts": [{"at_s": 0, "count": 2}]},
    ))
    assert rows(r) == [
        (0.0, "q", "send"),
        (0.0, "q", "receive"),
        (0.0, "q", "send"),
        (100.0, "fn", "success"),
        (100.0, "q", "delete"),
        (100.0, "q", "expired"),  # blocked behind its group's head past its retention
    ]
    assert (r.metrics["delivered"], r.metrics["expired"]) == (1, 1)
