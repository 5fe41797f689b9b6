"""The database-protection study's per-run measures (run in the worker that ran the replication).

The study is :mod:`experiments.database_protection`. Counts are normalised per message
produced, so that loads and window lengths compare. Three measures need the per-event trace:

* **throughput**: messages whose first successful processing ended inside the arrival window,
  per second of the window (the rate the fleet sustained while the load lasted; the backlog is
  processed after the window and counts in latency, not here);
* **database utilisation**: connection-seconds in service ÷ (max_connections × the time from
  0 to the last processing at the function), the busy share while there was work;
* **after the outage**: latency of the messages created from a given time on (the outage
  study), and a timeline of latency by creation time and deliveries by completion time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import RunResult
from sim.study import Detailed
from sim.study import run_metric as _m

#: Component names shared by the scenarios (the function is the sink of questions 1 to 3).
DB = "db"
SINK = "worker"
STAGES = ("stage-a", "stage-b", "stage-c")


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _db(r: RunResult, name: str) -> float:
    v = r.dependencies[DB].get(name)
    return math.nan if v is None else float(v)


def _busy_s(r: RunResult) -> float:
    """Connection-seconds the database spent serving queries over the whole run."""
    return _db(r, "in_service_mean") * float(r.diagnostics["horizon_s"])


def fleet_metrics(r: RunResult) -> dict[str, float]:
    """What questions 1 to 3 measure from the run metrics alone (no trace)."""
    produced = _m(r, "messages_produced")
    expected = _m(r, "deliveries_expected")
    attempts = _m(r, "attempts")
    successes = _m(r, "delivered") + _m(r, "duplicates")
    busy = _busy_s(r)
    return {
        "messages": produced,
        "latency_mean_s": _m(r, "latency_mean_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "dead_lettered_fraction": _ratio(_m(r, "dead_lettered"), expected),
        "duplicates_per_1k": _ratio(_m(r, "duplicates"), produced) * 1e3,
        "throttles_per_message": _ratio(_m(r, "throttles"), produced),
        "attempts_per_message": _ratio(attempts, produced),
        "failed_attempts_per_message": _ratio(attempts - successes, produced),
        "db_calls_per_message": _ratio(_m(r, "dependency_calls"), produced),
        # every processing attempt makes one first query; the other queries are SDK retries
        "db_retries_per_message": _ratio(_m(r, "dependency_calls") - attempts, produced),
        "db_timeouts_per_message": _ratio(_m(r, "dependency_timeouts"), produced),
        "db_refused_per_message": _ratio(_m(r, "dependency_throttled"), produced),
        "db_wasted_s": _m(r, "dependency_wasted_s"),
        "db_wasted_fraction": _ratio(_m(r, "dependency_wasted_s"), busy),
        "db_busy_s_per_message": _ratio(busy, _m(r, "delivered")),
        "db_connections_max": _db(r, "connections_max"),
        "db_in_service_max": _db(r, "in_service_max"),
        "function_timeouts": _m(r, "function_timeouts"),
        "in_flight": _m(r, "in_flight"),
    }


def _successes(trace: pd.DataFrame) -> pd.DataFrame:
    """The first successful processing of each message at the function: ``msg_id, t_s``."""
    ok = trace[(trace["component"] == SINK) & (trace["event"] == "success")]
    return ok.drop_duplicates("msg_id")[["msg_id", "t_s"]]


def load_measure(p: Any, r: RunResult, max_connections: int) -> dict[str, float]:
    """Questions 1 and 2: the run metrics, and throughput and utilisation from the trace."""
    out = fleet_metrics(r)
    if r.trace is not None:
        window = float(r.diagnostics["arrival_window_s"])
        ok = _successes(r.trace)
        out["throughput_per_s"] = float((ok["t_s"] < window).sum()) / window
        done = r.trace.loc[r.trace["component"] == SINK, "t_s"]
        end = float(done.max()) if len(done) else math.nan
        out["db_utilization"] = _ratio(_busy_s(r), max_connections * end)
    return out


def _created(trace: pd.DataFrame) -> pd.DataFrame:
    """Creation time of each message: its first send to the queue (``msg_id, created_s``)."""
    sent = trace[(trace["component"] == "jobs") & (trace["event"] == "send")]
    return sent.drop_duplicates("msg_id")[["msg_id", "t_s"]].rename(columns={"t_s": "created_s"})


def outage_measure(p: Any, r: RunResult, after_s: float, bin_s: float) -> Detailed:
    """Question 3: the run metrics, latency after the outage, and a timeline (the detail).

    ``after_s``: messages created from then on are "after the outage". The detail is a frame
    with one row per ``bin_s`` bin of time: the mean latency of the messages created in it
    (delivered ones) and the deliveries per second that ended in it.
    """
    out = fleet_metrics(r)
    assert r.trace is not None
    window = float(r.diagnostics["arrival_window_s"])
    ok = _successes(r.trace)
    lat = _created(r.trace).merge(ok, on="msg_id", how="left")
    lat["latency_s"] = lat["t_s"] - lat["created_s"]
    after = lat[lat["created_s"] >= after_s]
    delivered = after["latency_s"].dropna().to_numpy()
    out["latency_after_mean_s"] = float(delivered.mean()) if len(delivered) else math.nan
    out["latency_after_p99_s"] = (
        float(np.percentile(delivered, 99)) if len(delivered) else math.nan
    )
    done = ok[(ok["t_s"] >= after_s) & (ok["t_s"] < window)]
    out["goodput_after_per_s"] = _ratio(float(len(done)), window - after_s)
    out["offered_after_per_s"] = _ratio(float(len(after)), window - after_s)
    edges = np.arange(0.0, window + bin_s / 2, bin_s)
    created_bin = np.floor(lat["created_s"].to_numpy() / bin_s) * bin_s
    done_bin = np.floor(ok["t_s"].to_numpy() / bin_s) * bin_s
    mean_latency = pd.Series(lat["latency_s"].to_numpy()).groupby(created_bin).mean()
    rate = pd.Series(done_bin).value_counts() / bin_s
    timeline = pd.DataFrame({
        "t_s": edges[:-1],
        "latency_mean_s": [float(mean_latency.get(t, math.nan)) for t in edges[:-1]],
        "delivered_per_s": [float(rate.get(t, 0.0)) for t in edges[:-1]],
    })  # fmt: skip
    return Detailed(out, timeline)


def pipeline_measure(p: Any, r: RunResult) -> dict[str, float]:
    """Question 4: duplicates per stage, queries, dead letters and end-to-end latency."""
    produced = _m(r, "messages_produced")
    out: dict[str, float] = {"messages": produced}
    for stage, key in zip(STAGES, "abc", strict=True):
        s = r.sinks[stage]
        out[f"duplicates_per_1k_{key}"] = _ratio(float(s["duplicates"]), produced) * 1e3
        out[f"attempts_per_message_{key}"] = _ratio(float(s["attempts"]), produced)
    out["db_calls_per_message"] = _ratio(_m(r, "dependency_calls"), produced)
    out["dead_lettered_fraction"] = _ratio(_m(r, "dead_lettered"), _m(r, "deliveries_expected"))
    c = r.sinks[STAGES[-1]]
    out["latency_p99_c_s"] = math.nan if c["latency_p99_s"] is None else c["latency_p99_s"]
    out["in_flight"] = _m(r, "in_flight")
    return out
