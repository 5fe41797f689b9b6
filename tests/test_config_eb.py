"""Scenario validation of EventBridge buses, S3 buckets, API Gateway and CloudTrail: every bad
field or wiring is an error that names the file, the field path, the offending value and what is
allowed (DESIGN §4), and the valid wirings load.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import variant

from sim.config import ScenarioError, load_scenario, scenario_from_dict

BASE: dict[str, Any] = {
    "name": "eb-config",
    "duration_s": 60,
    "components": {
        "prod": {"type": "producer", "rate_per_s": 1, "send_to": ["bus"]},
        "bus": {
            "type": "event_bus",
            "rules": [{"name": "r", "pattern": {"source": ["prod"]}, "targets": [{"target": "q"}]}],
        },
        "q": {"type": "sqs_queue"},
        "fq": {"type": "sqs_queue", "fifo": True},
        "dlq": {"type": "sqs_queue"},
        "c": {"type": "lambda_function", "trigger": {"source": "q"}},
        "f": {"type": "lambda_function"},
        "t": {"type": "sns_topic"},
        "ft": {"type": "sns_topic", "fifo": True},
        "hook": {"type": "endpoint", "protocol": "https"},
        "mail": {"type": "endpoint", "protocol": "email"},
        "b": {
            "type": "s3_bucket",
            "notifications": [{"target": "q", "prefix": "in/"}],
            "eventbridge": "bus",
        },
        "api": {"type": "api_gateway", "integration": "b"},
        "trail": {"type": "cloudtrail", "bus": "bus"},
    },
}
COMPONENTS = "prod, bus, q, fq, dlq, c, f, t, ft, hook, mail, b, api, trail"
UNKNOWN = f"no component of that name (components: {COMPONENTS})"


def load(updates: dict[str, Any]) -> Any:
    return scenario_from_dict(variant(BASE, updates), source="s.yaml")


def error_lines(updates: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        load(updates)
    assert exc.value.file == "s.yaml"
    return str(exc.value).splitlines()


def test_the_base_scenario_is_valid():
    s = load({})
    assert s.components["bus"].rules[0].targets[0].target == "q"
    assert s.components["trail"].bus == "bus"


# -- every bad field or wiring: (id, updates, expected line) ------------------------------------

R = "components.bus.rules.0"
T = f"{R}.targets.0"
N = "components.b.notifications"
ROUTE = ("must name an sqs_queue, a lambda_function, an sns_topic or an http endpoint (API "
         "destination)")  # fmt: skip
S3_TYPES = ("'s3:ObjectCreated:*', 's3:ObjectCreated:Put', 's3:ObjectCreated:Post', "
            "'s3:ObjectCreated:Copy', 's3:ObjectCreated:CompleteMultipartUpload', "
            "'s3:ObjectRemoved:*', 's3:ObjectRemoved:Delete' or "
            "'s3:ObjectRemoved:DeleteMarkerCreated'")  # fmt: skip
OVERLAP = ("for the same event types; AWS rejects overlapping prefixes and suffixes for one event "
           "type")  # fmt: skip

BAD = [
    # rules and their targets
    ("unknown-rule-target", {f"{T}.target": "nope"},
     f"s.yaml: {T}.target: 'nope' — {UNKNOWN}"),
    ("rule-target-producer", {f"{T}.target": "prod"},
     f"s.yaml: {T}.target: 'prod' — {ROUTE}; it is a producer"),
    ("rule-target-bucket", {f"{T}.target": "b"},
     f"s.yaml: {T}.target: 'b' — {ROUTE}; it is an s3_bucket"),
    ("rule-target-bus", {f"{T}.target": "bus"},
     f"s.yaml: {T}.target: 'bus' — {ROUTE}; it is an event_bus"),
    ("rule-target-email-endpoint", {f"{T}.target": "mail"},
     f"s.yaml: {T}.target: 'mail' — an endpoint target is an API destination and must be http "
     "or https; 'mail' is email"),
    ("six-targets", {f"{R}.targets": [{"target": "q"}] * 6},
     f"s.yaml: {R}.targets: [{{'target': 'q'}}, {{'target': 'q'}}, {{'target': 'q'}}, "
     "{'target': 'q'}, {'target... — must have at most 5 entries"),
    ("no-targets", {f"{R}.targets": []},
     f"s.yaml: {R}.targets: [] — must have at least 1 entry"),
    ("repeated-rule-name",
     {"components.bus.rules": [{"name": "r", "pattern": {"source": ["a"]},
                                "targets": [{"target": "q"}]}] * 2},
     "s.yaml: components.bus.rules.1.name: 'r' — repeated; rule names are unique per bus"),
    ("empty-rule-name", {f"{R}.name": ""},
     f"s.yaml: {R}.name: '' — must not be empty"),
    ("pattern-value-not-a-list", {f"{R}.pattern": {"source": "prod"}},
     f"s.yaml: {R}.pattern — source: value must be an array of alternatives, got str 'prod'"),
    ("pattern-unknown-operator", {f"{R}.pattern": {"source": [{"prefixx": "a"}]}},
     f"s.yaml: {R}.pattern — source: unknown operator 'prefixx' (allowed: anything-but, cidr, "
     "equals-ignore-case, exists, numeric, prefix, suffix, wildcard)"),
    ("pattern-not-a-mapping", {f"{R}.pattern": ["x"]},
     f"s.yaml: {R}.pattern: ['x'] — must be a mapping"),
    ("pattern-empty", {f"{R}.pattern": {}},
     f"s.yaml: {R}.pattern — event pattern must not be empty"),
    ("pattern-too-long", {f"{R}.pattern": {"source": ["x" * 2100]}},
     f"s.yaml: {R}.pattern — event pattern is 2115 characters long (max 2048)"),
    ("dlq-fifo-queue", {f"{T}.dead_letter": {"target": "fq"}},
     f"s.yaml: {T}.dead_letter.target: 'fq' — must be a standard queue: EventBridge target DLQs "
     "are standard queues (AWS)"),
    ("dlq-topic", {f"{T}.dead_letter": {"target": "t"}},
     f"s.yaml: {T}.dead_letter.target: 't' — must name an sqs_queue; it is an sns_topic"),
    ("dlq-unknown", {f"{T}.dead_letter": {"target": "zz"}},
     f"s.yaml: {T}.dead_letter.target: 'zz' — {UNKNOWN}"),
    ("max-attempts-186", {f"{T}.retry": {"max_attempts": 186}},
     f"s.yaml: {T}.retry.max_attempts: 186 — must be ≥ 0 and ≤ 185 (AWS range for max_attempts)"),
    ("max-attempts-negative", {f"{T}.retry": {"max_attempts": -1}},
     f"s.yaml: {T}.retry.max_attempts: -1 — must be ≥ 0 and ≤ 185 (AWS range for max_attempts)"),
    ("max-age-59", {f"{T}.retry": {"max_age_s": 59}},
     f"s.yaml: {T}.retry.max_age_s: 59 — must be ≥ 60 and ≤ 86400 (AWS range for max_age_s)"),
    ("max-age-86401", {f"{T}.retry": {"max_age_s": 86401}},
     f"s.yaml: {T}.retry.max_age_s: 86401 — must be ≥ 60 and ≤ 86400 (AWS range for "
     "max_age_s)"),
    ("retry-cap-below-base", {f"{T}.retry": {"base_s": 10, "cap_s": 1}},
     f"s.yaml: {T}.retry.cap_s: 1 — must be ≥ base_s (10)"),
    ("client-error-rate", {f"{T}.client_error_rate": 1.5},
     f"s.yaml: {T}.client_error_rate: 1.5 — must be ≥ 0 and ≤ 1 (a probability)"),
    # the bus itself, archive and replays
    ("replay-without-archive", {"components.bus.replays": [{"at_s": 100, "from_s": 0,
                                                            "to_s": 50}]},
     "s.yaml: components.bus.replays: 1 — a replay needs an archive (archive: {})"),
    ("replay-to-equal-from", {"components.bus.archive": {},
                              "components.bus.replays": [{"at_s": 100, "from_s": 50,
                                                          "to_s": 50}]},
     "s.yaml: components.bus.replays.0.to_s: 50 — must be > from_s (50)"),
    ("replay-to-before-from", {"components.bus.archive": {},
                               "components.bus.replays": [{"at_s": 100, "from_s": 50,
                                                           "to_s": 10}]},
     "s.yaml: components.bus.replays.0.to_s: 10 — must be > from_s (50)"),
    ("replay-at-before-to", {"components.bus.archive": {},
                             "components.bus.replays": [{"at_s": 40, "from_s": 0, "to_s": 50}]},
     "s.yaml: components.bus.replays.0.at_s: 40 — must be ≥ to_s (50): a replay window must end "
     "before the replay starts"),
    ("replay-rate-zero", {"components.bus.archive": {},
                          "components.bus.replays": [{"at_s": 100, "from_s": 0, "to_s": 50,
                                                      "rate_per_s": 0}]},
     "s.yaml: components.bus.replays.0.rate_per_s: 0 — must be > 0"),
    ("archive-retention-zero", {"components.bus.archive": {"retention_s": 0}},
     "s.yaml: components.bus.archive.retention_s: 0 — must be > 0"),
    ("archive-negative-lag", {"components.bus.archive": {"lag_s": -1}},
     "s.yaml: components.bus.archive.lag_s: -1 — must be ≥ 0 (a duration in seconds)"),
    ("archive-invalid-pattern", {"components.bus.archive": {"pattern": {"source": "x"}}},
     "s.yaml: components.bus.archive.pattern — source: value must be an array of alternatives, "
     "got str 'x'"),
    ("bus-duplicate-rate", {"components.bus.duplicate_rate": 2},
     "s.yaml: components.bus.duplicate_rate: 2 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("bus-invocations-quota-zero", {"components.bus.invocations_per_s": 0},
     "s.yaml: components.bus.invocations_per_s: 0 — must be > 0"),
    ("bus-unknown-field", {"components.bus.rulez": []},
     "s.yaml: components.bus.rulez: [] — unknown field (did you mean 'rules'?); allowed fields: "
     "type, errors, latency_s, invocations_per_s, duplicate_rate, rules, archive, replays"),
    # S3 buckets
    ("s3-notification-to-fifo-queue", {f"{N}.0.target": "fq"},
     f"s.yaml: {N}.0.target: 'fq' — must be standard: S3 cannot notify a FIFO queue or topic "
     "(AWS)"),
    ("s3-notification-to-fifo-topic", {f"{N}.0.target": "ft"},
     f"s.yaml: {N}.0.target: 'ft' — must be standard: S3 cannot notify a FIFO queue or topic "
     "(AWS)"),
    ("s3-notification-to-endpoint", {f"{N}.0.target": "hook"},
     f"s.yaml: {N}.0.target: 'hook' — must name an sqs_queue, an sns_topic or a lambda_function; "
     "it is an endpoint"),
    ("s3-notification-to-bus", {f"{N}.0.target": "bus"},
     f"s.yaml: {N}.0.target: 'bus' — must name an sqs_queue, an sns_topic or a lambda_function; "
     "it is an event_bus"),
    ("s3-notification-unknown", {f"{N}.0.target": "zz"},
     f"s.yaml: {N}.0.target: 'zz' — {UNKNOWN}"),
    ("s3-overlapping-prefixes", {N: [{"target": "q", "prefix": "in/"},
                                     {"target": "f", "prefix": "in/x/"}]},
     f"s.yaml: {N}.1 — overlaps notification 0 (prefix 'in/', suffix '') {OVERLAP}"),
    ("s3-overlapping-prefix-and-suffix", {N: [{"target": "q", "suffix": ".jpg"},
                                              {"target": "f", "prefix": "in/"}]},
     f"s.yaml: {N}.1 — overlaps notification 0 (prefix '', suffix '.jpg') {OVERLAP}"),
    ("s3-overlapping-wildcard-type", {N: [{"target": "q", "events": ["s3:ObjectCreated:*"]},
                                          {"target": "f", "events": ["s3:ObjectCreated:Put"]}]},
     f"s.yaml: {N}.1 — overlaps notification 0 (prefix '', suffix '') {OVERLAP}"),
    ("s3-unknown-event-type", {f"{N}.0.events": ["s3:ObjectCreated:Patch"]},
     f"s.yaml: {N}.0.events.0: 's3:ObjectCreated:Patch' — must be one of {S3_TYPES}"),
    ("s3-no-event-types", {f"{N}.0.events": []},
     f"s.yaml: {N}.0.events: [] — must have at least 1 entry"),
    ("s3-eventbridge-not-a-bus", {"components.b.eventbridge": "q"},
     "s.yaml: components.b.eventbridge: 'q' — must name an event_bus; it is an sqs_queue"),
    ("s3-eventbridge-unknown", {"components.b.eventbridge": "zz"},
     f"s.yaml: components.b.eventbridge: 'zz' — {UNKNOWN}"),
    ("s3-duplicate-rate", {"components.b.duplicate_rate": -0.5},
     "s.yaml: components.b.duplicate_rate: -0.5 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("s3-negative-notification-delay", {"components.b.notification_delay_s": -1},
     "s.yaml: components.b.notification_delay_s: -1 — must be ≥ 0 (a duration in seconds)"),
    ("s3-delivery-retry-range", {"components.b.delivery_retry": {"max_attempts": 186}},
     "s.yaml: components.b.delivery_retry.max_attempts: 186 — must be ≥ 0 and ≤ 185 (AWS range "
     "for max_attempts)"),
    # API Gateway
    ("api-integration-queue", {"components.api.integration": "q"},
     "s.yaml: components.api.integration: 'q' — must name an s3_bucket (PutObject) or a "
     "lambda_function (synchronous invoke); it is an sqs_queue"),
    ("api-integration-bus", {"components.api.integration": "bus"},
     "s.yaml: components.api.integration: 'bus' — must name an s3_bucket (PutObject) or a "
     "lambda_function (synchronous invoke); it is an event_bus"),
    ("api-integration-unknown", {"components.api.integration": "zz"},
     f"s.yaml: components.api.integration: 'zz' — {UNKNOWN}"),
    ("api-timeout-below-50-ms", {"components.api.timeout_s": 0.01},
     "s.yaml: components.api.timeout_s: 0.01 — must be ≥ 0.05 and ≤ 300 (AWS range for "
     "timeout_s)"),
    ("api-timeout-above-300-s", {"components.api.timeout_s": 301},
     "s.yaml: components.api.timeout_s: 301 — must be ≥ 0.05 and ≤ 300 (AWS range for "
     "timeout_s)"),
    ("api-payload-above-10-mb", {"components.api.max_payload_bytes": 10_485_761},
     "s.yaml: components.api.max_payload_bytes: 10485761 — must be ≥ 1 and ≤ 10485760 (AWS range "
     "for max_payload_bytes)"),
    ("api-burst-zero", {"components.api.burst": 0},
     "s.yaml: components.api.burst: 0 — must be ≥ 1"),
    ("api-rate-zero", {"components.api.rate_per_s": 0},
     "s.yaml: components.api.rate_per_s: 0 — must be > 0"),
    ("api-missing-integration", {"components.api": {"type": "api_gateway"}},
     "s.yaml: components.api.integration: missing — required"),
    # CloudTrail
    ("cloudtrail-bus-unknown", {"components.trail.bus": "zz"},
     f"s.yaml: components.trail.bus: 'zz' — {UNKNOWN}"),
    ("cloudtrail-bus-is-a-queue", {"components.trail.bus": "q"},
     "s.yaml: components.trail.bus: 'q' — must name an event_bus; it is an sqs_queue"),
    ("cloudtrail-bus-is-a-topic", {"components.trail.bus": "t"},
     "s.yaml: components.trail.bus: 't' — must name an event_bus; it is an sns_topic"),
    ("cloudtrail-loss-rate", {"components.trail.loss_rate": 1.2},
     "s.yaml: components.trail.loss_rate: 1.2 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("cloudtrail-negative-delay", {"components.trail.delivery_delay_s": -1},
     "s.yaml: components.trail.delivery_delay_s: -1 — must be ≥ 0 (a duration in seconds)"),
    # SNS email quota
    ("sns-email-rate-above-10", {"components.t.email_rate_per_s": 11},
     "s.yaml: components.t.email_rate_per_s: 11 — must be > 0 and ≤ 10 (AWS range for "
     "email_rate_per_s)"),
]  # fmt: skip


@pytest.mark.parametrize(("updates", "line"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_field_is_reported_with_path_value_and_rule(updates, line):
    lines = error_lines(updates)
    assert line in lines, "\n".join(lines)


# A problem inside one entry of a list must not also claim the list is too short.
ONE_PROBLEM = [c for c in BAD if c[0] in (
    "max-attempts-186", "max-age-59", "retry-cap-below-base", "client-error-rate",
    "s3-unknown-event-type",
)]  # fmt: skip


@pytest.mark.parametrize(
    ("updates", "line"), [c[1:] for c in ONE_PROBLEM], ids=[c[0] for c in ONE_PROBLEM]
)
def test_a_bad_field_inside_a_list_entry_is_the_only_problem_reported(updates, line):
    assert error_lines(updates) == [line]


def test_a_too_long_notification_prefix_names_the_length_limit():
    lines = error_lines({f"{N}.0.prefix": "x" * 1025})
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"s.yaml: {N}.0.prefix: 'xxxx")
    assert "1024" in lines[0] and "must be a string" not in lines[0], lines[0]


def test_several_problems_are_reported_together():
    lines = error_lines({
        f"{T}.target": "mail",
        "components.b.eventbridge": "q",
        "components.trail.bus": "zz",
        "components.api.integration": "bus",
    })  # fmt: skip
    assert len(lines) == 4, lines
    assert any("an endpoint target is an API destination" in x for x in lines)
    assert any("components.b.eventbridge: 'q' — must name an event_bus" in x for x in lines)
    assert any("components.trail.bus: 'zz' — no component" in x for x in lines)
    assert any("components.api.integration: 'bus'" in x for x in lines)


def test_a_scenario_file_error_names_the_file(tmp_path: Path):
    path = tmp_path / "pipeline.yaml"
    data = variant(BASE, {f"{T}.retry": {"max_age_s": 59}})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    text = str(exc.value)
    assert "pipeline.yaml: components.bus.rules.0.targets.0.retry.max_age_s: 59 — must be ≥ 60 " \
           "and ≤ 86400 (AWS range for max_age_s)" in text, text  # fmt: skip


def test_an_override_that_breaks_the_wiring_is_rejected():
    s = load({})
    with pytest.raises(
        ScenarioError, match=r"components\.trail\.bus: 'q' — must name an event_bus"
    ):
        s.with_updates({"components.trail.bus": "q"})


def test_a_bus_scenario_loads_in_a_fresh_interpreter(tmp_path: Path):
    path = tmp_path / "bus.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    code = textwrap.dedent(f"""
        from sim.config import load_scenario
        s = load_scenario({str(path)!r})
        print(sorted(s.components))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "'bus'" in done.stdout


# -- valid wirings load ----------------------------------------------------------------------

GOOD = [
    ("producer-to-cloudtrail", {"components.prod.send_to": ["trail"]}),
    ("producer-to-api-and-bucket", {"components.prod.send_to": ["api", "b"]}),
    ("five-targets", {f"{R}.targets": [{"target": x} for x in ("q", "f", "t", "hook", "fq")]}),
    ("target-dlq-standard", {f"{T}.dead_letter": {"target": "dlq"}}),
    ("retry-bounds", {f"{T}.retry": {"max_attempts": 0, "max_age_s": 60}}),
    ("retry-upper-bounds", {f"{T}.retry": {"max_attempts": 185, "max_age_s": 86400}}),
    ("archive-and-replay", {"components.bus.archive": {"retention_s": 3600, "lag_s": 5},
                            "components.bus.replays": [{"at_s": 50, "from_s": 0, "to_s": 50}]}),
    ("s3-same-prefix-other-event-type", {N: [{"target": "q", "prefix": "in/"},
                                             {"target": "f", "prefix": "in/",
                                              "events": ["s3:ObjectRemoved:*"]}]}),
    ("s3-disjoint-prefixes", {N: [{"target": "q", "prefix": "in/"},
                                  {"target": "f", "prefix": "out/"}]}),
    ("s3-disjoint-suffixes", {N: [{"target": "q", "suffix": ".jpg"},
                                  {"target": "f", "suffix": ".png"}]}),
    ("s3-notify-standard-topic", {f"{N}.0.target": "t"}),
    ("s3-notify-function", {f"{N}.0.target": "f"}),
    ("api-lambda-integration", {"components.api.integration": "f"}),
    ("api-bounds", {"components.api.timeout_s": 0.05, "components.api.max_payload_bytes": 1}),
    ("api-timeout-300", {"components.api.timeout_s": 300}),
]  # fmt: skip


@pytest.mark.parametrize("updates", [c[1] for c in GOOD], ids=[c[0] for c in GOOD])
def test_valid_wiring_loads(updates):
    s = load(updates)
    assert s.name == "eb-config"
