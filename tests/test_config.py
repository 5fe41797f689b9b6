"""Tests for sim.config: the scenario schema, loading, overrides and error messages."""

from __future__ import annotations

import copy
import pickle
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DELETE, put, variant

from sim.config import (
    ChoiceAttr,
    ConstantDist,
    EmpiricalDist,
    EvsimWarning,
    ExponentialDist,
    GammaDist,
    LambdaFunctionSpec,
    LognormalDist,
    ProducerSpec,
    RetryQuotaSpec,
    Scenario,
    ScenarioError,
    SqsQueueSpec,
    UniformDist,
    apply_overrides,
    load_scenario,
    scenario_from_dict,
    scenario_warnings,
)

SCENARIOS = Path(__file__).parent / "data" / "scenarios"

BASE: dict[str, Any] = {
    "duration_s": 3600,
    "components": {
        "orders": {"type": "producer", "rate_per_s": 50, "send_to": ["jobs"]},
        "jobs": {
            "type": "sqs_queue",
            "dead_letter": {"target": "jobs-dlq", "max_receive_count": 5},
        },
        "jobs-dlq": {"type": "sqs_queue"},
        "worker": {
            "type": "lambda_function",
            "trigger": {"source": "jobs", "batch_size": 1, "max_concurrency": 4},
            "duration_s": {"exponential": {"mean": 0.2}},
        },
    },
    "outages": [{"component": "worker", "start_s": 600, "duration_s": 120}],
}
FIFO = {
    "components.jobs.fifo": True,
    "components.jobs-dlq.fifo": True,
    "components.jobs.content_based_dedup": True,
}


def write(tmp_path: Path, updates: dict[str, Any], name: str = "s.yaml") -> Path:
    data = variant(BASE, updates)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problem_line(exc: pytest.ExceptionInfo[ScenarioError], prefix: str) -> str:
    """The one line of the message that starts with ``prefix`` (fails if none)."""
    lines = [line for line in str(exc.value).splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r} in:\n{exc.value}"
    return lines[0]


# --------------------------------------------------------------------------- bad input

BAD_CASES = [
    # (id, updates, dotted path, offending value as shown, what is allowed)
    ("unknown-type", {"components.jobs.type": "sqs"}, "components.jobs.type", "'sqs'",
     "unknown component type; allowed: api_gateway, cloudtrail, database, dynamodb_table, "
     "endpoint, event_bus, http_api, lambda_function, producer, s3_bucket, sns_topic, sqs_queue"),
    ("missing-type", {"components.jobs-dlq.type": DELETE}, "components.jobs-dlq.type",
     "missing", "required; allowed: api_gateway, cloudtrail, database, dynamodb_table, "
     "endpoint, event_bus, http_api, lambda_function, producer, s3_bucket, sns_topic, sqs_queue"),
    ("missing-send-to-target", {"components.orders.send_to": ["jobs", "nope"]},
     "components.orders.send_to.1", "'nope'", "no component of that name (components: orders"),
    ("send-to-non-target", {"components.orders.send_to": ["orders"]},
     "components.orders.send_to.0", "'orders'", "must name an sqs_queue, an sns_topic, a "
     "lambda_function (asynchronous invoke), an event_bus, an s3_bucket, an api_gateway or a "
     "cloudtrail; 'orders' is a producer"),
    ("missing-dlq-target", {"components.jobs.dead_letter.target": "nope"},
     "components.jobs.dead_letter.target", "'nope'", "no component of that name"),
    ("dlq-is-itself", {"components.jobs.dead_letter.target": "jobs"},
     "components.jobs.dead_letter.target", "'jobs'", "cannot be its own dead-letter queue"),
    ("missing-trigger-source", {"components.worker.trigger.source": "nope"},
     "components.worker.trigger.source", "'nope'", "no component of that name"),
    ("missing-outage-component", {"outages.0.component": "nope"}, "outages.0.component",
     "'nope'", "no component of that name"),
    ("missing-on-failure", {"components.worker.async": {"on_failure": "nope"}},
     "components.worker.async.on_failure", "'nope'", "no component of that name"),
    ("retry-quota-text", {"components.orders.retry": {"quota": "on"}},
     "components.orders.retry.quota", "'on'",
     "must be true, false, a number (the capacity) or a mapping"),
    ("retry-quota-zero", {"components.orders.retry": {"quota": 0}},
     "components.orders.retry.quota", "0",
     "must be a whole number ≥ 1 (the bucket's capacity in tokens; false turns the quota off)"),
    ("retry-quota-fraction", {"components.orders.retry": {"quota": 2.5}},
     "components.orders.retry.quota", "2.5", "must be a whole number ≥ 1"),
    ("retry-quota-capacity-zero", {"components.orders.retry": {"quota": {"capacity": 0}}},
     "components.orders.retry.quota.capacity", "0", "must be ≥ 1"),
    ("retry-quota-negative-refund",
     {"components.orders.retry": {"quota": {"success_refund": -1}}},
     "components.orders.retry.quota.success_refund", "-1", "must be ≥ 0"),
    ("max-message-age-zero", {"components.worker.max_message_age_s": 0},
     "components.worker.max_message_age_s", "0", "must be > 0"),
    ("retry-quota-unknown-field", {"components.orders.retry": {"quota": {"size": 5}}},
     "components.orders.retry.quota.size", "5",
     "unknown field; allowed fields: capacity, retry_cost, timeout_retry_cost, success_refund"),
    ("retry-jitter", {"components.orders.retry": {"jitter": "random"}},
     "components.orders.retry.jitter", "'random'",
     "must be one of 'full', 'equal', 'decorrelated' or 'none'"),
    ("zero-rate", {"components.orders.rate_per_s": 0}, "components.orders.rate_per_s", "0",
     "must be > 0 (messages per second)"),
    ("negative-rate", {"components.orders.rate_per_s": -2.5}, "components.orders.rate_per_s",
     "-2.5", "must be > 0 (messages per second)"),
    ("no-rate-no-arrivals", {"components.orders.rate_per_s": DELETE},
     "components.orders.rate_per_s", "missing", "give rate_per_s or arrivals"),
    ("unknown-family", {"components.worker.duration_s": {"weibull": {"shape": 2}}},
     "components.worker.duration_s", "{'weibull': {'shape': 2}}",
     "unknown distribution family 'weibull'; allowed: constant (a number), exponential {mean}, "
     "lognormal {median, sigma}, uniform {low, high}, gamma {mean, cv}, empirical {file}"),
    ("negative-constant-duration", {"components.worker.duration_s": -0.5},
     "components.worker.duration_s", "-0.5", "must be ≥ 0 (a duration in seconds)"),
    ("nonpositive-mean", {"components.worker.duration_s": {"exponential": {"mean": 0}}},
     "components.worker.duration_s.mean", "0", "must be > 0"),
    ("uniform-high-below-low", {"components.worker.duration_s": {"uniform": {"low": 2, "high": 1}}},
     "components.worker.duration_s.high", "1", "must be ≥ low (2)"),
    ("fifo-queue-standard-dlq", {"components.jobs.fifo": True},
     "components.jobs.dead_letter.target", "'jobs-dlq'", "must be a FIFO queue like 'jobs'; "
     "AWS requires the DLQ to be the same type as the source queue"),
    ("standard-queue-fifo-dlq", {"components.jobs-dlq.fifo": True},
     "components.jobs.dead_letter.target", "'jobs-dlq'", "must be a standard queue like 'jobs'; "
     "AWS requires the DLQ to be the same type as the source queue"),
    ("timeout-above-visibility", {"components.worker.timeout_s": 60},
     "components.worker.timeout_s", "60", "must be ≤ the source queue's visibility_timeout_s "
     "(30); AWS rejects a function timeout above the queue's visibility timeout"),
    ("fifo-batch-size-above-10",
     {**FIFO, "components.worker.trigger.batch_size": 20},
     "components.worker.trigger.batch_size", "20", "a FIFO source allows batch_size 1–10"),
    ("fifo-batching-window", {**FIFO, "components.worker.trigger.batching_window_s": 2},
     "components.worker.trigger.batching_window_s", "2", "not supported for FIFO sources"),
    ("batch-size-above-10-without-window", {"components.worker.trigger.batch_size": 100},
     "components.worker.trigger.batch_size", "100",
     "above 10 requires batching_window_s ≥ 1 (it is 0); AWS rule"),
    ("visibility-above-43200", {"components.jobs.visibility_timeout_s": 43201},
     "components.jobs.visibility_timeout_s", "43201",
     "must be ≥ 0 and ≤ 43200 (AWS range for visibility_timeout_s)"),
    ("retention-below-60", {"components.jobs.retention_s": 59}, "components.jobs.retention_s",
     "59", "must be ≥ 60 and ≤ 1209600 (AWS range for retention_s)"),
    ("max-receive-count-0", {"components.jobs.dead_letter.max_receive_count": 0},
     "components.jobs.dead_letter.max_receive_count", "0",
     "must be ≥ 1 and ≤ 1000 (AWS range for max_receive_count)"),
    ("max-receive-count-1001", {"components.jobs.dead_letter.max_receive_count": 1001},
     "components.jobs.dead_letter.max_receive_count", "1001",
     "must be ≥ 1 and ≤ 1000 (AWS range for max_receive_count)"),
    ("max-concurrency-0", {"components.worker.trigger.max_concurrency": 0},
     "components.worker.trigger.max_concurrency", "0", "must be ≥ 1 and ≤ 1000"),
    ("unknown-field", {"components.worker.timout_s": 5}, "components.worker.timout_s", "5",
     "unknown field (did you mean 'timeout_s'?); allowed fields: type, trigger, duration_s"),
    ("unknown-top-level-field", {"replication": 5}, "replication", "5",
     "unknown field (did you mean 'replications'?)"),
    ("unknown-price", {"prices": {"sqs_per_million": 0.4}}, "prices.sqs_per_million",
     "'sqs_per_million'", "unknown price name; allowed: sqs_standard_per_million"),
    ("negative-price", {"prices": {"lambda_gb_s": -1}}, "prices.lambda_gb_s", "-1", "must be ≥ 0"),
    ("missing-duration", {"duration_s": DELETE}, "duration_s", "missing", "required"),
    ("duration-not-a-number", {"duration_s": "an hour"}, "duration_s", "'an hour'",
     "must be a number > 0"),
    ("content-dedup-without-content-based-dedup",
     {**FIFO, "components.jobs.content_based_dedup": False,
      "components.orders.dedup_ids": "content"},
     "components.orders.dedup_ids", "'content'", "FIFO queue 'jobs' has no content_based_dedup; "
     "AWS rejects a FIFO send with neither a deduplication id nor content-based deduplication"),
    ("content-based-dedup-on-standard", {"components.jobs.content_based_dedup": True},
     "components.jobs.content_based_dedup", "True", "only allowed on a FIFO queue"),
    ("duplicates-on-fifo", {**FIFO, "components.jobs.duplicate_rate": 0.01},
     "components.jobs.duplicate_rate", "0.01", "FIFO queues deliver exactly once, in order"),
    ("empirical-file-missing",
     {"components.worker.duration_s": {"empirical": {"file": "nope.csv"}}},
     "components.worker.duration_s.file", "'nope.csv'", "file not found: "),
    ("second-consumer", {"components.other": {"type": "lambda_function",
                                              "trigger": {"source": "jobs"}}},
     "components.other.trigger.source", "'jobs'",
     "evsim models one consumer function per queue; worker already consumes jobs"),
    ("redrive-on-non-dlq", {"components.jobs.redrives": [{"at_s": 10}]},
     "components.jobs.redrives", None, "only allowed on a dead-letter queue"),
    ("warmup-not-below-duration", {"warmup_s": 3600}, "warmup_s", "3600",
     "must be < duration_s (3600)"),
    ("rate-with-profile",
     {"components.orders.arrivals": {"profile": [{"start_s": 0, "rate_per_s": 1}]}},
     "components.orders.arrivals.profile", None, "not allowed with rate_per_s"),
    ("choice-weights-length",
     {"components.orders.attributes": {"colour": {"choice": {"values": ["r", "g"],
                                                              "weights": [1]}}}},
     "components.orders.attributes.colour.choice.weights", "(1.0,)",
     "must have one weight per value (2)"),
    ("bad-literal", {"outages.0.mode": "down"}, "outages.0.mode", "'down'",
     "must be one of 'unavailable', 'slow' or 'throttled'"),
    # booleans are not numbers, numbers are not booleans (no silent coercion)
    ("bool-for-number", {"components.orders.rate_per_s": True}, "components.orders.rate_per_s",
     "True", "must be a number, not true"),
    ("bool-for-whole-number", {"components.jobs.dead_letter.max_receive_count": False},
     "components.jobs.dead_letter.max_receive_count", "False", "must be a whole number, not false"),
    ("bool-for-seed", {"seed": True}, "seed", "True", "must be a whole number, not true"),
    ("bool-for-optional-number", {"components.worker.reserved_concurrency": True},
     "components.worker.reserved_concurrency", "True", "must be a whole number, not true"),
    ("bool-in-a-list-of-numbers",
     {"components.orders.attributes": {"c": {"choice": {"values": ["r", "g"],
                                                         "weights": [1, True]}}}},
     "components.orders.attributes.c.choice.weights.1", "True", "must be a number, not true"),
    ("bool-for-a-price", {"prices": {"lambda_gb_s": True}}, "prices.lambda_gb_s", "True",
     "must be a number, not true"),
    ("number-for-bool", {"components.jobs.fifo": 1}, "components.jobs.fifo", "1",
     "must be true or false"),
    ("string-for-bool", {"components.worker.trigger.report_batch_item_failures": "yes"},
     "components.worker.trigger.report_batch_item_failures", "'yes'", "must be true or false"),
    # component names that would corrupt output files
    ("name-star", {"components.*": {"type": "sqs_queue"}}, "components", "'*'",
     "must not contain '*' (the whole-run marker of the sink column)"),
    ("name-comma", {"components.a,b": {"type": "sqs_queue"}}, "components", "'a,b'",
     "must not contain a comma"),
    ("name-slash", {"components.a/b": {"type": "sqs_queue"}}, "components", "'a/b'",
     "must not contain a slash"),
    ("name-newline", {"components.a\nb": {"type": "sqs_queue"}}, "components", "'a\\nb'",
     "must not contain line breaks, tabs or other control characters"),
    ("name-spaces-around", {"components. a": {"type": "sqs_queue"}}, "components", "' a'",
     "must not start or end with spaces"),
    ("name-dot-dot", {"components": {**BASE["components"], "..": {"type": "sqs_queue"}}},
     "components", "'..'", "must not be '.' or '..'"),
    ("name-empty", {"components": {**BASE["components"], "": {"type": "sqs_queue"}}},
     "components", "''", "component names must not be empty"),
    # AWS keeps 100 of the account's concurrency unreserved
    ("reserved-leaves-under-100", {"components.worker.reserved_concurrency": 901},
     "components.worker.reserved_concurrency", "901",
     "would leave 99 of account_concurrency (1000) unreserved; AWS requires at least 100 "
     "unreserved executions, so this function can reserve at most 900"),
    ("reservations-together-leave-under-100",
     {"account_concurrency": 300,
      "components.worker.reserved_concurrency": 150,
      "components.other": {"type": "lambda_function", "reserved_concurrency": 60}},
     "components.other.reserved_concurrency", "60",
     "would leave 90 of account_concurrency (300) unreserved (with 150 reserved by functions "
     "before it); AWS requires at least 100 unreserved executions, so this function can "
     "reserve at most 50"),
    ("small-account-cannot-reserve",
     {"account_concurrency": 50, "components.worker.reserved_concurrency": 1},
     "components.worker.reserved_concurrency", "1",
     "would leave 49 of account_concurrency (50) unreserved; AWS requires at least 100 "
     "unreserved executions, so this function can reserve at most 0"),
    ("observe-interval-not-positive", {"observe": {"interval_s": 0}}, "observe.interval_s",
     "0", "must be > 0"),
    ("observe-unknown-field", {"observe": {"interval": 5}}, "observe.interval", "5",
     "unknown field"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("updates", "path", "shown", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CASES],
)
def test_bad_scenario_gives_one_clear_message(
    tmp_path: Path, updates: dict[str, Any], path: str, shown: str | None, allowed: str
) -> None:
    file = write(tmp_path, updates)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(file)
    head = f"{file}: {path}: {shown} — " if shown is not None else f"{file}: {path} — "
    line = problem_line(exc, head)
    assert allowed in line
    assert exc.value.file == str(file)
    assert any(p == path for p, _, _ in exc.value.problems)
    assert "pydantic" not in str(exc.value) and "Traceback" not in str(exc.value)


def test_every_problem_is_reported_once_per_line(tmp_path: Path) -> None:
    file = write(tmp_path, {"components.jobs.retention_s": 1, "seed": -1, "drain_s": "x"})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(file)
    assert len(str(exc.value).splitlines()) == 3
    assert {p for p, _, _ in exc.value.problems} == {
        "components.jobs.retention_s", "seed", "drain_s"
    }


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("duration_s: 10\ncomponents:\n  jobs: {type: sqs_queue\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: line \d+, column \d+ — invalid YAML"):
        load_scenario(file)


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    file = tmp_path / "dup.yaml"
    file.write_text("duration_s: 10\nduration_s: 20\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"dup\.yaml: line 2.*duplicate key 'duration_s'"):
        load_scenario(file)


def test_missing_file(tmp_path: Path) -> None:
    file = tmp_path / "absent.yaml"
    with pytest.raises(ScenarioError, match=r"absent\.yaml — file not found: "):
        load_scenario(file)


@pytest.mark.parametrize("text", ["[1, 2]", "", "just text"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    file = tmp_path / "list.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"list\.yaml — a scenario must be a mapping"):
        load_scenario(file)


def test_malformed_set_names_the_override(tmp_path: Path) -> None:
    file = write(tmp_path, {})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(file, ["components.worker.errors.rate"])
    line = problem_line(exc, f"{file}: --set: 'components.worker.errors.rate' — ")
    assert "malformed override; expected PATH=VALUE" in line


def test_set_through_a_scalar_is_an_error(tmp_path: Path) -> None:
    file = write(tmp_path, {})
    with pytest.raises(ScenarioError, match=r"--set duration_s\.x: 1 — duration_s is 3600, not a"):
        load_scenario(file, ["duration_s.x=1"])


def test_set_value_is_validated(tmp_path: Path) -> None:
    file = write(tmp_path, {})
    with pytest.raises(ScenarioError, match=r"components\.worker\.errors\.rate: 2 — must be ≥ 0"):
        load_scenario(file, ["components.worker.errors.rate=2"])


def test_scenario_error_pickles() -> None:
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict({"components": {"q": {"type": "sqs_queue"}}}, "x.yaml")
    again = pickle.loads(pickle.dumps(exc.value))
    assert str(again) == str(exc.value) == "x.yaml: duration_s: missing — required"


# --------------------------------------------------------------------------- valid input


def test_minimal_scenario_gets_aws_defaults() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = load_scenario(SCENARIOS / "minimal.yaml")
    assert s.name == "minimal"  # the file's stem
    assert (s.seed, s.drain_s, s.warmup_s, s.replications) == (0, 600, 0, 10)
    q = s.components["jobs"]
    assert isinstance(q, SqsQueueSpec)
    assert (q.fifo, q.visibility_timeout_s, q.retention_s, q.delay_s) == (False, 30, 345_600, 0)
    assert q.calls_per_s_limit is None and q.latency_s == ConstantDist(value=0)
    f = s.components["worker"]
    assert isinstance(f, LambdaFunctionSpec) and f.trigger is not None
    assert (f.trigger.batch_size, f.trigger.batching_window_s, f.trigger.max_concurrency) == (
        10, 0, None)  # fmt: skip
    t = f.trigger
    assert (t.initial_concurrency, t.scale_up_per_min, t.max_batches, t.min_concurrency) == (
        5, 300, 1000, 2)  # fmt: skip
    assert (t.backoff_batches, t.backoff_cap_s, t.scale_down_after_s) == (1, 60, 60)
    assert (f.timeout_s, f.memory_mb, f.reserved_concurrency) == (3, 128, None)
    assert (f.async_.max_retries, f.async_.max_event_age_s) == (2, 21_600)
    assert f.cold_start.duration_s == ConstantDist(value=0.25)
    p = s.components["orders"]
    assert isinstance(p, ProducerSpec)
    assert (p.retry.max_attempts, p.retry.base_s, p.retry.cap_s) == (3, 1, 20)
    assert (p.retry.jitter, p.retry.quota) == ("full", RetryQuotaSpec(capacity=500))
    assert (p.groups, p.dedup_ids, p.size_bytes) == (1, "unique", 1024)


def test_design_example_and_fifo_example_load() -> None:
    s = load_scenario(SCENARIOS / "dlq-policy.yaml")
    assert s.name == "dlq-policy" and s.outages[0].mode == "unavailable"
    assert s.components["worker"] == s.of_type(LambdaFunctionSpec)["worker"]
    assert list(s.of_type(SqsQueueSpec)) == ["jobs", "jobs-dlq"]
    fifo = load_scenario(SCENARIOS / "fifo.yaml")
    queue = fifo.of_type(SqsQueueSpec)["orders-fifo"]
    assert queue.fifo and queue.calls_per_s_limit == 300


def test_set_overrides_with_yaml_values(tmp_path: Path) -> None:
    file = write(tmp_path, {})
    s = load_scenario(file, [
        "components.worker.errors.rate=0.1",
        "components.jobs.fifo=false",
        "components.orders.send_to=[jobs, jobs-dlq]",
        "outages.0.duration_s=30",
    ])  # fmt: skip
    worker = s.of_type(LambdaFunctionSpec)["worker"]
    assert worker.errors.rate == 0.1
    assert s.of_type(ProducerSpec)["orders"].send_to == ("jobs", "jobs-dlq")
    assert s.outages[0].duration_s == 30


def test_override_creates_missing_nested_mappings() -> None:
    data = {"components": {"worker": {"type": "lambda_function"}}}
    out = apply_overrides(data, ["components.worker.cold_start.duration_s.exponential.mean=0.5"])
    cold_start = out["components"]["worker"]["cold_start"]
    assert cold_start == {"duration_s": {"exponential": {"mean": 0.5}}}
    assert data == {"components": {"worker": {"type": "lambda_function"}}}  # not mutated


def test_override_reaches_component_names_with_dots() -> None:
    data = {"components": {"jobs.fifo": {"type": "sqs_queue"}}}
    out = apply_overrides(data, ["components.jobs.fifo.fifo=true"])
    assert out["components"]["jobs.fifo"] == {"type": "sqs_queue", "fifo": True}


def test_with_updates_returns_new_scenario_and_keeps_original() -> None:
    s = scenario_from_dict(BASE)
    t = s.with_updates({"components.worker.errors.rate": 0.2, "seed": 3})
    assert t is not s and t.seed == 3 and s.seed == 0
    assert t.of_type(LambdaFunctionSpec)["worker"].errors.rate == 0.2
    assert s.of_type(LambdaFunctionSpec)["worker"].errors.rate == 0
    assert s == scenario_from_dict(BASE)
    with pytest.raises(ScenarioError, match=r"components\.worker\.errors\.rate: 2 — must be"):
        s.with_updates({"components.worker.errors.rate": 2})


def test_scenario_is_frozen() -> None:
    s = scenario_from_dict(BASE)
    with pytest.raises(ValueError, match="frozen"):
        s.seed = 4  # type: ignore[misc]


@pytest.mark.filterwarnings("ignore::sim.config.problems.EvsimWarning")  # max_concurrency > 0
@pytest.mark.parametrize(
    ("account", "reservations"),
    [(1000, {"worker": 900}), (1000, {"worker": 400, "other": 500}), (300, {"worker": 200}),
     (50, {"worker": 0}), (100, {"worker": 0, "other": 0})],
)
def test_reservations_leaving_100_unreserved_are_accepted(
    tmp_path: Path, account: int, reservations: dict[str, int]
) -> None:
    # the floor is reached exactly; a reservation of 0 takes nothing from the pool
    updates: dict[str, Any] = {"account_concurrency": account}
    for name, rc in reservations.items():
        if name == "worker":
            updates["components.worker.reserved_concurrency"] = rc
        else:
            updates[f"components.{name}"] = {"type": "lambda_function", "reserved_concurrency": rc}
    s = load_scenario(write(tmp_path, updates))
    assert s.account_concurrency == account


def test_max_concurrency_1_is_accepted_with_warning(tmp_path: Path) -> None:
    file = write(tmp_path, {"components.worker.trigger.max_concurrency": 1})
    with pytest.warns(EvsimWarning, match=r"s\.yaml: components\.worker\.trigger\.max_concurrency"
                                          r": 1 — below AWS's minimum of 2"):  # fmt: skip
        s = load_scenario(file)
    assert len(scenario_warnings(s)) == 1


def test_async_alias_and_field_name_both_work() -> None:
    by_alias = copy.deepcopy(BASE)
    put(by_alias, "components.worker.async", {"max_retries": 0, "on_failure": "jobs-dlq"})
    by_name = copy.deepcopy(BASE)
    put(by_name, "components.worker.async_", {"max_retries": 0, "on_failure": "jobs-dlq"})
    a, b = scenario_from_dict(by_alias), scenario_from_dict(by_name)
    assert a == b
    assert a.of_type(LambdaFunctionSpec)["worker"].async_.on_failure == "jobs-dlq"
    assert "async" in a.model_dump(by_alias=True)["components"]["worker"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (2, ConstantDist(value=2)),
        ({"constant": 1.5}, ConstantDist(value=1.5)),
        ({"exponential": {"mean": 0.2}}, ExponentialDist(mean=0.2)),
        ({"lognormal": {"median": 0.1, "sigma": 0.5}}, LognormalDist(median=0.1, sigma=0.5)),
        ({"uniform": {"low": 1, "high": 3}}, UniformDist(low=1, high=3)),
        ({"gamma": {"mean": 2, "cv": 0.5}}, GammaDist(mean=2, cv=0.5)),
        ({"family": "gamma", "mean": 2, "cv": 0.5}, GammaDist(mean=2, cv=0.5)),
    ],
)
def test_distribution_families(given: Any, expected: Any) -> None:
    s = scenario_from_dict(BASE).with_updates({"components.worker.duration_s": given})
    assert s.of_type(LambdaFunctionSpec)["worker"].duration_s == expected


@pytest.mark.parametrize(
    "text", ["0.1\n0.2\n\n0.4\n", "seconds,host\n0.1,a\n0.2,b\n0.4,c\n", "# comment\n0.1\n0.2\n0.4"]
)
def test_empirical_distribution_reads_file_relative_to_scenario(tmp_path: Path, text: str) -> None:
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "d.csv").write_text(text, encoding="utf-8")
    empirical = {"empirical": {"file": "samples/d.csv"}}
    file = write(tmp_path, {"components.worker.duration_s": empirical})
    dist = load_scenario(file).of_type(LambdaFunctionSpec)["worker"].duration_s
    assert dist == EmpiricalDist(file="samples/d.csv", values=(0.1, 0.2, 0.4))


def test_empirical_file_with_negative_value_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("0.1\n-3\n", encoding="utf-8")
    file = write(tmp_path, {"components.worker.duration_s": {"empirical": {"file": "d.txt"}}})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(file)
    line = problem_line(exc, f"{file}: components.worker.duration_s.file: 'd.txt' — ")
    assert "d.txt line 2: '-3' is not a number ≥ 0" in line


def test_trace_arrivals_and_attributes(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("id,t_s\na,5\nb,1.5\nc,3\n", encoding="utf-8")
    file = write(tmp_path, {
        "components.orders.rate_per_s": DELETE,
        "components.orders.arrivals": {"trace": {"file": "t.csv"},
                                       "bursts": [{"at_s": 10, "count": 100}]},
        "components.orders.attributes": {
            "region": "eu", "colour": {"choice": {"values": ["r", "g"], "weights": [3, 1]}},
            "amount": {"gamma": {"mean": 20, "cv": 1}},
        },
    })  # fmt: skip
    p = load_scenario(file).of_type(ProducerSpec)["orders"]
    assert p.arrivals is not None and p.arrivals.trace is not None
    assert p.arrivals.trace.times == (1.5, 3.0, 5.0)
    assert p.attributes["region"] == "eu"
    assert isinstance(p.attributes["colour"], ChoiceAttr)
    assert p.attributes["colour"].choice.weights == (3, 1)
    assert p.attributes["amount"] == GammaDist(mean=20, cv=1)


def test_model_dump_revalidates_to_equal_scenario(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("0.5\n1.5\n", encoding="utf-8")
    (tmp_path / "t.csv").write_text("2\n1\n", encoding="utf-8")
    file = write(tmp_path, {
        "components.worker.duration_s": {"empirical": {"file": "d.csv"}},
        "components.worker.async": {"max_retries": 1},
        "components.orders.rate_per_s": DELETE,
        "components.orders.arrivals": {"trace": {"file": "t.csv"}},
        "components.orders.attributes": {"n": 3, "c": {"choice": {"values": [1, True, "x"]}},
                                         "d": {"uniform": {"low": 0, "high": 1}}},
        "prices": {"lambda_gb_s": 0.00002},
    })  # fmt: skip
    s = load_scenario(file)
    dumped = s.model_dump(by_alias=True)
    again = Scenario.model_validate(dumped)  # no base_dir: the file contents travel with it
    assert again == s
    assert scenario_from_dict(dumped) == s
    attrs = again.of_type(ProducerSpec)["orders"].attributes
    assert isinstance(attrs["c"], ChoiceAttr) and attrs["c"].choice.values == (1, True, "x")
