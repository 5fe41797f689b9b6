"""Asynchronous Lambda invocation: function-error retries (1 and 2 minutes), maximum event age,
throttling with backoff, outages, on-failure destinations, duplicates, and producers invoking
a function directly. Exact timelines with zero overheads (no cold start, constant durations).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NO_COLD, events, model, rows, run

DAY = 86_400.0


def fn(**kw: Any) -> dict[str, Any]:
    """An asynchronously invoked function: 1 s constant duration, 10 s timeout, no cold start."""
    spec: dict[str, Any] = {
        "type": "lambda_function",
        "duration_s": 1,
        "timeout_s": 10,
        "cold_start": dict(NO_COLD),
    }
    spec.update(kw)
    return spec


def via_topic(
    function: dict[str, Any],
    *,
    count: int = 1,
    extra: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
    drain_s: float = 600.0,
    producer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Producer → topic ``t`` → function ``f`` (asynchronous); ``count`` messages at t = 0."""
    data: dict[str, Any] = {
        "name": "async",
        "duration_s": 1,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
                "send_to": ["t"],
                **(producer or {}),
            },
            "t": {"type": "sns_topic", "subscriptions": [{"target": "f"}]},
            "f": function,
            **(extra or {}),
        },
    }
    if outages:
        data["outages"] = outages
    return data


def direct(
    function: dict[str, Any],
    *,
    send_to: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    producer: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
    drain_s: float = 600.0,
) -> dict[str, Any]:
    """Producer → function ``f`` (an asynchronous Invoke), one message at t = 0."""
    data: dict[str, Any] = {
        "name": "direct",
        "duration_s": 1,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": [{"at_s": 0, "count": 1}]},
                "send_to": send_to or ["f"],
                **(producer or {}),
            },
            "f": function,
            **(extra or {}),
        },
    }
    if outages:
        data["outages"] = outages
    return data


def outage(component: str, start_s: float, duration_s: float, **kw: Any) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s, **kw}


def fn_rows(r: Any) -> list[tuple[float, str, str]]:
    """Trace rows of everything but the topic."""
    return [row for row in rows(r) if row[1] != "t"]


# == function errors: retries 1 and 2 minutes later ================================================


def test_a_success_is_queued_then_invoked_at_once():
    r = run(via_topic(fn()))
    assert rows(r) == [
        (0.0, "t", "publish"),
        (0.0, "t", "delivered"),
        (0.0, "f", "queued"),
        (1.0, "f", "success"),
    ]
    m = r.metrics
    assert (m["delivered"], m["attempts"], m["invocations"]) == (1, 1, 1)
    assert m["latency_max_s"] == 1.0


def test_function_errors_are_retried_60_s_and_120_s_after_each_failure():
    r = run(via_topic(fn(errors={"rate": 1.0})))
    assert fn_rows(r) == [
        (0.0, "f", "queued"),
        (1.0, "f", "failure"),
        (62.0, "f", "failure"),  # retried at 1 + 60
        (183.0, "f", "failure"),  # retried at 62 + 120
    ]
    m = r.metrics
    assert (m["lost"], m["attempts"], m["invocations"]) == (1, 3, 3)


@pytest.mark.parametrize(
    ("retries", "failures"),
    [(0, [1.0]), (1, [1.0, 62.0]), (2, [1.0, 62.0, 183.0])],
)
def test_max_retries(retries, failures):
    r = run(via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_retries": retries}})))
    assert events(r, "f", "failure") == failures
    assert r.metrics["lost"] == 1
    assert r.metrics["attempts"] == retries + 1


def test_a_retry_after_a_timeout_in_a_slow_window_succeeds():
    # a slow outage makes the 1 s run take 20 s > timeout 10 s: a function error (timeout)
    r = run(via_topic(fn(), outages=[outage("f", 0, 30, mode="slow", factor=20)]))
    assert fn_rows(r) == [(0.0, "f", "queued"), (10.0, "f", "failure"), (71.0, "f", "success")]
    assert r.metrics["delivered"] == 1
    assert r.metrics["latency_max_s"] == 71.0


def test_a_cold_start_delays_the_first_invocation_only_within_keep_alive():
    data = via_topic(fn(cold_start={"duration_s": 0.5, "keep_alive_s": 100}))
    data["duration_s"] = 400
    data["components"]["prod"]["arrivals"] = {
        "bursts": [{"at_s": 0, "count": 1}, {"at_s": 50, "count": 1}, {"at_s": 300, "count": 1}]
    }
    r = run(data)
    assert events(r, "f", "success") == [1.5, 51.0, 301.5]
    assert r.metrics["cold_starts"] == 2


# == maximum event age ===========================================================================


def test_an_event_expires_at_its_maximum_age_between_retries():
    r = run(via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_event_age_s": 100}})))
    assert fn_rows(r) == [
        (0.0, "f", "queued"),
        (1.0, "f", "failure"),
        (62.0, "f", "failure"),
        (100.0, "f", "expired"),  # the retry at 182 s would be too old
    ]
    assert (r.metrics["expired"], r.metrics["lost"]) == (1, 0)


def test_the_minimum_age_expires_before_the_first_retry():
    r = run(via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_event_age_s": 60}})))
    assert fn_rows(r) == [(0.0, "f", "queued"), (1.0, "f", "failure"), (60.0, "f", "expired")]
    assert r.metrics["expired"] == 1
    assert r.metrics["attempts"] == 1


def test_event_age_starts_when_lambda_queues_the_event_not_at_publish():
    # SNS retries the invoke for 5.17 s during the outage; the age counts from the queueing
    r = run(via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_event_age_s": 100}}),
                      outages=[outage("f", 0, 3.5)]))  # fmt: skip
    queued = events(r, "f", "queued")[0]
    assert queued == pytest.approx(5.169847, abs=1e-6)
    assert events(r, "f", "expired") == [pytest.approx(queued + 100)]


def test_an_expired_event_goes_to_the_on_failure_queue():
    data = via_topic(
        fn(errors={"rate": 1.0}, **{"async": {"max_event_age_s": 60, "on_failure": "dq"}}),
        extra={"dq": {"type": "sqs_queue"}},
    )
    m = model(data)
    r = m.run()
    assert fn_rows(r) == [
        (0.0, "f", "queued"),
        (1.0, "f", "failure"),
        (60.0, "f", "expired"),
        (60.0, "dq", "dead_letter"),
    ]
    assert (r.metrics["dead_lettered"], r.metrics["expired"]) == (1, 0)
    assert m.queues["dq"].depth == 1


# == throttling: the internal queue and its reader =================================================


def test_a_throttled_event_waits_in_the_queue_and_gets_the_concurrency_freed_at_once():
    # reserved concurrency 1: the second event is throttled on arrival; the reader retries at
    # 1, 3 and 7 (interval 1, 2, 4 s); when the first run ends at 10 its concurrency goes to
    # the waiting event at once (not at the reader's next try, 15)
    r = run(via_topic(fn(reserved_concurrency=1, duration_s=10), count=2))
    assert events(r, "f", "throttled") == [0.0, 1.0, 3.0, 7.0]
    assert events(r, "f", "success") == [10.0, 20.0]
    m = r.metrics
    assert (m["throttles"], m["invocations"], m["delivered"]) == (4, 2, 2)
    assert r.sinks["f"]["throttles"] == 4


def test_the_readers_retry_interval_is_capped_at_5_minutes():
    # busy until 900 s: tries at 0, 1, 3, 7, ..., 255, 511 (+256), then +300: 811; at 900 the
    # freed concurrency goes to the waiting event
    r = run(via_topic(fn(reserved_concurrency=1, duration_s=900, timeout_s=900), count=2,
                      drain_s=2500))  # fmt: skip
    assert events(r, "f", "throttled") == [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 811]
    assert events(r, "f", "success") == [900.0, 1800.0]
    assert r.metrics["throttles"] == 11


def test_zero_reserved_concurrency_throttles_until_the_event_expires():
    r = run(via_topic(fn(reserved_concurrency=0), drain_s=30_000))
    # tried at 0, 1, 3, ..., 511 (10), then every 300 s up to 21,511 (70 more)
    tries = [0.0] + [2.0**k - 1 for k in range(1, 10)] + [511.0 + 300 * k for k in range(1, 71)]
    assert fn_rows(r) == [(0.0, "f", "queued")] + [(t, "f", "throttled") for t in tries] + [
        (21_600.0, "f", "expired")]  # fmt: skip
    assert r.metrics["throttles"] == 80
    assert (r.metrics["expired"], r.metrics["invocations"]) == (1, 0)


def test_a_burst_above_reserved_concurrency_is_throttled_and_eventually_processed():
    # 10 events, 2 at a time: throttled on arrival (0), then at the reader's tries 1 and 3;
    # freed concurrency is handed over at 1, 2, 3, 4 (two events each)
    r = run(via_topic(fn(reserved_concurrency=2, duration_s=1), count=10))
    assert events(r, "f", "throttled") == [0.0, 1.0, 3.0]
    assert events(r, "f", "success") == [1.0] * 2 + [2.0] * 2 + [3.0] * 2 + [4.0] * 2 + [5.0] * 2
    m = r.metrics
    assert (m["delivered"], m["throttles"], m["invocations"]) == (10, 3, 10)


@pytest.mark.parametrize(("n", "d", "c"), [(2000, 1.0, 2), (600, 2.0, 3)])
def test_a_burst_is_processed_at_full_concurrency(n, d, c):
    # N events at once, runs of d seconds, reserved concurrency c, maximum age 6 h (well above
    # N·d/c): the queue drains in exactly N·d/c (factor 1: freed concurrency is handed to the
    # next event at once, so the function never idles while events wait), nothing expires,
    # and the reader's retries cost a handful of throttles (its interval doubles to 5 min)
    work_s = n * d / c
    r = run(via_topic(fn(reserved_concurrency=c, duration_s=d), count=n, drain_s=work_s + 60),
            trace=False)  # fmt: skip
    m = r.metrics
    assert (m["delivered"], m["expired"], m["lost"]) == (n, 0, 0)
    assert m["latency_max_s"] == pytest.approx(work_s)
    tries = [0.0] + [2.0**k - 1 for k in range(1, 10)]
    tries += [511.0 + 300 * k for k in range(1, 100) if 511.0 + 300 * k < work_s]
    assert m["throttles"] == len([t for t in tries if t < work_s - d])
    assert m["invocations"] == n


def test_a_burst_with_random_durations_keeps_the_function_busy():
    # exponential durations (mean 1 s), c = 4, 4,000 events spread over 10 s: the drain time
    # is the sum of the work over 4 servers, within a few per cent of N·d/c = 1,000 s
    f = fn(reserved_concurrency=4, duration_s={"exponential": {"mean": 1.0}}, timeout_s=900)
    data = via_topic(f, count=4000, drain_s=2000)
    data["components"]["prod"]["arrivals"]["bursts"][0]["spread_s"] = 10
    data["duration_s"] = 11
    r = run(data, trace=False)
    m = r.metrics
    assert (m["delivered"], m["expired"]) == (4000, 0)
    assert 950 < m["latency_max_s"] < 1050
    assert m["throttles"] < 20


def test_the_internal_queue_serves_the_oldest_event_first():
    # one slot, runs of 10 s: events published at 0, 1, 2 and 3 run in that order
    data = via_topic(fn(reserved_concurrency=1, duration_s=10))
    data["components"]["prod"]["arrivals"] = {"bursts": [{"at_s": 0, "count": 4,
                                                          "spread_s": 4}]}  # fmt: skip
    data["duration_s"] = 5
    r = run(data)
    order = [m for t, c, e, m in zip(r.trace["t_s"], r.trace["component"], r.trace["event"],
                                     r.trace["msg_id"], strict=True)
             if c == "f" and e == "success"]  # fmt: skip
    assert order == sorted(order)
    assert events(r, "f", "success") == [10.0, 20.0, 30.0, 40.0]


def test_new_events_queue_behind_waiting_ones_without_a_try_of_their_own():
    # while the event of t = 0.5 waits, the events of 1.5 and 2.5 queue: only the reader tries
    data = via_topic(fn(reserved_concurrency=1, duration_s=10))
    data["components"]["prod"]["arrivals"] = {"bursts": [
        {"at_s": 0, "count": 1}, {"at_s": 0.5, "count": 1}, {"at_s": 1.5, "count": 1},
        {"at_s": 2.5, "count": 1}]}  # fmt: skip
    data["duration_s"] = 3
    r = run(data)
    assert events(r, "f", "throttled") == [0.5, 1.5, 3.5, 7.5, 15.5]  # arrival, then 1, 2, 4, 8
    assert events(r, "f", "success") == [10.0, 20.0, 30.0, 40.0]


def test_the_retry_interval_starts_over_once_the_queue_is_empty():
    # a first busy spell drives the interval up; after the queue empties a new throttled
    # event is retried 1 s later again
    data = via_topic(fn(reserved_concurrency=1, duration_s=10))
    data["components"]["prod"]["arrivals"] = {"bursts": [
        {"at_s": 0, "count": 2}, {"at_s": 100, "count": 2}]}  # fmt: skip
    data["duration_s"] = 101
    r = run(data)
    assert events(r, "f", "throttled") == [0, 1, 3, 7, 100, 101, 103, 107]
    assert events(r, "f", "success") == [10, 20, 110, 120]


def test_concurrency_freed_by_another_function_of_the_shared_pool_is_handed_over():
    # account concurrency 1, shared: g runs 0–5 (invoked first), f's event waits and gets the
    # concurrency when g's run ends at 5, before its reader's next try (7)
    data = via_topic(fn(duration_s=1))
    data["account_concurrency"] = 1
    data["components"]["t"]["subscriptions"] = [{"target": "g"}, {"target": "f"}]
    data["components"]["g"] = fn(duration_s=5)
    r = run(data)
    assert events(r, "g", "success") == [5.0]
    assert events(r, "f", "throttled") == [0.0, 1.0, 3.0]
    assert events(r, "f", "success") == [6.0]


def test_an_error_retry_rejoins_the_queue_by_age():
    # one slot, runs of 20 s. A (published at 0) times out at 30 (a slow spell makes its run
    # 200 s) and is retried at 90; B … E (published at 1) run 30–50, 50–70, 70–90; at 90 A,
    # older than E, gets the slot D frees
    data = via_topic(fn(reserved_concurrency=1, duration_s=20, timeout_s=30), drain_s=1000,
                     outages=[outage("f", 0, 0.5, mode="slow", factor=10)])  # fmt: skip
    data["components"]["prod"]["arrivals"] = {"bursts": [{"at_s": 0, "count": 1},
                                                         {"at_s": 1, "count": 4}]}  # fmt: skip
    data["duration_s"] = 2
    r = run(data)
    a = int(r.trace["msg_id"].min())
    assert events(r, "f", "failure") == [30.0]
    assert events(r, "f", "success") == [50.0, 70.0, 90.0, 110.0, 130.0]
    assert events(r, "f", "success", a) == [110.0]



def test_a_queued_event_waits_for_the_end_of_a_function_outage():
    # event 2 is throttled at 0, 1, 3; at 7 the function is unavailable until 1000
    f = fn(reserved_concurrency=1, duration_s=20, timeout_s=30)
    r = run(via_topic(f, count=2, outages=[outage("f", 5, 995)], drain_s=2000))
    assert events(r, "f", "success") == [20.0, 1020.0]
    assert r.metrics["throttles"] == 3


def test_a_queued_event_expires_during_a_function_outage():
    f = fn(
        reserved_concurrency=1, duration_s=20, timeout_s=30, **{"async": {"max_event_age_s": 300}}
    )
    r = run(via_topic(f, count=2, outages=[outage("f", 5, 995)], drain_s=2000))
    assert events(r, "f", "success") == [20.0]
    assert events(r, "f", "expired") == [300.0]
    assert (r.metrics["delivered"], r.metrics["expired"]) == (1, 1)


# == outages of the function: SNS retries the invoke ============================================


def test_an_unavailable_function_makes_sns_retry_the_invoke():
    r = run(via_topic(fn(), outages=[outage("f", 0, 3.5)]))
    t = 2 + 20**0.1 + 20**0.2  # AWS-managed: 0 ×4, 1, 2, 3.349, 5.170
    assert rows(r) == [
        (0.0, "t", "publish"),
        (round(t, 9), "t", "delivered"),
        (round(t, 9), "f", "queued"),
        (round(t + 1, 9), "f", "success"),
    ]
    assert r.metrics["throttles"] == 0


def test_an_hour_long_function_outage_delays_delivery_to_the_20_s_grid():
    last_backoff = 2 + sum(20 ** ((i + 1) / 10) for i in range(10))
    k = -(-(3600 - last_backoff) // 20)
    t = last_backoff + 20 * k
    r = run(via_topic(fn(), outages=[outage("f", 0, 3600)], drain_s=4000))
    assert events(r, "f", "queued") == [pytest.approx(t)]
    assert events(r, "f", "success") == [pytest.approx(t + 1)]


def test_a_throttled_outage_accepts_the_invoke_and_throttles_it_from_the_queue():
    # AWS accepts an asynchronous invoke of a throttled function; the internal queue retries
    # it, here skipping straight to the end of the known throttled window
    r = run(via_topic(fn(), outages=[outage("f", 0, 3.5, mode="throttled")]))
    assert events(r, "f", "queued") == [0.0]
    assert events(r, "f", "success") == [pytest.approx(4.5)]
    assert r.metrics["throttles"] == 1


def test_a_slow_function_outage_multiplies_the_run_time():
    r = run(via_topic(fn(), outages=[outage("f", 0, 1, mode="slow", factor=3)]))
    assert events(r, "f", "success") == [3.0]


# == on-failure destinations ====================================================================


def test_on_failure_queue_stores_the_exhausted_event():
    data = via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_retries": 1, "on_failure": "dq"}}),
                     extra={"dq": {"type": "sqs_queue"}})  # fmt: skip
    m = model(data)
    r = m.run()
    assert fn_rows(r) == [
        (0.0, "f", "queued"),
        (1.0, "f", "failure"),
        (62.0, "f", "failure"),
        (62.0, "dq", "dead_letter"),
    ]
    assert (r.metrics["dead_lettered"], r.metrics["lost"]) == (1, 0)
    assert m.queues["dq"].depth == 1
    assert m.ctx.cost.counts[("dq", "sqs_standard_requests")] == 1


def test_an_on_failure_queue_consumer_is_a_sink_of_the_message_with_a_pair_of_its_own():
    data = via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0, "on_failure": "dq"}}),
                     extra={"dq": {"type": "sqs_queue"},
                            "g": fn(trigger={"source": "dq", "batch_size": 1})})  # fmt: skip
    r = run(data)
    assert events(r, "g", "success") == [2.0]
    assert set(r.sinks) == {"f", "g"}
    assert (r.sinks["f"]["dead_lettered"], r.sinks["g"]["delivered"]) == (1, 1)
    assert r.metrics["deliveries_expected"] == 2
    # the root's lineage has two pairs, one delivered: partially delivered
    assert r.metrics["partial_fraction"] == 1.0


def test_an_on_failure_queue_consumer_that_always_fails_leaves_its_pair_in_flight():
    data = via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0, "on_failure": "dq"}}),
                     extra={"dq": {"type": "sqs_queue", "visibility_timeout_s": 5},
                            "g": fn(trigger={"source": "dq", "batch_size": 1},
                                    errors={"rate": 1.0}, timeout_s=5)})  # fmt: skip
    r = run(data)
    assert r.sinks["g"]["in_flight"] == 1
    assert r.sinks["g"]["attempts"] > 10  # retried until the end of the run
    assert r.sinks["f"]["dead_lettered"] == 1


@pytest.mark.parametrize("dest", ["topic", "function"])
def test_on_failure_topic_or_function_counts_as_dead_lettered(dest):
    extra = {"dest": {"type": "sns_topic"} if dest == "topic" else fn()}
    f = fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0, "on_failure": "dest"}})
    data = via_topic(f, extra=extra)
    r = run(data)
    assert r.metrics["dead_lettered"] == 1
    assert r.metrics["lost"] == 0


def test_on_failure_function_receives_the_same_message_as_a_new_pair():
    f = fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0, "on_failure": "dest"}})
    r = run(via_topic(f, extra={"dest": fn()}))
    assert (r.sinks["f"]["dead_lettered"], r.sinks["dest"]["delivered"]) == (1, 1)
    assert r.metrics["messages_derived"] == 0  # the same message, not a derived one


def test_on_success_destination_receives_a_derived_record():
    f = fn(**{"async": {"on_success": "dest"}})
    r = run(via_topic(f, extra={"dest": fn()}))
    assert (r.sinks["f"]["delivered"], r.sinks["dest"]["delivered"]) == (1, 1)
    assert r.metrics["messages_derived"] == 1
    assert r.metrics["all_delivered_fraction"] == 1.0


def test_without_destination_an_exhausted_event_is_lost():
    r = run(via_topic(fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0}})))
    assert (r.metrics["lost"], r.metrics["dead_lettered"]) == (1, 0)


# == duplicates ===================================================================================


def test_duplicate_rate_one_invokes_the_event_again_after_each_success():
    # each duplicate is itself an event that may be duplicated: with rate 1 a chain until
    # the end of the run (like a standard queue's duplicate_rate of 1)
    r = run(via_topic(fn(**{"async": {"duplicate_rate": 1.0}}), drain_s=4.5))
    assert events(r, "f", "success") == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert events(r, "f", "queued") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    m = r.metrics
    assert (m["delivered"], m["duplicates"], m["attempts"]) == (1, 4, 5)
    assert m["latency_max_s"] == 1.0  # to the first success


def test_duplicate_rate_zero_gives_no_duplicates():
    r = run(via_topic(fn(), count=50), trace=False)
    assert r.metrics["duplicates"] == 0


def test_a_duplicate_rate_gives_a_plausible_number_of_duplicates():
    # geometric chain: r / (1 - r) duplicates per message on average (1 for r = 0.5)
    r = run(via_topic(fn(duration_s=0.01, **{"async": {"duplicate_rate": 0.5}}), count=2000),
            trace=False)  # fmt: skip
    assert r.metrics["delivered"] == 2000
    assert 1700 < r.metrics["duplicates"] < 2300


# == a producer invoking a function directly =======================================================


def test_a_producer_invokes_a_function_asynchronously():
    r = run(direct(fn()))
    assert rows(r) == [(0.0, "f", "queued"), (1.0, "f", "success")]
    assert r.metrics["producer_latency_mean_s"] == 0.0
    assert set(r.sinks) == {"f"}


def test_a_direct_invoke_during_an_outage_fails_and_the_producer_gives_up_without_retries():
    r = run(direct(fn(), producer={"retry": {"max_attempts": 1}}, outages=[outage("f", 0, 5)]))
    assert rows(r) == [(0.0, "prod", "gave_up")]
    assert r.metrics["lost"] == 1


def test_a_direct_invoke_is_retried_by_the_sdk_after_an_outage():
    r = run(direct(fn(), producer={"retry": {"max_attempts": 3, "base_s": 1, "cap_s": 20}},
                   outages=[outage("f", 0, 0.001)]))  # fmt: skip
    queued = events(r, "f", "queued")
    assert len(queued) == 1 and 0.001 <= queued[0] <= 1.0  # full jitter on the first retry
    assert events(r, "f", "success") == [pytest.approx(queued[0] + 1)]
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(queued[0])


def test_direct_function_errors_use_the_async_retries():
    r = run(direct(fn(errors={"rate": 1.0}, **{"async": {"max_retries": 1}})))
    assert events(r, "f", "failure") == [1.0, 62.0]
    assert r.metrics["lost"] == 1


def test_sequential_fan_out_to_a_function_and_a_queue():
    extra = {"q": {"type": "sqs_queue"}, "g": fn(trigger={"source": "q", "batch_size": 1})}
    data = direct(fn(), send_to=["f", "q"], extra=extra)
    r = run(data)
    assert events(r, "f", "success") == [1.0]
    assert events(r, "g", "success") == [1.0]
    assert r.metrics["all_delivered_fraction"] == 1.0


def test_sequential_fan_out_stops_at_a_function_outage():
    extra = {"q": {"type": "sqs_queue"}, "g": fn(trigger={"source": "q", "batch_size": 1})}
    data = direct(fn(), send_to=["f", "q"], producer={"retry": {"max_attempts": 1}},
                  extra=extra, outages=[outage("f", 0, 5)])  # fmt: skip
    r = run(data)
    assert r.sinks["f"]["lost"] == 1 and r.sinks["g"]["lost"] == 1  # q was never sent to
    assert "q" not in {c for _, c, _ in rows(r)}


def test_an_async_function_also_invoked_by_a_topic_gets_one_pair_per_path():
    extra = {"t": {"type": "sns_topic", "subscriptions": [{"target": "f"}]}}
    data = direct(fn(), send_to=["t", "f"], extra=extra)
    r = run(data)
    assert r.sinks["f"]["deliveries_expected"] == 2
    assert r.metrics["delivered"] == 2


def test_long_function_outage_with_sns_costs_few_events():
    m = model(via_topic(fn(), outages=[outage("f", 0, 30 * DAY)], drain_s=24 * DAY))
    r = m.run()
    n = [m.env.processed]
    assert r.metrics["lost"] == 1
    assert [e for _, _, e in rows(r)] == ["publish", "gave_up"]
    assert n[0] < 20
