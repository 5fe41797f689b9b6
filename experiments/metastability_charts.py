"""The metastability study's charts, drawn from its tidy tables.

The study is :mod:`experiments.metastability`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize

from experiments.metastability_design import (
    BASE_RATE_PER_S,
    CAPACITY_PER_S,
    POLICIES,
    POLICY_BY_NAME,
    SLO_S,
    TRIGGER_START_S,
    Grid,
)
from sim.analysis.plots import ci_bars, new_panels, save_png
from sim.study import select

KIND_LABEL = {"spike": "load spike (× base load)", "slow": "database slowdown (× service time)"}
PIPELINE_LABEL = {"sqs": "SQS → Lambda → database", "sns": "SNS → Lambda (async) → database"}


def _panels(df: pd.DataFrame) -> list[tuple[str, str, str]]:
    keys = df[["pipeline", "trigger", "policy"]].drop_duplicates()
    return [(str(a), str(b), str(c)) for a, b, c in keys.itertuples(index=False)]


def chart_map(map_df: pd.DataFrame, boundary: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Trigger size × length per policy: recovery time (colour), collapsed (×), fluid (○/●)."""
    panels = _panels(map_df)
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = new_panels(rows, cols, max(3.7 * cols + 1.0, 11.0), 3.3 * rows + 0.9)
    norm = Normalize(0.0, grid.horizon_s - TRIGGER_START_S)
    cmap = "viridis_r"
    sc = None
    for ax, (pipeline, kind, policy) in zip(axes, panels, strict=False):
        eq = {"pipeline": pipeline, "trigger": kind, "policy": policy}
        sub = select(map_df, "recovery_capped_s", **eq)
        col = select(map_df, "collapsed", **eq).set_index(["size", "length_s"])
        lengths = sorted(sub["length_s"].unique())
        sizes = sorted(sub["size"].unique())
        sc = ax.scatter(sub["length_s"], sub["size"], c=sub["mean"], cmap=cmap, norm=norm,
                        marker="s", s=700, edgecolors="0.3")  # fmt: skip
        for key, r in col.iterrows():
            size, length = cast(tuple[float, float], key)
            if r["mean"] > 0:
                text = f"×{r['mean']:.0%}" if r["n"] > 1 else "×"
                ax.text(length, size, text, ha="center", va="center", color="white",
                        fontsize=11, fontweight="bold")  # fmt: skip
            if not pd.isna(r.get("theory", math.nan)):
                ax.plot(length * 1.45, size, marker="o", markersize=6, color="red",
                        markerfacecolor="red" if r["theory"] > 0 else "none")  # fmt: skip
        b = boundary[(boundary["pipeline"] == pipeline) & (boundary["trigger"] == kind)
                     & (boundary["policy"] == policy)].sort_values("size")  # fmt: skip
        if len(b):
            ok = b[np.isfinite(b["length_s"])]
            ax.plot(ok["length_s"], ok["size"], color="red", linestyle="--", linewidth=1.2,
                    label="fluid model: shortest trigger\nit does not recover from")  # fmt: skip
            ax.legend(loc="upper right", fontsize=6)
        ax.set_xscale("log")
        ax.set_xlim(min(lengths) / 2.2, max(lengths) * 2.5)
        pad = 0.25 * (max(sizes) - min(sizes) or 1.0)
        ax.set_ylim(min(sizes) - pad, max(sizes) + pad)
        ax.set_xticks(lengths, [f"{v:g}" for v in lengths])
        ax.minorticks_off()
        ax.set_yticks(sizes, [f"{v:g}" for v in sizes])
        ax.set_xlabel("trigger length (s, log scale)")
        ax.set_ylabel("spike size (× base load)" if kind == "spike"
                      else "slowdown (× service time)")  # fmt: skip
        ax.set_title(f"{pipeline.upper()} · {kind} · {policy}", fontsize=9)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if sc is not None:
        fig.colorbar(sc, ax=axes, shrink=0.6, label="recovery time after the trigger (s)")
    fig.suptitle("Stability map. Colour: recovery time (no recovery = the rest of the run); "
                 "× = no recovery within the run (share of replications);\n"
                 "red ● = the fluid model collapses, ○ = it recovers", fontsize=10)  # fmt: skip
    save_png(fig, out)


def _bars(ax: Axes, df: pd.DataFrame, metric: str, scale: float = 1.0) -> None:
    sel = df[df["metric"] == metric].copy()
    for c in ("mean", "ci_low", "ci_high"):
        sel[c] = sel[c] * scale
    policies = [p.name for p in POLICIES if p.name in set(sel["policy"])]
    pipelines = [p for p in ("sqs", "sns") if p in set(sel["pipeline"])]
    ci_bars(sel, ax, "policy", "pipeline", {p: p.replace("_", " ") for p in policies},
            {p: PIPELINE_LABEL[p] for p in pipelines},
            {"sqs": "tab:blue", "sns": "tab:orange"})  # fmt: skip
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def chart_headline(headline: pd.DataFrame, steady: pd.DataFrame, out: Path) -> None:
    """Each policy at the reference trigger and without one: means with 95% CIs."""
    panels = (
        (headline, "goodput_fraction", 100.0, "goodput after the trigger (% of offered)"),
        (headline, "recovery_capped_s", 1.0, "recovery time (s; not recovered = rest of run)"),
        (headline, "dead_lettered_fraction", 100.0, "dead-lettered (% of messages)"),
        (headline, "cost_per_million_usd", 1.0, "cost (USD per million messages)"),
        (steady, "latency_p99_s", 1.0, "no trigger: p99 latency (s)"),
        (steady, "cost_per_million_usd", 1.0, "no trigger: cost (USD per million messages)"),
    )
    fig, axes = new_panels(3, 2, 14.0, 13.0)
    for ax, (df, metric, scale, label) in zip(axes, panels, strict=True):
        _bars(ax, df, metric, scale)
        ax.set_ylabel(label)
    row = headline.iloc[0]
    fig.suptitle(f"Mitigations at the reference trigger ({row['trigger']} × {row['size']:g} "
                 f"for {row['length_s']:g} s at {TRIGGER_START_S:g} s), means with 95% CIs; "
                 "no-trigger runs below", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_timeseries(timeline: pd.DataFrame, out: Path, grid: Grid) -> None:
    """A collapsing and a recovering run side by side: goodput, backlog, retries, database."""
    pair = pick_pair_from_timeline(timeline)
    rows = (("goodput_per_s", "messages per second"), ("backlog", "messages in the system"),
            ("sdk_retries_per_s", "SDK retries per second"),
            ("db_utilization", "database connections in use (fraction)"))  # fmt: skip
    fig, axes = new_panels(len(rows), 2, 13.0, 11.0)
    for j, (pipeline, policy) in enumerate(pair):
        for i, (metric, label) in enumerate(rows):
            ax = axes[i * 2 + j]
            sel = select(timeline, metric, pipeline=pipeline, policy=policy)
            ax.plot(sel["t_s"] / 60.0, sel["mean"], color="tab:blue", label="mean")
            if sel["ci_low"].notna().any():
                top = 1.0 if metric == "db_utilization" else math.inf
                ax.fill_between(sel["t_s"] / 60.0, sel["ci_low"].clip(0.0, top),
                                sel["ci_high"].clip(0.0, top), alpha=0.25, color="tab:blue",
                                label="95% CI (clipped to the possible range)")  # fmt: skip
            if metric == "goodput_per_s":
                off = select(timeline, "offered_per_s", pipeline=pipeline, policy=policy)
                ax.plot(off["t_s"] / 60.0, off["mean"], color="0.4", linestyle="--",
                        label="offered load")  # fmt: skip
            row = sel.iloc[0]
            ax.axvspan(TRIGGER_START_S / 60.0, (TRIGGER_START_S + row["length_s"]) / 60.0,
                       color="0.85", label="trigger")  # fmt: skip
            ax.set_ylabel(label)
            if i == len(rows) - 1:
                ax.set_xlabel("simulated time (min)")
            if i == 0:
                ax.set_title(f"{PIPELINE_LABEL[pipeline]}: {POLICY_BY_NAME[policy].label}",
                             fontsize=9)  # fmt: skip
                ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"One collapsing and one recovering configuration at the same trigger "
                 f"(goodput = processed within {SLO_S:g} s of creation, per {60:g} s bin)",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def pick_pair_from_timeline(timeline: pd.DataFrame) -> tuple[tuple[str, str], tuple[str, str]]:
    """The collapsed and the recovering (pipeline, policy) of the timeline.

    Judged from its last 10 minutes: the default of the pipeline where it does worst
    (goodput ÷ offered), and the best other policy of that pipeline.
    """
    good = timeline[timeline["metric"] == "goodput_per_s"]
    off = timeline[timeline["metric"] == "offered_per_s"]
    last = good["t_s"].max()
    g = good[good["t_s"] >= last - 600].groupby(["pipeline", "policy"])["mean"].mean()
    o = off[off["t_s"] >= last - 600].groupby(["pipeline", "policy"])["mean"].mean()
    ratio = (g / o).fillna(0.0)
    pipelines = [p for p in ("sqs", "sns") if (p, "default") in ratio.index]
    best = None
    for p in pipelines:
        others = ratio[[k for k in ratio.index if k[0] == p and k[1] != "default"]]
        if len(others) and (best is None or ratio[(p, "default")] < ratio[best[0]]):
            best = ((p, "default"), others.idxmax())
    assert best is not None
    return best


def chart_hysteresis(ramp: pd.DataFrame, branches: pd.DataFrame, out: Path) -> None:
    """Goodput against offered load on the way up and down, and the fluid model's branches."""
    keys = [(str(a), str(b)) for a, b in
            ramp[["pipeline", "policy"]].drop_duplicates().itertuples(index=False)]
    fig, axes = new_panels(1, len(keys), 6.0 * len(keys), 5.0)
    for ax, (pipeline, policy) in zip(axes, keys, strict=True):
        g = select(ramp, "goodput_per_s", pipeline=pipeline, policy=policy)
        o = select(ramp, "offered_per_s", pipeline=pipeline, policy=policy)
        df = g.merge(o[["t_s", "mean"]], on="t_s", suffixes=("", "_offered"))
        mid = float(df["t_s"].max()) / 2
        for leg, color, mask in (("load rising", "tab:red", df["t_s"] < mid),
                                 ("load falling", "tab:blue", df["t_s"] >= mid)):
            d = df[mask]
            ax.errorbar(d["mean_offered"], d["mean"],
                        yerr=[d["mean"] - d["ci_low"].fillna(d["mean"]),
                              d["ci_high"].fillna(d["mean"]) - d["mean"]],
                        marker="o" if leg == "load rising" else "s", markersize=3,
                        linestyle="-", color=color, label=f"simulation, {leg}")  # fmt: skip
        if policy == "default":
            b = branches[branches["pipeline"] == pipeline]
            ax.plot(b["rate_per_s"], b["low_goodput_per_s"], color="black", linestyle=":",
                    label="fluid model from empty (low branch)")  # fmt: skip
            ax.plot(b["rate_per_s"], b["high_goodput_per_s"], color="black", linestyle="--",
                    label="fluid model from saturated (high branch)")  # fmt: skip
        ax.plot([0, CAPACITY_PER_S * 1.3], [0, CAPACITY_PER_S * 1.3], color="0.7",
                linewidth=0.8, label="goodput = offered")  # fmt: skip
        ax.axvline(CAPACITY_PER_S, color="0.5", linestyle="-.", linewidth=0.8,
                   label=f"capacity {CAPACITY_PER_S:.1f}/s")  # fmt: skip
        ax.axvline(BASE_RATE_PER_S, color="0.5", linestyle=":", linewidth=0.8,
                   label=f"base load {BASE_RATE_PER_S:.1f}/s")  # fmt: skip
        ax.set_xlabel("offered load (messages/s, per 60 s bin)")
        ax.set_ylabel(f"goodput (messages/s processed within {SLO_S:g} s)")
        ax.set_title(f"{PIPELINE_LABEL[pipeline]}: {policy}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Hysteresis: a triangle of offered load, up then down", fontsize=10)
    save_png(fig, out)
