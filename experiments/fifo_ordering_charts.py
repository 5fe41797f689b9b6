"""The FIFO study's four charts, from its tidy tables (see :mod:`experiments.fifo_ordering`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from experiments.fifo_ordering_design import (
    FIFO_CALLS_PER_S,
    LEVEL,
    MEAN_DURATION_S,
    NO_REORDER,
    Setup,
    error_label,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png

#: Colours of successive series (the order of their first appearance in a table).
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
CI_LEGEND = f"mean, {LEVEL:.0%} CI"
#: A dashed reference line: label, xs, ys.
Reference = tuple[str, Sequence[float], Sequence[float]]


def _series(df: pd.DataFrame, col: str) -> dict[Any, str]:
    return {v: COLORS[i % len(COLORS)] for i, v in enumerate(dict.fromkeys(df[col]))}


def _axes(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def _bars(df: pd.DataFrame, ax: Axes, *, category: str, series: str, ylabel: str, title: str,
          xlabel: str = "", log: bool = False, theory_label: str | None = None,
          legend_below: bool = False) -> None:  # fmt: skip
    """Grouped CI bars labelled with their means (categories and series in table order)."""
    if log:
        ax.set_yscale("log")
    colors = _series(df, series)
    ci_bars(df, ax, category, series, {c: str(c) for c in dict.fromkeys(df[category])},
            {k: str(k) for k in colors}, colors, annotate=True,
            theory="theory" if theory_label else None, theory_label=theory_label or "")
    ax.tick_params(axis="x", labelsize=8)
    ax.margins(y=0.15)
    _axes(ax, xlabel, ylabel, title)
    below: dict[str, Any] = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.2), "ncol": 2}
    ax.legend(fontsize=7, title=CI_LEGEND, title_fontsize=7, **(below if legend_below else {}))


def _lines(df: pd.DataFrame, ax: Axes, *, x: str, series: str, xlabel: str, ylabel: str,
           title: str, logx: bool = False, logy: bool = False, xticks: Sequence[float] = (),
           references: Sequence[Reference] = ()) -> None:  # fmt: skip
    """CI lines against ``x`` (one per series, table order) and dashed reference lines."""
    colors = _series(df, series)
    ci_lines(df, ax, x, series, {k: f"{k} ({CI_LEGEND})" for k in colors}, colors)
    for j, (label, xs, ys) in enumerate(references):
        ax.plot(list(xs), list(ys), ("--", ":", "-.")[j % 3], color="0.25", linewidth=1.1,
                label=label)  # fmt: skip
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    if xticks:
        ax.set_xticks(list(xticks), [f"{v:,g}" for v in xticks])
        ax.minorticks_off()
    _axes(ax, xlabel, ylabel, title)
    ax.legend(fontsize=7)


def _timeline(df: pd.DataFrame, ax: Axes, *, x: str, y: str, series: str, xlabel: str,
              ylabel: str, title: str, muted: str, vline: tuple[str, float]) -> None:  # fmt: skip
    """Per-message values against time (no CIs); the ``muted`` series grey, behind."""
    i = 0
    for name in dict.fromkeys(df[series]):
        sub = df[df[series] == name].sort_values(x)
        color = "0.6" if name == muted else COLORS[i % len(COLORS)]
        i += name != muted
        ax.plot(sub[x].astype(float), sub[y].astype(float), marker=".", markersize=3,
                linewidth=0.8, color=color, zorder=1.0 if name == muted else 2.0, label=name)
    ax.axvline(vline[1], color="black", linestyle=":", linewidth=1.0, label=vline[0])
    ax.set_yscale("log")
    ax.grid(color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    _axes(ax, xlabel, ylabel, title)
    ax.legend(fontsize=7)


def _pick(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return df[df["metric"] == metric].reset_index(drop=True)


def _relabel(df: pd.DataFrame, names: Mapping[str, str], col: str = "series") -> pd.DataFrame:
    """The rows of the metrics in ``names``, with their names in column ``col``."""
    out = df[df["metric"].isin(list(names))].copy()
    out[col] = out["metric"].map(names)
    return out


def _save(fig: Figure, title: str, path: Path) -> None:
    fig.suptitle(title, fontsize=10)
    save_png(fig, path)


def ordering_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Violations, duplicates and p99 latency per queue type and function error rate."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    df = df[df["queue"] != NO_REORDER]
    df = df.assign(errors=[error_label(e) for e in df["function_error_rate"]])
    panels = [
        ("ordering_violations_per_10k", "ordering violations per 10,000 messages",
         "(a) Out-of-order processings", False),
        ("duplicates_per_10k", "duplicate processings per 10,000 messages",
         "(b) Duplicate processings", False),
        ("latency_p99_s", "p99 end-to-end latency (s, log scale)",
         "(c) p99 latency, producer to processed", True),
    ]  # fmt: skip
    for ax, (metric, ylabel, title, log) in zip(axes, panels, strict=True):
        _bars(_pick(df, metric), ax, category="queue", series="errors", ylabel=ylabel,
              title=title, xlabel="queue type", log=log)  # fmt: skip
    _save(fig,
          f"SQS standard vs FIFO → Lambda, {setup.ordering_rate_per_s:g} msg/s in 10 groups, "
          f"batch 10, ≤ 10 concurrent batches, 0.1% producer re-sends; standard: 0.1% "
          f"duplicates, 1% reordering\n{setup.ordering_duration_s:g} s of arrivals, "
          f"{setup.ordering_reps} replications with common random numbers, 95% CIs", path)


def groups_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Throughput, p99 latency and ordering violations against the number of groups."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    xs = sorted(set(df["groups"]))
    rate = setup.groups_rate_per_s
    bound = [min(rate, x / MEAN_DURATION_S) for x in xs]
    panels: list[tuple[str, str, str, bool, list[Reference]]] = [
        ("throughput_per_s", "delivered throughput (messages/s)", "(a) Throughput", False,
         [(f"offered load {rate:g} msg/s", xs, [rate] * len(xs)),
          ("FIFO bound min(load, groups ÷ 0.1 s)", xs, bound)]),
        ("latency_p99_s", "p99 latency of delivered messages (s, log)", "(b) p99 latency", True,
         []),
        ("ordering_violations_per_10k", "ordering violations per 10,000 messages",
         "(c) Ordering violations", False, []),
    ]  # fmt: skip
    for ax, (metric, ylabel, title, logy, references) in zip(axes, panels, strict=True):
        _lines(_pick(df, metric), ax, x="groups", series="queue",
               xlabel="message groups (log scale)", ylabel=ylabel, title=title, logx=True,
               logy=logy, xticks=xs, references=references)  # fmt: skip
    _save(fig,
          f"FIFO concurrency is capped by the number of message groups: {rate:g} msg/s, batch "
          f"size 1, 0.1 s per invocation (≤ 10 msg/s per group)\n{setup.groups_duration_s:g} s "
          f"of arrivals, {setup.groups_reps} replications with common random numbers, 95% CIs",
          path)  # fmt: skip


def hol_chart(df: pd.DataFrame, timeline: pd.DataFrame, setup: Setup, path: Path) -> None:
    """A replication's latencies around the poison message, and stall vs theory."""
    fig, axes = new_panels(1, 2, 13.0, 4.8)
    tl = timeline.dropna(subset=["latency_s"])
    first = str(tl["variant"].iloc[0])
    poison = tl[tl["group"] == "poison's group"]
    poison = poison.assign(series=[f"poison's group, {v}" for v in poison["variant"]])
    other = tl[(tl["group"] == "another group") & (tl["variant"] == first)]
    other = other.assign(series="another group (the same in every variant)")
    _timeline(
        pd.concat([other, poison], ignore_index=True), axes[0], x="created_rel_s",
        y="latency_s", series="series",
        xlabel="message creation time − poison message's creation time (s)",
        ylabel="end-to-end latency (s, log scale)",
        title=f"(a) One replication (rep {int(timeline['rep'].iloc[0])}): latency of each "
              "message of two groups",
        muted="another group (the same in every variant)",
        vline=("poison message created (never processed)", 0.0),
    )  # fmt: skip
    bars = _relabel(df, {
        "stall_s": "poison message blocks its group",
        "next_message_latency_s": "latency of the next message in its group",
        "other_groups_latency_p99_s": "p99 latency of other groups meanwhile",
    }, "what")  # fmt: skip
    bars["theory"] = np.where(bars["metric"] == "stall_s", bars["theory_stall_s"], np.nan)
    bars["variant"] = [str(v).replace(", visibility", "\nvisibility") for v in bars["variant"]]
    _bars(
        bars, axes[1], category="variant", series="what", ylabel="seconds (log scale)",
        title="(b) Stall of the poison's group vs other groups", log=True,
        theory_label="theory: maxReceiveCount × visibility, or retention", legend_below=True,
    )  # fmt: skip
    _save(fig,
          f"Head-of-line blocking: one poison message in one of {setup.hol_groups} FIFO groups "
          f"(1 msg per {setup.hol_period_s:g} s each), batch size 10\n{setup.hol_reps} "
          f"replications with common random numbers (same poison message in every variant), "
          f"95% CIs", path)


def limit_chart(df: pd.DataFrame, setup: Setup, path: Path) -> None:
    """Delivered throughput, loss and producer time against the offered load."""
    fig, axes = new_panels(1, 3, 13.0, 4.4)
    xs = sorted(set(df["offered_per_s"]))
    against_load = functools.partial(_lines, x="offered_per_s", series="series",
                                     xlabel="offered load (messages/s)", xticks=xs)  # fmt: skip
    calls = _relabel(df, {
        "accepted_sends_per_s": "accepted sends (queue throughput)",
        "throttled_sends_per_s": "throttled sends (first tries and retries)",
    })  # fmt: skip
    against_load(
        calls, axes[0], ylabel="SendMessage calls per second",
        title="(a) Accepted and throttled sends",
        references=[("no limit (accepted = offered)", xs, xs),
                    (f"FIFO limit {FIFO_CALLS_PER_S:g} calls/s", xs,
                     [FIFO_CALLS_PER_S] * len(xs))],
    )  # fmt: skip
    lost = _pick(df, "lost_fraction").assign(series="FIFO queue")
    for c in ("mean", "ci_low", "ci_high"):
        lost[c] = lost[c] * 100
    against_load(
        lost, axes[1], ylabel="messages lost after 3 send attempts (%)",
        title="(b) Lost messages", references=[("1 − limit ÷ load", xs,
                     [max(0.0, 1 - FIFO_CALLS_PER_S / x) * 100 for x in xs])],
    )  # fmt: skip
    times = _relabel(df, {
        "producer_latency_mean_s": "producer time per message",
        "latency_p99_s": "p99 end-to-end latency",
    })  # fmt: skip
    against_load(times, axes[2], ylabel="seconds", title="(c) Producer time and latency")
    _save(fig,
          f"FIFO throughput limit ({FIFO_CALLS_PER_S:g} SendMessage calls/s, no batching): "
          f"throttled sends, SDK retries (3 attempts, full-jitter backoff 1–20 s)\n"
          f"{setup.limit_duration_s - setup.limit_warmup_s:g} s measured after a "
          f"{setup.limit_warmup_s:g} s warm-up, {setup.limit_reps} replications, 95% CIs", path)
