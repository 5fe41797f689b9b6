"""The S3 → EventBridge study's per-run measures, table rows and designs.

Each replication's measures are keyed ``sink/metric``; the table has one row per sink, with the
closed forms of :mod:`experiments.s3_eventbridge_design` next to the simulated values.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.s3_eventbridge_design import (
    DUP_S3,
    EB_DUPLICATES_PER_PAIR,
    EVENTBRIDGE,
    FULL,
    HOUR,
    LEVEL,
    OUTAGE_RULE,
    QUICK,
    RULES,
    SEP,
    SINKS,
    TABLE,
    Case,
    Measures,
    MeasuresByPoint,
    cases,
    duplicates_per_upload,
    matched_per_upload,
    p_delivered_after_outage,
    rule_selectivity,
)
from sim.analysis.metrics import RunResult
from sim.study import Design, Options, summary_rows

__all__ = [
    "by_sink",
    "columns",
    "derive_useful",
    "designs",
    "measure",
    "rep_metrics",
    "table_rows",
    "theory",
]


# --------------------------------------------------------------------------- measures



def _v(d: Mapping[str, Any], name: str) -> float:
    v = d.get(name)
    return math.nan if v is None else float(v)


def _latency_h(d: Mapping[str, Any], name: str) -> float:
    return _v(d, name) / HOUR


def rep_metrics(case: Case, r: RunResult) -> dict[str, dict[str, float]]:
    """Per sink (``*`` for the whole run): the reported quantities of one replication."""
    m = r.metrics
    n = _v(m, "messages_produced")
    run = {
        "uploads": n,
        "deliveries_per_upload": _v(m, "deliveries_expected") / n,
        "duplicates_per_million_uploads": _v(m, "duplicates") / n * 1e6,
        "cost_per_million_usd": _v(m, "cost_per_million_usd"),
        "in_flight": _v(m, "in_flight"),
    }
    out: dict[str, dict[str, float]] = {"*": run}
    if case.study == "routing":
        run.update({
            "unrouted_fraction": _v(m, "messages_unrouted") / n,
            "invocations_per_upload": _v(m, "invocations") / n,
            "latency_p50_s": _v(m, "latency_p50_s"), "latency_p90_s": _v(m, "latency_p90_s"),
            "latency_p99_s": _v(m, "latency_p99_s"), "latency_max_s": _v(m, "latency_max_s"),
        })  # fmt: skip
        for sink in SINKS:
            s = r.sinks[sink]
            out[sink] = {
                "received_fraction": _v(s, "deliveries_expected") / n,
                "delivered_fraction": _v(s, "delivered_fraction"),
                "invocations_per_upload": _v(s, "invocations") / n,
                "duplicates_per_million_uploads": _v(s, "duplicates") / n * 1e6,
                "latency_p50_s": _v(s, "latency_p50_s"),
                "latency_p99_s": _v(s, "latency_p99_s"),
                "cost_per_million_uploads_usd": _v(s, "cost_usd") / n * 1e6,
            }
        return out
    s = r.sinks[OUTAGE_RULE.function]
    pairs = _v(s, "deliveries_expected")
    healthy = [r.sinks[k] for k in SINKS if k != OUTAGE_RULE.function]
    out[OUTAGE_RULE.function] = {
        "pairs": pairs,
        "delivered_fraction": _v(s, "delivered") / pairs,
        "dead_lettered_fraction": _v(s, "dead_lettered") / pairs,
        "lost_fraction": _v(s, "lost") / pairs,
        "latency_p50_h": _latency_h(s, "latency_p50_s"),
        "latency_p99_h": _latency_h(s, "latency_p99_s"),
        "latency_max_h": _latency_h(s, "latency_max_s"),
        "duplicates_per_upload": _v(s, "duplicates") / n,
    }
    run["healthy_delivered_fraction"] = sum(_v(h, "delivered") for h in healthy) / sum(
        _v(h, "deliveries_expected") for h in healthy
    )
    run["healthy_duplicates_per_upload"] = sum(_v(h, "duplicates") for h in healthy) / n
    run["events_replayed_per_upload"] = _v(m, "events_replayed") / n
    run["cost_usd"] = _v(m, "cost_usd")
    return out


def measure(case: Case, r: RunResult) -> dict[str, float]:
    """The measures of one replication (in its worker), flat: ``sink/metric`` → value.

    Raises:
        RuntimeError: pairs are still in flight at the end of the run (the drain is too short).
    """
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{case.name} rep {r.rep}: pairs still in flight")
    return {f"{sink}{SEP}{metric}": v for sink, ms in rep_metrics(case, r).items()
            for metric, v in ms.items()}  # fmt: skip


def by_sink(measures: Measures) -> dict[str, dict[str, float]]:
    """A replication's flat measures (:func:`measure`) per sink: sink → metric → value."""
    out: dict[str, dict[str, float]] = {}
    for key, v in measures.items():
        sink, metric = key.split(SEP, 1)
        out.setdefault(sink, {})[metric] = math.nan if v is None else float(v)
    return out


def derive_useful(case: Case, measured: MeasuresByPoint) -> list[dict[str, float]]:
    """Routing: each consumer's useful fraction of what it receives (what its rule matches).

    Common random numbers: both routing variants see the same uploads, so what a consumer
    needs (what its rule matches under EventBridge) is known for the fan-out variant too.

    Raises:
        RuntimeError: the two variants saw different uploads.
    """
    out = []
    for d_eb, d in zip(measured[EVENTBRIDGE], measured[case], strict=True):
        if d_eb[f"*{SEP}uploads"] != d[f"*{SEP}uploads"]:
            raise RuntimeError("the routing variants saw different uploads")
        final = {k: math.nan if v is None else float(v) for k, v in d.items()}
        for sink in SINKS:
            final[f"{sink}{SEP}useful_fraction"] = (
                _v(d_eb, f"{sink}{SEP}received_fraction") / final[f"{sink}{SEP}received_fraction"]
            )
        out.append(final)
    return out


def theory(case: Case, sink: str, metric: str) -> float:
    """The closed form of ``metric`` at ``sink`` in ``case``, or NaN."""
    p = rule_selectivity()
    rule = {r.function: r for r in RULES}.get(sink)
    if case.study == "routing":
        eb = case.variant == "eventbridge"
        if sink == "*":
            return {
                "unrouted_fraction": p["none"] if eb else 0.0,
                "deliveries_per_upload": matched_per_upload() if eb else len(RULES),
                "duplicates_per_million_uploads": duplicates_per_upload(case.variant) * 1e6,
                "in_flight": 0.0,
            }.get(metric, math.nan)
        assert rule is not None
        per_pair = EB_DUPLICATES_PER_PAIR if eb else DUP_S3
        return {
            "received_fraction": p[rule.name] if eb else 1.0,
            "useful_fraction": 1.0 if eb else p[rule.name],
            "delivered_fraction": 1.0,
            "duplicates_per_million_uploads": (p[rule.name] if eb else 1.0) * per_pair * 1e6,
        }.get(metric, math.nan)
    p_del = p_delivered_after_outage(case.outage_s)
    replayed = case.study == "replay" and case.variant != "no-replay"
    if sink == "*":
        healthy = sum(p[r.name] for r in RULES if r is not OUTAGE_RULE)
        return {
            "healthy_delivered_fraction": 1.0,
            "healthy_duplicates_per_upload": healthy if case.variant == "replay-all-rules" else 0.0,
            "events_replayed_per_upload": 1.0 if replayed else 0.0,
            "in_flight": 0.0,
        }.get(metric, math.nan)
    if replayed:  # the replay re-delivers every pair of the window to the healthy target
        return {"delivered_fraction": 1.0, "lost_fraction": 0.0, "dead_lettered_fraction": 0.0,
                "duplicates_per_upload": p[OUTAGE_RULE.name] * p_del}.get(metric, math.nan)
    return {
        "delivered_fraction": p_del,
        "lost_fraction": 0.0 if case.dlq else 1.0 - p_del,
        "dead_lettered_fraction": 1.0 - p_del if case.dlq else 0.0,
        "duplicates_per_upload": 0.0,
    }.get(metric, math.nan)


def columns(case: Case) -> dict[str, Any]:
    """The columns identifying a case in the tables (before ``sink``)."""
    return {"study": case.study, "variant": case.variant, "outage_s": case.outage_s}


def table_rows(case: Case, per_rep: Sequence[Measures], *, seed: int) -> list[dict[str, Any]]:
    """The summary rows of a case: one per sink and metric, with the closed form."""
    sinks = [by_sink(d) for d in per_rep]
    rows: list[dict[str, Any]] = []
    for sink, metrics in sinks[0].items():
        rows += summary_rows({**columns(case), "sink": sink}, [s[sink] for s in sinks],
                             level=LEVEL, theory={m: theory(case, sink, m) for m in metrics},
                             seed=seed)  # fmt: skip
    return rows


def designs(o: Options) -> list[Design[Case]]:
    """The three studies, one design each, all in ``s3_eventbridge.csv``."""
    grid = QUICK if o.quick else FULL
    reps = {"routing": grid.routing_reps, "outage": grid.outage_reps,
            "replay": grid.replay_reps}  # fmt: skip
    return [
        Design(study, points, lambda c: c.scenario(grid, o.seed), measure, reps[study], TABLE,
               columns, derive=derive_useful if study == "routing" else None,
               rows=functools.partial(table_rows, seed=o.seed))
        for study, points in cases(grid).items()
    ]  # fmt: skip
