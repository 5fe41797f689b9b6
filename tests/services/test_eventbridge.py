"""EventBridge buses: event shapes, rules and intended sinks, target retries (backoff, maximum
age, maximum attempts), DLQs, non-retriable errors, the invocations quota, duplicates, and the
archive with its replays.

Every timeline has zero AWS overheads (no cold start, constant 1 s function durations, zero
latencies) and, unless said otherwise, one event at t = 0. Retry ``i`` of a target comes
``d/2 + U(0, d/2)`` after the previous attempt with ``d = min(base_s · 2^(i−1), cap_s)``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import NO_COLD, conserved, events, model, msg_ids, rows, run, scenario

from sim.config import ScenarioError
from sim.engine.message import Message
from sim.engine.streams import RandomStreams
from sim.services.eventbridge import ACCOUNT, REGION, custom_event, envelope, iso_time

NO_RETRY = {"max_attempts": 1}
FN: dict[str, Any] = {
    "type": "lambda_function",
    "duration_s": 1,
    "timeout_s": 10,
    "cold_start": dict(NO_COLD),
}


def bus_scenario(
    targets: list[dict[str, Any]] | None = None,
    *,
    rules: list[dict[str, Any]] | None = None,
    bus: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
    bursts: list[dict[str, Any]] | None = None,
    outages: list[dict[str, Any]] | None = None,
    producer: dict[str, Any] | None = None,
    duration_s: float = 1.0,
    drain_s: float = 600.0,
) -> dict[str, Any]:
    """Producer ``prod`` → bus ``bus`` with one rule on ``source: shop`` (or ``rules``).

    Targets available: queue ``q`` (consumed by ``c``), queue ``q2`` (nobody consumes it),
    function ``f`` (asynchronous), https endpoint ``ep``, topic ``t`` (→ endpoint ``hook``),
    standard queue ``dlq``.
    """
    if rules is None:
        rules = [{"name": "r", "pattern": {"source": ["shop"]},
                  "targets": targets or [{"target": "ep"}]}]  # fmt: skip
    return {
        "name": "eb",
        "duration_s": duration_s,
        "drain_s": drain_s,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": bursts or [{"at_s": 0, "count": 1}]},
                "send_to": ["bus"],
                "attributes": {"source": "shop"} if attributes is None else attributes,
                **(producer or {}),
            },
            "bus": {"type": "event_bus", "rules": rules, **(bus or {})},
            "q": {"type": "sqs_queue"},
            "q2": {"type": "sqs_queue"},
            "dlq": {"type": "sqs_queue"},
            "c": {**FN, "trigger": {"source": "q", "batch_size": 1}},
            "f": dict(FN),
            "ep": {"type": "endpoint", "protocol": "https"},
            "t": {"type": "sns_topic", "subscriptions": [{"target": "hook"}]},
            "hook": {"type": "endpoint", "protocol": "http"},
        },
        "outages": outages or [],
    }


def down(component: str, start_s: float, duration_s: float, **kw: Any) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s, **kw}


# -- event shapes (pure functions) ---------------------------------------------------------------


def message(attrs: dict[str, Any] | None, msg_id: int = 7, created_s: float = 90.0) -> Message:
    return Message(msg_id, created_s, "orders", 0, 0, 0.5, attrs, 1024, True)


def test_a_custom_event_takes_source_and_detail_type_from_attributes():
    ev = custom_event(message({"source": "shop", "detail-type": "Order Placed", "amount": 5}))
    assert ev["source"] == "shop"
    assert ev["detail-type"] == "Order Placed"
    assert ev["detail"] == {"amount": 5}
    assert ev["version"] == "0"
    assert ev["account"] == ACCOUNT and ev["region"] == REGION
    assert ev["time"] == "2026-01-01T00:01:30Z"
    assert ev["resources"] == []


def test_a_custom_event_defaults_to_the_producer_name_and_event():
    ev = custom_event(message(None))
    assert (ev["source"], ev["detail-type"], ev["detail"]) == ("orders", "Event", {})


def test_event_ids_are_distinct_per_message_and_times_follow_the_clock():
    a = envelope(message(None, 1), "s", "d", {}, [])
    b = envelope(message(None, 2), "s", "d", {}, [])
    assert a["id"] != b["id"]
    assert iso_time(0) == "2026-01-01T00:00:00Z"
    assert iso_time(86_400 + 61) == "2026-01-02T00:01:01Z"


# -- rules and intended sinks ---------------------------------------------------------------------


ORDER_RULE = {
    "name": "big-orders",
    "pattern": {"source": ["shop"], "detail-type": ["Order"],
                "detail": {"amount": [{"numeric": [">", 100]}]}},
    "targets": [{"target": "ep"}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("attributes", "matched"),
    [
        ({"source": "shop", "detail-type": "Order", "amount": 150}, True),
        ({"source": "shop", "detail-type": "Order", "amount": 100}, False),
        ({"source": "shop", "detail-type": "Refund", "amount": 150}, False),
        ({"source": "shop", "detail-type": "Order", "amount": "150"}, False),  # JSON types
        ({"source": "web", "detail-type": "Order", "amount": 150}, False),
        ({"detail-type": "Order", "amount": 150}, False),  # source defaults to "prod"
    ],
)
def test_a_rule_routes_custom_events_on_source_detail_type_and_detail(attributes, matched):
    r = run(bus_scenario(rules=[ORDER_RULE], attributes=attributes))
    m = r.metrics
    assert m["messages_produced"] == 1
    assert m["deliveries_expected"] == int(matched)
    assert m["messages_unrouted"] == int(not matched)
    assert m["delivered"] == int(matched)
    assert events(r, "ep", "success") == ([0.0] if matched else [])
    conserved(r)


def test_a_rule_with_several_targets_delivers_to_each():
    r = run(bus_scenario([{"target": "q"}, {"target": "f"}, {"target": "ep"}, {"target": "t"}]))
    assert {s: m["deliveries_expected"] for s, m in r.sinks.items() if m["deliveries_expected"]} \
        == {"c": 1, "f": 1, "ep": 1, "hook": 1}  # fmt: skip
    assert r.metrics["delivered"] == 4
    assert events(r, "bus", "delivered") == [0.0] * 4
    assert events(r, "ep", "success") == [0.0]
    assert events(r, "hook", "success") == [0.0]
    assert events(r, "f", "success") == [1.0]  # asynchronous invoke, 1 s run
    assert events(r, "c", "success") == [1.0]  # via the queue
    conserved(r)


def test_every_matching_rule_gets_the_event_and_others_do_not():
    rules = [
        {"name": "a", "pattern": {"source": ["shop"]}, "targets": [{"target": "ep"}]},
        {"name": "b", "pattern": {"detail": {"kind": ["x"]}}, "targets": [{"target": "f"}]},
        {"name": "c", "pattern": {"detail": {"kind": ["y"]}}, "targets": [{"target": "q"}]},
    ]
    r = run(bus_scenario(rules=rules, attributes={"source": "shop", "kind": "x"}))
    expected = {s: m["deliveries_expected"] for s, m in r.sinks.items()}
    assert expected == {"ep": 1, "f": 1, "c": 0, "hook": 0}
    assert r.metrics["delivered"] == 2
    conserved(r)


def test_a_topic_target_filters_its_message_body_on_the_event():
    # EventBridge publishes the matched event itself: {"source": ..., "detail": {...}, ...}
    data = bus_scenario([{"target": "t"}], attributes={"source": "shop", "kind": "x"})
    data["components"]["t"]["subscriptions"] = [
        {"target": "hook", "filter_policy_scope": "MessageBody",
         "filter_policy": {"detail": {"kind": ["x"]}}},
        {"target": "ep", "filter_policy_scope": "MessageBody",
         "filter_policy": {"kind": ["x"]}},  # not a top-level field of the event
    ]  # fmt: skip
    r = run(data)
    assert r.sinks["hook"]["deliveries_expected"] == 1
    assert r.sinks["ep"]["deliveries_expected"] == 0


def test_a_queue_target_nobody_consumes_is_not_an_intended_sink():
    r = run(bus_scenario([{"target": "q2"}]))
    assert r.metrics["deliveries_expected"] == 0
    assert r.metrics["messages_unrouted"] == 1
    assert (0.0, "q2", "send") in rows(r)
    conserved(r)


def test_intended_sinks_are_fixed_before_a_failed_put_events():
    # the bus rejects every PutEvents and the SDK gives up: the event's pairs are lost
    sdk = {"retry": {"max_attempts": 2, "base_s": 1, "cap_s": 1}}
    r = run(bus_scenario([{"target": "ep"}, {"target": "f"}], bus={"errors": {"rate": 1.0}},
                         producer=sdk))  # fmt: skip
    m = r.metrics
    assert m["deliveries_expected"] == 2
    assert m["lost"] == 2
    assert [e for _, c, e in rows(r)] == ["put_failed", "put_failed", "gave_up"]
    conserved(r)


def test_put_events_is_retried_by_the_sdk_through_a_bus_outage():
    sdk = {"retry": {"max_attempts": 5, "base_s": 1, "cap_s": 1}}
    r = run(bus_scenario(outages=[down("bus", 0, 0.2)], producer=sdk))
    trace = rows(r)
    assert trace[0] == (0.0, "bus", "put_failed")
    put = events(r, "bus", "put")
    assert len(put) == 1 and 0.2 <= put[0] <= 3.0
    assert events(r, "ep", "success") == put
    conserved(r)


def test_bus_latency_delays_every_target():
    r = run(bus_scenario([{"target": "ep"}, {"target": "f"}], bus={"latency_s": 0.25}))
    assert events(r, "bus", "put") == [0.0]
    assert events(r, "ep", "success") == [0.25]
    assert events(r, "f", "success") == [1.25]
    conserved(r)


# -- retries, maximum age and attempts, DLQ and loss -------------------------------------------


@pytest.mark.parametrize("target", ["ep", "q", "f", "t"])
def test_delivery_succeeds_shortly_after_a_target_outage(target):
    # attempts back off up to the cap (4 s): the first one after the outage comes within 4 s
    r = run(bus_scenario([{"target": target, "retry": {"cap_s": 4}}],
                         outages=[down(target, 0, 100)]))  # fmt: skip
    delivered = events(r, "bus", "delivered")
    assert len(delivered) == 1
    assert 100.0 <= delivered[0] <= 104.0
    assert r.metrics["delivered"] == 1
    sink = {"ep": "ep", "q": "c", "f": "f", "t": "hook"}[target]
    run_s = 1.0 if target in ("q", "f") else 0.0
    assert r.sinks[sink]["latency_max_s"] == pytest.approx(delivered[0] + run_s)
    conserved(r)


def test_an_endpoint_target_counts_every_attempt_of_a_retried_delivery():
    r = run(bus_scenario([{"target": "ep", "retry": {"cap_s": 4}}], outages=[down("ep", 0, 100)]))
    # attempts at 0, then gaps in [d/2, d] for d = 1, 2, 4, 4, ...; the first one at or after
    # 100 s succeeds. Longest gaps: 1 + 2 + 4·25 ≥ 100 after 27 retries (28 attempts);
    # shortest: 0.5 + 1 + 2·50 ≥ 100 after 52 retries (53 attempts).
    t = events(r, "ep", "success")[0]
    assert 100 <= t <= 104
    assert 28 <= r.sinks["ep"]["attempts"] <= 53
    conserved(r)


@pytest.mark.parametrize("retries", [0, 1, 3, 6])
def test_max_attempts_bounds_the_attempts_and_the_give_up_time(retries):
    # the endpoint is down for the whole run: 1 + retries attempts, then lost
    r = run(bus_scenario([{"target": "ep", "retry": {"max_attempts": retries, "cap_s": 600}}],
                         outages=[down("ep", 0, 10_000)]))  # fmt: skip
    assert r.sinks["ep"]["attempts"] == retries + 1
    assert r.metrics["lost"] == 1
    (t,) = events(r, "bus", "gave_up")
    gaps = [2.0 ** (i - 1) for i in range(1, retries + 1)]
    assert sum(gaps) / 2 <= t <= sum(gaps)
    conserved(r)


def test_the_default_policy_makes_186_attempts_within_24_hours():
    # AWS's defaults: 185 retries, 24 h. Backoff from 1 s doubling to the 600 s cap: the retries
    # span between half and all of 1 + 2 + ... + 512 + 175 × 600 = 106,023 s, and with jitter
    # U(d/2, d) the 185th ends near 22 h, inside the 24 h age.
    r = run(bus_scenario(outages=[down("ep", 0, 3 * 86_400)], drain_s=2 * 86_400))
    assert r.sinks["ep"]["attempts"] == 186
    (t,) = events(r, "bus", "gave_up")
    assert 106_023 / 2 <= t < 86_400
    assert r.metrics["lost"] == 1
    conserved(r)


def test_max_attempts_zero_is_one_attempt():
    r = run(bus_scenario([{"target": "ep", "retry": {"max_attempts": 0}}],
                         outages=[down("ep", 0, 100)]))  # fmt: skip
    assert rows(r) == [(0.0, "bus", "put"), (0.0, "bus", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 1
    assert r.metrics["lost"] == 1
    conserved(r)


@pytest.mark.parametrize("dlq", [True, False])
def test_max_age_cuts_the_retries_at_exactly_that_age(dlq):
    target: dict[str, Any] = {"target": "ep", "retry": {"max_age_s": 60}}
    if dlq:
        target["dead_letter"] = {"target": "dlq"}
    r = run(bus_scenario([target], outages=[down("ep", 0, 1000)], drain_s=2000))
    if dlq:
        assert rows(r)[1:] == [(60.0, "bus", "dead_letter"), (60.0, "dlq", "dead_letter")]
        assert (r.metrics["dead_lettered"], r.metrics["lost"]) == (1, 0)
    else:
        assert rows(r)[1:] == [(60.0, "bus", "gave_up")]
        assert (r.metrics["dead_lettered"], r.metrics["lost"]) == (0, 1)
    # attempts before 60 s: at 0 and then gaps in [d/2, d] with d = 1, 2, 4, 8, 16, 32, ...
    assert 6 <= r.sinks["ep"]["attempts"] <= 7
    conserved(r)


def test_a_dead_lettered_event_stays_dead_lettered_when_the_dlq_is_consumed():
    data = bus_scenario([{"target": "ep", "retry": {"max_attempts": 0},
                          "dead_letter": {"target": "dlq"}}],
                        outages=[down("ep", 0, 100)])  # fmt: skip
    data["components"]["drain"] = {**FN, "trigger": {"source": "dlq", "batch_size": 1}}
    r = run(data)
    assert r.metrics["dead_lettered"] == 1
    assert r.sinks["ep"]["deliveries_expected"] == 1
    assert events(r, "drain", "success") == [1.0]
    conserved(r)


@pytest.mark.parametrize("target", ["ep", "q", "f"])
def test_a_client_error_goes_straight_to_the_dlq_without_retries(target):
    # the target is also down: a retriable error would be retried, a client error is not
    r = run(bus_scenario([{"target": target, "client_error_rate": 1.0,
                           "dead_letter": {"target": "dlq"}}],
                         outages=[down(target, 0, 100)]))  # fmt: skip
    assert rows(r) == [(0.0, "bus", "put"), (0.0, "bus", "dead_letter"),
                       (0.0, "dlq", "dead_letter")]  # fmt: skip
    assert r.metrics["dead_lettered"] == 1
    if target == "ep":
        assert r.sinks["ep"]["attempts"] == 1
    conserved(r)


def test_a_client_error_without_dlq_is_lost_at_once():
    r = run(bus_scenario([{"target": "q", "client_error_rate": 1.0}]))
    assert rows(r) == [(0.0, "bus", "put"), (0.0, "bus", "client_error")]
    assert r.metrics["lost"] == 1
    conserved(r)


def test_one_targets_failure_does_not_affect_another_target():
    r = run(bus_scenario([{"target": "ep", "retry": {"max_attempts": 0}}, {"target": "f"}],
                         outages=[down("ep", 0, 100)]))  # fmt: skip
    assert r.sinks["ep"]["lost"] == 1
    assert r.sinks["f"]["delivered"] == 1
    assert r.metrics["partial_fraction"] == 1.0
    conserved(r)


def test_a_failed_put_events_stops_the_producers_sequential_fan_out():
    data = bus_scenario(bus={"errors": {"rate": 1.0}}, producer={"retry": NO_RETRY})
    data["components"]["prod"]["send_to"] = ["bus", "q"]
    r = run(data)
    assert rows(r) == [(0.0, "bus", "put_failed"), (0.0, "prod", "gave_up")]
    assert r.sinks["ep"]["lost"] == 1 and r.sinks["c"]["lost"] == 1  # q was never sent to
    conserved(r)


def test_a_fifo_queue_target_deduplicates_a_duplicate_delivery():
    data = bus_scenario([{"target": "fq"}], bus={"duplicate_rate": 1.0},
                        bursts=[{"at_s": 0, "count": 2}])  # fmt: skip
    data["components"]["fq"] = {"type": "sqs_queue", "fifo": True}
    data["components"]["fc"] = {**FN, "trigger": {"source": "fq", "batch_size": 1}}
    r = run(data)
    assert events(r, "fq", "deduplicated") == [0.0, 0.0]
    assert events(r, "fc", "success") == [1.0, 2.0]  # one message group, in order
    assert (r.metrics["delivered"], r.metrics["duplicates"]) == (2, 0)
    conserved(r)


# -- invocations quota and duplicates -------------------------------------------------------------


def test_the_invocations_quota_delays_first_attempts_in_line():
    r = run(bus_scenario(bus={"invocations_per_s": 1}, bursts=[{"at_s": 0, "count": 5}]))
    assert events(r, "bus", "put") == [0.0] * 5
    assert events(r, "ep", "success") == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert r.metrics["delivered"] == 5 and r.metrics["lost"] == 0
    assert r.metrics["latency_max_s"] == pytest.approx(4.0)
    conserved(r)


def test_the_invocations_quota_counts_every_target_of_every_event():
    # 2 events × 2 targets at 2 invocations/s, the quota holding one second's worth (full at
    # the start): 4 invocations at 0, 0, 0.5 and 1
    r = run(bus_scenario([{"target": "ep"}, {"target": "t"}], bus={"invocations_per_s": 2},
                         bursts=[{"at_s": 0, "count": 2}]))  # fmt: skip
    assert events(r, "bus", "delivered") == [0.0, 0.0, 0.5, 1.0]
    assert sorted(events(r, "ep", "success") + events(r, "hook", "success")) == [
        0.0, 0.0, 0.5, 1.0]  # fmt: skip
    conserved(r)


def test_duplicate_rate_one_gives_every_target_a_second_copy():
    r = run(bus_scenario([{"target": "ep"}, {"target": "f"}], bus={"duplicate_rate": 1.0},
                         bursts=[{"at_s": 0, "count": 3}]))  # fmt: skip
    m = r.metrics
    assert m["deliveries_expected"] == 6
    assert m["delivered"] == 6
    assert m["duplicates"] == 6
    assert len(events(r, "ep", "success")) == 6
    conserved(r)


# -- archive and replay --------------------------------------------------------------------------


def replay_scenario(
    *,
    pattern: dict[str, Any] | None = None,
    archive: dict[str, Any] | None = None,
    replay: dict[str, Any] | None = None,
    times: tuple[float, ...] = (0.0, 150.0),
) -> dict[str, Any]:
    """Events at ``times``; the endpoint is down during [0, 100) and the target gives up at once;
    a replay at 300 s of [0, 200) (named ``fix``); no archive lag unless ``archive`` sets one."""
    data = bus_scenario(
        [{"target": "ep", "retry": {"max_attempts": 0}}],
        bus={"archive": {"lag_s": 0, **(archive or {})},
             "replays": [{"at_s": 300, "from_s": 0, "to_s": 200, "name": "fix", **(replay or {})}]},
        bursts=[{"at_s": t, "count": 1} for t in times],
        outages=[down("ep", 0, 100)],
        duration_s=200,
        drain_s=1000,
    )  # fmt: skip
    if pattern is not None:
        data["components"]["bus"]["rules"][0]["pattern"] = pattern
    return data


def test_a_replay_recovers_an_event_lost_in_an_outage_and_duplicates_a_delivered_one():
    # an API destination answers before EventBridge records the delivery (same instant)
    r = run(replay_scenario())
    assert rows(r) == [
        (0.0, "bus", "put"), (0.0, "bus", "gave_up"),
        (150.0, "bus", "put"), (150.0, "ep", "success"), (150.0, "bus", "delivered"),
        (300.0, "bus", "replayed"), (300.0, "ep", "success"), (300.0, "bus", "delivered"),
        (300.0001, "bus", "replayed"), (300.0001, "ep", "success"), (300.0001, "bus", "delivered"),
    ]  # fmt: skip
    m = r.metrics
    assert (m["deliveries_expected"], m["delivered"], m["lost"], m["duplicates"]) == (2, 2, 0, 1)
    assert m["events_replayed"] == 2
    assert m["latency_max_s"] == pytest.approx(300.0)
    conserved(r)


def test_a_rule_excluding_replays_gets_no_replayed_events():
    r = run(replay_scenario(pattern={"source": ["shop"], "replay-name": [{"exists": False}]}))
    assert events(r, "bus", "replayed") == [300.0, 300.0001]
    assert events(r, "ep", "success") == [150.0]
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (1, 1, 0)
    conserved(r)


def test_a_rule_can_select_replays_by_replay_name():
    r = run(replay_scenario(pattern={"source": ["shop"], "replay-name": ["fix"]}))
    # the rule matches only replays: not an intended sink when the events are created
    assert r.metrics["deliveries_expected"] == 0
    assert events(r, "ep", "success") == []
    conserved(r)


def test_retention_drops_archived_events_older_than_it_at_replay_time():
    r = run(replay_scenario(archive={"retention_s": 200}))  # at 300 s, the event at 0 is gone
    assert events(r, "bus", "replayed") == [300.0]
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (1, 1, 1)
    assert m["events_replayed"] == 1
    conserved(r)


def test_archive_lag_leaves_events_not_yet_archived_out_of_the_replay():
    r = run(replay_scenario(archive={"lag_s": 200}))  # the event at 150 lands at 350
    assert events(r, "bus", "replayed") == [300.0]
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (2, 0, 0)
    conserved(r)


@pytest.mark.parametrize(("after_s", "share"), [(0, 0.5), (300, 7 / 8), (600, 1.0)])
def test_the_default_archive_lag_is_uniform_over_the_10_minutes_aws_advises_waiting(
    after_s, share
):
    # 600 events over [0, 600 s), replayed ``after_s`` after the window: an event at t is in
    # the archive when its lag U(0, 600) ≤ 600 + after_s − t, which averages ``share``
    data = bus_scenario(bursts=[{"at_s": 0, "count": 600, "spread_s": 600}], duration_s=600,
                        drain_s=1200,
                        bus={"archive": {}, "replays": [
                            {"at_s": 600 + after_s, "from_s": 0, "to_s": 600}]})  # fmt: skip
    n = run(data, trace=False).metrics["events_replayed"]
    sd = (600 * share * (1 - share)) ** 0.5
    assert abs(n - 600 * share) <= 4 * sd


def test_the_replay_window_is_half_open():
    r = run(replay_scenario(replay={"from_s": 0, "to_s": 150}))  # 150 is outside [0, 150)
    assert events(r, "bus", "replayed") == [300.0]
    conserved(r)


def test_an_archive_pattern_limits_what_is_archived():
    data = replay_scenario(archive={"pattern": {"detail": {"keep": [True]}}})
    data["components"]["prod"]["arrivals"] = {"bursts": [{"at_s": 0, "count": 1}]}
    data["components"]["other"] = {"type": "producer", "send_to": ["bus"],
                                   "arrivals": {"bursts": [{"at_s": 10, "count": 1}]},
                                   "attributes": {"source": "shop", "keep": True}}  # fmt: skip
    r = run(data)
    assert len(events(r, "bus", "replayed")) == 1
    assert r.metrics["events_replayed"] == 1
    assert r.metrics["lost"] == 1  # the unarchived event lost in the outage stays lost
    conserved(r)


def test_replay_goes_minute_slice_by_minute_slice_at_its_rate():
    # events at 0, 10 (slice 0) and 70 (slice 1); 2 events/s: replayed at 300, 300.5, 301
    data = replay_scenario(times=(0.0, 10.0, 70.0), replay={"rate_per_s": 2})
    data["outages"] = []
    r = run(data)
    assert events(r, "bus", "replayed") == [300.0, 300.5, 301.0]
    replayed_ids = [int(m) for m in r.trace[r.trace["event"] == "replayed"]["msg_id"]]
    assert sorted(replayed_ids[:2]) == [1, 2] and replayed_ids[2] == 3
    assert r.metrics["duplicates"] == 3
    conserved(r)


def test_a_replayed_event_is_retried_like_a_new_one():
    # the endpoint is down again during the replay: the replayed copy retries until it is back
    data = replay_scenario(times=(0.0,))
    data["components"]["bus"]["rules"][0]["targets"][0]["retry"] = {"max_attempts": 185,
                                                                   "max_age_s": 60, "cap_s": 4}
    data["outages"] = [down("ep", 0, 1000)]
    data["components"]["bus"]["replays"][0]["at_s"] = 990
    r = run(data)
    assert events(r, "bus", "gave_up") == [60.0]
    (t,) = events(r, "ep", "success")
    assert 1000.0 <= t <= 1004.0
    assert r.metrics["delivered"] == 1
    conserved(r)


def test_two_replays_of_the_same_window_each_deliver_a_copy():
    data = replay_scenario(times=(0.0,))
    data["outages"] = []
    data["components"]["bus"]["replays"].append({"at_s": 400, "from_s": 0, "to_s": 200})
    r = run(data)
    assert events(r, "ep", "success") == [0.0, 300.0, 400.0]
    assert r.metrics["duplicates"] == 2
    assert r.metrics["events_replayed"] == 2
    conserved(r)


def test_custom_events_replays_and_archived_bytes_are_billed():
    m = model(replay_scenario())  # 2 events of 1,024 bytes, both archived and replayed
    m.run()
    counts = m.ctx.cost.counts
    assert counts[("bus", "eventbridge_events")] == 4  # 2 PutEvents + 2 replayed
    assert counts[("bus", "eventbridge_archive_gb")] == pytest.approx(2 * 1024 / 1e9)


def test_the_same_scenario_twice_gives_identical_traces():
    data = replay_scenario(times=(0.0, 10.0, 70.0))
    data["components"]["bus"]["duplicate_rate"] = 0.5
    a, b = run(copy.deepcopy(data)), run(copy.deepcopy(data))
    assert rows(a) == rows(b)
    assert a.metrics == b.metrics


# -- rate-limited targets: a FIFO queue's throughput, API destinations -----------------------------


def _retry_gaps(n: int, stream: str = "retry:0:0", seed: int = 0) -> list[float]:
    """The first ``n`` retry gaps of the bus's target: ``d/2 + U(0, d/2)``, d = 1, 2, 4, ..."""
    draw = RandomStreams(seed, 0).uniform("bus", stream)
    return [0.5 * 2.0**i * (1.0 + draw()) for i in range(n)]


def test_a_fifo_queue_target_throttles_deliveries_beyond_its_call_limit_and_they_are_retried():
    # one call per second: the second event is throttled at 0 and at its first retry (< 1 s,
    # the bucket not yet refilled), and stored at its second retry (≥ 1.5 s)
    g1, g2 = _retry_gaps(2)
    data = bus_scenario([{"target": "fq"}], bursts=[{"at_s": 0, "count": 2}])
    data["components"]["fq"] = {"type": "sqs_queue", "fifo": True, "max_calls_per_s": 1}
    data["components"]["fc"] = {**FN, "trigger": {"source": "fq", "batch_size": 1}}
    r = run(data)
    first, second = msg_ids(r)
    assert [(t, e) for t, c, e in rows(r, second) if c == "fq"] == [
        (0.0, "send_failed"), (round(g1, 9), "send_failed"), (round(g1 + g2, 9), "send"),
        (round(g1 + g2, 9), "receive"), (round(g1 + g2 + 1, 9), "delete")]  # fmt: skip
    assert events(r, "fq", "send", first) == [0.0]
    assert (r.metrics["delivered"], r.metrics["lost"]) == (2, 0)
    conserved(r)


def test_a_fifo_queue_target_given_up_while_throttled_goes_to_the_target_dlq():
    data = bus_scenario([{"target": "fq", "retry": {"max_attempts": 0},
                          "dead_letter": {"target": "dlq"}}], bursts=[{"at_s": 0, "count": 3}])
    data["components"]["fq"] = {"type": "sqs_queue", "fifo": True, "max_calls_per_s": 2}
    data["components"]["fc"] = {**FN, "trigger": {"source": "fq", "batch_size": 1}}
    r = run(data)
    assert events(r, "fq", "send") == [0.0, 0.0]
    assert (r.metrics["delivered"], r.metrics["dead_lettered"]) == (2, 1)
    conserved(r)


def _api_destination(endpoint: dict[str, Any], count: int = 1, **target: Any) -> dict[str, Any]:
    data = bus_scenario([{"target": "ep", **target}], bursts=[{"at_s": 0, "count": count}])
    data["components"]["ep"].update(endpoint)
    return data


def test_an_api_destination_over_its_invocation_rate_limit_is_held_back_and_retried():
    g1, g2 = _retry_gaps(2)
    r = run(_api_destination({"api_destination": {"invocation_rate_limit_per_s": 1}}, count=2))
    first, second = msg_ids(r)
    assert rows(r, second) == [
        (0.0, "bus", "put"), (0.0, "ep", "throttled"), (round(g1, 9), "ep", "throttled"),
        (round(g1 + g2, 9), "ep", "success"), (round(g1 + g2, 9), "bus", "delivered")]  # fmt: skip
    assert events(r, "ep", "success", first) == [0.0]
    # throttled attempts never reached the endpoint: one attempt per event
    assert r.sinks["ep"]["attempts"] == 2
    assert (r.metrics["delivered"], r.metrics["duplicates"]) == (2, 0)
    conserved(r)


def test_an_api_destination_answering_within_5_s_is_delivered_once():
    r = run(_api_destination({"latency_s": 4.9}))
    assert rows(r) == [(0.0, "bus", "put"), (0.0, "bus", "delivered"), (4.9, "ep", "success")]
    assert r.sinks["ep"]["attempts"] == 1
    assert (r.metrics["delivered"], r.metrics["duplicates"]) == (1, 0)


def test_an_api_destination_slower_than_5_s_fails_and_is_retried_but_does_the_work_each_time():
    # every answer takes 6 s: EventBridge gives up on each attempt at +5 s and retries after its
    # backoff; the endpoint processes every attempt at +6 s anyway (duplicates)
    (g1,) = _retry_gaps(1)
    t1 = 5.0 + g1
    r = run(_api_destination({"latency_s": 6}, retry={"max_attempts": 1}))
    assert rows(r) == [
        (0.0, "bus", "put"), (0.0, "ep", "timeout"), (round(t1, 9), "ep", "timeout"),
        (6.0, "ep", "success"), (round(t1 + 5, 9), "bus", "gave_up"),
        (round(t1 + 6, 9), "ep", "success")]  # fmt: skip
    m = r.metrics
    assert (m["delivered"], m["lost"], m["duplicates"]) == (1, 0, 1)
    assert r.sinks["ep"]["attempts"] == 2
    conserved(r)


def test_an_api_destination_timeout_then_a_fast_answer_is_a_duplicate():
    # a slow outage makes the first answer take 10 s (the work is done at 10 s); EventBridge
    # stops waiting at 5 s, and its retry is answered in 1 s
    (g1,) = _retry_gaps(1)
    t1 = 5.0 + g1
    data = _api_destination({"latency_s": 1})
    data["outages"] = [down("ep", 0, 1, mode="slow", factor=10)]
    r = run(data)
    assert rows(r) == [
        (0.0, "bus", "put"), (0.0, "ep", "timeout"), (round(t1, 9), "bus", "delivered"),
        (round(t1 + 1, 9), "ep", "success"), (10.0, "ep", "success")]  # fmt: skip
    m = r.metrics
    assert (m["delivered"], m["duplicates"]) == (1, 1)
    assert r.sinks["ep"]["attempts"] == 2
    assert r.sinks["ep"]["latency_max_s"] == pytest.approx(t1 + 1)  # the first success
    conserved(r)


def test_the_api_destination_rate_limit_is_validated_against_aws_range():
    with pytest.raises(ScenarioError, match=r"invocation_rate_limit_per_s.*300"):
        scenario(_api_destination({"api_destination": {"invocation_rate_limit_per_s": 500}}))
