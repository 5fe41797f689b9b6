"""Time series of runs (no SimPy): the recorded metrics, their units, and summaries over runs.

A run's time series (``RunResult.timeseries``, recorded by ``sim.engine.observe``) is a tidy
frame ``rep, t_s, component, metric, value``; ``docs/metrics.md`` defines every metric. This
module names them per component type (:data:`TIMESERIES_BY_TYPE`), gives each its unit, joins
the frames of several replications or variants (:func:`concat_timeseries`) and summarises them
over replications (:func:`across_replications`: the mean and the min–max band at each sample
time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = [
    "SINK",
    "TIMESERIES_BY_TYPE",
    "TIMESERIES_METRICS",
    "across_replications",
    "component_types",
    "concat_timeseries",
    "unit",
]

#: The key of :data:`TIMESERIES_BY_TYPE` for what every sink records.
SINK = "sink"

_DEPENDENCY = (
    "in_service", "waiting", "utilization", "calls_per_s", "throttled_per_s", "timeouts_per_s",
    "breakers_open", "breaker_rejected_per_s",
)  # fmt: skip
_SENDER = ("sent_per_s", "failed_per_s", "throttled_per_s")
_FANOUT = ("published_per_s", "deliveries_per_s", "retrying")

#: Metrics recorded per component type (and per sink, and for the run), in display order.
TIMESERIES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "sqs_queue": (
        "visible", "in_flight", "delayed", "oldest_age_s", "sent_per_s", "expired_per_s",
        "dead_lettered_per_s",
    ),
    "lambda_function": (
        "concurrency", "pollers", "invocations_per_s", "errors_per_s", "throttles_per_s",
        "timeouts_per_s", "cold_starts_per_s",
    ),
    "sns_topic": _FANOUT,
    "event_bus": _FANOUT,
    "database": _DEPENDENCY,
    "dynamodb_table": _DEPENDENCY,
    "http_api": _DEPENDENCY,
    "producer": _SENDER,
    "api_gateway": _SENDER,
    SINK: ("delivered_per_s", "latency_p50_s", "latency_p99_s"),
    "run": ("cost_usd",),
}

#: Every time-series metric name, each once.
TIMESERIES_METRICS: tuple[str, ...] = tuple(
    dict.fromkeys(m for names in TIMESERIES_BY_TYPE.values() for m in names)
)

_UNITS = {
    "visible": "messages",
    "in_flight": "messages",
    "delayed": "messages",
    "oldest_age_s": "s",
    "concurrency": "executions",
    "pollers": "concurrent batches",
    "retrying": "deliveries",
    "in_service": "requests",
    "waiting": "requests",
    "utilization": "fraction of capacity",
    "breakers_open": "breakers",
    "latency_p50_s": "s",
    "latency_p99_s": "s",
    "cost_usd": "USD",
}


def unit(metric: str) -> str:
    """The unit of a time-series metric (``"per s"`` for every rate)."""
    if metric.endswith("_per_s"):
        return "per s"
    return _UNITS.get(metric, "")


def concat_timeseries(
    results: Iterable[Any], variants: Sequence[str] | None = None
) -> pd.DataFrame | None:
    """The time series of ``results`` (``RunResult``s) in one frame; None if none was recorded.

    With ``variants`` (one name per result), a ``variant`` column comes first. ``component``
    and ``metric`` are plain strings.
    """
    frames = []
    for i, r in enumerate(results):
        ts = r.timeseries
        if ts is None:
            continue
        df = ts.astype({"component": str, "metric": str})
        if variants is not None:
            df.insert(0, "variant", variants[i])
        frames.append(df)
    if not frames:
        return None
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def across_replications(ts: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per sample time, component and metric (and ``by``): mean, min, max and n over ``rep``.

    A value missing in a replication (NaN: no delivery in the interval) is left out of that
    sample's statistics; ``n`` counts the replications with a value.
    """
    keys = [*by, "component", "metric", "t_s"]
    g = ts.groupby(keys, sort=False, observed=True)["value"]
    out = g.agg(["mean", "min", "max", "count"]).reset_index()
    return out.rename(columns={"count": "n"})


def component_types(scenario: Mapping[str, Any]) -> dict[str, str]:
    """Component name -> type, from a scenario dumped to plain data (``model_dump``)."""
    return {name: str(spec["type"]) for name, spec in scenario.get("components", {}).items()}
