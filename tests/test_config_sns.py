"""Scenario validation of SNS topics, subscriptions, endpoints and asynchronous invocation:
every bad wiring is an error that names the field path, the offending value and what is
allowed (DESIGN §4), and the valid wirings load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import variant

from sim.config import ScenarioError, load_scenario, scenario_from_dict

BASE: dict[str, Any] = {
    "name": "sns-config",
    "duration_s": 60,
    "components": {
        "prod": {"type": "producer", "rate_per_s": 1, "send_to": ["t"]},
        "t": {
            "type": "sns_topic",
            "subscriptions": [
                {"target": "q"},
                {"target": "f"},
                {"target": "ep"},
            ],
        },
        "ft": {"type": "sns_topic", "fifo": True, "subscriptions": [{"target": "fq"}]},
        "q": {"type": "sqs_queue"},
        "fq": {"type": "sqs_queue", "fifo": True},
        "dlq": {"type": "sqs_queue"},
        "fdlq": {"type": "sqs_queue", "fifo": True},
        "c": {"type": "lambda_function", "trigger": {"source": "q"}},
        "fc": {"type": "lambda_function", "trigger": {"source": "fq"}},
        "f": {"type": "lambda_function"},
        "ep": {"type": "endpoint", "protocol": "http"},
        "mail": {"type": "endpoint", "protocol": "email"},
    },
}
COMPONENTS = "prod, t, ft, q, fq, dlq, fdlq, c, fc, f, ep, mail"


def load(updates: dict[str, Any]) -> Any:
    return scenario_from_dict(variant(BASE, updates), source="s.yaml")


def error_lines(updates: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        load(updates)
    assert exc.value.file == "s.yaml"
    return str(exc.value).splitlines()


def test_the_base_scenario_is_valid():
    s = load({})
    assert s.components["t"].subscriptions[0].target == "q"


# -- every bad wiring, one line each: (id, updates, expected line) -------------------------------

SUBS = "components.t.subscriptions"
FSUBS = "components.ft.subscriptions"
BAD = [
    ("unknown-subscription-target", {f"{SUBS}.0": {"target": "nope"}},
     f"s.yaml: {SUBS}.0.target: 'nope' — no component of that name (components: {COMPONENTS})"),
    ("subscription-to-a-producer", {f"{SUBS}.0": {"target": "prod"}},
     f"s.yaml: {SUBS}.0.target: 'prod' — must name an sqs_queue, a lambda_function or an "
     "endpoint; it is a producer"),
    ("subscription-to-a-topic", {f"{SUBS}.0": {"target": "ft"}},
     f"s.yaml: {SUBS}.0.target: 'ft' — must name an sqs_queue, a lambda_function or an "
     "endpoint; it is an sns_topic"),
    ("protocol-mismatch-queue", {f"{SUBS}.0": {"target": "q", "protocol": "lambda"}},
     f"s.yaml: {SUBS}.0.protocol: 'lambda' — 'q' is reached with protocol 'sqs'"),
    ("protocol-mismatch-function", {f"{SUBS}.1": {"target": "f", "protocol": "sqs"}},
     f"s.yaml: {SUBS}.1.protocol: 'sqs' — 'f' is reached with protocol 'lambda'"),
    ("protocol-mismatch-endpoint", {f"{SUBS}.2": {"target": "ep", "protocol": "email"}},
     f"s.yaml: {SUBS}.2.protocol: 'email' — 'ep' is reached with protocol 'http'"),
    ("protocol-unknown", {f"{SUBS}.2": {"target": "ep", "protocol": "ftp"}},
     f"s.yaml: {SUBS}.2.protocol: 'ftp' — must be one of 'sqs', 'lambda', 'http', 'https', "
     "'email', 'email-json' or 'sms'"),
    ("fifo-topic-to-lambda", {f"{FSUBS}.0": {"target": "f"}},
     f"s.yaml: {FSUBS}.0.target: 'f' — only SQS queues can subscribe to a FIFO topic (AWS)"),
    ("fifo-topic-to-endpoint", {f"{FSUBS}.0": {"target": "ep"}},
     f"s.yaml: {FSUBS}.0.target: 'ep' — only SQS queues can subscribe to a FIFO topic (AWS)"),
    ("standard-topic-to-fifo-queue", {f"{SUBS}.0": {"target": "fq"}},
     f"s.yaml: {SUBS}.0.target: 'fq' — a standard topic cannot deliver to a FIFO queue (AWS)"),
    ("fifo-topic-standard-dlq", {f"{FSUBS}.0": {"target": "fq", "dead_letter": {"target": "dlq"}}},
     f"s.yaml: {FSUBS}.0.dead_letter.target: 'dlq' — must be a FIFO queue, like the topic (AWS)"),
    ("standard-topic-fifo-dlq", {f"{SUBS}.0": {"target": "q", "dead_letter": {"target": "fdlq"}}},
     f"s.yaml: {SUBS}.0.dead_letter.target: 'fdlq' — must be a standard queue, like the topic "
     "(AWS)"),
    ("dlq-is-an-endpoint", {f"{SUBS}.0": {"target": "q", "dead_letter": {"target": "mail"}}},
     f"s.yaml: {SUBS}.0.dead_letter.target: 'mail' — must name an sqs_queue; it is an endpoint"),
    ("dlq-is-a-function", {f"{SUBS}.0": {"target": "q", "dead_letter": {"target": "f"}}},
     f"s.yaml: {SUBS}.0.dead_letter.target: 'f' — must name an sqs_queue; it is a "
     "lambda_function"),
    ("dlq-unknown", {f"{SUBS}.0": {"target": "q", "dead_letter": {"target": "nope"}}},
     f"s.yaml: {SUBS}.0.dead_letter.target: 'nope' — no component of that name (components: "
     f"{COMPONENTS})"),
    ("retry-on-sqs", {f"{SUBS}.0": {"target": "q", "retry": {"backoff": 1}}},
     f"s.yaml: {SUBS}.0.retry — AWS lets you customise the delivery policy of HTTP/S "
     "subscriptions only; this one is sqs"),
    ("retry-on-lambda", {f"{SUBS}.1": {"target": "f", "retry": {"backoff": 1}}},
     f"s.yaml: {SUBS}.1.retry — AWS lets you customise the delivery policy of HTTP/S "
     "subscriptions only; this one is lambda"),
    ("retry-on-email", {f"{SUBS}.2": {"target": "mail", "retry": {"backoff": 1}}},
     f"s.yaml: {SUBS}.2.retry — AWS lets you customise the delivery policy of HTTP/S "
     "subscriptions only; this one is email"),
    ("retry-max-below-min", {f"{SUBS}.2": {"target": "ep", "retry": {"min_delay_s": 30,
                                                                     "max_delay_s": 10}}},
     f"s.yaml: {SUBS}.2.retry.max_delay_s: 10 — must be ≥ min_delay_s (30)"),
    ("retry-negative-count", {f"{SUBS}.2": {"target": "ep", "retry": {"backoff": -1}}},
     f"s.yaml: {SUBS}.2.retry.backoff: -1 — must be ≥ 0"),
    ("retry-unknown-backoff-function",
     {f"{SUBS}.2": {"target": "ep", "retry": {"backoff_function": "cubic"}}},
     f"s.yaml: {SUBS}.2.retry.backoff_function: 'cubic' — must be one of 'linear', "
     "'arithmetic', 'geometric' or 'exponential'"),
    ("filter-policy-value-not-a-list", {f"{SUBS}.0": {"target": "q", "filter_policy": {"a": "x"}}},
     f"s.yaml: {SUBS}.0.filter_policy — a: value must be an array of alternatives, got str 'x'"),
    ("filter-policy-bad-operand",
     {f"{SUBS}.0": {"target": "q", "filter_policy": {"a": [{"prefix": 1}]}}},
     f"s.yaml: {SUBS}.0.filter_policy — a: prefix takes a string, got 1"),
    ("filter-policy-nested-in-attribute-scope",
     {f"{SUBS}.0": {"target": "q", "filter_policy": {"a": {"b": ["x"]}}}},
     f"s.yaml: {SUBS}.0.filter_policy — a: nested keys are not allowed in attribute scope"),
    ("filter-policy-too-many-keys",
     {f"{SUBS}.0": {"target": "q", "filter_policy": {k: ["x"] for k in "abcdef"}}},
     f"s.yaml: {SUBS}.0.filter_policy — filter policy has 6 keys (max 5)"),
    ("filter-policy-not-a-mapping", {f"{SUBS}.0": {"target": "q", "filter_policy": ["x"]}},
     f"s.yaml: {SUBS}.0.filter_policy: ['x'] — must be a mapping"),
    ("filter-policy-scope", {f"{SUBS}.0": {"target": "q", "filter_policy_scope": "Body"}},
     f"s.yaml: {SUBS}.0.filter_policy_scope: 'Body' — must be one of 'MessageAttributes' or "
     "'MessageBody'"),
    ("client-error-rate", {f"{SUBS}.0": {"target": "q", "client_error_rate": 1.5}},
     f"s.yaml: {SUBS}.0.client_error_rate: 1.5 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("content-dedup-on-standard-topic", {"components.t.content_based_dedup": True},
     "s.yaml: components.t.content_based_dedup: True — only allowed on a FIFO topic (fifo: true)"),
    ("topic-error-rate", {"components.t.errors": {"rate": 2}},
     "s.yaml: components.t.errors.rate: 2 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("on-failure-fifo-queue", {"components.f.async": {"on_failure": "fq"}},
     "s.yaml: components.f.async.on_failure: 'fq' — must not be FIFO: AWS on-failure "
     "destinations are standard queues and topics"),
    ("on-failure-fifo-topic", {"components.f.async": {"on_failure": "ft"}},
     "s.yaml: components.f.async.on_failure: 'ft' — must not be FIFO: AWS on-failure "
     "destinations are standard queues and topics"),
    ("on-failure-endpoint", {"components.f.async": {"on_failure": "ep"}},
     "s.yaml: components.f.async.on_failure: 'ep' — must name a standard sqs_queue, a standard "
     "sns_topic, a lambda_function or an event_bus; it is an endpoint"),
    ("on-failure-unknown", {"components.f.async": {"on_failure": "nope"}},
     f"s.yaml: components.f.async.on_failure: 'nope' — no component of that name (components: "
     f"{COMPONENTS})"),
    ("async-max-retries", {"components.f.async": {"max_retries": 3}},
     "s.yaml: components.f.async.max_retries: 3 — must be ≥ 0 and ≤ 2 (AWS range for "
     "max_retries)"),
    ("async-max-event-age-low", {"components.f.async": {"max_event_age_s": 59}},
     "s.yaml: components.f.async.max_event_age_s: 59 — must be ≥ 60 and ≤ 21600 (AWS range for "
     "max_event_age_s)"),
    ("async-max-event-age-high", {"components.f.async": {"max_event_age_s": 21601}},
     "s.yaml: components.f.async.max_event_age_s: 21601 — must be ≥ 60 and ≤ 21600 (AWS range "
     "for max_event_age_s)"),
    ("async-duplicate-rate", {"components.f.async": {"duplicate_rate": -0.1}},
     "s.yaml: components.f.async.duplicate_rate: -0.1 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("send-to-a-producer", {"components.prod.send_to": ["prod"]},
     "s.yaml: components.prod.send_to.0: 'prod' — must name an sqs_queue, an sns_topic, a "
     "lambda_function (asynchronous invoke), an event_bus, an s3_bucket, an api_gateway or a "
     "cloudtrail; 'prod' is a producer"),
    ("send-to-an-endpoint", {"components.prod.send_to": ["t", "ep"]},
     "s.yaml: components.prod.send_to.1: 'ep' — must name an sqs_queue, an sns_topic, a "
     "lambda_function (asynchronous invoke), an event_bus, an s3_bucket, an api_gateway or a "
     "cloudtrail; 'ep' is an endpoint"),
    ("endpoint-protocol", {"components.ep.protocol": "sqs"},
     "s.yaml: components.ep.protocol: 'sqs' — must be one of 'email', 'email-json', 'http', "
     "'https' or 'sms'"),
    ("endpoint-error-rate", {"components.ep.errors": {"rate": 1.01}},
     "s.yaml: components.ep.errors.rate: 1.01 — must be ≥ 0 and ≤ 1 (a probability)"),
    ("endpoint-negative-latency", {"components.ep.latency_s": -1},
     "s.yaml: components.ep.latency_s: -1 — must be ≥ 0 (a duration in seconds)"),
]  # fmt: skip


@pytest.mark.parametrize(("updates", "line"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_wiring_is_reported_with_path_value_and_rule(updates, line):
    lines = error_lines(updates)
    assert line in lines, "\n".join(lines)


def test_several_problems_are_reported_together():
    lines = error_lines({
        f"{SUBS}.0": {"target": "fq", "retry": {"backoff": 1}},
        f"{FSUBS}.0": {"target": "f"},
        "components.f.async": {"on_failure": "fq"},
    })  # fmt: skip
    assert len(lines) == 4, lines
    assert any("a standard topic cannot deliver to a FIFO queue" in x for x in lines)
    assert any("delivery policy of HTTP/S subscriptions only" in x for x in lines)
    assert any("only SQS queues can subscribe to a FIFO topic" in x for x in lines)
    assert any("must not be FIFO" in x for x in lines)


def test_a_scenario_file_error_names_the_file(tmp_path: Path):
    path = tmp_path / "fanout.yaml"
    data = variant(BASE, {f"{SUBS}.0": {"target": "nope"}})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(
        ScenarioError,
        match=r"fanout\.yaml: components\.t\.subscriptions\.0\."
        r"target: 'nope' — no component of that name",
    ):
        load_scenario(path)


def test_an_override_that_breaks_the_wiring_is_rejected():
    s = load({})
    with pytest.raises(ScenarioError, match=r"components\.t\.subscriptions\.0\.protocol: 'email'"):
        s.with_updates({"components.t.subscriptions.0.protocol": "email"})


# -- valid wirings load ----------------------------------------------------------------------

GOOD = [
    ("explicit-protocols", {f"{SUBS}.0": {"target": "q", "protocol": "sqs"},
                            f"{SUBS}.1": {"target": "f", "protocol": "lambda"},
                            f"{SUBS}.2": {"target": "ep", "protocol": "http"}}),
    ("retry-on-http", {f"{SUBS}.2": {"target": "ep", "retry": {"immediate": 1, "backoff": 5,
                                                               "min_delay_s": 1,
                                                               "max_delay_s": 60}}}),
    ("retry-on-https", {"components.ep.protocol": "https",
                        f"{SUBS}.2": {"target": "ep", "retry": {"backoff": 2}}}),
    ("email-endpoint", {f"{SUBS}.2": {"target": "mail"}}),
    ("fifo-topic-to-standard-queue", {f"{FSUBS}.0": {"target": "q"}}),
    ("fifo-topic-fifo-dlq", {f"{FSUBS}.0": {"target": "fq", "dead_letter": {"target": "fdlq"}}}),
    ("standard-topic-standard-dlq",
     {f"{SUBS}.0": {"target": "q", "dead_letter": {"target": "dlq"}}}),
    ("content-dedup-on-fifo-topic", {"components.ft.content_based_dedup": True}),
    ("on-failure-queue", {"components.f.async": {"on_failure": "dlq"}}),
    ("on-failure-topic", {"components.f.async": {"on_failure": "t"}}),
    ("on-failure-function", {"components.f.async": {"on_failure": "c"}}),
    ("send-to-topic-function-queue", {"components.prod.send_to": ["t", "f", "q"]}),
    ("send-to-fifo-topic", {"components.prod.send_to": ["ft"]}),
    ("body-scope", {f"{SUBS}.0": {"target": "q", "filter_policy_scope": "MessageBody",
                                  "filter_policy": {"a": [{"numeric": [">", 1]}]}}}),
    ("outage-on-topic-and-endpoint", {"outages": [
        {"component": "t", "start_s": 0, "duration_s": 1},
        {"component": "ep", "start_s": 0, "duration_s": 1, "mode": "slow"}]}),
    ("topic-without-subscriptions", {"components.t.subscriptions": []}),
]  # fmt: skip


@pytest.mark.parametrize("updates", [c[1] for c in GOOD], ids=[c[0] for c in GOOD])
def test_valid_wirings_load(updates):
    load(updates)


def test_defaults():
    s = load({})
    t = s.components["t"]
    assert (t.fifo, t.errors.rate, t.subscriptions[0].protocol) == (False, 0.0, None)
    sub = t.subscriptions[0]
    assert sub.filter_policy_scope == "MessageAttributes"
    assert (sub.retry, sub.dead_letter, sub.client_error_rate) == (None, None, 0.0)
    f = s.components["f"].async_
    assert (f.max_retries, f.max_event_age_s, f.on_failure, f.duplicate_rate) == (
        2, 21_600.0, None, 0.0)  # fmt: skip
    assert s.components["ep"].errors.rate == 0.0


# -- bugs -----------------------------------------------------------------------------------


def test_a_nested_filter_policy_is_valid_in_message_body_scope():
    load({f"{SUBS}.0": {"target": "q", "filter_policy_scope": "MessageBody",
                        "filter_policy": {"order": {"kind": ["x"]}}}})  # fmt: skip


def test_content_dedup_ids_to_a_fifo_topic_need_content_based_dedup():
    lines = error_lines({"components.prod.send_to": ["ft"], "components.prod.dedup_ids": "content"})
    assert any("content_based_dedup" in x for x in lines)


@pytest.mark.parametrize(
    "retry",
    [
        # 100 retries 60 s apart: 6,000 s > the 3,600 s hard limit on the whole policy
        {"backoff": 0, "post_backoff": 100, "min_delay_s": 60, "max_delay_s": 60},
        {"backoff": 3, "min_delay_s": 0, "max_delay_s": 20},  # min delay ≥ 1 s
        {"backoff": 1, "min_delay_s": 20, "max_delay_s": 3600},  # max delay < 3,600 s
    ],
    ids=["total-over-3600-s", "min-delay-below-1-s", "max-delay-3600-s"],
)
def test_custom_http_policies_outside_aws_limits_are_rejected(retry):
    error_lines({f"{SUBS}.2": {"target": "ep", "retry": retry}})
