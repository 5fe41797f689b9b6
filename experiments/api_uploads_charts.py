"""The API uploads study's charts, from its tidy table (see :mod:`experiments.api_uploads`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from experiments.api_uploads_design import (
    API_TIMEOUT_S,
    BURST,
    BURST_COUNT,
    BURST_SPREAD_S,
    BURST_TIMES,
    CLIENTS,
    FUNCTION_MEDIAN_S,
    FUNCTION_SIGMA,
    MODES,
    PUT_MEDIAN_S,
    RATE_PER_S,
    SIZE_MEDIAN_BYTES,
    SIZE_SIGMA,
    STEADY_LOAD,
    TIMEOUT_RATE_PER_S,
    WARMUP_S,
    timeout_probability,
    token_bucket_throttled,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.study import select as _select

MODE_LABELS = {
    "none": "no retry (1 attempt)",
    "standard": "SDK standard retry (3 attempts)",
    "adaptive": "SDK adaptive retry (3 attempts + client rate limiter)",
}
MODE_COLORS = {"none": "tab:red", "standard": "tab:blue", "adaptive": "tab:green"}
MODE_STYLE = {"none": ("-", "o"), "standard": ("--", "s"), "adaptive": ("-.", "D")}
SETUP = (f"API Gateway rate {RATE_PER_S:g} req/s, burst {BURST} (scaled down from 10,000/5,000); "
         f"{CLIENTS} Poisson clients; S3 PutObject median {PUT_MEDIAN_S * 1e3:g} ms → S3 "
         f"notification → SQS → Lambda (median {FUNCTION_MEDIAN_S * 1e3:g} ms)")  # fmt: skip


def _categories(values: Sequence[float]) -> dict[Any, float]:
    """Evenly spaced positions 0, 1, ... for the sorted distinct ``values``."""
    return {v: float(i) for i, v in enumerate(sorted(set(values)))}


def _category_axis(ax: Any, pos: dict[object, float], labels: Sequence[str], name: str) -> None:
    ax.set_xticks(list(pos.values()), list(labels), fontsize=8)
    ax.set_xlim(-0.5, len(pos) - 0.5)
    ax.set_xlabel(name)


def _plain_log(ax: Any, symlog_below: float | None = None) -> None:
    """A log (or symlog) y axis with plain tick labels (0.1, 1, 10 rather than 10^k)."""
    if symlog_below is None:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    else:
        ax.set_yscale("symlog", linthresh=symlog_below)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _legend_below(fig: Any, ax: Any, ncol: int) -> None:
    """The legend of ``ax``'s lines under the figure's panels."""
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=ncol, fontsize=8)


def _offset(mode: str, spread: float) -> float:
    return (MODES.index(mode) - 1) * spread


def _mode_lines(
    df: pd.DataFrame, ax: Any, x: str, pos: dict[object, float], spread: float, scale: float = 1.0
) -> None:
    """One CI line per retry mode against column ``x`` at ``pos``, offset sideways."""
    for col in ("mean", "ci_low", "ci_high"):
        df[col] = df[col] * scale
    for mode in MODES:
        ls, marker = MODE_STYLE[mode]
        dx = _offset(mode, spread)
        at = {v: p + dx for v, p in pos.items()}
        ci_lines(df, ax, x, "retry_mode", {mode: MODE_LABELS[mode]}, MODE_COLORS, at, ls,
                 marker)  # fmt: skip


def _theory_marks(
    ax: Any, df: pd.DataFrame, x: str, mode: str, label: str, pos: dict[object, float],
    spread: float,
) -> None:  # fmt: skip
    """The theory of ``mode``'s rows as dotted crosses next to its simulated points."""
    sel = df[(df["retry_mode"] == mode) & df["theory"].notna()].sort_values(x)
    if sel.empty:
        return
    xs = [pos[v] + _offset(mode, spread) for v in sel[x]]
    ax.plot(xs, sel["theory"], linestyle=":", color=MODE_COLORS[mode], linewidth=1.4,
            marker="x", markersize=7, label=label, zorder=3)  # fmt: skip


def chart_load(df: pd.DataFrame, out: Path, reps: int, window_s: float) -> None:
    """Success, throttling, requests, producer time and latency against the offered load."""
    ld = df[df["study"] == "load"]
    pos = _categories(list(ld["load"]))
    panels = (
        ("success_fraction", "(a) uploads processed (fraction)", None),
        ("throttled_fraction", "(b) requests answered 429 (fraction)", None),
        ("requests_per_upload", "(c) API requests per upload", None),
        ("producer_latency_mean_s", "(d) client time per upload, mean (s)", 0.0),
        ("latency_p50_s", "(e) end-to-end latency, p50 (s)", 0.0),
        ("latency_p99_s", "(f) end-to-end latency, p99 (s)", 0.0),
    )
    fig, axes = new_panels(2, 3, 15.0, 9.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        sel = _select(ld, metric)
        _mode_lines(sel, ax, "load", pos, 0.08)
        if metric in ("success_fraction", "throttled_fraction", "requests_per_upload"):
            _theory_marks(ax, sel, "load", "none", "fluid approximation, no retry", pos, 0.08)
            _theory_marks(ax, sel, "load", "standard",
                          "fluid + mean-field approximation, standard", pos, 0.08)  # fmt: skip
        if log is not None:
            _plain_log(ax)
        if 1.0 in pos:
            ax.axvline(pos[1.0], color="0.5", linewidth=0.8, linestyle=":")
        _category_axis(ax, pos, [f"{x:g}" for x in pos], "offered load λ / gateway rate")
        ax.set_ylabel(ylabel)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylim(bottom=0)
    _legend_below(fig, axes[0], 3)
    fig.suptitle(f"Uploads through API Gateway against the offered load: {window_s:g} s of "
                 f"arrivals from a full token bucket; mean and 95% CI of {reps} replications; "
                 f"crosses: approximations\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_bucket(df: pd.DataFrame, out: Path, reps: int) -> None:
    """The token bucket's throttled fraction against its exact stationary theory."""
    bk = _select(df[df["study"] == "bucket"], "throttled_fraction")
    fig, (ax,) = new_panels(1, 1, 8.0, 5.4)
    colors = ("tab:purple", "tab:orange", "tab:cyan", "tab:olive")
    lo, hi = float(bk["load"].min()), float(bk["load"].max())
    grid = [lo + (hi - lo) * i / 60 for i in range(61)]
    for color, b in zip(colors, sorted(bk["burst"].unique()), strict=False):
        part = bk[bk["burst"] == b]
        theory = [token_bucket_throttled(x, int(b)) for x in grid]
        ax.plot(grid, theory, linestyle=":", color=color, linewidth=1.4,
                label=f"burst {b}: exact stationary theory")  # fmt: skip
        ci_lines(part, ax, "load", "burst", {b: f"burst {b}: simulated (mean, 95% CI)"},
                 {b: color}, linestyle="none")  # fmt: skip
    _plain_log(ax, symlog_below=1e-3)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("offered load λ / gateway rate (Poisson requests, no retries)")
    ax.set_ylabel("requests answered 429 (fraction; linear scale below 0.001)")
    ax.axvline(1.0, color="0.5", linewidth=0.8, linestyle=":")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Token bucket vs its exact stationary theory: rate {RATE_PER_S:g}/s, "
                 f"{WARMUP_S:g} s warm-up; mean and 95% CI of {reps} replications",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_bursts(df: pd.DataFrame, out: Path, reps: int, run_s: float) -> None:
    """Throttled fraction, success and p99 latency against the burst size, per retry mode."""
    bs = df[df["study"] == "bursts"]
    pos = _categories([int(b) for b in bs["burst"]])
    panels = (
        ("throttled_fraction", "(a) requests answered 429 (fraction)", False),
        ("success_fraction", "(b) uploads processed (fraction)", False),
        ("latency_p99_s", "(c) end-to-end latency, p99 (s)", True),
        ("producer_latency_mean_s", "(d) client time per upload, mean (s)", True),
    )
    fig, axes = new_panels(1, 4, 17.0, 5.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        sel = _select(bs, metric)
        _mode_lines(sel, ax, "burst", pos, 0.1)
        _theory_marks(ax, sel, "burst", "none", "fluid approximation, no retry", pos, 0.1)
        if log:
            _plain_log(ax)
        _category_axis(ax, pos, [f"{b:,}" for b in pos], "gateway burst (token bucket size)")
        ax.set_ylabel(ylabel)
    axes[1].set_ylim(0, 1.05)
    axes[0].set_ylim(bottom=0)
    _legend_below(fig, axes[0], 4)
    fig.suptitle(f"Bursts: a steady {STEADY_LOAD * RATE_PER_S:g} uploads/s plus "
                 f"{len(BURST_TIMES)} bursts of {BURST_COUNT:,} uploads in {BURST_SPREAD_S:g} s "
                 f"({run_s:g} s run); mean and 95% CI of {reps} replications\n{SETUP}",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_clients(df: pd.DataFrame, out: Path, reps: int, window_s: float) -> None:
    """Adaptive vs standard retries against the number of SDK clients sharing the load."""
    cl = df[df["study"] == "clients"]
    pos = _categories([int(k) for k in cl["clients"]])
    panels = (
        ("success_fraction", "(a) uploads processed (fraction)", False),
        ("requests_per_upload", "(b) API requests per upload", False),
        ("producer_latency_mean_s", "(c) client time per upload, mean (s)", True),
        ("latency_p99_s", "(d) end-to-end latency, p99 (s)", True),
    )
    fig, axes = new_panels(1, 4, 17.0, 5.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        _mode_lines(_select(cl, metric), ax, "clients", pos, 0.1)
        if log:
            _plain_log(ax)
        _category_axis(ax, pos, [f"{k:,}" for k in pos], "SDK clients sharing the load")
        ax.set_ylabel(ylabel)
    axes[0].set_ylim(top=1.01)
    _legend_below(fig, axes[0], 2)
    load = float(cl["load"].iloc[0])
    setup = SETUP.replace(f"{CLIENTS} Poisson clients", "N Poisson clients")
    fig.suptitle(f"One adaptive rate limiter per SDK client: {load:g}× the gateway rate for "
                 f"{window_s:g} s split evenly over N clients; mean and 95% CI of {reps} "
                 f"replications\n{setup}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_timeouts(df: pd.DataFrame, out: Path, reps: int) -> None:
    """504s, client errors and duplicates against the function's median; the 413 share."""
    to = df[df["study"] == "timeout"]
    fig, axes = new_panels(1, 4, 18.0, 5.2)
    if not to.empty:
        pos = _categories(list(to["function_median_s"]))
        labels = [f"{m:g} s\nP(> 29 s) = {timeout_probability(m):.1%}" for m in pos]
        panels = (
            ("timeout_fraction", "(a) requests answered 504 (fraction)", False),
            ("client_error_fraction", "(b) uploads the client saw fail (fraction)", True),
            ("duplicates_per_upload", "(c) extra processings per upload (duplicates)", False),
        )
        for ax, (metric, ylabel, log) in zip(axes[:3], panels, strict=True):
            sel = _select(to, metric)
            _mode_lines(sel, ax, "function_median_s", pos, 0.12)
            for mode in ("none", "standard"):
                _theory_marks(ax, sel, "function_median_s", mode, f"closed form, {mode}", pos,
                              0.12)  # fmt: skip
            if log:
                _plain_log(ax, symlog_below=1e-3)
                ax.set_ylim(0, 1.0)
            else:
                ax.set_ylim(bottom=0)
            _category_axis(ax, pos, labels, "Lambda integration run time: lognormal median")
            ax.set_ylabel(ylabel)
        _legend_below(fig, axes[0], 5)
    pl = _select(df[df["study"] == "payload"], "lost_fraction")
    ax = axes[3]
    if not pl.empty:
        for col in ("mean", "ci_low", "ci_high"):
            pl[col] = pl[col] * 100
        ci_bars(pl, ax, "retry_mode", "metric", {m: m for m in MODES},
                {"lost_fraction": "answered 413 Payload Too Large (lost)"},
                {"lost_fraction": "tab:gray"})  # fmt: skip
        ax.axhline(float(pl["theory"].iloc[0]) * 100, color="black", linestyle=":",
                   label="closed form: P(size > 10 MiB)")  # fmt: skip
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("retry mode")
    ax.set_ylabel("(d) uploads answered 413 and lost (%)")
    ax.set_title(f"API Gateway → S3, object size lognormal (median {SIZE_MEDIAN_BYTES / 1e6:g} "
                 f"MB, σ {SIZE_SIGMA:g})", fontsize=9)  # fmt: skip
    fig.suptitle(f"(a–c) Integration slower than the {API_TIMEOUT_S:g} s timeout: API Gateway "
                 f"→ Lambda (run time lognormal, σ {FUNCTION_SIGMA:g}), "
                 f"{TIMEOUT_RATE_PER_S:g} uploads/s; (d) payloads over 10 MB; mean and 95% CI "
                 f"of {reps} replications; crosses: closed forms", fontsize=10)  # fmt: skip
    save_png(fig, out)
