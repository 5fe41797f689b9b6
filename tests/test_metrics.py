"""Tests for sim.analysis.metrics: CI rules, tidy and summary frames, the --json nulls."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pandas as pd
import pytest
from scipy import stats

from sim.analysis.metrics import (
    ALL_SINKS,
    METRICS,
    SINK_METRICS,
    RunResult,
    ci_stats,
    summarize,
    summary_json,
    tidy,
)

# --- ci_stats ----------------------------------------------------------------------------


def test_no_values_give_all_nulls() -> None:
    empty = {"mean": None, "ci_low": None, "ci_high": None, "std": None, "n": 0}
    assert ci_stats([]) == empty
    assert ci_stats([None, float("nan"), None]) == empty


def test_one_value_has_a_mean_and_null_ci_and_std() -> None:
    assert ci_stats([4.5]) == {"mean": 4.5, "ci_low": None, "ci_high": None, "std": None, "n": 1}
    # nulls and NaNs are not values
    assert ci_stats([None, 4.5, float("nan")])["n"] == 1


def test_zero_variance_gives_ci_mean_mean() -> None:
    assert ci_stats([0.1, 0.1, 0.1]) == {
        "mean": 0.1, "ci_low": 0.1, "ci_high": 0.1, "std": 0.0, "n": 3,
    }  # fmt: skip
    s = ci_stats([0.1] * 7)
    assert s["ci_low"] == s["ci_high"] == s["mean"]  # exactly, not within rounding


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_t_interval_matches_a_hand_computation(level: float) -> None:
    xs = [2.0, 4.0, 4.0, 5.0, 7.0, 9.0]
    n = len(xs)
    mean = sum(xs) / n  # 31/6
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t = stats.t.ppf(1 - (1 - level) / 2, df=n - 1)
    half = t * sd / math.sqrt(n)
    s = ci_stats(xs, level)
    assert s["n"] == 6
    assert s["mean"] == pytest.approx(31 / 6, rel=1e-12)
    assert s["std"] == pytest.approx(statistics.stdev(xs), rel=1e-12)
    assert s["ci_low"] == pytest.approx(mean - half, rel=1e-12)
    assert s["ci_high"] == pytest.approx(mean + half, rel=1e-12)


def test_known_interval_value() -> None:
    # 95% t-interval of (1, 2, 3): mean 2, sd 1, t(0.975, 2) = 4.302652729911275
    s = ci_stats([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert s["ci_low"] == pytest.approx(2 - half, abs=1e-9)
    assert s["ci_high"] == pytest.approx(2 + half, abs=1e-9)
    wider = ci_stats([1.0, 2.0, 3.0], level=0.99)
    assert wider["ci_low"] is not None and s["ci_low"] is not None
    assert wider["ci_low"] < s["ci_low"]


# --- fixtures: hand-made run results -----------------------------------------------------


def _metrics(delivered: int, latency: float | None) -> dict[str, Any]:
    m: dict[str, Any] = dict.fromkeys(METRICS, 0)
    m.update(
        messages_produced=10, deliveries_expected=10, delivered=delivered,
        lost=10 - delivered, delivered_fraction=delivered / 10,
    )  # fmt: skip
    for name in METRICS:
        if name.startswith("latency_"):
            m[name] = latency
    return m


def _sink(delivered: int, latency: float | None) -> dict[str, Any]:
    m = _metrics(delivered, latency)
    return {k: m.get(k, 0) for k in SINK_METRICS}


def _result(rep: int, delivered: int, latency: float | None, scenario: str = "s") -> RunResult:
    sinks = {"b-worker": _sink(delivered, latency), "a-worker": _sink(delivered, latency)}
    return RunResult(scenario, rep, 42, _metrics(delivered, latency), sinks)


# --- tidy / summarize --------------------------------------------------------------------


def test_tidy_has_one_row_per_rep_sink_metric_in_order() -> None:
    results = [_result(0, 8, 1.5), _result(1, 9, None)]
    df = tidy(results)
    assert list(df.columns) == ["scenario", "rep", "seed", "sink", "metric", "value"]
    per_rep = len(METRICS) + 2 * len(SINK_METRICS)
    assert len(df) == 2 * per_rep
    first = df.iloc[:per_rep]
    assert list(first["metric"].iloc[: len(METRICS)]) == list(METRICS)
    assert (first["sink"].iloc[: len(METRICS)] == ALL_SINKS).all()
    # sinks in the order the run reported them, each with SINK_METRICS in order
    assert list(first["sink"].iloc[len(METRICS)::len(SINK_METRICS)]) == ["b-worker", "a-worker"]
    assert list(df["rep"].unique()) == [0, 1]
    assert (df["seed"] == 42).all()
    row = df[(df["rep"] == 0) & (df["sink"] == ALL_SINKS) & (df["metric"] == "delivered")]
    assert row["value"].tolist() == [8.0]
    # None becomes NaN in the frame (a float column)
    lat = df[(df["rep"] == 1) & (df["metric"] == "latency_mean_s")]["value"]
    assert lat.isna().all() and len(lat) == 3


def test_summarize_shape_order_and_values() -> None:
    results = [_result(0, 8, 1.0), _result(1, 9, None), _result(2, 10, 3.0)]
    summary = summarize(tidy(results))
    assert list(summary.columns) == [
        "scenario", "sink", "metric", "n", "mean", "std", "ci_low", "ci_high",
    ]  # fmt: skip
    assert len(summary) == len(METRICS) + 2 * len(SINK_METRICS)
    # sinks sorted ("*" first), metrics in METRICS order within each sink
    assert list(summary["sink"].unique()) == [ALL_SINKS, "a-worker", "b-worker"]
    run_level = summary[summary["sink"] == ALL_SINKS]
    assert list(run_level["metric"]) == list(METRICS)
    sink_level = summary[summary["sink"] == "a-worker"]
    assert list(sink_level["metric"]) == [m for m in METRICS if m in SINK_METRICS]

    delivered = run_level.set_index("metric").loc["delivered"]
    expected = ci_stats([8, 9, 10])
    assert delivered["n"] == 3
    assert delivered["mean"] == pytest.approx(9.0)
    assert delivered["ci_low"] == pytest.approx(expected["ci_low"])
    # a latency measured in 2 of 3 replications: n = 2, mean of the two
    latency = run_level.set_index("metric").loc["latency_mean_s"]
    assert latency["n"] == 2
    assert latency["mean"] == pytest.approx(2.0)


def test_summarize_keeps_scenarios_apart() -> None:
    df = tidy([_result(0, 8, 1.0, "x"), _result(0, 2, 1.0, "y"), _result(1, 4, 1.0, "y")])
    summary = summarize(df).set_index(["scenario", "sink", "metric"])
    assert summary.loc[("x", ALL_SINKS, "delivered"), "n"] == 1
    assert summary.loc[("y", ALL_SINKS, "delivered"), "mean"] == pytest.approx(3.0)


# --- summary_json ------------------------------------------------------------------------


def test_summary_json_nulls_when_nothing_is_delivered() -> None:
    js = summary_json([_result(0, 0, None), _result(1, 0, None)], "s", 42)
    text = json.dumps(js, allow_nan=False)  # raises on NaN / inf
    assert "NaN" not in text
    for name in METRICS:
        stats_ = js["metrics"][name]
        if name.startswith("latency_"):
            assert stats_ == {"mean": None, "ci_low": None, "ci_high": None, "std": None}
        else:
            assert stats_["mean"] is not None, name
    assert js["metrics"]["lost"] == {"mean": 10.0, "ci_low": 10.0, "ci_high": 10.0, "std": 0.0}
    assert js["sinks"]["a-worker"]["metrics"]["latency_p99_s"]["mean"] is None


def test_summary_json_shape_and_sink_order() -> None:
    results = [_result(0, 8, 1.0), _result(1, 9, 2.0)]
    js = summary_json(results, "name", 7)
    assert list(js) == [
        "scenario", "replications", "seed", "metrics", "sinks", "dependencies", "queues",
    ]  # fmt: skip
    assert js["dependencies"] == {}  # no dependency in these runs
    assert js["queues"] == {}  # nor queue
    assert (js["scenario"], js["replications"], js["seed"]) == ("name", 2, 7)
    assert list(js["metrics"]) == list(METRICS)
    assert list(js["sinks"]) == ["a-worker", "b-worker"]
    assert list(js["sinks"]["a-worker"]) == ["metrics"]
    assert list(js["sinks"]["a-worker"]["metrics"]) == list(SINK_METRICS)
    lat = js["metrics"]["latency_mean_s"]
    assert lat["mean"] == pytest.approx(1.5)
    assert lat["ci_low"] < 1.5 < lat["ci_high"]


def test_summary_json_one_replication() -> None:
    js = summary_json([_result(0, 8, 1.0)], "s", 1)
    for stats_ in js["metrics"].values():
        assert stats_["ci_low"] is None and stats_["ci_high"] is None and stats_["std"] is None
    assert js["metrics"]["delivered"]["mean"] == 8.0


def test_dependencies_are_summarised_by_name_with_their_own_metrics() -> None:
    a, b = _result(0, 8, 1.0), _result(1, 9, 2.0)
    a.dependencies = {"db": {"calls": 10, "wasted_s": 1.0, "wait_mean_s": None}}
    b.dependencies = {"db": {"calls": 14, "wasted_s": 3.0, "wait_mean_s": 0.5},
                      "api": {"calls": 2, "utilization_mean": None}}  # fmt: skip
    js = summary_json([a, b], "s", 1)
    assert list(js["dependencies"]) == ["db", "api"]
    db = js["dependencies"]["db"]["metrics"]
    assert list(db) == ["calls", "wasted_s", "wait_mean_s"]
    assert db["calls"]["mean"] == 12.0 and db["wasted_s"]["mean"] == 2.0
    assert db["wait_mean_s"] == {"mean": 0.5, "ci_low": None, "ci_high": None, "std": None}
    assert js["dependencies"]["api"]["metrics"]["utilization_mean"]["mean"] is None


def test_a_sink_missing_from_some_replications_counts_only_where_present() -> None:
    a = _result(0, 8, 1.0)
    b = RunResult("s", 1, 42, _metrics(6, 2.0), {"only-b": _sink(6, 2.0)})
    js = summary_json([a, b], "s", 42)
    assert list(js["sinks"]) == ["a-worker", "b-worker", "only-b"]
    assert js["sinks"]["only-b"]["metrics"]["delivered"] == {
        "mean": 6.0, "ci_low": None, "ci_high": None, "std": None,
    }  # fmt: skip


def test_tidy_round_trips_through_summarize_means() -> None:
    results = [_result(r, 5 + r, 0.5 * (r + 1)) for r in range(4)]
    df = tidy(results)
    summary = summarize(df)
    by_hand = df.groupby(["sink", "metric"])["value"].mean()
    merged = summary.set_index(["sink", "metric"])["mean"]
    pd.testing.assert_series_equal(
        merged.sort_index(), by_hand.sort_index(), check_names=False, check_dtype=False
    )
