"""The time-series recorder (``sim/engine/observe.py``): exact samples on tiny scenarios.

Arrivals come at half seconds (0.5, 1.5, ...) so that no event shares a time with a sample
(samples at whole seconds), and every delay is constant: each sample's value is known.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import pipeline, scenario, variant

from sim.analysis.metrics import TIMESERIES_COLUMNS
from sim.build import build, interval_s, run_once
from sim.config import load_scenario
from sim.engine.observe import default_interval_s

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: One message per second at 0.5, 1.5, ..., 19.5.
EVERY_SECOND = {"bursts": [{"at_s": 0.5, "count": 20, "spread_s": 20}]}


def series(ts: pd.DataFrame, component: str, metric: str) -> dict[float, float]:
    """``{t_s: value}`` of one component's metric."""
    part = ts[(ts["component"] == component) & (ts["metric"] == metric)]
    return dict(zip(part["t_s"].astype(float), part["value"].astype(float), strict=True))


def observed(data: dict[str, Any], **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_concurrency below AWS's minimum, on purpose
        return run_once(scenario(data), observe=True, **kw)


def test_the_frame_is_tidy_and_off_unless_asked() -> None:
    data = pipeline(arrivals=EVERY_SECOND, duration_s=20, drain_s=10)
    assert run_once(scenario(data)).timeseries is None
    r = observed(data)
    ts = r.timeseries
    assert tuple(ts.columns) == TIMESERIES_COLUMNS
    assert set(ts["rep"]) == {0}
    assert sorted(set(ts["t_s"])) == [float(t) for t in range(1, 31)]  # 30 s at 1 s
    assert set(ts["component"]) == {"prod", "q", "fn", "run"}
    with_field = run_once(scenario({**data, "observe": {"interval_s": 5}}))
    assert sorted(set(with_field.timeseries["t_s"])) == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0]


def test_a_queue_whose_consumer_is_down_fills_by_exactly_the_arrivals() -> None:
    # the function is down for the first 10 s: the first message's batch (received at 0.5)
    # fails to invoke and waits for its retries (1.5, 3.5, 7.5, 15.5: the mapping backs off);
    # while a blocked batch waits the mapping receives nothing, so every later arrival stays
    # visible
    data = pipeline(
        arrivals=EVERY_SECOND, trigger={"max_concurrency": 2}, duration_s=20, drain_s=40,
        outages=[{"component": "fn", "start_s": 0, "duration_s": 10}],
    )  # fmt: skip
    ts = observed(data, seed=1).timeseries
    visible, in_flight = series(ts, "q", "visible"), series(ts, "q", "in_flight")
    for t in range(1, 11):
        arrived = t  # at 0.5, 1.5, ..., t − 0.5
        assert in_flight[t] == 1
        assert visible[t] == arrived - 1
        assert series(ts, "q", "sent_per_s")[t] == 1.0
        assert series(ts, "prod", "sent_per_s")[t] == 1.0
        assert series(ts, "fn", "invocations_per_s")[t] == 0.0
        assert series(ts, "fn", "concurrency")[t] == 0.0
        assert series(ts, "fn", "pollers")[t] == 2.0
        assert series(ts, "fn", "delivered_per_s")[t] == 0.0
        assert math.isnan(series(ts, "fn", "latency_p50_s")[t])
        # the head of the visible line is the second message, sent at 1.5
        assert series(ts, "q", "oldest_age_s")[t] == pytest.approx(max(0.0, t - 1.5))
    assert series(ts, "q", "delayed") == dict.fromkeys(range(1, 61), 0.0)


def test_a_known_invocation_count_per_interval_and_the_latencies_of_each() -> None:
    data = pipeline(
        arrivals=EVERY_SECOND, function={"duration_s": 0.75}, duration_s=20, drain_s=10,
        observe={"interval_s": 5},
    )  # fmt: skip
    r = observed(data)
    ts = r.timeseries
    delivered = series(ts, "fn", "delivered_per_s")
    # invoked at 0.5, 1.5, ... and done 0.75 s later: 4 done by 5, then 5 per 5 s, 1 at 20.25
    assert delivered == {5.0: 0.8, 10.0: 1.0, 15.0: 1.0, 20.0: 1.0, 25.0: 0.2, 30.0: 0.0}
    for t in (5.0, 10.0, 15.0, 20.0):
        assert series(ts, "fn", "invocations_per_s")[t] == 1.0  # 5 in each 5 s
        assert series(ts, "fn", "latency_p50_s")[t] == pytest.approx(0.75)
        assert series(ts, "fn", "latency_p99_s")[t] == pytest.approx(0.75)
        assert series(ts, "fn", "concurrency")[t] == 1.0  # the message of t − 0.5 runs
        assert series(ts, "q", "in_flight")[t] == 1.0
        assert series(ts, "q", "visible")[t] == 0.0
    assert series(ts, "fn", "invocations_per_s")[25.0] == 0.0
    assert series(ts, "fn", "concurrency")[25.0] == 0.0
    assert r.metrics["concurrency_max"] == 1 and r.sinks["fn"]["concurrency_max"] == 1


def test_rates_integrate_to_the_run_totals_and_the_cost_ends_at_the_runs() -> None:
    data = pipeline(
        arrivals={"profile": [{"start_s": 0, "rate_per_s": 5}]}, duration_s=107, drain_s=60,
        function={"duration_s": {"exponential": {"mean": 0.5}}, "errors": {"rate": 0.2}},
        dlq=True, max_receive_count=2, observe={"interval_s": 10}, warmup_s=13,
    )  # fmt: skip
    m = build(scenario(data), seed=4)
    r = m.run()
    ts = r.timeseries
    times = sorted(set(ts["t_s"]))
    assert times[0] == 23.0 and times[-1] == 167.0  # from the warm-up; a last, shorter interval
    widths = dict(zip(times, [10.0] * (len(times) - 1) + [167.0 - times[-2]], strict=True))

    def total(component: str, metric: str) -> float:
        return sum(v * widths[t] for t, v in series(ts, component, metric).items())

    metrics = r.metrics
    assert total("fn", "invocations_per_s") == pytest.approx(metrics["invocations"])
    assert total("fn", "delivered_per_s") == pytest.approx(metrics["delivered"])
    assert total("fn", "errors_per_s") > 0
    assert total("q", "dead_lettered_per_s") == pytest.approx(
        total("dlq", "sent_per_s")
    )  # every move lands in the DLQ
    assert series(ts, "run", "cost_usd")[167.0] == metrics["cost_usd"]
    costs = list(series(ts, "run", "cost_usd").values())
    assert costs == sorted(costs)  # cumulative


def test_recording_does_not_change_any_metric() -> None:
    cases = [
        pipeline(
            arrivals={"profile": [{"start_s": 0, "rate_per_s": 20}]}, duration_s=300,
            function={"duration_s": {"exponential": {"mean": 0.3}}, "errors": {"rate": 0.1}},
            trigger={"batch_size": 5, "max_concurrency": 3}, dlq=True, warmup_s=30,
            outages=[{"component": "fn", "start_s": 100, "duration_s": 30}],
        ),
    ]  # fmt: skip
    for path in sorted(EXAMPLES.glob("*.yaml")):
        s = load_scenario(path)
        cases.append(s.with_updates({"duration_s": min(s.duration_s, 300.0)}).model_dump(
            by_alias=True))  # fmt: skip
    for data in cases:
        s = scenario(data)
        plain, recorded = run_once(s, seed=11), run_once(s, seed=11, observe=True)
        assert recorded.timeseries is not None and len(recorded.timeseries)
        assert plain.metrics == recorded.metrics
        assert plain.sinks == recorded.sinks
        assert plain.queues == recorded.queues
        assert plain.dependencies == recorded.dependencies


def test_default_interval_is_a_six_hundredth_of_the_run_in_whole_seconds() -> None:
    assert default_interval_s(4200) == 7.0
    assert default_interval_s(100) == 1.0  # at least 1 s
    assert default_interval_s(900) == 2.0  # 1.5 rounds up
    assert default_interval_s(1000) == 2.0
    s = scenario(pipeline(duration_s=3000, drain_s=600))
    assert interval_s(s) == 6.0
    assert interval_s(scenario(variant(pipeline(), {"observe": {"interval_s": 0.5}}))) == 0.5
    assert interval_s(scenario(variant(pipeline(), {"observe": {}}))) == 1.0


def test_sns_deliveries_retrying_through_a_queue_outage() -> None:
    data = {
        "name": "sns",
        "duration_s": 10,
        "drain_s": 50,
        "components": {
            "prod": {"type": "producer", "arrivals": EVERY_SECOND, "send_to": ["topic"]},
            "topic": {"type": "sns_topic", "subscriptions": [{"target": "q"}]},
            "q": {"type": "sqs_queue"},
        },
        "outages": [{"component": "q", "start_s": 0, "duration_s": 5.2}],
    }
    r = observed(data)
    ts = r.timeseries
    retrying = series(ts, "topic", "retrying")
    published = series(ts, "topic", "published_per_s")
    delivered = series(ts, "topic", "deliveries_per_s")
    assert all(published[t] == 1.0 for t in range(1, 11))
    assert retrying[3.0] == 3.0  # the messages of 0.5, 1.5 and 2.5 wait for the queue
    assert retrying[60.0] == 0.0
    assert sum(delivered.values()) == 10  # 1 s intervals: every message reached the queue
    assert sum(series(ts, "q", "sent_per_s").values()) == 10


def test_a_database_in_service_waiting_and_utilisation() -> None:
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0.5, "count": 3, "spread_s": 0}]},
        function={"calls": [{"dependency": "db"}], "duration_s": 0, "timeout_s": 30},
        duration_s=1, drain_s=29,
    )  # fmt: skip
    data["components"]["db"] = {"type": "database", "max_connections": 1, "service_time_s": 4}
    r = observed(data)
    ts = r.timeseries
    # three calls at 0.5: one served at a time, each for 4 s (0.5-4.5, 4.5-8.5, 8.5-12.5)
    in_service, waiting = series(ts, "db", "in_service"), series(ts, "db", "waiting")
    assert [in_service[t] for t in (1.0, 5.0, 9.0, 13.0)] == [1.0, 1.0, 1.0, 0.0]
    assert [waiting[t] for t in (1.0, 5.0, 9.0, 13.0)] == [2.0, 1.0, 0.0, 0.0]
    assert series(ts, "db", "calls_per_s")[1.0] == 3.0
    util = series(ts, "db", "utilization")
    assert util[1.0] == pytest.approx(0.5) and util[2.0] == 1.0 and util[13.0] == 0.5
    mean = r.dependencies["db"]["utilization_mean"]
    assert sum(util.values()) / len(util) == pytest.approx(mean)


def test_queue_peaks_are_exact() -> None:
    # nobody consumes the queue: 20 messages pile up, the first one waits to the end
    data = {
        "name": "peaks",
        "duration_s": 20,
        "drain_s": 10,
        "components": {
            "prod": {"type": "producer", "arrivals": EVERY_SECOND, "send_to": ["q"]},
            "q": {"type": "sqs_queue"},
            "idle": {"type": "sqs_queue"},
        },
    }
    r = run_once(scenario(data))
    assert r.queues["q"] == {"backlog_max": 20, "oldest_age_max_s": 29.5}
    assert r.queues["idle"] == {"backlog_max": 0, "oldest_age_max_s": None}
    assert r.metrics["concurrency_max"] == 0  # no function


def test_queue_and_concurrency_peaks_restart_after_the_warm_up() -> None:
    # 10 messages at 0.5 for 2 pollers (1 s each): 8 wait, the last until 4.5; then one a
    # second from 10.5, each alone
    arrivals = {"bursts": [{"at_s": 0.5, "count": 10, "spread_s": 0},
                           {"at_s": 10.5, "count": 10, "spread_s": 10}]}  # fmt: skip
    data = pipeline(arrivals=arrivals, trigger={"max_concurrency": 2}, duration_s=20, drain_s=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = run_once(scenario(data))
        after = run_once(scenario({**data, "warmup_s": 8}))
    assert whole.queues["q"] == {"backlog_max": 8, "oldest_age_max_s": 4.0}
    assert (whole.metrics["concurrency_max"], whole.sinks["fn"]["concurrency_max"]) == (2, 2)
    assert after.queues["q"] == {"backlog_max": 1, "oldest_age_max_s": 0.0}
    assert (after.metrics["concurrency_max"], after.sinks["fn"]["concurrency_max"]) == (1, 1)


def test_the_recorded_metrics_are_those_the_analysis_layer_names() -> None:
    from sim.analysis.timeseries import SINK, TIMESERIES_BY_TYPE

    data = variant(pipeline(arrivals=EVERY_SECOND, duration_s=20, drain_s=10), {})
    r = observed(data)
    ts = r.timeseries
    names = {c: set(ts[ts["component"] == c]["metric"]) for c in set(ts["component"])}
    assert names["q"] == set(TIMESERIES_BY_TYPE["sqs_queue"])
    assert names["fn"] == set(TIMESERIES_BY_TYPE["lambda_function"]) | set(
        TIMESERIES_BY_TYPE[SINK]
    )
    assert names["prod"] == set(TIMESERIES_BY_TYPE["producer"])
    assert names["run"] == set(TIMESERIES_BY_TYPE["run"])


def test_the_keyword_reaches_replications_compare_and_sweep_on_any_executor() -> None:
    from sim.experiment import compare, run_replications, sweep

    s = scenario(pipeline(arrivals={"profile": [{"start_s": 0, "rate_per_s": 3}]},
                          function={"duration_s": {"exponential": {"mean": 0.5}}},
                          duration_s=60, drain_s=20))  # fmt: skip
    serial = run_replications(s, 3, workers=1, observe=True)
    parallel = run_replications(s, 3, workers=2, observe=True)
    for a, b in zip(serial, parallel, strict=True):
        assert a.rep == b.rep
        pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert list(serial[2].timeseries["rep"].unique()) == [2]
    assert all(r.timeseries is None for r in run_replications(s, 2))
    res = compare([s, s], 2, observe=True)
    assert all(r.timeseries is not None for rs in res.runs.values() for r in rs)
    swept = sweep(s, {"components.fn.trigger.batch_size": [1, 2]}, 2, observe=True)
    assert all(r.timeseries is not None for rs in swept.runs for r in rs)


@pytest.mark.parametrize("reserved", [None, 10])
def test_concurrency_max_per_function_and_for_the_account(reserved: int | None) -> None:
    def burst(at: float, n: int) -> dict[str, Any]:
        return {"bursts": [{"at_s": at, "count": n, "spread_s": 0}]}

    def fn(source: str) -> dict[str, Any]:
        return {"type": "lambda_function", "trigger": {"source": source}, "duration_s": 4,
                "timeout_s": 10, "cold_start": {"duration_s": 0}}  # fmt: skip

    data: dict[str, Any] = {
        "name": "two",
        "duration_s": 10,
        "drain_s": 10,
        "components": {
            "pa": {"type": "producer", "arrivals": burst(0.5, 2), "send_to": ["qa"]},
            "pb": {"type": "producer", "arrivals": burst(2.5, 3), "send_to": ["qb"]},
            "qa": {"type": "sqs_queue", "visibility_timeout_s": 30},
            "qb": {"type": "sqs_queue", "visibility_timeout_s": 30},
            "fa": fn("qa"),
            "fb": {**fn("qb"), "reserved_concurrency": reserved},
        },
    }
    r = observed(data)
    # fa runs 2 in [0.5, 4.5), fb 3 in [2.5, 6.5): 5 at once in [2.5, 4.5)
    assert (r.sinks["fa"]["concurrency_max"], r.sinks["fb"]["concurrency_max"]) == (2, 3)
    assert r.metrics["concurrency_max"] == 5
    concurrency = {c: series(r.timeseries, c, "concurrency") for c in ("fa", "fb")}
    assert [concurrency["fa"][t] for t in (1.0, 3.0, 5.0)] == [2.0, 2.0, 0.0]
    assert [concurrency["fb"][t] for t in (1.0, 3.0, 5.0, 7.0)] == [0.0, 3.0, 3.0, 0.0]
