"""Monotonicity: a worse setting must not look better (STYLE "Tests", Regression).

Variants run through :func:`sim.experiment.compare`, i.e. with common random numbers: each
replication of each variant sees the same messages. Where the property holds sample path by
sample path it is checked per replication; where it holds only in distribution, the
replication-by-replication check is still made on seeded runs with a large effect (the chance
of a reversal is negligible) and the means must differ in the right direction.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from sim.analysis.metrics import RunResult
from sim.config import Scenario, scenario_from_dict
from sim.experiment import compare


def retry_pipeline(
    name: str, *, error_rate: float, max_receive_count: int = 2, seed: int = 21
) -> Scenario:
    """About 400 messages through a queue with a DLQ; the function fails at ``error_rate``."""
    return scenario_from_dict(
        {
            "name": name,
            "seed": seed,
            "duration_s": 200,
            "drain_s": 300,
            "components": {
                "prod": {"type": "producer", "rate_per_s": 2, "send_to": ["q"]},
                "q": {
                    "type": "sqs_queue",
                    "visibility_timeout_s": 10,
                    "dead_letter": {"target": "dlq", "max_receive_count": max_receive_count},
                },
                "dlq": {"type": "sqs_queue"},
                "fn": {
                    "type": "lambda_function",
                    "trigger": {"source": "q", "batch_size": 1, "max_concurrency": 4},
                    "duration_s": {"exponential": {"mean": 0.2}},
                    "timeout_s": 5,
                    "cold_start": {"duration_s": 0},
                    "errors": {"rate": error_rate},
                },
            },
        }
    )


def mmc(name: str, c: int, seed: int = 5) -> Scenario:
    """M/M/c: Poisson(2/s) arrivals, exponential(0.8 s) durations, c servers from the start."""
    return scenario_from_dict(
        {
            "name": name,
            "seed": seed,
            "duration_s": 300,
            "drain_s": 300,
            "components": {
                "prod": {"type": "producer", "rate_per_s": 2, "send_to": ["q"]},
                "q": {"type": "sqs_queue"},
                "fn": {
                    "type": "lambda_function",
                    "trigger": {
                        "source": "q",
                        "batch_size": 1,
                        "max_concurrency": c,
                        "initial_concurrency": c,
                    },
                    "duration_s": {"exponential": {"mean": 0.8}},
                    "timeout_s": 30,
                    "cold_start": {"duration_s": 0},
                },
            },
        }
    )


def col(runs: list[RunResult], metric: str) -> list[Any]:
    return [r.metrics[metric] for r in runs]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def test_more_function_errors_never_give_fewer_dead_lettered() -> None:
    reps = 10
    res = compare(
        [retry_pipeline("lo", error_rate=0.05), retry_pipeline("hi", error_rate=0.2)],
        replications=reps,
    )
    lo, hi = res.runs["lo"], res.runs["hi"]
    assert col(lo, "messages_produced") == col(hi, "messages_produced")
    for rep, (a, b) in enumerate(zip(col(lo, "dead_lettered"), col(hi, "dead_lettered"),
                                     strict=True)):  # fmt: skip
        assert b >= a, (rep, a, b)
    assert mean(col(hi, "dead_lettered")) > mean(col(lo, "dead_lettered"))
    assert mean(col(hi, "delivered_fraction")) < mean(col(lo, "delivered_fraction"))
    d = res.differences()["hi"]["dead_lettered"]
    assert d["ci_low"] is not None and d["ci_low"] > 0


def test_more_concurrency_never_raises_latency_in_an_mmc_queue() -> None:
    # FCFS, same arrivals and the same duration for the i-th message in every variant: each
    # message's sojourn time cannot grow with more servers, so every latency statistic of every
    # replication is non-increasing in c
    cs = (2, 4, 8)
    res = compare([mmc(f"c{c}", c) for c in cs], replications=8)
    runs = [res.runs[f"c{c}"] for c in cs]
    for metric in ("latency_mean_s", "latency_p50_s", "latency_p99_s", "latency_max_s"):
        for (c1, fewer), (c2, more) in pairwise(zip(cs, runs, strict=True)):
            for rep, (a, b) in enumerate(zip(col(fewer, metric), col(more, metric),
                                             strict=True)):  # fmt: skip
                assert b <= a, (metric, rep, c1, c2, a, b)
    means = [mean(col(r, "latency_mean_s")) for r in runs]
    assert means[0] > means[1] > means[2]
    # nothing else changed: same messages, all delivered, one invocation each
    for r in runs:
        assert col(r, "messages_produced") == col(runs[0], "messages_produced")
        assert col(r, "invocations") == col(r, "messages_produced")


def test_larger_max_receive_count_never_gives_more_dead_lettered() -> None:
    ks = (1, 2, 3, 5)
    res = compare(
        [retry_pipeline(f"k{k}", error_rate=0.3, max_receive_count=k) for k in ks],
        replications=10,
    )
    runs = [res.runs[f"k{k}"] for k in ks]
    for (k1, fewer), (k2, more) in pairwise(zip(ks, runs, strict=True)):
        for rep, (a, b) in enumerate(zip(col(fewer, "dead_lettered"), col(more, "dead_lettered"),
                                         strict=True)):  # fmt: skip
            assert b <= a, (rep, k1, k2, a, b)
        assert mean(col(more, "dead_lettered")) < mean(col(fewer, "dead_lettered"))
        assert mean(col(more, "attempts")) > mean(col(fewer, "attempts"))
