"""Theory checks for EventBridge, S3, API Gateway and CloudTrail (DESIGN §7), with seeded
replications: a case passes when the closed form lies inside the simulation's 99% confidence
interval.

* an EventBridge target whose every attempt fails independently with probability q (the SQS
  target queue's ``errors.rate``, or an endpoint's), retried r times without a DLQ: the event
  is lost with probability q^(r+1); with a DLQ it is dead-lettered with that probability; the
  mean number of attempts is (1 − q^(r+1))/(1 − q);
* at-least-once duplicates: S3 notifications and EventBridge targets with ``duplicate_rate`` d
  give d duplicates per expected delivery;
* CloudTrail's best-effort ``loss_rate`` ℓ loses a fraction ℓ of the events;
* API Gateway's token bucket (burst b, rate ρ) under deterministic arrivals faster than ρ
  accepts exactly ⌊b + ρ·t⌋ requests by the last arrival t (no randomness: checked exactly).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from conftest import assert_theory_inside_ci

from sim.analysis import theory
from sim.analysis.metrics import RunResult
from sim.build import run_once
from sim.config import scenario_from_dict
from sim.study.validation import Case

ZERO_FN: dict[str, Any] = {
    "type": "lambda_function",
    "duration_s": 0.01,
    "timeout_s": 1,
    "cold_start": {"duration_s": 0},
}
FAST_RETRY = {"base_s": 0.1, "cap_s": 1.0}
RATE = 20.0


def ratio(num: str, den: str = "deliveries_expected") -> Callable[[RunResult], float | None]:
    def read(r: RunResult) -> float | None:
        d = r.metrics[den]
        return float(r.metrics[num]) / d if d else None

    return read


def attempts_per_event(sink: str) -> Callable[[RunResult], float | None]:
    def read(r: RunResult) -> float | None:
        s = r.sinks[sink]
        return s["attempts"] / s["deliveries_expected"] if s["deliveries_expected"] else None

    return read


def eb_target_scenario(q_fail: float, retries: int, events: int, target: str, dlq: bool) -> Any:
    """Producer → bus → one rule → ``target`` (queue ``q`` consumed by ``c``, or endpoint
    ``ep``), each delivery attempt failing with ``q_fail``."""
    rule_target: dict[str, Any] = {"target": target,
                                   "retry": {"max_attempts": retries, **FAST_RETRY}}  # fmt: skip
    comps: dict[str, Any] = {
        "prod": {"type": "producer", "rate_per_s": RATE, "send_to": ["bus"]},
        "bus": {"type": "event_bus", "rules": [
            {"name": "all", "pattern": {"source": ["prod"]}, "targets": [rule_target]}]},
    }  # fmt: skip
    if target == "q":
        comps["q"] = {"type": "sqs_queue", "errors": {"rate": q_fail}}
        comps["c"] = {**ZERO_FN, "trigger": {"source": "q", "batch_size": 1}}
    else:
        comps["ep"] = {"type": "endpoint", "protocol": "https", "errors": {"rate": q_fail}}
    if dlq:
        comps["dlq"] = {"type": "sqs_queue"}
        rule_target["dead_letter"] = {"target": "dlq"}
    return scenario_from_dict({
        "name": f"eb-{target}-q{q_fail}-r{retries}-{'dlq' if dlq else 'nodlq'}",
        "duration_s": events / RATE,
        "drain_s": 120,
        "components": comps,
    })  # fmt: skip


def s3_duplicates_scenario(d: float, puts: int) -> Any:
    return scenario_from_dict({
        "name": f"s3-dup-{d}",
        "duration_s": puts / RATE,
        "drain_s": 120,
        "components": {
            "prod": {"type": "producer", "rate_per_s": RATE, "send_to": ["b"]},
            "b": {"type": "s3_bucket", "duplicate_rate": d, "notification_delay_s": 0.5,
                  "notifications": [{"target": "q"}]},
            "q": {"type": "sqs_queue"},
            "c": {**ZERO_FN, "trigger": {"source": "q", "batch_size": 1}},
        },
    })  # fmt: skip


def eb_duplicates_scenario(d: float, events: int) -> Any:
    return scenario_from_dict({
        "name": f"eb-dup-{d}",
        "duration_s": events / RATE,
        "drain_s": 120,
        "components": {
            "prod": {"type": "producer", "rate_per_s": RATE, "send_to": ["bus"]},
            "bus": {"type": "event_bus", "duplicate_rate": d, "rules": [
                {"name": "all", "pattern": {"source": ["prod"]},
                 "targets": [{"target": "ep"}, {"target": "f"}]}]},
            "ep": {"type": "endpoint", "protocol": "https"},
            "f": dict(ZERO_FN),
        },
    })  # fmt: skip


def cloudtrail_scenario(loss: float, calls: int) -> Any:
    return scenario_from_dict({
        "name": f"cloudtrail-loss-{loss}",
        "duration_s": calls / RATE,
        "drain_s": 600,
        "components": {
            "calls": {"type": "producer", "rate_per_s": RATE, "send_to": ["trail"],
                      "attributes": {"eventSource": "dynamodb.amazonaws.com",
                                     "eventName": "DeleteTable"}},
            "trail": {"type": "cloudtrail", "bus": "bus", "loss_rate": loss},
            "bus": {"type": "event_bus", "rules": [
                {"name": "deletes", "pattern": {"source": ["aws.dynamodb"],
                                                "detail": {"eventName": ["DeleteTable"]}},
                 "targets": [{"target": "ops"}]}]},
            "ops": {"type": "endpoint", "protocol": "https"},
        },
    })  # fmt: skip


def _cases() -> list[Case]:
    reps = 10
    out: list[Case] = []
    q = 0.5
    for r in (0, 1, 3):
        n = 2000 if r < 3 else 4000
        out.append(Case(
            f"EventBridge queue target lost = q^(r+1), q={q}, r={r}",
            eb_target_scenario(q, r, n, "q", dlq=False), theory.eventbridge_target_loss(q, r),
            ratio("lost"), reps, "probability",
        ))  # fmt: skip
        out.append(Case(
            f"EventBridge endpoint mean attempts (1-q^(r+1))/(1-q), q={q}, r={r}",
            eb_target_scenario(q, r, n, "ep", dlq=False), theory.mean_attempts(q, r + 1),
            attempts_per_event("ep"), reps, "attempts per event",
        ))  # fmt: skip
    out.append(Case(
        "EventBridge queue target dead-lettered = q^(r+1), q=0.3, r=1",
        eb_target_scenario(0.3, 1, 3000, "q", dlq=True), theory.eventbridge_target_loss(0.3, 1),
        ratio("dead_lettered"), reps, "probability",
    ))  # fmt: skip
    out.append(Case(
        "EventBridge endpoint lost = q^(r+1), q=0.5, r=1",
        eb_target_scenario(0.5, 1, 2000, "ep", dlq=False), theory.eventbridge_target_loss(0.5, 1),
        ratio("lost"), reps, "probability",
    ))  # fmt: skip
    for d in (0.1, 0.4):
        out.append(Case(
            f"S3 notification duplicates per delivery = d, d={d}",
            s3_duplicates_scenario(d, 2000), d, ratio("duplicates"), reps, "duplicates",
        ))  # fmt: skip
        out.append(Case(
            f"EventBridge target duplicates per delivery = d, d={d}",
            eb_duplicates_scenario(d, 1500), d, ratio("duplicates"), reps, "duplicates",
        ))  # fmt: skip
    for loss in (0.05, 0.3):
        out.append(Case(
            f"CloudTrail lost fraction = loss_rate, loss={loss}",
            cloudtrail_scenario(loss, 2000), loss, ratio("lost"), reps, "probability",
        ))  # fmt: skip
    return out


CASES = _cases()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_theory_lies_inside_the_99_percent_ci(case: Case) -> None:
    assert_theory_inside_ci(case)


def test_eventbridge_theory_matches_the_q_power_formula():
    # the closed form the cases rely on
    assert theory.eventbridge_target_loss(0.5, 3) == pytest.approx(0.5**4)
    assert theory.mean_attempts(0.5, 4) == pytest.approx(1 + 0.5 + 0.25 + 0.125)


# -- API Gateway token bucket (deterministic) ----------------------------------------------------


def api_scenario(burst: int, rate: float, arrival_rate: float, seconds: float) -> Any:
    count = int(arrival_rate * seconds)
    return scenario_from_dict({
        "name": f"api-b{burst}-r{rate}-l{arrival_rate}",
        "duration_s": seconds + 1,
        "drain_s": 10,
        "components": {
            "users": {"type": "producer", "retry": {"max_attempts": 1},
                      "arrivals": {"bursts": [{"at_s": 0, "count": count,
                                               "spread_s": seconds}]},
                      "send_to": ["api"]},
            "api": {"type": "api_gateway", "integration": "b", "rate_per_s": rate,
                    "burst": burst},
            "b": {"type": "s3_bucket"},
        },
    })  # fmt: skip


@pytest.mark.parametrize(
    ("burst", "rate", "arrival_rate", "seconds"),
    [(50, 10.0, 100.0, 10.0), (5, 2.0, 8.0, 30.0), (200, 50.0, 75.0, 20.0), (1, 0.5, 4.0, 60.0)],
)
def test_api_gateway_accepts_burst_plus_rate_times_t(burst, rate, arrival_rate, seconds):
    s = api_scenario(burst, rate, arrival_rate, seconds)
    count = int(arrival_rate * seconds)
    t_last = seconds * (count - 1) / count
    accepted = math.floor(burst + rate * t_last + 1e-9)
    for rep in range(3):  # no randomness: every replication is the same
        m = run_once(s, rep=rep).metrics
        assert m["api_requests"] == count
        assert m["delivered"] == accepted
        assert m["api_throttled"] == count - accepted
        assert m["lost"] == count - accepted
        assert accepted == pytest.approx(burst + rate * seconds, abs=rate * seconds / count + 1)
