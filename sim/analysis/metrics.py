"""Run results → tidy DataFrames and summaries with confidence intervals (no SimPy here).

The metric names are those of ``docs/metrics.md`` (a contract). A tidy frame has one row per
``(scenario, rep, seed, sink, metric)``; ``sink`` is ``"*"`` for the run as a whole.
:func:`summarize` adds, per (scenario, sink, metric), the number of replications with a value,
the mean, the sample standard deviation and a t-based confidence interval:

* a metric with nothing to measure in every replication (a latency with no deliveries) has a
  null mean, CI and std;
* with one replication, ``ci_low``, ``ci_high`` and ``std`` are null;
* with zero variance the CI is ``[mean, mean]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy import stats as sps

__all__ = [
    "ALL_SINKS",
    "METRICS",
    "QUEUE_METRICS",
    "SINK_METRICS",
    "TIMESERIES_COLUMNS",
    "RunResult",
    "ci_stats",
    "summarize",
    "summary_block",
    "summary_json",
    "tidy",
]

#: Every run-level metric, in display order (``docs/metrics.md``).
METRICS: tuple[str, ...] = (
    "messages_produced",
    "messages_unrouted",
    "messages_derived",
    "deliveries_expected",
    "delivered",
    "dead_lettered",
    "expired",
    "lost",
    "in_flight",
    "delivered_fraction",
    "all_delivered_fraction",
    "partial_fraction",
    "duplicates",
    "ordering_violations",
    "attempts",
    "invocations",
    "throttles",
    "cold_starts",
    "function_timeouts",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "producer_latency_mean_s",
    "cost_usd",
    "cost_per_million_usd",
    "cost_usd_sqs",
    "cost_usd_lambda",
    "cost_usd_sns",
    "cost_usd_eventbridge",
    "cost_usd_s3",
    "cost_usd_apigateway",
    "cost_usd_dynamodb",
    "concurrency_max",
    "api_requests",
    "api_throttled",
    "events_replayed",
    "sdk_retries",
    "sdk_retries_refused",
    "entries_resent",
    "dependency_calls",
    "dependency_throttled",
    "dependency_timeouts",
    "dependency_wasted_s",
    "dropped_too_old",
    "breaker_rejected",
    "breaker_opened",
    "breaker_open_s",
)

#: Metrics reported per sink.
SINK_METRICS: tuple[str, ...] = (
    "deliveries_expected",
    "delivered",
    "dead_lettered",
    "expired",
    "lost",
    "in_flight",
    "delivered_fraction",
    "duplicates",
    "ordering_violations",
    "attempts",
    "invocations",
    "throttles",
    "cold_starts",
    "function_timeouts",
    "concurrency_max",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
    "latency_max_s",
    "cost_usd",
    "dropped_too_old",
)

#: Metrics reported per SQS queue (``"queues"`` in ``--json``).
QUEUE_METRICS: tuple[str, ...] = ("backlog_max", "oldest_age_max_s")

#: Columns of a time series (``RunResult.timeseries``, ``timeseries.parquet``).
TIMESERIES_COLUMNS: tuple[str, ...] = ("rep", "t_s", "component", "metric", "value")

ALL_SINKS = "*"


@dataclass
class RunResult:
    """Metrics of one replication (``docs/metrics.md``), plus the optional trace and diagnostics.

    ``dependencies`` maps each dependency (``database``, ``dynamodb_table``, ``http_api``) to
    its own metrics (``calls``, ``throttled``, ``timeouts``, ``wasted_s``, ...); they are not
    sinks. ``queues`` maps each SQS queue to its :data:`QUEUE_METRICS`. ``timeseries`` is the
    recorded time series (columns :data:`TIMESERIES_COLUMNS`), None when it was not recorded.
    """

    scenario: str
    rep: int
    seed: int
    metrics: dict[str, Any]
    sinks: dict[str, dict[str, Any]]
    trace: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    dependencies: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeseries: pd.DataFrame | None = None


def tidy(results: Iterable[RunResult]) -> pd.DataFrame:
    """One row per ``(scenario, rep, seed, sink, metric)``; missing values are NaN."""
    rows: list[tuple[str, int, int, str, str, float]] = []
    for r in results:
        for name in METRICS:
            rows.append((r.scenario, r.rep, r.seed, ALL_SINKS, name, _num(r.metrics.get(name))))
        for sink, m in r.sinks.items():
            for name in SINK_METRICS:
                rows.append((r.scenario, r.rep, r.seed, sink, name, _num(m.get(name))))
    return pd.DataFrame(rows, columns=["scenario", "rep", "seed", "sink", "metric", "value"])


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def ci_stats(values: Sequence[float | None], level: float = 0.95) -> dict[str, float | None]:
    """Mean, t-based CI and sample std of the non-null ``values``.

    Returns ``{"mean", "ci_low", "ci_high", "std", "n"}`` following the module's null rules.
    """
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "std": None, "n": 0}
    mean = math.fsum(xs) / n
    if n == 1:
        return {"mean": mean, "ci_low": None, "ci_high": None, "std": None, "n": 1}
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    std = math.sqrt(var)
    if all(x == xs[0] for x in xs):  # the mean is exactly the common value, not a rounded sum
        return {"mean": xs[0], "ci_low": xs[0], "ci_high": xs[0], "std": 0.0, "n": n}
    if std == 0.0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "std": 0.0, "n": n}
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "std": std, "n": n}


def summarize(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per (scenario, sink, metric): n, mean, std, ci_low, ci_high (t-based, ``level``)."""
    out = []
    order = {m: i for i, m in enumerate(METRICS)}
    for (scenario, sink, metric), g in df.groupby(["scenario", "sink", "metric"], sort=False):
        s = ci_stats(list(g["value"]), level)
        out.append({"scenario": scenario, "sink": sink, "metric": metric, **s})
    res = pd.DataFrame(out, columns=["scenario", "sink", "metric", "n", "mean", "std",
                                     "ci_low", "ci_high"])
    res["_o"] = res["metric"].map(order)
    return res.sort_values(["scenario", "sink", "_o"], kind="stable").drop(columns="_o")


def _block(
    results: Sequence[RunResult], names: Sequence[str], get: Callable[[RunResult, str], Any]
) -> dict[str, dict[str, float | None]]:
    out = {}
    for name in names:
        s = ci_stats([get(r, name) for r in results])
        out[name] = {k: s[k] for k in ("mean", "ci_low", "ci_high", "std")}
    return out


def _sink_metric(r: RunResult, name: str, sink: str) -> Any:
    return r.sinks.get(sink, {}).get(name)


def _dependency_metric(r: RunResult, name: str, dependency: str) -> Any:
    return r.dependencies.get(dependency, {}).get(name)


def _queue_metric(r: RunResult, name: str, queue: str) -> Any:
    return r.queues.get(queue, {}).get(name)


def summary_block(results: Sequence[RunResult]) -> dict[str, Any]:
    """``{"metrics", "sinks": {SINK: {"metrics"}}, "dependencies": {...}, "queues": {...}}``.

    Summaries over replications: each metric is ``{"mean", "ci_low", "ci_high", "std"}``
    (95% t-based CI). ``dependencies`` maps each dependency to ``{"metrics": {...}}`` with the
    metrics its type reports, in its order (empty without dependencies); ``queues`` maps each
    SQS queue to ``{"metrics": {...}}`` with :data:`QUEUE_METRICS`.
    """
    sinks = sorted({s for r in results for s in r.sinks})
    queues = list(dict.fromkeys(q for r in results for q in r.queues))
    dependency_names: dict[str, list[str]] = {}
    for r in results:
        for dep, m in r.dependencies.items():
            names = dependency_names.setdefault(dep, [])
            names += [k for k in m if k not in names]
    return {
        "metrics": _block(results, METRICS, lambda r, n: r.metrics.get(n)),
        "sinks": {
            sink: {
                "metrics": _block(
                    results, SINK_METRICS, functools.partial(_sink_metric, sink=sink)
                )
            }
            for sink in sinks
        },
        "dependencies": {
            dep: {
                "metrics": _block(
                    results, names, functools.partial(_dependency_metric, dependency=dep)
                )
            }
            for dep, names in dependency_names.items()
        },
        "queues": {
            queue: {
                "metrics": _block(
                    results, QUEUE_METRICS, functools.partial(_queue_metric, queue=queue)
                )
            }
            for queue in queues
        },
    }


def summary_json(results: Sequence[RunResult], scenario: str, seed: int) -> dict[str, Any]:
    """The ``evsim run --json`` object."""
    return {
        "scenario": scenario,
        "replications": len(results),
        "seed": seed,
        **summary_block(results),
    }
