"""The metastability study's per-run measures (run in the worker that ran the replication).

The study is :mod:`experiments.metastability`. From the per-event trace (four events per
message: cheap enough for an hour at 7 messages per second):

* a message is *created* at its first event (the producer's send to the queue or topic) and
  *processed* at its first successful processing by the function; its latency is the
  difference;
* **goodput** per bin of ``bin_s``: messages processed in the bin whose latency is at most the
  SLO, per second; **offered** per bin: messages created in the bin, per second;
* **recovery time**: from the end of the trigger to the start of the first bin (the one the
  trigger ends in, or a later one) from which goodput stays ≥ ``share`` × offered in every bin
  for ``hold_s``; NaN (*not recovered*, ``collapsed`` = 1) when no such bin starts early
  enough for its hold to end inside the run. ``recovery_capped_s`` counts a run that did not
  recover as recovering at the end of the run (a lower bound, to average over replications);
* **backlog**: messages created and neither processed nor given up on (dead-lettered or
  lost) yet; a message is given up on at its last failed receive, which the trace shows as
  its ``max_receives``-th failure at the function.

From the run's metrics: SDK retries (database calls beyond the first of each processing
attempt), receives per message, wasted work (``dependency_wasted_s``), the queue's oldest
message, fates, latency and cost. The time series gives, per bin, the database's utilisation
and the retries per second for the time-series charts (the measure's detail).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import RunResult
from sim.study import Detailed
from sim.study import run_metric as _m

#: Component names shared by the scenarios.
DB = "db"
SINK = "worker"
MAX_RECEIVES = 3


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _messages(trace: pd.DataFrame) -> pd.DataFrame:
    """Per message: ``created_s``, ``processed_s`` (NaN if never) and ``out_s`` (given up)."""
    first = trace.groupby("msg_id", observed=True)["t_s"].min().rename("created_s")
    at = trace[trace["component"] == SINK]
    ok = at[at["event"] == "success"].groupby("msg_id", observed=True)["t_s"].min()
    failures = at[at["event"].isin(["failure", "timeout"])].sort_values("t_s", kind="stable")
    nth = failures.groupby("msg_id", observed=True).cumcount()
    out = failures[nth == MAX_RECEIVES - 1].set_index("msg_id")["t_s"]
    df = first.to_frame()
    df["processed_s"] = ok.reindex(df.index)
    df["out_s"] = out.reindex(df.index)
    df.loc[df["processed_s"].notna(), "out_s"] = math.nan
    return df


def _series(r: RunResult, component: str, metric: str) -> pd.Series:
    ts = r.timeseries
    if ts is None:
        return pd.Series(dtype=float)
    sel = ts[(ts["component"] == component) & (ts["metric"] == metric)]
    return pd.Series(sel["value"].to_numpy(dtype=float), index=sel["t_s"].to_numpy(dtype=float))


def _per_bin(s: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Mean of a time series' samples in each bin (samples stamped at their interval's end)."""
    if s.empty:
        return np.full(len(edges) - 1, math.nan)
    idx = np.digitize(s.index.to_numpy() - 1e-9, edges) - 1
    out = np.full(len(edges) - 1, math.nan)
    for b in range(len(edges) - 1):
        vals = s.to_numpy()[idx == b]
        if len(vals):
            out[b] = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
    return out


def timeline(r: RunResult, msgs: pd.DataFrame, horizon_s: float, bin_s: float,
             slo_s: float) -> pd.DataFrame:  # fmt: skip
    """Per bin: offered, goodput, processed, backlog at the bin's end, utilisation, retries."""
    edges = np.arange(0.0, horizon_s + bin_s / 2, bin_s)
    created = np.histogram(msgs["created_s"].to_numpy(), edges)[0]
    done = msgs[msgs["processed_s"].notna()]
    latency = done["processed_s"] - done["created_s"]
    good = np.histogram(done.loc[latency <= slo_s, "processed_s"].to_numpy(), edges)[0]
    processed = np.histogram(done["processed_s"].to_numpy(), edges)[0]
    out_t = msgs["out_s"].dropna().to_numpy()
    ends = edges[1:]
    backlog = (np.searchsorted(np.sort(msgs["created_s"].to_numpy()), ends, side="right")
               - np.searchsorted(np.sort(done["processed_s"].to_numpy()), ends, side="right")
               - np.searchsorted(np.sort(out_t), ends, side="right"))  # fmt: skip
    calls = _per_bin(_series(r, DB, "calls_per_s"), edges)
    invocations = _per_bin(_series(r, SINK, "invocations_per_s"), edges)
    return pd.DataFrame({
        "t_s": edges[:-1],
        "offered_per_s": created / bin_s,
        "goodput_per_s": good / bin_s,
        "processed_per_s": processed / bin_s,
        "backlog": backlog.astype(float),
        "db_utilization": _per_bin(_series(r, DB, "utilization"), edges),
        "sdk_retries_per_s": np.maximum(calls - invocations, 0.0),
        "concurrency": _per_bin(_series(r, SINK, "concurrency"), edges),
    })  # fmt: skip


def recovery(tl: pd.DataFrame, after_s: float, bin_s: float, share: float,
             hold_s: float) -> float:  # fmt: skip
    """The recovery time after ``after_s`` (seconds; NaN if none), as the module doc says.

    From ``after_s`` to the start of the first bin from which goodput stays ≥ ``share`` ×
    offered for ``hold_s``.
    """
    ok = (tl["goodput_per_s"] >= share * tl["offered_per_s"]).to_numpy()
    starts = tl["t_s"].to_numpy()
    n_hold = max(1, math.ceil(hold_s / bin_s))
    first = int(np.searchsorted(starts, after_s, side="right")) - 1
    for b in range(max(first, 0), len(starts) - n_hold + 1):
        if ok[b : b + n_hold].all():
            return max(float(starts[b]) - after_s, 0.0)
    return math.nan


def measure(p: Any, r: RunResult, slo_s: float, bin_s: float, share: float, hold_s: float,
            start_s: float) -> Detailed:  # fmt: skip
    """The run's measures (module docstring) and its per-bin timeline (the detail)."""
    assert r.trace is not None
    horizon = float(r.diagnostics["horizon_s"])
    msgs = _messages(r.trace)
    tl = timeline(r, msgs, horizon, bin_s, slo_s)
    produced = _m(r, "messages_produced")
    expected = _m(r, "deliveries_expected")
    after_s = p.end_s if p.trigger in ("spike", "slow") else start_s
    rec = recovery(tl, after_s, bin_s, share, hold_s) if p.trigger != "ramp" else math.nan
    after = tl[tl["t_s"] >= math.floor(after_s / bin_s) * bin_s]
    in_service = r.dependencies[DB].get("in_service_mean")
    busy = (float(in_service) * horizon) if in_service is not None else math.nan
    queue = r.queues.get("jobs", {})
    done = msgs[msgs["processed_s"].notna()]
    age_end = horizon - msgs.loc[msgs["processed_s"].isna() & msgs["out_s"].isna(), "created_s"]
    oldest = queue.get("oldest_age_max_s")
    if oldest is None:  # asynchronous invocation: the oldest message still waiting, or done
        lat = done["processed_s"] - done["created_s"]
        oldest = max(float(age_end.max()) if len(age_end) else 0.0,
                     float(lat.max()) if len(lat) else 0.0)  # fmt: skip
    out = {
        "messages": produced,
        "collapsed": float(math.isnan(rec)) if p.trigger in ("spike", "slow") else math.nan,
        "recovery_s": rec,
        "recovery_capped_s": (horizon - after_s if math.isnan(rec) else rec)
        if p.trigger in ("spike", "slow") else math.nan,
        "goodput_fraction": _ratio(float(after["goodput_per_s"].sum()),
                                   float(after["offered_per_s"].sum())),
        "goodput_per_s": float(after["goodput_per_s"].mean()),
        "sdk_retries_per_message": _ratio(_m(r, "dependency_calls") - _m(r, "attempts"),
                                          produced),
        "receives_per_message": _ratio(_m(r, "attempts"), produced),
        "db_timeouts_per_message": _ratio(_m(r, "dependency_timeouts"), produced),
        "db_wasted_s": _m(r, "dependency_wasted_s"),
        "db_wasted_fraction": _ratio(_m(r, "dependency_wasted_s"), busy),
        "backlog_max": float(tl["backlog"].max()),
        "oldest_age_max_s": float(oldest),
        "latency_p50_s": _m(r, "latency_p50_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "delivered_fraction": _ratio(_m(r, "delivered"), expected),
        "dead_lettered_fraction": _ratio(_m(r, "dead_lettered"), expected),
        "lost_fraction": _ratio(_m(r, "lost"), expected),
        "expired_fraction": _ratio(_m(r, "expired"), expected),
        "dropped_too_old_fraction": _ratio(_m(r, "dropped_too_old"), produced),
        "in_flight_fraction": _ratio(_m(r, "in_flight"), expected),
        "throttles_per_message": _ratio(_m(r, "throttles"), produced),
        "function_timeouts": _m(r, "function_timeouts"),
        "cost_usd": _m(r, "cost_usd"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
    }  # fmt: skip
    return Detailed(out, tl)
