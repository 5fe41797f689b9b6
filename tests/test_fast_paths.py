"""The fast paths are the same model as the general path.

Components choose fast paths at build time when the scenario allows them (a producer sending
straight to its queues, a standard queue storing and handing out a copy with nothing else to
do, the completion of a one-message batch, a run time with no per-message part or outage).
``build(..., fast_paths=False)`` turns every one of them off. On random scenarios, with the
same seed, both must give identical metrics, per-sink fates, per-queue metrics, latency
samples in delivery order, and (with the trace on) identical traces.
"""

from __future__ import annotations

from typing import Any

from conftest import scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import SEEDS, scenarios

from sim.build import build

#: Random scenarios of the other property tests, and pipelines of functions below.
SQS_LAMBDA = scenarios()
#: Tiny scenarios run in milliseconds: many examples, since a fast path may differ only in
#: a rare corner (one did: a receive meeting an expired copy).
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def pipelines(draw: Any) -> dict[str, Any]:
    """Producer → q0 → fn0 → (q1 → fn1, maybe through an SNS topic) with calls and outages."""
    rate = draw(st.floats(0.5, 10.0))
    via_sns = draw(st.booleans())
    comps: dict[str, Any] = {
        "prod": {
            "type": "producer",
            "rate_per_s": rate,
            "send_to": ["q0"],
            "groups": draw(st.integers(1, 3)),
        },
        "q0": {
            "type": "sqs_queue",
            "visibility_timeout_s": draw(st.sampled_from([10.0, 30.0])),
            "duplicate_rate": draw(st.sampled_from([0.0, 0.0, 0.1])),
        },
        "q1": {"type": "sqs_queue", "visibility_timeout_s": 30.0},
        "fn0": {
            "type": "lambda_function",
            "trigger": {
                "source": "q0",
                "batch_size": draw(st.sampled_from([1, 1, 5])),
                "max_concurrency": draw(st.sampled_from([None, 2])),
                "report_batch_item_failures": draw(st.booleans()),
            },
            "duration_s": {"exponential": {"mean": draw(st.sampled_from([0.05, 0.5]))}},
            "timeout_s": draw(st.sampled_from([1.0, 10.0])),
            "errors": {"rate": draw(st.sampled_from([0.0, 0.05]))},
            "outputs": [{"to": "topic" if via_sns else "q1",
                         "count": draw(st.sampled_from([1, 2]))}],
        },
        "fn1": {
            "type": "lambda_function",
            "trigger": {"source": "q1", "batch_size": draw(st.sampled_from([1, 3]))},
            "duration_s": 0.1,
            "cold_start": {"duration_s": draw(st.sampled_from([0.0, 0.3]))},
        },
    }
    if via_sns:
        comps["topic"] = {"type": "sns_topic", "subscriptions": [{"target": "q1"}]}
    if draw(st.booleans()):
        comps["db"] = {
            "type": "database",
            "max_connections": draw(st.sampled_from([1, 5])),
            "service_time_s": {"exponential": {"mean": 0.05}},
        }
        comps["fn0"]["calls"] = [{"dependency": "db", "timeout_s": 1.0}]
    outages = []
    if draw(st.booleans()):
        outages.append({
            "component": draw(st.sampled_from(["q1", "fn1", "fn0"])),
            "start_s": 5.0,
            "duration_s": draw(st.sampled_from([3.0, 20.0])),
            "mode": draw(st.sampled_from(["unavailable", "slow", "throttled"])),
        })
    data: dict[str, Any] = {
        "name": "random-pipeline",
        "duration_s": draw(st.sampled_from([10.0, 30.0])),
        "drain_s": 120.0,
        "components": comps,
    }
    if outages:
        data["outages"] = outages
    return data


def _outcome(data: dict[str, Any], seed: int, fast: bool, trace: bool) -> dict[str, Any]:
    model = build(scenario(data), seed=seed, keep_samples=True, trace=trace, fast_paths=fast)
    r = model.run()
    samples = {name: list(s.samples or []) for name, s in model.ledger.sinks.items()}
    return {
        "metrics": r.metrics,
        "sinks": r.sinks,
        "queues": r.queues,
        "dependencies": r.dependencies,
        "samples": samples,
        "trace": None if r.trace is None else r.trace.to_dict("list"),
    }


def _same(data: dict[str, Any], seed: int, trace: bool) -> None:
    fast = _outcome(data, seed, True, trace)
    general = _outcome(data, seed, False, trace)
    for key in fast:
        assert fast[key] == general[key], key
    assert sum(len(v) for v in fast["samples"].values()) == fast["metrics"]["delivered"]


@PROPS
@given(data=SQS_LAMBDA, seed=SEEDS)
def test_fast_and_general_paths_agree_on_random_sqs_lambda_scenarios(data, seed):
    _same(data, seed, trace=False)


@PROPS
@given(data=SQS_LAMBDA, seed=SEEDS)
def test_fast_and_general_paths_give_the_same_trace(data, seed):
    _same(data, seed, trace=True)


@PROPS
@given(data=pipelines(), seed=SEEDS)
def test_fast_and_general_paths_agree_on_random_pipelines(data, seed):
    _same(data, seed, trace=False)
    _same(data, seed, trace=True)


def test_the_fast_paths_are_taken_by_default_and_not_when_turned_off() -> None:
    """The agreement above is not vacuous: the switch changes which code runs."""
    data = {
        "name": "plain", "duration_s": 20.0,
        "components": {
            "prod": {"type": "producer", "rate_per_s": 5.0, "send_to": ["q"]},
            "q": {"type": "sqs_queue"},
            "fn": {"type": "lambda_function", "trigger": {"source": "q"}, "duration_s": 0.1},
        },
    }  # fmt: skip
    fast = build(scenario(data))
    general = build(scenario(data), fast_paths=False)
    assert fast.producers["prod"].targets == [fast.queues["q"]]  # straight to the queue
    assert general.producers["prod"].targets != [general.queues["q"]]  # through its port
    assert fast.queues["q"].plain_delete and not general.queues["q"].plain_delete
    assert fast.functions["fn"].plain_run and not general.functions["fn"].plain_run
    assert fast.run().metrics == general.run().metrics
