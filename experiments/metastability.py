"""Metastable failures: a trigger that ends, and a pipeline that stays down.

Two pipelines call one relational database: **SQS → Lambda** (event source mapping, batch
size 1, visibility timeout 360 s, dead-letter queue after 3 receives) and **SNS → Lambda**
(asynchronous invocation: Lambda's internal queue, 2 retries of a function error after 1 and
2 minutes, failed events to an SQS on-failure destination). The handler makes one query per
message. The database has 20 connections and an exponential service time of 0.4 s for a
query alone, slowed by the Universal Scalability Law (σ = 0.05, κ = 0.01): it completes
X(N) = N / (0.4 s × (1 + σ(N − 1) + κN(N − 1))) queries per second with N in service, at
most X(10) = 10.6 per second (its capacity). The call has a 10 s client timeout: a query
still waiting for a connection is withdrawn, one in service keeps running (wasted work). The
SDK retries it with AWS's standard mode (3 attempts, full-jitter backoff from 1 s, cap 20 s,
the retry quota of 500 tokens). The base load is 70% of capacity (7.4 messages per second),
which both pipelines sustain for an hour.

A **trigger** starts at 300 s: a load spike (the arrival rate × size for a length of time)
or a database slowdown (its service time × factor, a ``slow`` outage). Each run lasts an hour
of simulated time (``--quick``: 25 minutes). Measured per run (see
:mod:`experiments.metastability_measures`): **goodput** (messages processed within the SLO of
30 s end to end, per second, in 60 s bins), the **recovery time** after the trigger ends (until
goodput stays at ≥ 90% of the offered load for 5 minutes; *collapsed* when that never happens
within the hour), and what sustains a collapse: SDK retries, receives per message, wasted
database work, backlog and its oldest message, fates and cost.

Four designs, with common random numbers (one root seed; every variant sees the same
arrivals):

1. **Stability map** (``map.csv``): trigger size × length for each retry policy or mitigation
   (:data:`experiments.metastability_design.POLICIES`), with the fluid model's prediction
   (``theory``: collapsed 0/1 and its recovery time) beside each cell.
2. **Headline** (``headline.csv``, ``headline_differences.csv``, ``timeline.csv``): every
   policy at one reference trigger, replicated, with paired differences against the default
   and per-bin time series (goodput, backlog, retries, database utilisation).
3. **Steady state** (``steady.csv``): every policy without a trigger: what a mitigation
   costs when nothing goes wrong.
4. **Hysteresis** (``ramp.csv``): the offered load ramped up to 1.3 × capacity and back down
   (a triangle), goodput against offered load on each leg; and the fluid model's two
   branches at constant load (``fluid_branches.csv``) and its collapse boundary
   (``fluid_boundary.csv``).

The fluid model is :mod:`sim.analysis.fluid`. Writes the CSV files, PNG charts,
``findings.md`` and ``manifest.json`` into ``results/metastability/``, then the results index.

Usage, from the repository root: ``python -m experiments.metastability [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from experiments.metastability_charts import (
    chart_headline,
    chart_hysteresis,
    chart_map,
    chart_timeseries,
)
from experiments.metastability_design import (
    BASE_RATE_PER_S,
    BIN_S,
    CAPACITY_PER_S,
    FLUID_DT_S,
    FULL,
    HOLD_S,
    QUICK,
    RECOVERY_SHARE,
    SLO_S,
    TRIGGER_START_S,
    designs,
    fluid_params,
)
from experiments.metastability_findings import findings
from sim.analysis import fluid
from sim.study import Design, Options, Report, Run, Study, run_study, summary_rows

TIMELINE_METRICS = ("offered_per_s", "goodput_per_s", "backlog", "db_utilization",
                    "sdk_retries_per_s", "concurrency")  # fmt: skip


def _binned(design: Design[Any], run: Run, metrics: Sequence[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for point in design.points:
        per_rep = [run.details[point][rep] for rep in run.reps[design.name]]
        for i, t in enumerate(per_rep[0]["t_s"]):
            measures = [{m: float(df[m].iloc[i]) for m in metrics} for df in per_rep]
            columns = {**(design.columns(point) or {}), "t_s": float(t)}
            rows += summary_rows(columns, measures, seed=run.seed)
    return rows


def _branches(grid_loads: Sequence[float], pipelines: Sequence[str], settle_s: float
              ) -> pd.DataFrame:  # fmt: skip
    rows = []
    for pipeline in pipelines:
        params = fluid_params(pipeline, "default")
        assert params is not None
        for row in fluid.equilibrium_branches(params, [x * CAPACITY_PER_S for x in grid_loads],
                                              settle_s=settle_s, dt=FLUID_DT_S):  # fmt: skip
            rows.append({"pipeline": pipeline, "load": row["rate_per_s"] / CAPACITY_PER_S,
                         **row})  # fmt: skip
    return pd.DataFrame(rows)


def boundary_length_s(pipeline: str, policy: str, kind: str, size: float, horizon_s: float,
                      longest_s: float = 600.0) -> float:  # fmt: skip
    """The shortest trigger of ``size`` the fluid model does not recover from, in seconds.

    A bisection on the length, to 4 s; ``inf`` when even ``longest_s`` recovers.
    """
    params = fluid_params(pipeline, policy)
    assert params is not None

    def collapsed(length: float) -> bool:
        trig = fluid.Trigger(kind, size, TRIGGER_START_S, length)
        fr = fluid.run(params, trig, horizon_s, step_s=BIN_S, dt=FLUID_DT_S)
        return math.isnan(fluid.recovery_s(fr, trig.end_s, SLO_S, RECOVERY_SHARE, HOLD_S))

    if not collapsed(longest_s):
        return math.inf
    lo, hi = 0.0, longest_s
    while hi - lo > 4.0:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if collapsed(mid) else (mid, hi)
    return hi


def _boundary(grid_sizes: Mapping[tuple[str, str], Sequence[float]], horizon_s: float
              ) -> pd.DataFrame:  # fmt: skip
    rows = []
    for (pipeline, kind), sizes in grid_sizes.items():
        for size in sizes:
            rows.append({"pipeline": pipeline, "policy": "default", "trigger": kind,
                         "size": size,
                         "length_s": boundary_length_s(pipeline, "default", kind, size,
                                                       horizon_s)})  # fmt: skip
    return pd.DataFrame(rows)


def extra_tables(o: Options, ds: Sequence[Design[Any]], run: Run) -> Mapping[str, pd.DataFrame]:
    """The headline's and the ramp's timelines, and the fluid model's branches and boundary."""
    grid = QUICK if o.quick else FULL
    by_name = {d.name: d for d in ds}
    timeline = pd.DataFrame(_binned(by_name["headline"], run, TIMELINE_METRICS))
    ramp = pd.DataFrame(_binned(by_name["ramp"], run, ("offered_per_s", "goodput_per_s")))
    pipelines = sorted({p for (p, _) in grid.map_policies})
    sizes: dict[tuple[str, str], list[float]] = {}
    for pipeline, kind in grid.map_policies:
        base = grid.spike_sizes if kind == "spike" else grid.slow_factors
        fine = base if o.quick else sorted({*base, *(x + 0.25 for x in base[:-1]), 1.25})
        sizes[(pipeline, kind)] = list(fine)
    boundary = _boundary(sizes, grid.horizon_s)
    return {"timeline": timeline, "ramp": ramp,
            "fluid_branches": _branches(grid.branch_loads, pipelines, grid.horizon_s),
            "fluid_boundary": boundary}  # fmt: skip


def report(rep: Report) -> str:
    """The charts and the findings, from the CSV tables."""
    t = rep.tables
    grid = QUICK if rep.quick else FULL
    out = rep.out
    chart_map(t["map"], t["fluid_boundary"], out / "stability_map.png", grid)
    chart_headline(t["headline"], t["steady"], out / "mitigations.png")
    chart_timeseries(t["timeline"], out / "timeseries.png", grid)
    chart_hysteresis(t["ramp"], t["fluid_branches"], out / "hysteresis.png")
    return findings(rep, grid)


STUDY = Study(
    "metastability",
    "Metastable failures of SQS → Lambda → database and SNS → Lambda → database: stability "
    "maps of load spikes and database slowdowns per retry policy and mitigation, recovery "
    "times, hysteresis, and a fluid model's prediction; writes results/metastability/.",
    20261203,
    designs,
    report,
    extra_tables=extra_tables,
    extra_table_names=("timeline", "ramp", "fluid_branches", "fluid_boundary"),
    replications_help="replications per configuration (default: the design's)",
)

__all__ = ["BASE_RATE_PER_S", "STUDY", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
