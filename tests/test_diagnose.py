"""The arithmetic behind the CLI's checks: expected arrivals, run size, retry horizons, workload
changes (``sim.config.workload``) and the doubts found in results (``sim.analysis.diagnostics``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import scenario, variant

from sim.analysis.diagnostics import (
    in_flight_warning,
    negative_ci_warning,
    precision_shortfall,
    produced_nothing,
    replications_for_half_width,
)
from sim.analysis.metrics import RunResult, ci_stats
from sim.config import ProducerSpec
from sim.config.workload import (
    BYTES_PER_MESSAGE,
    US_PER_MESSAGE,
    expected_arrivals,
    expected_messages,
    retry_horizons,
    run_size,
    workload_changes,
)

BASE: dict[str, Any] = {
    "duration_s": 100,
    "warmup_s": 10,
    "drain_s": 60,
    "components": {
        "app": {"type": "producer", "rate_per_s": 2, "send_to": ["jobs"]},
        "jobs": {"type": "sqs_queue", "visibility_timeout_s": 30,
                 "dead_letter": {"target": "dlq", "max_receive_count": 4}},
        "dlq": {"type": "sqs_queue"},
        "worker": {"type": "lambda_function", "trigger": {"source": "jobs", "batch_size": 1},
                   "errors": {"rate": 0.1}},
    },
}  # fmt: skip


def producer(updates: dict[str, Any]) -> ProducerSpec:
    return scenario(variant(BASE, updates)).of_type(ProducerSpec)["app"]


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        ({"profile": [{"start_s": 0, "rate_per_s": 1}, {"start_s": 50, "rate_per_s": 3}]},
         40 * 1 + 50 * 3),  # in [10, 100)
        ({"bursts": [{"at_s": 5, "count": 7}, {"at_s": 20, "count": 4}]}, 4),
        ({"bursts": [{"at_s": 0, "count": 10, "spread_s": 20}]}, 5),  # 10, 12, ..., 18
        ({"bursts": [{"at_s": 95, "count": 10, "spread_s": 10}]}, 5),  # 95 .. 99.5 of 95 .. 104
    ],
    ids=["profile", "bursts", "spread-burst-cut-by-warmup", "spread-burst-cut-by-duration"],
)  # fmt: skip
def test_expected_arrivals_in_a_window(arrivals: dict[str, Any], expected: float) -> None:
    p = producer({"components.app.rate_per_s": None, "components.app.arrivals": arrivals})
    assert expected_arrivals(p, 10, 100) == pytest.approx(expected)


def test_expected_messages_counted_or_not() -> None:
    s = scenario(BASE)
    assert expected_messages(s) == 200  # 2/s over [0, 100)
    assert expected_messages(s, counted=True) == 180  # after warmup_s


def test_run_size_scales_with_replications_and_workers() -> None:
    s = scenario(BASE)
    size = run_size([s, s], replications=5, workers=4)
    assert size.messages == 2 * 5 * 200
    assert size.workers == 4
    assert size.seconds == pytest.approx(2000 * US_PER_MESSAGE * 1e-6 / 4)
    assert size.peak_bytes == pytest.approx(200 * BYTES_PER_MESSAGE * 4)
    assert run_size([s], replications=1, workers=8).workers == 1  # one task: one worker


def test_retry_horizons_follow_the_schedules_that_can_run() -> None:
    found = dict((what, s) for s, what in retry_horizons(scenario(BASE)))
    assert found == {
        "4 receives of queue 'jobs' before its dead-letter queue, 30 s of visibility timeout "
        "each": 120.0,
    }
    calm = variant(BASE, {"components.worker.errors.rate": 0})
    assert list(retry_horizons(scenario(calm))) == []  # nothing fails, nothing is retried
    no_dlq = variant(BASE, {"components.jobs.dead_letter": None})
    [(seconds, what)] = retry_horizons(scenario(no_dlq))
    assert seconds == 345_600 and "no dead-letter queue" in what
    outage = variant(calm, {"outages": [{"component": "worker", "start_s": 90, "duration_s": 50}]})
    horizons = dict((w, s) for s, w in retry_horizons(scenario(outage)))
    assert horizons["the outage of 'worker' until t = 140 s"] == 40


def test_workload_changes_are_the_producers_and_the_window_not_the_client() -> None:
    base = scenario(BASE)
    assert workload_changes(base, base) == []
    client = variant(BASE, {"components.app.retry": {"max_attempts": 1}})
    assert workload_changes(base, scenario(client)) == []
    system = variant(BASE, {"components.worker.errors.rate": 0.5})
    assert workload_changes(base, scenario(system)) == []
    busier = variant(BASE, {"components.app.rate_per_s": 3, "components.app.groups": 4,
                            "duration_s": 50})  # fmt: skip
    assert workload_changes(base, scenario(busier)) == [
        "duration_s 100 → 50", "producer 'app' changes rate_per_s, groups",
    ]  # fmt: skip
    renamed = variant(BASE, {"components.other": BASE["components"]["app"]})
    del renamed["components"]["app"]
    assert workload_changes(base, scenario(renamed)) == [
        "producer 'app' removed", "producer 'other' added",
    ]  # fmt: skip


def result(rep: int, **metrics: Any) -> RunResult:
    sinks = {"worker": {k: v for k, v in metrics.items() if k in ("in_flight",)}}
    return RunResult("s", rep, 0, dict(metrics), sinks)


def test_replications_for_half_width_is_the_smallest_that_reaches_it() -> None:
    from scipy import stats

    n = replications_for_half_width(std=2.0, target=0.5, n=3)
    assert stats.t.ppf(0.975, n - 1) * 2 / math.sqrt(n) <= 0.5
    assert stats.t.ppf(0.975, n - 2) * 2 / math.sqrt(n - 1) > 0.5
    assert replications_for_half_width(std=2.0, target=0.5, n=500) == 500  # already there


def test_negative_ci_warning_names_the_metrics_and_the_replications() -> None:
    runs = [result(0, dead_lettered=0, lost=0), result(1, dead_lettered=0, lost=0),
            result(2, dead_lettered=6, lost=0)]  # fmt: skip
    w = negative_ci_warning(runs)
    assert w is not None
    assert w.startswith("the 95% CI of dead_lettered reaches below 0, which it cannot: 3 "
                        "replications are too few")  # fmt: skip
    need = int(w.rsplit("--replications ", 1)[1].rstrip(")"))
    s = ci_stats([0, 0, 6] * math.ceil(need / 3))  # the same spread, more replications
    assert s["ci_low"] is not None and s["ci_low"] >= 0
    steady = [result(i, dead_lettered=v) for i, v in enumerate([1, 2, 1, 2])]
    assert negative_ci_warning(steady) is None


def test_precision_shortfall() -> None:
    runs = [result(i, latency_mean_s=v) for i, v in enumerate([1.0, 1.2, 0.8, 1.1])]
    [(name, rel, need)] = precision_shortfall(runs, 0.05, ["latency_mean_s", "delivered"])
    assert name == "latency_mean_s" and rel > 0.05
    more = [result(i, latency_mean_s=v) for i, v in enumerate([1.0, 1.2, 0.8, 1.1] * need)]
    assert precision_shortfall(more, 0.05, ["latency_mean_s"]) == []


def test_produced_nothing_and_in_flight() -> None:
    assert produced_nothing([result(0, messages_produced=0), result(1, messages_produced=0)])
    assert not produced_nothing([result(0, messages_produced=0), result(1, messages_produced=2)])
    s = scenario(BASE)
    assert in_flight_warning(s, [result(0, in_flight=0, deliveries_expected=5)]) is None
    w = in_flight_warning(s, [result(0, in_flight=3, deliveries_expected=90),
                              result(1, in_flight=1, deliveries_expected=110)])  # fmt: skip
    assert w is not None and w.startswith("2 (message, sink) pairs per replication on average "
                                          "(worker: 2) were still in flight")  # fmt: skip
    assert "out of 100 expected" in w
    assert w.endswith("4 receives of queue 'jobs' before its dead-letter queue, 30 s of "
                      "visibility timeout each, can take 120 s, more than drain_s (60); try "
                      "--set drain_s=120")  # fmt: skip
