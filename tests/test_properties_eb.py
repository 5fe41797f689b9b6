"""Property-based invariants on random topologies of the EventBridge-era components (DESIGN §7):
a producer → API Gateway / S3 bucket / CloudTrail / event bus → rules and notifications →
queues, functions, topics and endpoints, with random error rates, outages, duplicates, client
errors, DLQs, archives and replays.

* conservation: every (message, intended sink) pair has exactly one fate, per sink and in total
  (the builder also runs ``check_conservation`` on every run);
* the totals are the sums over sinks, and no fate count is negative;
* the same seed gives identical metrics.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.build import run_once
from sim.config import scenario_from_dict
from sim.engine.fates import FATES

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PROPS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FN: dict[str, Any] = {"type": "lambda_function", "duration_s": {"exponential": {"mean": 0.3}},
                      "timeout_s": 5, "cold_start": {"duration_s": 0.1}}  # fmt: skip

PATTERNS = [
    {"source": ["prod"]},
    {"source": ["aws.s3"]},
    {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "a/"}]}}},
    {"source": ["aws.dynamodb"], "detail": {"eventName": ["DeleteTable"]}},
    {"detail": {"kind": ["x", "y"]}},
    {"source": ["prod"], "replay-name": [{"exists": False}]},
    {"source": [{"anything-but": "nobody"}]},
]


@st.composite
def topologies(draw: Any) -> dict[str, Any]:
    """A random scenario of 1–2 entry points in front of a bus, a bucket and sinks."""
    rate = draw(st.floats(0.5, 3.0))
    entries = draw(st.lists(st.sampled_from(["api", "bucket", "trail", "bus"]), min_size=1,
                            max_size=2, unique=True))  # fmt: skip
    comps: dict[str, Any] = {
        "prod": {
            "type": "producer",
            "rate_per_s": rate,
            "send_to": entries,
            "retry": {"max_attempts": draw(st.integers(1, 3)), "base_s": 0.5, "cap_s": 2},
            "attributes": {
                "key": {"choice": {"values": ["a/{id}", "b/{id}.csv", "c/{id}"]}},
                "kind": {"choice": {"values": ["x", "y", "z"]}},
                "eventSource": "dynamodb.amazonaws.com",
                "eventName": {"choice": {"values": ["DeleteTable", "CreateTable"]}},
                "size_bytes": {"choice": {"values": [100, 5000, 20_000_000]}},
            },
        },
    }
    if draw(st.booleans()):
        comps["prod"]["resend"] = {"rate": draw(st.floats(0, 0.3)), "delay_s": 5}

    def p() -> float:
        return draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))

    # sinks: two queues with consumers, one queue nobody reads, two functions, endpoints, a topic
    for i in range(2):
        comps[f"q{i}"] = {"type": "sqs_queue", "errors": {"rate": p()},
                          "duplicate_rate": draw(st.sampled_from([0.0, 0.2]))}  # fmt: skip
        comps[f"c{i}"] = {**FN, "errors": {"rate": p()},
                          "trigger": {"source": f"q{i}", "batch_size": draw(st.integers(1, 3))}}
    comps["orphan"] = {"type": "sqs_queue"}
    for i in range(2):
        comps[f"f{i}"] = {**FN, "errors": {"rate": p()},
                          "reserved_concurrency": draw(st.sampled_from([1, 2, 50])),
                          "async": {"max_retries": draw(st.integers(0, 2)),
                                    "max_event_age_s": 60}}  # fmt: skip
    comps["ep"] = {"type": "endpoint", "protocol": "https", "errors": {"rate": p()}}
    comps["mail"] = {"type": "endpoint", "protocol": "email", "errors": {"rate": p()}}
    comps["t"] = {"type": "sns_topic", "errors": {"rate": p()},
                  "subscriptions": [{"target": "mail"}, {"target": "q1"}]}  # fmt: skip
    comps["dlq"] = {"type": "sqs_queue"}
    targets = ["q0", "q1", "orphan", "f0", "f1", "ep", "t"]

    # the bus, its rules, archive and replays
    rules = []
    for k in range(draw(st.integers(1, 3))):
        rule_targets = []
        for name in draw(st.lists(st.sampled_from(targets), min_size=1, max_size=3,
                                  unique=True)):  # fmt: skip
            t: dict[str, Any] = {
                "target": name,
                "retry": {"max_attempts": draw(st.sampled_from([0, 2, 185])),
                          "max_age_s": draw(st.sampled_from([60, 86_400])), "cap_s": 8},
                "client_error_rate": draw(st.sampled_from([0.0, 0.0, 0.2])),
            }  # fmt: skip
            if draw(st.booleans()):
                t["dead_letter"] = {"target": "dlq"}
            rule_targets.append(t)
        rules.append({"name": f"r{k}", "pattern": draw(st.sampled_from(PATTERNS)),
                      "targets": rule_targets})  # fmt: skip
    bus: dict[str, Any] = {
        "type": "event_bus",
        "rules": rules,
        "errors": {"rate": draw(st.sampled_from([0.0, 0.2]))},
        "duplicate_rate": draw(st.sampled_from([0.0, 0.3])),
        "invocations_per_s": draw(st.sampled_from([2.0, 1000.0])),
    }
    if draw(st.booleans()):
        bus["archive"] = {"retention_s": draw(st.sampled_from([15.0, 1e6])),
                          "lag_s": draw(st.sampled_from([0.0, 5.0]))}  # fmt: skip
        bus["replays"] = [{"at_s": 30, "from_s": 0, "to_s": draw(st.sampled_from([10, 30])),
                           "rate_per_s": 5}]  # fmt: skip
    comps["bus"] = bus

    # the bucket: non-overlapping notifications, maybe EventBridge
    notify_targets = ["q0", "f0", "t"]
    bucket: dict[str, Any] = {
        "type": "s3_bucket",
        "errors": {"rate": draw(st.sampled_from([0.0, 0.2]))},
        "notification_delay_s": {"exponential": {"mean": 1.0}},
        "duplicate_rate": draw(st.sampled_from([0.0, 0.5])),
        "delivery_retry": {"max_attempts": draw(st.sampled_from([0, 3, 185])), "cap_s": 8},
        "notifications": [
            {"target": draw(st.sampled_from(notify_targets)), "prefix": prefix}
            for prefix in draw(st.lists(st.sampled_from(["a/", "b/"]), max_size=2, unique=True))
        ],
    }
    if draw(st.booleans()):
        bucket["eventbridge"] = "bus"
    comps["bucket"] = bucket
    comps["api"] = {"type": "api_gateway", "rate_per_s": draw(st.sampled_from([1.0, 100.0])),
                    "burst": draw(st.sampled_from([1, 50])),
                    "timeout_s": draw(st.sampled_from([0.2, 29.0])),
                    "integration": draw(st.sampled_from(["bucket", "f1"]))}  # fmt: skip
    comps["trail"] = {"type": "cloudtrail", "bus": "bus",
                      "delivery_delay_s": {"exponential": {"mean": 2.0}},
                      "loss_rate": draw(st.sampled_from([0.0, 0.3]))}  # fmt: skip

    outages = []
    for _ in range(draw(st.integers(0, 3))):
        outages.append({
            "component": draw(st.sampled_from(["bus", "bucket", "api", "q0", "f0", "f1", "ep",
                                               "t", "mail"])),
            "start_s": draw(st.sampled_from([0.0, 3.0, 8.0])),
            "duration_s": draw(st.sampled_from([2.0, 10.0, 40.0])),
            "mode": draw(st.sampled_from(["unavailable", "unavailable", "throttled"])),
        })  # fmt: skip
    return {
        "name": "eb-property",
        "duration_s": 15,
        "warmup_s": draw(st.sampled_from([0.0, 0.0, 5.0])),
        "drain_s": draw(st.sampled_from([5.0, 120.0])),
        "components": comps,
        "outages": outages,
    }


def _check_sums(m: dict[str, Any], sinks: dict[str, dict[str, Any]]) -> None:
    assert sum(m[f] for f in FATES) == m["deliveries_expected"]
    for name, s in sinks.items():
        assert min(s[f] for f in FATES) >= 0, name
        assert sum(s[f] for f in FATES) == s["deliveries_expected"], name
        assert s["duplicates"] >= 0
    for key in ("deliveries_expected", *FATES, "duplicates", "attempts"):
        assert m[key] == sum(s[key] for s in sinks.values()), key
    assert 0 <= m["messages_unrouted"] <= m["messages_produced"]
    assert 0 <= m["api_throttled"] <= m["api_requests"]


@PROPS
@given(data=topologies(), seed=SEEDS)
def test_conservation_holds_on_random_event_topologies(data, seed):
    r = run_once(scenario_from_dict(data), seed=seed)  # runs check_conservation itself
    _check_sums(r.metrics, r.sinks)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=topologies(), seed=SEEDS)
def test_the_same_seed_gives_identical_metrics(data, seed):
    s = scenario_from_dict(data)
    a, b = run_once(s, seed=seed), run_once(s, seed=seed)
    assert a.metrics == b.metrics
    assert a.sinks == b.sinks
