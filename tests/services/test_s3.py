"""S3 buckets: object keys and events, the bucket as a sink, direct notifications (prefix and
suffix filters, delay, duplicates, retries, loss), EventBridge events and their rules.

Every timeline has zero AWS overheads (no cold start, constant 1 s function durations, zero
latencies) and one put at t = 0 unless said otherwise; notifications come after a constant
``notification_delay_s`` of 2 s.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NO_COLD, conserved, events, model, rows, run

from sim.engine.message import Message
from sim.engine.streams import RandomStreams
from sim.services.s3 import object_of, s3_event

FN: dict[str, Any] = {
    "type": "lambda_function",
    "duration_s": 1,
    "timeout_s": 10,
    "cold_start": dict(NO_COLD),
}


def s3_scenario(
    bucket: dict[str, Any] | None = None,
    *,
    attributes: dict[str, Any] | None = None,
    count: int = 1,
    rules: list[dict[str, Any]] | None = None,
    outages: list[dict[str, Any]] | None = None,
    producer: dict[str, Any] | None = None,
    queue: dict[str, Any] | None = None,
    drain_s: float = 600.0,
) -> dict[str, Any]:
    """Producer ``prod`` → bucket ``b``; queues ``q``/``q2`` consumed by ``c``/``c2``, function
    ``f``, topic ``t`` (→ http endpoint ``hook``), bus ``bus`` with ``rules``."""
    return {
        "name": "s3",
        "duration_s": 1,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
                "send_to": ["b"],
                "attributes": attributes or {},
                **(producer or {}),
            },
            "b": {"type": "s3_bucket", "notification_delay_s": 2, **(bucket or {})},
            "q": {"type": "sqs_queue", **(queue or {})},
            "q2": {"type": "sqs_queue"},
            "c": {**FN, "trigger": {"source": "q", "batch_size": 1}},
            "c2": {**FN, "trigger": {"source": "q2", "batch_size": 1}},
            "f": dict(FN),
            "t": {"type": "sns_topic", "subscriptions": [{"target": "hook"}]},
            "hook": {"type": "endpoint", "protocol": "http"},
            "bus": {"type": "event_bus", "rules": rules or []},
        },
        "outages": outages or [],
    }


def down(component: str, start_s: float, duration_s: float) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s}


def expected(r: Any) -> dict[str, int]:
    return {s: m["deliveries_expected"] for s, m in r.sinks.items() if m["deliveries_expected"]}


# -- objects and events (pure functions) --------------------------------------------------------


def message(attrs: dict[str, Any] | None, msg_id: int = 42) -> Message:
    return Message(msg_id, 5.0, "uploads", 0, 0, 0.5, attrs, 2048, True)


def test_the_object_key_replaces_id_and_the_other_attributes_are_metadata():
    key, size, meta = object_of(message({"key": "in/{id}/photo-{id}.jpg", "size_bytes": 5000.4,
                                         "owner": "ann"}))  # fmt: skip
    assert key == "in/42/photo-42.jpg"
    assert size == 5000
    assert meta == {"owner": "ann"}


def test_the_object_defaults_to_obj_id_and_the_producers_size():
    assert object_of(message(None)) == ("obj-42", 2048, {})


def test_the_object_created_event_has_aws_shape():
    ev = s3_event("photos", message({"key": "in/{id}.jpg", "size_bytes": 10, "owner": "ann"}))
    assert ev["source"] == "aws.s3"
    assert ev["detail-type"] == "Object Created"
    assert ev["resources"] == ["arn:aws:s3:::photos"]
    assert ev["time"] == "2026-01-01T00:00:05Z"
    d = ev["detail"]
    assert d["bucket"] == {"name": "photos"}
    assert d["reason"] == "PutObject"
    assert d["object"]["key"] == "in/42.jpg"
    assert d["object"]["size"] == 10
    assert d["object"]["metadata"] == {"owner": "ann"}
    assert len(d["object"]["etag"]) == 32
    assert set(d) >= {"version", "request-id", "requester"}


def test_objects_of_different_messages_have_different_etags_and_sequencers():
    a = s3_event("b", message(None, 1))["detail"]["object"]
    b = s3_event("b", message(None, 2))["detail"]["object"]
    assert a["etag"] != b["etag"]
    assert a["sequencer"] < b["sequencer"]  # later puts have larger sequencers


# -- the bucket as a sink --------------------------------------------------------------------


def test_a_bucket_with_nothing_wired_is_the_sink_of_its_puts():
    r = run(s3_scenario(count=3))
    assert rows(r) == [(0.0, "b", "stored")] * 3
    assert expected(r) == {"b": 3}
    assert r.sinks["b"]["delivered"] == 3
    assert r.metrics["messages_unrouted"] == 0
    conserved(r)


def test_a_put_waits_for_the_bucket_latency():
    r = run(s3_scenario({"latency_s": 0.5}))
    assert rows(r) == [(0.5, "b", "stored")]
    assert r.metrics["latency_max_s"] == pytest.approx(0.5)
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(0.5)
    conserved(r)


def test_a_failed_put_is_retried_by_the_sdk():
    sdk = {"retry": {"max_attempts": 3, "base_s": 1, "cap_s": 1}}
    r = run(s3_scenario(outages=[down("b", 0, 0.1)], producer=sdk))
    assert rows(r)[0] == (0.0, "b", "put_failed")
    (t,) = events(r, "b", "stored")
    assert 0.1 <= t <= 1.0
    conserved(r)


def test_a_put_that_fails_every_attempt_is_lost():
    sdk = {"retry": {"max_attempts": 2, "base_s": 1, "cap_s": 1}}
    r = run(s3_scenario({"errors": {"rate": 1.0}}, producer=sdk))
    assert [e for _, _, e in rows(r)] == ["put_failed", "put_failed", "gave_up"]
    assert r.sinks["b"]["lost"] == 1
    conserved(r)


# -- direct notifications -----------------------------------------------------------------------

NOTIFY = {
    "notifications": [
        {"target": "q", "prefix": "img/", "suffix": ".jpg"},
        {"target": "f", "prefix": "doc/"},
        {"target": "t", "prefix": "csv/", "suffix": ".csv", "events": ["s3:ObjectCreated:Put"]},
        {"target": "q2", "prefix": "img/", "events": ["s3:ObjectRemoved:*"]},  # deletes only
    ]
}


@pytest.mark.parametrize(
    ("key", "sinks"),
    [
        ("img/{id}.jpg", {"c": 1}),
        ("img/{id}.png", {}),
        ("photos/img/{id}.jpg", {}),
        ("doc/{id}.txt", {"f": 1}),
        ("csv/{id}.csv", {"hook": 1}),
        ("csv/{id}.txt", {}),
        ("x/{id}", {}),
    ],
)
def test_notifications_filter_on_prefix_suffix_and_event_type(key, sinks):
    r = run(s3_scenario(NOTIFY, attributes={"key": key}))
    assert expected(r) == sinks
    assert r.metrics["messages_unrouted"] == int(not sinks)
    assert r.metrics["delivered"] == len(sinks)
    assert events(r, "b", "stored") == [0.0]  # the object is stored either way
    conserved(r)


def test_the_id_in_a_key_is_the_message_id():
    # messages 1..12: only keys ending in 1.jpg (1 and 11) pass the suffix
    r = run(s3_scenario({"notifications": [{"target": "q", "suffix": "1.jpg"}]},
                        attributes={"key": "k{id}.jpg"}, count=12))  # fmt: skip
    assert r.metrics["deliveries_expected"] == 2
    assert r.metrics["messages_unrouted"] == 10
    assert sorted(int(m) for m in r.trace[r.trace["event"] == "send"]["msg_id"]) == [1, 11]
    conserved(r)


def test_a_notification_arrives_after_the_notification_delay():
    r = run(s3_scenario({"notifications": [{"target": "q", "prefix": "a"},
                                           {"target": "f", "prefix": "z"}]},
                        attributes={"key": "a"}))  # fmt: skip
    assert rows(r) == [(0.0, "b", "stored"), (2.0, "q", "send"), (2.0, "q", "receive"),
                       (3.0, "c", "success"), (3.0, "q", "delete")]  # fmt: skip
    assert r.metrics["latency_max_s"] == pytest.approx(3.0)
    conserved(r)


def test_the_default_notification_delay_is_mostly_seconds_with_a_minute_long_tail():
    # lognormal, median 1 s, sigma 1.5: P(≤ 10 s) = 0.938, P(> 60 s) = 0.0032; measured on the
    # latencies of 20,000 puts notifying a topic whose endpoint takes no time
    data = s3_scenario({"notifications": [{"target": "t"}]}, count=20_000)
    del data["components"]["b"]["notification_delay_s"]
    data["components"]["hook"]["latency_s"] = 0
    m = model(data, trace=False, keep_samples=True)
    m.run()
    delays = m.ledger.sinks["hook"].samples
    assert delays is not None
    n = len(delays)
    assert n == 20_000
    for limit, p in [(1.0, 0.5), (10.0, 0.9376), (60.0, 1 - 0.0031709)]:
        share = sum(d <= limit for d in delays) / n
        assert abs(share - p) <= 4 * (p * (1 - p) / n) ** 0.5, limit
    assert max(delays) > 60  # the tail exists: P(none of 20,000 > 60 s) ≈ e^-63


def test_duplicate_rate_one_doubles_every_notification():
    r = run(s3_scenario({"duplicate_rate": 1.0, "notifications": [{"target": "f"}]}, count=3))
    m = r.metrics
    assert m["deliveries_expected"] == 3
    assert m["delivered"] == 3
    assert m["duplicates"] == 3
    assert events(r, "f", "queued") == [2.0] * 6
    assert len(events(r, "f", "success")) == 6
    conserved(r)


def test_a_notification_to_a_down_target_is_retried_after_the_outage():
    r = run(s3_scenario({"notifications": [{"target": "q"}], "delivery_retry": {"cap_s": 4}},
                        outages=[down("q", 0, 100)]))  # fmt: skip
    (t,) = events(r, "q", "send")
    assert 100.0 <= t <= 104.0
    assert r.metrics["delivered"] == 1
    conserved(r)


def test_a_notification_given_up_is_lost_there_is_no_dlq():
    r = run(s3_scenario({"notifications": [{"target": "f"}],
                         "delivery_retry": {"max_attempts": 0}},
                        outages=[down("f", 0, 100)]))  # fmt: skip
    assert rows(r) == [(0.0, "b", "stored"), (2.0, "b", "gave_up")]
    assert r.metrics["lost"] == 1
    conserved(r)


def test_a_notification_throttled_by_the_queue_call_limit_is_retried_at_its_own_times():
    # one SendMessage per second: at 2 s one notification is stored, the other is throttled,
    # throttled again at its first retry (< 1 s later) and stored at its second
    draw = RandomStreams(0, 0).uniform("b", "retry")
    g1, g2 = 0.5 * (1 + draw()), 1.0 * (1 + draw())
    r = run(s3_scenario({"notifications": [{"target": "q"}]}, count=2,
                        queue={"max_calls_per_s": 1}))  # fmt: skip
    assert events(r, "q", "send_failed") == [2.0, round(2 + g1, 9)]
    assert events(r, "q", "send") == [2.0, round(2 + g1 + g2, 9)]
    assert (r.metrics["delivered"], r.metrics["lost"]) == (2, 0)
    conserved(r)


def test_a_notification_is_cut_at_the_maximum_age():
    r = run(s3_scenario({"notifications": [{"target": "q"}],
                         "delivery_retry": {"max_age_s": 60}},
                        outages=[down("q", 0, 1000)], drain_s=2000))  # fmt: skip
    assert rows(r) == [(0.0, "b", "stored"), (62.0, "b", "gave_up")]
    assert r.metrics["lost"] == 1
    conserved(r)


# -- EventBridge events --------------------------------------------------------------------------

UPLOAD_RULE = {
    "name": "big-csv-uploads",
    "pattern": {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["b"]},
            "object": {"key": [{"prefix": "up/"}], "size": [{"numeric": [">", 4000]}]},
            "reason": ["PutObject"],
        },
    },
    "targets": [{"target": "q"}],
}


@pytest.mark.parametrize(
    ("attributes", "matched"),
    [
        ({"key": "up/{id}.csv", "size_bytes": 5000}, True),
        ({"key": "up/{id}.csv", "size_bytes": 4000}, False),
        ({"key": "down/{id}.csv", "size_bytes": 5000}, False),
        ({"key": "up/{id}.csv"}, False),  # the producer's 1,024 bytes
    ],
)
def test_bucket_events_reach_the_bus_as_object_created(attributes, matched):
    r = run(s3_scenario({"eventbridge": "bus"}, attributes=attributes, rules=[UPLOAD_RULE]))
    assert expected(r) == ({"c": 1} if matched else {})
    assert events(r, "bus", "put") == [2.0]  # every event reaches the bus after the delay
    assert events(r, "c", "success") == ([3.0] if matched else [])
    conserved(r)


def test_a_rule_can_match_the_exact_key_and_the_metadata():
    rules = [
        {"name": "key", "pattern": {"detail": {"object": {"key": ["up/2.csv"]}}},
         "targets": [{"target": "q"}]},
        {"name": "owner", "pattern": {"detail": {"object": {"metadata": {"owner": ["ann"]}}}},
         "targets": [{"target": "f"}]},
    ]  # fmt: skip
    r = run(s3_scenario({"eventbridge": "bus"}, rules=rules, count=3,
                        attributes={"key": "up/{id}.csv", "owner": "ann"}))  # fmt: skip
    assert expected(r) == {"c": 1, "f": 3}
    assert [int(m) for m in r.trace[r.trace["event"] == "send"]["msg_id"]] == [2]
    conserved(r)


def test_a_bucket_notifies_and_sends_to_eventbridge_at_once():
    r = run(s3_scenario({"eventbridge": "bus", "notifications": [{"target": "f"}]},
                        rules=[{"name": "all", "pattern": {"source": ["aws.s3"]},
                                "targets": [{"target": "q"}]}]))  # fmt: skip
    assert expected(r) == {"c": 1, "f": 1}
    assert r.metrics["delivered"] == 2
    assert r.metrics["all_delivered_fraction"] == 1.0
    conserved(r)


def test_eventbridge_delivery_is_durable_through_a_bus_outage():
    r = run(s3_scenario({"eventbridge": "bus", "delivery_retry": {"cap_s": 4}},
                        rules=[{"name": "all", "pattern": {"source": ["aws.s3"]},
                                "targets": [{"target": "q"}]}],
                        outages=[down("bus", 0, 100)]))  # fmt: skip
    (t,) = events(r, "bus", "put")
    assert 100.0 <= t <= 104.0
    assert r.metrics["delivered"] == 1
    conserved(r)


def test_an_event_matching_no_rule_and_no_notification_is_unrouted():
    r = run(s3_scenario({"eventbridge": "bus"}, rules=[UPLOAD_RULE], count=2))
    assert r.metrics["messages_unrouted"] == 2
    assert r.metrics["deliveries_expected"] == 0
    assert "b" not in expected(r)  # with eventbridge on, the bucket is not a sink
    conserved(r)


def test_duplicate_rate_one_doubles_eventbridge_events_too():
    r = run(s3_scenario({"eventbridge": "bus", "duplicate_rate": 1.0},
                        rules=[{"name": "all", "pattern": {"source": ["aws.s3"]},
                                "targets": [{"target": "f"}]}]))  # fmt: skip
    assert events(r, "bus", "put") == [2.0, 2.0]
    assert r.metrics["duplicates"] == 1
    conserved(r)


def test_puts_are_billed_and_eventbridge_events_from_s3_are_free():
    m = model(s3_scenario({"eventbridge": "bus"}, count=3,
                          rules=[{"name": "all", "pattern": {"source": ["aws.s3"]},
                                  "targets": [{"target": "q"}]}]))  # fmt: skip
    r = m.run()
    counts = m.ctx.cost.counts
    assert counts[("b", "s3_puts")] == 3
    assert counts[("bus", "eventbridge_events")] == 0
    assert r.metrics["delivered"] == 3
