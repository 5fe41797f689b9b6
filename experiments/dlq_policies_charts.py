"""The DLQ-policies study's charts, drawn from its tidy tables.

The study is :mod:`experiments.dlq_policies`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from experiments.dlq_policies_design import (
    RATE_PER_S,
    RESERVED_CONCURRENCY,
    RETENTION_S,
    VISIBILITY_TIMEOUT_S,
    VT_DURATION_MEDIAN_S,
    VT_MAX_RECEIVE_COUNT,
    VT_RATE_PER_S,
    VT_TIMEOUT_CAP_S,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png, symlog_y
from sim.study import select as _select

WHOLE, PARTIAL_LABEL = "whole-batch failure", "partial batch response"
MODE_COLORS: dict[object, str] = {False: "tab:red", True: "tab:blue"}
MODE_LABELS: dict[object, str] = {False: WHOLE, True: PARTIAL_LABEL}
ERR_COLORS = {0.01: "tab:blue", 0.1: "tab:orange", 0.3: "tab:red"}
SETUP = (f"SQS standard → Lambda, {RATE_PER_S:g} msg/s, batch 10 (1 s window), ≤ 5 concurrent "
         f"batches, VT {VISIBILITY_TIMEOUT_S:g} s, retention {RETENTION_S:g} s")  # fmt: skip


def _top(*frames: pd.DataFrame) -> float:
    """The largest CI bound (or mean) in ``frames``, for axis limits."""
    vals = [v for f in frames for c in ("mean", "ci_high") for v in f[c].dropna()]
    return max(vals, default=1.0)


def _k_positions(ks: Sequence[int]) -> dict[object, float]:
    pos: dict[object, float] = {k: float(i) for i, k in enumerate(ks)}
    pos["none"] = float(len(ks))
    return pos


def _k_column(df: pd.DataFrame) -> pd.Series:
    return df["max_receive_count"].astype("object").where(df["policy"] == "dlq", "none")


def chart_good_lost(pol: pd.DataFrame, dlq: pd.DataFrame, out: Path, reps: int) -> None:
    """Good messages never processed (a) and good messages in the DLQ (b) vs max receives."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    poison = float(pol["poison_rate"].max())
    errs = sorted(pol["error_rate"].unique())
    fig, (a, b) = new_panels(1, 2, 13.0, 5.2)
    pos = _k_positions(ks)
    drawn: list[pd.DataFrame] = []
    for partial, style, shift in ((False, "-", -0.06), (True, "--", 0.06)):
        lost = _select(pol, "good_lost_per_million", poison_rate=poison,
                       report_batch_item_failures=partial)  # fmt: skip
        lost["k"] = _k_column(lost)
        in_dlq = (
            _select(dlq, "good_in_dlq_per_million") if not partial else
            _select(pol, "good_dead_lettered_per_million", policy="dlq", poison_rate=poison,
                    report_batch_item_failures=True)
        )  # fmt: skip
        in_dlq = in_dlq.assign(k=in_dlq["max_receive_count"].astype("object"))
        shifted = {k: v + shift for k, v in pos.items()}
        mode = MODE_LABELS[partial]
        marker = "o" if partial else "s"
        labels = {e: f"{e:.0%} errors, {mode}" for e in errs}
        ci_lines(lost[lost["k"] != "none"], a, "k", "error_rate", labels, ERR_COLORS, shifted,
                 linestyle=style, marker=marker)  # fmt: skip
        ci_lines(lost[lost["k"] == "none"], a, "k", "error_rate",
                 {e: "_nolegend_" for e in errs}, ERR_COLORS, shifted, linestyle="none",
                 marker=marker)  # fmt: skip
        ci_lines(in_dlq, b, "k", "error_rate", labels, ERR_COLORS, shifted, linestyle=style,
                 marker=marker)  # fmt: skip
        drawn += [lost, in_dlq]
    for e in errs:
        xs = [pos[k] for k in ks]
        a.plot(xs, [e**k * 1e6 for k in ks], linestyle=":", marker="x", color=ERR_COLORS[e],
               linewidth=1.0, label=f"theory p^k, p = {e:.0%}")  # fmt: skip
    top = _top(*drawn)
    for ax in (a, b):
        symlog_y(ax, top, 10.0, 2.0)
        ax.set_xlabel("max_receive_count (receives before the DLQ)")
    a.set_xticks(list(pos.values()), [*map(str, ks), "no DLQ"])
    b.set_xticks([pos[k] for k in ks], [str(k) for k in ks])
    b.set_xlim(a.get_xlim()[0], pos[ks[-1]] + 0.5)
    a.set_ylabel("good messages never processed\n(dead-lettered or expired) per million")
    b.set_ylabel("good messages in the DLQ per million\n(including ones already processed)")
    a.set_title("(a) good messages lost", fontsize=10)
    b.set_title(f"(b) DLQ contents: whole-batch from a drill-down of {int(dlq['n'].min())} "
                "replications", fontsize=10)  # fmt: skip
    a.legend(fontsize=7, ncol=1, loc="upper right")
    b.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Good messages lost to the DLQ vs max_receive_count, {poison:.0%} poison "
                 f"messages; mean and 95% CI of {reps} replications\n{SETUP}",
                 fontsize=11)  # fmt: skip
    save_png(fig, out)


def chart_poison(pol: pd.DataFrame, out: Path, reps: int) -> None:
    """The endless loop: what each poison message costs, with and without a DLQ."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    poison = float(pol["poison_rate"].max())
    err = float(pol["error_rate"].min())
    fig, (a, b) = new_panels(1, 2, 13.0, 4.8)
    cats: dict[object, str] = {**{k: str(k) for k in ks}, "none": "no DLQ"}
    for ax, metric, ylabel in (
        (a, "extra_attempts_per_poison", "extra processing attempts per poison message"),
        (b, "extra_duplicates_per_poison",
         "extra duplicate processings of good\nmessages per poison message"),
    ):  # fmt: skip
        df = _select(pol, metric, poison_rate=poison, error_rate=err)
        df["k"] = _k_column(df)
        ci_bars(df, ax, "k", "report_batch_item_failures", cats, MODE_LABELS, MODE_COLORS)
        ax.set_xlabel("max_receive_count (receives before the DLQ)")
        ax.set_ylabel(ylabel)
    cycles = RETENTION_S / VISIBILITY_TIMEOUT_S
    a.axhline(cycles, color="black", linestyle=":", linewidth=1.0,
              label=f"retention ÷ VT = {cycles:g} receives")  # fmt: skip
    a.set_title("(a) wasted attempts: k with a DLQ, until expiry without", fontsize=10)
    b.set_title("(b) collateral: batch-mates of a poison message reprocessed", fontsize=10)
    a.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Poison messages with and without a DLQ ({poison:.0%} poison, {err:.0%} "
                 f"transient errors; vs the same workload without poison, common random "
                 f"numbers; mean and 95% CI of {reps} replications)\n{SETUP} (AWS default "
                 f"retention 4 days = {345_600 / VISIBILITY_TIMEOUT_S:,.0f} receives)",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_batch_failures(pol: pd.DataFrame, out: Path, reps: int, k: int) -> None:
    """Whole-batch failure vs partial batch response across error rates, at one policy."""
    poison = sorted(pol["poison_rate"].unique())[len(pol["poison_rate"].unique()) // 2]
    errs = sorted(pol["error_rate"].unique())
    cats: dict[object, str] = {e: f"{e:.0%}" for e in errs}
    fig, axes = new_panels(1, 3, 14.0, 4.6)
    for ax, metric, ylabel in zip(axes, (
        "duplicates_per_1k", "latency_p99_s", "cost_per_million_usd"), (
        "duplicate processings per 1,000 messages", "p99 latency of delivered messages (s)",
        "cost per million messages (USD)"), strict=True):  # fmt: skip
        df = _select(pol, metric, policy="dlq", max_receive_count=k, poison_rate=poison)
        ci_bars(df, ax, "error_rate", "report_batch_item_failures", cats, MODE_LABELS,
                MODE_COLORS)  # fmt: skip
        ax.set_xlabel("transient error rate (per message and attempt)")
        ax.set_ylabel(ylabel)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(f"Whole-batch failure vs partial batch response (ReportBatchItemFailures), "
                 f"max_receive_count {k}, {poison:.1%} poison; mean and 95% CI of {reps} "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_visibility(vt: pd.DataFrame, out: Path, reps: int) -> None:
    """Good messages dead-lettered, duplicates and p99 latency vs the visibility timeout."""
    fig, axes = new_panels(1, 3, 14.0, 4.8)
    labels: dict[object, str] = {
        RESERVED_CONCURRENCY: f"ESM max concurrency {RESERVED_CONCURRENCY} = reserved "
                              f"{RESERVED_CONCURRENCY} (no throttling)",
        2 * RESERVED_CONCURRENCY: f"ESM max concurrency {2 * RESERVED_CONCURRENCY} > reserved "
                                  f"{RESERVED_CONCURRENCY} (throttled)",
    }  # fmt: skip
    colors: dict[object, str] = {RESERVED_CONCURRENCY: "tab:blue",
                                 2 * RESERVED_CONCURRENCY: "tab:red"}  # fmt: skip
    vts = sorted(vt["visibility_timeout_s"].unique())
    for ax, metric, ylabel in zip(axes, (
        "dead_lettered_per_1k", "duplicates_per_1k", "latency_p99_s"), (
        "good messages dead-lettered per 1,000\n(never processed; no errors, no poison)",
        "duplicate processings per 1,000 messages", "p99 latency of delivered messages (s)",
    ), strict=True):  # fmt: skip
        ci_lines(_select(vt, metric), ax, "visibility_timeout_s", "esm_max_concurrency",
                 labels, colors)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks(vts, [f"{v:g}" for v in vts])
        ax.minorticks_off()
        ax.axvline(VT_DURATION_MEDIAN_S, color="0.4", linestyle=":", linewidth=1.0,
                   label=f"median function duration {VT_DURATION_MEDIAN_S:g} s")  # fmt: skip
        ax.axvline(VT_TIMEOUT_CAP_S, color="0.4", linestyle="--", linewidth=1.0,
                   label=f"function timeout reaches its cap, {VT_TIMEOUT_CAP_S:g} s")  # fmt: skip
        ax.set_xlabel("visibility timeout VT (s, log scale)")
        ax.set_ylabel(ylabel)
    symlog_y(axes[0], _top(_select(vt, "dead_lettered_per_1k")), 1.0, 2.0)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(f"Visibility timeout around the function's duration (lognormal, median "
                 f"{VT_DURATION_MEDIAN_S:g} s per batch); SQS standard → Lambda, "
                 f"{VT_RATE_PER_S:g} msg/s, batch 10, partial batch response, "
                 f"max_receive_count {VT_MAX_RECEIVE_COUNT}, no errors\nfunction timeout = "
                 f"min(VT, {VT_TIMEOUT_CAP_S:g} s) (AWS requires timeout ≤ VT), cold start "
                 f"~1 s (not counted in the timeout); mean and 95% CI of {reps} replications",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)
