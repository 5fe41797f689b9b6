"""Theory checks for SNS fan-out and asynchronous Lambda (DESIGN §7), with seeded replications:
a case passes when the closed form lies inside the simulation's 99% confidence interval.

* asynchronous Lambda: an event fails every attempt with probability p^(r+1) (r retries), and
  then reaches the on-failure destination (or is lost without one);
* SNS fan-out to N queues whose sends fail with probability q: SNS's retry policy delivers to
  every queue (all-delivered fraction 1, partial fraction 0) given a long enough drain;
* sequential fan-out by the producer (option 1, no retries): all N queues (1 − q)^N, some but
  not all (1 − q) − (1 − q)^N;
* the HTTP/S default policy (4 attempts): loss q^4 and mean attempts (1 − q^4)/(1 − q).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import assert_theory_inside_ci

from sim.analysis import theory
from sim.analysis.metrics import RunResult
from sim.config import scenario_from_dict
from sim.study.validation import Case, check_case, fanout_scenario

ZERO_FN: dict[str, Any] = {
    "type": "lambda_function",
    "duration_s": 0.01,
    "timeout_s": 1,
    "cold_start": {"duration_s": 0},
}


def ratio(num: str, den: str = "deliveries_expected") -> Callable[[RunResult], float | None]:
    def read(r: RunResult) -> float | None:
        d = r.metrics[den]
        return float(r.metrics[num]) / d if d else None

    return read


def metric(name: str) -> Callable[[RunResult], float | None]:
    def read(r: RunResult) -> float | None:
        v = r.metrics[name]
        return None if v is None else float(v)

    return read


def attempts_per_message(sink: str) -> Callable[[RunResult], float | None]:
    def read(r: RunResult) -> float | None:
        s = r.sinks[sink]
        return s["attempts"] / s["deliveries_expected"] if s["deliveries_expected"] else None

    return read


def async_scenario(p_fail: float, retries: int, destination: bool, messages: int) -> Any:
    """Producer → topic → function (asynchronous), each attempt failing with ``p_fail``."""
    rate = 20.0
    function = {**ZERO_FN, "errors": {"rate": p_fail}, "async": {"max_retries": retries}}
    comps: dict[str, Any] = {
        "prod": {"type": "producer", "rate_per_s": rate, "send_to": ["t"]},
        "t": {"type": "sns_topic", "subscriptions": [{"target": "f"}]},
        "f": function,
    }
    if destination:
        function["async"]["on_failure"] = "failures"
        comps["failures"] = {"type": "sqs_queue"}
    return scenario_from_dict({
        "name": f"async-p{p_fail}-r{retries}-{'dest' if destination else 'nodest'}",
        "duration_s": messages / rate,
        "drain_s": 400,  # the last retry comes 3 minutes after the first attempt
        "components": comps,
    })  # fmt: skip


def sns_fanout_scenario(q_fail: float, targets: int, messages: int) -> Any:
    """Producer → topic → N queues (sends failing with ``q_fail``) → N functions."""
    rate = 20.0
    comps: dict[str, Any] = {
        "prod": {"type": "producer", "rate_per_s": rate, "send_to": ["t"]},
        "t": {"type": "sns_topic",
              "subscriptions": [{"target": f"q{i}"} for i in range(targets)]},
    }  # fmt: skip
    for i in range(targets):
        comps[f"q{i}"] = {"type": "sqs_queue", "errors": {"rate": q_fail}}
        comps[f"f{i}"] = {**ZERO_FN, "trigger": {"source": f"q{i}", "batch_size": 1}}
    return scenario_from_dict({
        "name": f"sns-fanout-q{q_fail}-n{targets}",
        "duration_s": messages / rate,
        "drain_s": 3600,
        "components": comps,
    })  # fmt: skip


def http_scenario(q_fail: float, messages: int) -> Any:
    rate = 20.0
    return scenario_from_dict({
        "name": f"http-q{q_fail}",
        "duration_s": messages / rate,
        "drain_s": 120,
        "components": {
            "prod": {"type": "producer", "rate_per_s": rate, "send_to": ["t"]},
            "t": {"type": "sns_topic", "subscriptions": [{"target": "ep"}]},
            "ep": {"type": "endpoint", "protocol": "http", "errors": {"rate": q_fail}},
        },
    })  # fmt: skip


def _cases() -> list[Case]:
    reps = 10
    out: list[Case] = []
    p = 0.4
    for r in (0, 1, 2):
        out.append(Case(
            f"async loss to the on-failure destination = p^(r+1), p={p}, r={r}",
            async_scenario(p, r, True, 2000), theory.async_lambda_loss(p, r),
            ratio("dead_lettered"), reps, "probability",
        ))  # fmt: skip
    out.append(Case(
        "async loss without destination = p^(r+1), p=0.5, r=1",
        async_scenario(0.5, 1, False, 2000), theory.async_lambda_loss(0.5, 1),
        ratio("lost"), reps, "probability",
    ))  # fmt: skip
    out.append(Case(
        "async mean attempts (1-p^(r+1))/(1-p), p=0.4, r=2",
        async_scenario(p, 2, False, 2000), theory.mean_attempts(p, 3),
        ratio("attempts"), reps, "attempts per message",
    ))  # fmt: skip
    for n in (3, 5):
        for q in (0.1, 0.5):
            s = sns_fanout_scenario(q, n, 600)
            out.append(
                Case(
                    f"SNS fan-out all delivered = 1, q={q}, N={n}",
                    s,
                    1.0,
                    metric("all_delivered_fraction"),
                    5,
                    "probability",
                )
            )
            out.append(
                Case(
                    f"SNS fan-out partial = 0, q={q}, N={n}",
                    s,
                    0.0,
                    metric("partial_fraction"),
                    5,
                    "probability",
                )
            )
    q = 0.1
    for n in (3, 5):
        s = fanout_scenario(q, n, 1, 2000)
        all_n = theory.sequential_fanout_all_delivered(q, n)
        out.append(
            Case(
                f"sequential fan-out all delivered = (1-q)^N, q={q}, N={n}",
                s,
                all_n,
                metric("all_delivered_fraction"),
                reps,
                "probability",
            )
        )
        out.append(
            Case(
                f"sequential fan-out partial = (1-q)-(1-q)^N, q={q}, N={n}",
                s,
                (1 - q) - all_n,
                metric("partial_fraction"),
                reps,
                "probability",
            )
        )
    s = http_scenario(0.5, 2000)
    out.append(
        Case(
            "HTTP default policy loss = q^4, q=0.5",
            s,
            theory.dead_letter_probability(0.5, 4),
            ratio("lost"),
            reps,
            "probability",
        )
    )
    out.append(
        Case(
            "HTTP default policy mean attempts = (1-q^4)/(1-q), q=0.5",
            s,
            theory.mean_attempts(0.5, 4),
            attempts_per_message("ep"),
            reps,
            "attempts per message",
        )
    )
    return out


CASES = _cases()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_theory_lies_inside_the_99_percent_ci(case: Case) -> None:
    assert_theory_inside_ci(case)


@pytest.mark.slow
def test_sns_fanout_beats_sequential_fanout_on_consistency() -> None:
    # the same queues and error rate: option 2 (SNS) is never partial, option 1 often is
    q, n = 0.2, 3
    seq = check_case(Case("seq", fanout_scenario(q, n, 1, 1000), 0.0,
                          metric("partial_fraction"), 3), workers=1)  # fmt: skip
    sns = check_case(Case("sns", sns_fanout_scenario(q, n, 300), 0.0,
                          metric("partial_fraction"), 3), workers=1)  # fmt: skip
    assert sns["sim_mean"] == 0.0
    assert seq["sim_mean"] == pytest.approx((1 - q) - (1 - q) ** n, abs=0.06)
