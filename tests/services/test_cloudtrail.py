"""CloudTrail → EventBridge → SNS → email (architecture A6): the shape of "AWS API Call via
CloudTrail" events, the delivery delay, best-effort loss (no retry when the bus rejects an
event), and SNS's 10 emails/s quota on the way to the inboxes.

Every timeline has zero AWS overheads and a constant ``delivery_delay_s`` of 5 s unless said
otherwise.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from conftest import conserved, events, rows, run

from sim.engine.message import Message
from sim.services.cloudtrail import cloudtrail_event

DELETE_TABLE = {
    "source": ["aws.dynamodb"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["dynamodb.amazonaws.com"], "eventName": ["DeleteTable"]},
}
CALL = {"eventSource": "dynamodb.amazonaws.com", "eventName": "DeleteTable"}


def trail_scenario(
    trail: dict[str, Any] | None = None,
    *,
    attributes: dict[str, Any] | None = None,
    count: int = 1,
    pattern: dict[str, Any] | None = None,
    accounts: int = 1,
    topic: dict[str, Any] | None = None,
    bus: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """API calls by ``calls`` → trail → bus (one rule) → topic ``alerts`` → ``accounts``
    email inboxes ``mail0``, ``mail1``, ..."""
    comps: dict[str, Any] = {
        "calls": {
            "type": "producer",
            "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
            "send_to": ["trail"],
            "attributes": CALL if attributes is None else attributes,
        },
        "trail": {"type": "cloudtrail", "bus": "bus", "delivery_delay_s": 5, **(trail or {})},
        "bus": {
            "type": "event_bus",
            "rules": [
                {
                    "name": "deletes",
                    "pattern": pattern or DELETE_TABLE,
                    "targets": [{"target": "alerts"}],
                }
            ],
            **(bus or {}),
        },
        "alerts": {
            "type": "sns_topic",
            "subscriptions": [{"target": f"mail{i}"} for i in range(accounts)],
            **(topic or {}),
        },
    }
    for i in range(accounts):
        comps[f"mail{i}"] = {"type": "endpoint", "protocol": "email"}
    return {
        "name": "audit",
        "duration_s": 1,
        "drain_s": 600,
        "components": comps,
        "outages": outages or [],
    }


def down(component: str, start_s: float, duration_s: float) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s}


# -- the event (a pure function) ----------------------------------------------------------------


def test_an_api_call_becomes_an_aws_api_call_via_cloudtrail_event():
    msg = Message(3, 60.0, "calls", 0, 0, 0.5, {**CALL, "tableName": "orders"}, 1024, True)
    ev = cloudtrail_event(msg)
    assert ev["source"] == "aws.dynamodb"
    assert ev["detail-type"] == "AWS API Call via CloudTrail"
    d = ev["detail"]
    assert d["eventSource"] == "dynamodb.amazonaws.com"
    assert d["eventName"] == "DeleteTable"
    assert d["tableName"] == "orders"
    assert d["eventType"] == "AwsApiCall"
    assert d["awsRegion"] == ev["region"]
    assert d["eventTime"] == ev["time"] == "2026-01-01T00:01:00Z"


@pytest.mark.parametrize(
    ("event_source", "source"),
    [("s3.amazonaws.com", "aws.s3"), ("iam.amazonaws.com", "aws.iam"),
     ("dynamodb.amazonaws.com", "aws.dynamodb")],
)  # fmt: skip
def test_the_event_source_names_the_service(event_source, source):
    msg = Message(1, 0.0, "calls", 0, 0, 0.5, {"eventSource": event_source}, 1024, True)
    assert cloudtrail_event(msg)["source"] == source


# -- delivery, matching, loss ---------------------------------------------------------------------


def test_the_event_reaches_the_bus_after_the_delivery_delay_and_the_inbox_at_once():
    r = run(trail_scenario())
    assert rows(r) == [(5.0, "bus", "put"), (5.0, "bus", "delivered"), (5.0, "alerts", "publish"),
                       (5.0, "alerts", "delivered"), (5.0, "mail0", "success")]  # fmt: skip
    m = r.metrics
    assert (m["deliveries_expected"], m["delivered"]) == (1, 1)
    assert m["latency_max_s"] == pytest.approx(5.0)
    assert m["producer_latency_mean_s"] == 0.0  # the API call itself is answered at once
    conserved(r)


@pytest.mark.parametrize(
    ("attributes", "matched"),
    [
        (CALL, True),
        ({**CALL, "eventName": "CreateTable"}, False),
        ({**CALL, "eventSource": "s3.amazonaws.com"}, False),
        ({"eventName": "DeleteTable"}, False),
    ],
)
def test_only_the_matching_api_calls_are_routed(attributes, matched):
    r = run(trail_scenario(attributes=attributes))
    assert r.metrics["deliveries_expected"] == int(matched)
    assert r.metrics["messages_unrouted"] == int(not matched)
    assert events(r, "bus", "put") == [5.0]
    conserved(r)


def test_a_rule_on_other_detail_fields_sees_the_call_attributes():
    pattern = {**DELETE_TABLE, "detail": {**DELETE_TABLE["detail"],
                                          "tableName": [{"prefix": "prod-"}]}}  # fmt: skip
    r = run(trail_scenario(attributes={**CALL, "tableName": "prod-orders"}, pattern=pattern))
    assert r.metrics["delivered"] == 1
    r = run(trail_scenario(attributes={**CALL, "tableName": "dev-orders"}, pattern=pattern))
    assert r.metrics["deliveries_expected"] == 0
    conserved(r)


def test_loss_rate_one_loses_every_event_at_the_call():
    r = run(trail_scenario({"loss_rate": 1.0}, count=4, accounts=2))
    assert rows(r) == [(0.0, "trail", "lost")] * 4
    m = r.metrics
    assert (m["deliveries_expected"], m["lost"], m["delivered"]) == (8, 8, 0)
    conserved(r)


def test_a_bus_outage_loses_the_event_without_retry():
    r = run(trail_scenario(outages=[down("bus", 0, 10)]))
    assert rows(r) == [(5.0, "trail", "rejected")]
    assert r.metrics["lost"] == 1
    conserved(r)


def test_a_bus_error_loses_the_event_without_retry():
    r = run(trail_scenario(bus={"errors": {"rate": 1.0}}, count=3))
    assert rows(r) == [(5.0, "trail", "rejected")] * 3
    assert r.metrics["lost"] == 3
    conserved(r)


def test_an_event_after_the_bus_outage_is_delivered():
    r = run(trail_scenario(outages=[down("bus", 0, 4.999)]))
    assert events(r, "mail0", "success") == [5.0]
    conserved(r)


def test_the_eventbridge_target_retries_a_topic_outage():
    r = run(trail_scenario(outages=[down("alerts", 0, 100)]))
    (t,) = events(r, "mail0", "success")
    assert 100.0 <= t <= 100.0 + 600.0  # the default cap of the target's backoff
    assert r.metrics["delivered"] == 1
    conserved(r)


# -- SNS email quota on the way to every account ---------------------------------------------


def test_emails_beyond_the_quota_wait_in_line_10_per_second():
    r = run(trail_scenario({"delivery_delay_s": 0}, accounts=40))
    times = sorted(t for t, c, e in rows(r) if c.startswith("mail") and e == "success")
    assert len(times) == 40
    tail = times[-20:]  # once the quota is used up, one email every 0.1 s
    assert all(b - a == pytest.approx(0.1) for a, b in itertools.pairwise(tail))
    assert r.metrics["delivered"] == 40
    conserved(r)


def test_30_emails_at_once_go_out_at_10_per_second():
    r = run(trail_scenario({"delivery_delay_s": 0}, accounts=30))
    times = sorted(t for t, c, e in rows(r) if c.startswith("mail") and e == "success")
    assert len(times) == 30
    assert times[-1] == pytest.approx(2.9)
    for t0 in times:  # at most 10 emails in any one-second window
        assert sum(1 for t in times if t0 <= t < t0 + 1.0) <= 10


def test_a_lower_email_rate_spaces_the_emails_further():
    fast = run(trail_scenario({"delivery_delay_s": 0}, accounts=20))
    slow = run(trail_scenario({"delivery_delay_s": 0}, accounts=20,
                              topic={"email_rate_per_s": 2}))  # fmt: skip
    last = {k: max(events(r, f"mail{i}", "success")[0] for i in range(20))
            for k, r in (("fast", fast), ("slow", slow))}  # fmt: skip
    assert last["slow"] > last["fast"]
    times = sorted(events(slow, f"mail{i}", "success")[0] for i in range(20))
    assert all(b - a == pytest.approx(0.5) for a, b in itertools.pairwise(times[-10:]))
    conserved(slow)


def test_http_subscriptions_do_not_wait_for_the_email_quota():
    data = trail_scenario({"delivery_delay_s": 0}, accounts=15)
    data["components"]["alerts"]["subscriptions"].append({"target": "ops"})
    data["components"]["ops"] = {"type": "endpoint", "protocol": "http"}
    r = run(data)
    assert events(r, "ops", "success") == [0.0]
    assert max(events(r, f"mail{i}", "success")[0] for i in range(15)) > 0.0
    conserved(r)
