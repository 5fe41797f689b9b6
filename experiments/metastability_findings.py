"""The metastability study's findings text, built from its CSV tables only.

The study is :mod:`experiments.metastability`. Every number below comes from ``report.tables``
(the CSV files read back); the design's constants are inputs, stated as such.
"""

from __future__ import annotations

import math

import pandas as pd

from experiments.metastability_design import (
    BASE_LOAD,
    BASE_RATE_PER_S,
    BIN_S,
    CAPACITY_PER_S,
    CLIENT_TIMEOUT_S,
    HOLD_S,
    KAPPA,
    KNEE,
    MAX_CONNECTIONS,
    MAX_RECEIVE_COUNT,
    POLICIES,
    POLICY_BY_NAME,
    RECOVERY_SHARE,
    SERVICE_MEAN_S,
    SIGMA,
    SLO_S,
    TRIGGER_START_S,
    VISIBILITY_TIMEOUT_S,
    Grid,
)
from sim.study import Report, mean_ci, number, percent, percent_ci, select, summary_row

TITLE = "# Metastable failures: a trigger that ends, and a pipeline that stays down"
NAME = {"sqs": "SQS → Lambda", "sns": "SNS → Lambda (asynchronous)"}
KIND = {"spike": "load spike", "slow": "database slowdown"}


def _trigger(kind: str, size: float, length: float) -> str:
    what = "× the base load" if kind == "spike" else "× the service time"
    return f"{KIND[kind]} of {size:g} {what} for {length:g} s"


def _excess(kind: str, size: float, length: float) -> float:
    """An order of trigger strength: extra messages (spike) or lost capacity-seconds (slow)."""
    if kind == "spike":
        return (size - 1.0) * BASE_RATE_PER_S * length
    return (1.0 - 1.0 / size) * CAPACITY_PER_S * length


def _cells(map_df: pd.DataFrame, pipeline: str, kind: str, policy: str) -> pd.DataFrame:
    col = select(map_df, "collapsed", pipeline=pipeline, trigger=kind, policy=policy)
    col = col.assign(excess=[_excess(kind, s, length)
                             for s, length in zip(col["size"], col["length_s"], strict=True)])
    return col.sort_values(["excess", "size"], kind="stable")


def _smallest(map_df: pd.DataFrame, pipeline: str, kind: str) -> list[str]:
    cells = _cells(map_df, pipeline, kind, "default")
    if cells.empty:
        return []
    down = cells[cells["mean"] > 0]
    up = cells[cells["mean"] == 0]
    lines = []
    if len(down):
        r = down.iloc[0]
        fluid = ("the fluid model collapses there too" if r["theory"] == 1
                 else "the fluid model recovers from it")  # fmt: skip
        lines.append(f"- {NAME[pipeline]}, {KIND[kind]}: the smallest trigger of the map that "
                     f"collapses the default is a {_trigger(kind, r['size'], r['length_s'])} "
                     f"(in {percent(r['mean'])} of its replications; {fluid}).")  # fmt: skip
    else:
        lines.append(f"- {NAME[pipeline]}, {KIND[kind]}: no trigger of the map collapses the "
                     "default.")  # fmt: skip
    if len(up):
        r = up.iloc[-1]
        lines.append(f"  The largest it recovers from is a "
                     f"{_trigger(kind, r['size'], r['length_s'])}.")  # fmt: skip
    return lines


def _boundary_text(boundary: pd.DataFrame) -> list[str]:
    out = []
    for (pipeline, kind), g in boundary.groupby(["pipeline", "trigger"], sort=False):
        parts = [f"{s:g} × → {'none up to 600 s' if not math.isfinite(v) else f'{v:.0f} s'}"
                 for s, v in zip(g["size"], g["length_s"], strict=True)]  # fmt: skip
        out.append(f"- Fluid model, {NAME[str(pipeline)]}, {KIND[str(kind)]} (default): the "
                   f"shortest trigger it does not recover from, by size: {', '.join(parts)}.")
    return out


def _map_table(map_df: pd.DataFrame) -> list[str]:
    lines = ["| pipeline | trigger | policy | cells collapsed (simulation) | "
             "cells collapsed (fluid model) | cells where they agree |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    col = map_df[map_df["metric"] == "collapsed"]
    for (pipeline, kind, policy), g in col.groupby(["pipeline", "trigger", "policy"],
                                                   sort=False):  # fmt: skip
        sim = int((g["mean"] > 0).sum())
        th = g["theory"].dropna()
        fl = f"{int((th > 0).sum())} of {len(th)}" if len(th) else "no fluid counterpart"
        agree = (f"{int(((g['mean'] > 0) == (g['theory'] > 0))[g['theory'].notna()].sum())}"
                 f" of {len(th)}" if len(th) else "–")  # fmt: skip
        lines.append(f"| {NAME[str(pipeline)]} | {KIND[str(kind)]} | {policy} | {sim} of "
                     f"{len(g)} | {fl} | {agree} |")  # fmt: skip
    return lines


def _cell_names(df: pd.DataFrame) -> str:
    return "; ".join(f"{r['pipeline']} {r['policy']}, "
                     f"{_trigger(r['trigger'], r['size'], r['length_s'])}"
                     for _, r in df.iterrows())  # fmt: skip


def _disagreements(map_df: pd.DataFrame) -> list[str]:
    col = map_df[(map_df["metric"] == "collapsed") & map_df["theory"].notna()]
    rec = map_df[(map_df["metric"] == "recovery_s") & map_df["theory"].notna()]
    if col.empty:
        return ["- The fluid model predicts none of the map's cells (no policy with a fluid "
                "counterpart)."]  # fmt: skip
    sim_down = col["mean"] > 0
    fl_down = col["theory"] > 0
    both = int((sim_down == fl_down).sum())
    early = col[sim_down & ~fl_down]  # the simulator collapses, the fluid model recovers
    late = col[~sim_down & fl_down]  # the fluid model collapses, the simulator recovers
    out = [f"- Of the {len(col)} cells the fluid model predicts, it agrees with the simulation "
           f"(collapsed or not) in {both}."]  # fmt: skip
    if len(early):
        cells = _cell_names(early)
        out.append(f"- The simulation collapses where the fluid model recovers in {len(early)} "
                   f"cells ({cells}). These sit near the fluid model's boundary: the simulated "
                   "database's queue length fluctuates (Poisson arrivals, exponential service), "
                   "so a trigger a little short of the fluid boundary can still push the "
                   "waiting line past the client timeout by chance; the fluid model has no "
                   "fluctuations and its boundary is sharp.")  # fmt: skip
    if len(late):
        cells = _cell_names(late)
        out.append(f"- The fluid model collapses where the simulation recovers in {len(late)} "
                   f"cells ({cells}). In the fluid model every waiting request has the same "
                   "wait, so when it reaches the client timeout all of them time out together; "
                   "in the simulation waits are spread and some requests still finish in "
                   "time, and the event source's scale-down (every minute, to what was in "
                   "use) sheds callers the fluid model keeps.")  # fmt: skip
    both_rec = rec.dropna(subset=["mean"])
    if len(both_rec):
        gap = (both_rec["mean"] - both_rec["theory"]).abs()
        out.append(f"- Where both recover ({len(both_rec)} cells), their recovery times differ "
                   f"by {number(float(gap.mean()))} s on average (at most "
                   f"{number(float(gap.max()))} s; the simulation's resolution is one "
                   f"{BIN_S:g} s bin).")  # fmt: skip
    return out


def _safe(map_df: pd.DataFrame, head: pd.DataFrame, steady: pd.DataFrame) -> list[str]:
    col = map_df[map_df["metric"] == "collapsed"]
    out = []
    for (pipeline, policy), g in col.groupby(["pipeline", "policy"], sort=False):
        if policy == "default" or (g["mean"] > 0).any():
            continue
        eq = {"pipeline": pipeline, "policy": policy}
        base = {"pipeline": pipeline, "policy": "default"}
        out.append(
            f"- {NAME[str(pipeline)]}: `{policy}` recovers from every trigger of the map "
            f"({len(g)} cells). Without a trigger its p99 latency is "
            f"{mean_ci(summary_row(steady, 'latency_p99_s', **eq), 's')} against the default's "
            f"{mean_ci(summary_row(steady, 'latency_p99_s', **base), 's')}, and it costs "
            f"{mean_ci(summary_row(steady, 'cost_per_million_usd', **eq), 'USD')} per million "
            f"messages against "
            f"{mean_ci(summary_row(steady, 'cost_per_million_usd', **base), 'USD')}; at the "
            f"reference trigger it dead-letters "
            f"{percent_ci(summary_row(head, 'dead_lettered_fraction', **eq))} of the messages "
            f"(default: {percent_ci(summary_row(head, 'dead_lettered_fraction', **base))})"
            f"{_dropped(head, steady, eq)}."
        )  # fmt: skip
    if not out:
        out.append("- No policy recovers from every trigger of the map.")
    return out


def _dropped(head: pd.DataFrame, steady: pd.DataFrame, eq: dict[str, object]) -> str:
    """What shedding old inputs costs: the share dropped as too old, with and without trigger."""
    at = summary_row(head, "dropped_too_old_fraction", **eq)
    if at is None or float(at["mean"]) == 0:
        return ""
    calm = summary_row(steady, "dropped_too_old_fraction", **eq)
    return (f", and drops {percent_ci(at)} of them as too old (`dropped_too_old`; without a "
            f"trigger {percent_ci(calm)}): recovery is bought with the messages it sheds")


def _recovery(collapsed: pd.Series | None, capped: pd.Series | None) -> str:
    """Recovery time in words: "never" when every replication collapsed (a censored time)."""
    if collapsed is None or capped is None:
        return "n/a"
    if float(collapsed["mean"]) >= 1.0:
        return f"never within the run (> {number(float(capped['mean']))} s)"
    if float(collapsed["mean"]) > 0.0:
        return f"{mean_ci(capped)} (a run that never recovered counts until the run's end)"
    return mean_ci(capped)


def _headline_table(head: pd.DataFrame, steady: pd.DataFrame) -> list[str]:
    lines = ["| pipeline | policy | collapsed (share of replications) | recovery (s) | "
             "goodput after the trigger | p99 latency (s) | dead-lettered | cost per million "
             "messages (USD) | no trigger: p99 latency (s) | no trigger: cost per million "
             "(USD) |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    keys = head[["pipeline", "policy"]].drop_duplicates().itertuples(index=False)
    for pipeline, policy in keys:
        eq = {"pipeline": pipeline, "policy": policy}
        col = summary_row(head, "collapsed", **eq)
        lines.append(
            f"| {NAME[str(pipeline)]} | {policy} | "
            f"{percent(col['mean']) if col is not None else 'n/a'} | "
            f"{_recovery(col, summary_row(head, 'recovery_capped_s', **eq))} | "
            f"{percent_ci(summary_row(head, 'goodput_fraction', **eq))} | "
            f"{mean_ci(summary_row(head, 'latency_p99_s', **eq))} | "
            f"{percent_ci(summary_row(head, 'dead_lettered_fraction', **eq))} | "
            f"{mean_ci(summary_row(head, 'cost_per_million_usd', **eq))} | "
            f"{mean_ci(summary_row(steady, 'latency_p99_s', **eq))} | "
            f"{mean_ci(summary_row(steady, 'cost_per_million_usd', **eq))} |"
        )  # fmt: skip
    return lines


def _sustain(head: pd.DataFrame) -> list[str]:
    out = []
    for pipeline in head["pipeline"].unique():
        eq = {"pipeline": pipeline, "policy": "default"}
        col = summary_row(head, "collapsed", **eq)
        if col is None:
            continue
        out.append(
            f"- {NAME[str(pipeline)]}, default policy at the reference trigger (collapsed in "
            f"{percent(col['mean'])} of replications): "
            f"{mean_ci(summary_row(head, 'sdk_retries_per_message', **eq))} SDK retries and "
            f"{mean_ci(summary_row(head, 'receives_per_message', **eq))} receives "
            f"(invocations) per message, "
            f"{mean_ci(summary_row(head, 'db_timeouts_per_message', **eq))} client timeouts "
            f"per message, {percent_ci(summary_row(head, 'db_wasted_fraction', **eq))} of the "
            f"database's busy time wasted on queries whose client had given up, a backlog of "
            f"up to {mean_ci(summary_row(head, 'backlog_max', **eq))} messages and an oldest "
            f"message of {mean_ci(summary_row(head, 'oldest_age_max_s', **eq))} s."
        )  # fmt: skip
    return out


def _differences(diff: pd.DataFrame) -> list[str]:
    out = []
    for (pipeline, policy), g in diff.groupby(["pipeline", "policy"], sort=False):
        eq = {"pipeline": pipeline, "policy": policy}
        gp = summary_row(g, "goodput_fraction", **eq)
        rc = summary_row(g, "recovery_capped_s", **eq)
        cost = summary_row(g, "cost_per_million_usd", **eq)
        if gp is None:
            continue
        same = rc is not None and rc["std"] == 0 and rc["mean"] == 0
        rec = ("the same (neither recovers within the run)" if same else mean_ci(rc, "s"))
        out.append(f"- {NAME[str(pipeline)]}, {policy} − default: goodput "
                   f"{number(gp['mean'] * 100)} percentage points (95% CI "
                   f"{number(gp['ci_low'] * 100)} to {number(gp['ci_high'] * 100)}), recovery "
                   f"{rec}, cost {mean_ci(cost, 'USD per million')}.")  # fmt: skip
    return out


def _hysteresis(ramp: pd.DataFrame) -> list[str]:
    out = []
    for (pipeline, policy), g in ramp.groupby(["pipeline", "policy"], sort=False):
        good = g[g["metric"] == "goodput_per_s"].set_index("t_s")["mean"]
        off = g[g["metric"] == "offered_per_s"].set_index("t_s")["mean"]
        mid = float(good.index.max()) / 2
        gap = (off - BASE_RATE_PER_S).abs()
        up, down = gap[gap.index < mid], gap[gap.index >= mid]
        if up.empty or down.empty:
            continue
        t_up, t_down = float(up.idxmin()), float(down.idxmin())  # type: ignore[arg-type]
        rising = float(good[good.index < mid].sum()) / max(float(off[off.index < mid].sum()), 1e-9)
        falling = float(good[good.index >= mid].sum()) / max(
            float(off[off.index >= mid].sum()), 1e-9)  # fmt: skip
        out.append(f"- {NAME[str(pipeline)]}, {policy}: in the bin whose offered load is "
                   f"nearest the base load ({BASE_RATE_PER_S:.1f}/s), goodput is "
                   f"{number(float(good[t_up]))}/s of {number(float(off[t_up]))}/s offered on "
                   f"the way up (at {t_up / 60:g} min) and {number(float(good[t_down]))}/s of "
                   f"{number(float(off[t_down]))}/s on the way down (at {t_down / 60:g} min); "
                   f"goodput over the whole rising leg {percent(rising)} of the offered load, "
                   f"over the falling leg {percent(falling)}; {_back(good, off, mid)}.")
    if out:
        out.append(
            "- Reading the falling leg: while the offered load exceeds the capacity a backlog "
            "builds in every configuration, and its messages are older than the goodput "
            "deadline when they are processed, so goodput stays low on the way down until that "
            "backlog has drained even where nothing is metastable. The test of metastability "
            "is whether goodput comes back before the load has fallen far below the level "
            "where it was lost: a configuration that drains comes back on the falling leg, a "
            "collapsed one only when the load is a fraction of its capacity, or never."
        )
    return out


def _back(good: pd.Series, off: pd.Series, mid: float) -> str:
    """When goodput is back to 90% of the offered load on the falling leg, in words."""
    falling = [t for t in good.index if t >= mid and float(off[t]) > 0]
    for t in falling:
        if all(float(good[u]) >= 0.9 * float(off[u]) for u in falling if u >= t):
            return (f"goodput is back to 90% of the offered load from minute {t / 60:g} on, "
                    f"at an offered {number(float(off[t]))}/s")
    return "goodput never comes back to 90% of the offered load before the ramp ends"


def _branches(branches: pd.DataFrame) -> list[str]:
    out = []
    for pipeline, g in branches.groupby("pipeline", sort=False):
        bi = g[g["bistable"] > 0]["load"]
        mono = g[g["bistable"] == 0]["load"]
        loads = ", ".join(f"{x:g}" for x in bi) if len(bi) else "none"
        single = ", ".join(f"{x:g}" for x in mono) if len(mono) else "none"
        out.append(f"- Fluid model, {NAME[str(pipeline)]} (default): bistable (a collapsed "
                   f"state that persists beside the healthy one) at loads (× capacity) "
                   f"{loads}; one stable state at {single}.")  # fmt: skip
    return out


def findings(rep: Report, grid: Grid) -> str:
    """The findings (markdown), from the CSV tables."""
    t = rep.tables
    map_df, head, steady = t["map"], t["headline"], t["steady"]
    kind, size, length = grid.reference
    lines = [
        TITLE, "",
        f"Script: `experiments/metastability.py`{' (--quick)' if rep.quick else ''}; root "
        f"seed {rep.seed}. Two pipelines call one database: SQS → Lambda (event source "
        f"mapping, batch 1, visibility timeout {VISIBILITY_TIMEOUT_S:g} s, DLQ after "
        f"{MAX_RECEIVE_COUNT} receives) and SNS → Lambda (asynchronous invocation, 2 retries, "
        f"failures to an on-failure queue). Database (inputs): {MAX_CONNECTIONS} connections, "
        f"{SERVICE_MEAN_S:g} s per query alone (exponential), USL σ = {SIGMA:g}, κ = {KAPPA:g}: "
        f"capacity X({KNEE}) = {CAPACITY_PER_S:.2f} queries/s. Client timeout "
        f"{CLIENT_TIMEOUT_S:g} s (a query in service keeps running: wasted work), AWS SDK "
        f"standard retries by default. Base load {BASE_LOAD:g} × capacity = "
        f"{BASE_RATE_PER_S:.2f} messages/s; triggers start at {TRIGGER_START_S:g} s; runs last "
        f"{grid.horizon_s:g} s. Goodput: messages processed within {SLO_S:g} s of creation, "
        f"per {BIN_S:g} s bin. Recovered: goodput ≥ {RECOVERY_SHARE:.0%} of the offered load "
        f"in every bin for {HOLD_S:g} s; collapsed: never within the run.",
        "",
        "![stability map](metastability/stability_map.png)",
        "",
        "## The smallest trigger that collapses the default",
        "",
        *[line for (p, k) in grid.map_policies for line in _smallest(map_df, p, k)],
        *_boundary_text(t["fluid_boundary"]),
        "",
        "## The stability map per policy (simulation and fluid model)",
        "",
        *_map_table(map_df),
        "",
        "## Which settings keep the pipeline out of the metastable region",
        "",
        *_safe(map_df, head, steady),
        "",
        "## Where the fluid model and the simulation differ, and why",
        "",
        *_disagreements(map_df),
        "",
        f"## Every policy at one trigger ({_trigger(kind, size, length)}), with 95% CIs",
        "",
        "![mitigations](metastability/mitigations.png)",
        "",
        *_headline_table(head, steady),
        "",
        "Paired differences against the default (common random numbers):",
        "",
        *_differences(t["headline_differences"]),
        "",
        "## What sustains a collapse",
        "",
        *_sustain(head),
        "",
        "![time series](metastability/timeseries.png)",
        "",
        "## Hysteresis",
        "",
        *_hysteresis(t["ramp"]),
        *_branches(t["fluid_branches"]),
        "",
        "![hysteresis](metastability/hysteresis.png)",
        "",
        "## Policies",
        "",
        *[f"- `{p.name}`: {p.label}" for p in POLICIES
          if p.name in set(map_df["policy"]) | set(head["policy"])],
        "",
    ]  # fmt: skip
    _ = POLICY_BY_NAME
    return "\n".join(lines)
