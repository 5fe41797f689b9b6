"""The fan-out study's charts, drawn from its tidy tables (see :mod:`experiments.fanout`)."""


from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.fanout_design import (
    FUNCTION_MEDIAN_S,
    OUTAGE_ATTEMPTS,
    OUTAGE_Q,
    OUTAGE_QUEUES,
    OUTAGE_S,
    PUBLISH_MEDIAN_S,
    RATE_PER_S,
    SEND_MEDIAN_S,
    theory,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png, symlog_y
from sim.study import select as _select

VARIANTS: dict[tuple[int, int], str] = {
    (1, 1): "option 1: sequential sends, no SDK retries (m = 1)",
    (1, 3): "option 1: sequential sends, 3 SDK attempts",
    (2, 1): "option 2: SNS publish, no SDK retries (m = 1)",
    (2, 3): "option 2: SNS publish, 3 SDK attempts",
}
COLORS: dict[tuple[int, int], str] = {(1, 1): "tab:red", (1, 3): "tab:orange", (2, 1): "tab:blue",
                             (2, 3): "tab:green"}  # fmt: skip
STYLE: dict[tuple[int, int], tuple[str, str, float]] = {  # linestyle, marker, x offset
    (1, 1): ("-", "o", -0.15), (1, 3): ("--", "s", -0.05),
    (2, 1): ("-", "^", 0.05), (2, 3): ("--", "D", 0.15),
}  # fmt: skip
SETUP = (f"Poisson {RATE_PER_S:g} msg/s; SendMessage median {SEND_MEDIAN_S * 1e3:g} ms, "
         f"Publish median {PUBLISH_MEDIAN_S * 1e3:g} ms; one Lambda consumer per queue "
         f"(median {FUNCTION_MEDIAN_S * 1e3:g} ms)")  # fmt: skip


def _variant_col(df: pd.DataFrame) -> pd.DataFrame:
    df["variant"] = list(zip(df["option"], df["max_attempts"], strict=True))
    return df


def _lines(df: pd.DataFrame, ax: Any, scale: float = 1.0) -> None:
    """One CI line per variant (option, max_attempts) against N, offset sideways."""
    df = _variant_col(df)
    for col in ("mean", "ci_low", "ci_high"):
        df[col] = df[col] * scale
    for key, label in VARIANTS.items():
        ls, marker, dx = STYLE[key]
        pos = {n: float(n) + dx for n in df["n_queues"].unique()}
        ci_lines(df, ax, "n_queues", "variant", {key: label}, COLORS, pos, ls, marker)


def _theory_curves(ax: Any, q: float, ns: Sequence[int], metric: str, scale: float) -> None:
    xs = list(range(min(ns), max(ns) + 1))
    for key in VARIANTS:
        option, m = key
        if option == 2 and metric == "partial_per_million":
            continue  # 0: drawn by the points themselves
        ys = [theory(option, q, n, m)[metric] * scale for n in xs]
        ax.plot(xs, ys, linestyle=":", color=COLORS[key], linewidth=1.4, zorder=1,
                label=f"closed form, option {option}, m = {m}")


def chart_delivery(df: pd.DataFrame, out: Path, reps: int) -> None:
    """All-delivered fraction (top) and partial deliveries per million (bottom) vs N."""
    qs = sorted(df["send_failure_q"].unique())
    ns = sorted(int(n) for n in df["n_queues"].unique())
    fig, axes = new_panels(2, len(qs), 4.6 * len(qs), 8.6)
    for j, q in enumerate(qs):
        top, bottom = axes[j], axes[len(qs) + j]
        sel = _select(df, "all_delivered_fraction", study="sweep", send_failure_q=q)
        _lines(sel, top)
        _theory_curves(top, q, ns, "all_delivered_fraction", 1.0)
        top.set_title(f"send failure q = {q:.1%} per request", fontsize=10)
        top.set_ylabel("messages delivered to all N queues\n(fraction)")
        part = _select(df, "partial_per_million", study="sweep", send_failure_q=q)
        _lines(part, bottom)
        _theory_curves(bottom, q, ns, "partial_per_million", 1.0)
        symlog_y(bottom, float(part[["mean", "ci_high"]].max().max()))
        bottom.set_ylabel("messages in only some of the queues\n(partial, per million)")
        for ax in (top, bottom):
            ax.set_xticks(ns, [str(n) for n in ns])
            ax.set_xlabel("N, number of queues")
    handles, names = axes[0].get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i].startswith("closed form"))
    fig.legend([handles[i] for i in order], [names[i] for i in order],
               loc="outside lower center", ncol=2, fontsize=8)  # fmt: skip
    fig.suptitle(f"Fan-out to N SQS queues: sequential sends (option 1) vs one SNS publish "
                 f"(option 2), each SendMessage and Publish failing with probability q\n"
                 f"mean and 95% CI of {reps} replications; dotted: closed forms P(all) = "
                 r"$(1-q^m)^N$, P(partial) = $(1-q^m)-(1-q^m)^N$ (option 1), $1-q^m$ and 0 "
                 f"(option 2)\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_latency_cost(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Producer latency, end-to-end p99 and cost vs N, one row per q."""
    qs = sorted(df["send_failure_q"].unique())
    ns = sorted(int(n) for n in df["n_queues"].unique())
    metrics = (
        ("producer_latency_mean_s", 1e3, "producer time per message,\nmean (ms)"),
        ("latency_p99_s", 1e3, "end-to-end latency, p99 over\n(message, queue) pairs (ms)"),
        ("cost_per_million_usd", 1.0, "cost per million messages (USD)"),
    )
    fig, axes = new_panels(len(qs), 3, 14.0, 3.3 * len(qs) + 1.2)
    for i, q in enumerate(qs):
        for j, (metric, scale, ylabel) in enumerate(metrics):
            ax = axes[3 * i + j]
            _lines(_select(df, metric, study="sweep", send_failure_q=q), ax, scale)
            ax.set_xticks(ns, [str(n) for n in ns])
            ax.set_xlabel("N, number of queues")
            ax.set_ylabel(ylabel)
            ax.set_ylim(bottom=0)
            ax.set_title(f"send failure probability q = {q:.1%}", fontsize=9)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(f"Fan-out to N SQS queues: producer time, end-to-end p99 latency and cost; "
                 f"mean and 95% CI of {reps} replications\n{SETUP}; SDK backoff full jitter "
                 f"from 1 s", fontsize=10)  # fmt: skip
    save_png(fig, out)


def _outage_label(option: int, k: int) -> str:
    return (f"option 1,\nq{k} of {OUTAGE_QUEUES} down" if option == 1
            else f"option 2 (SNS),\nq{k} of {OUTAGE_QUEUES} down")  # fmt: skip


def chart_outage(df: pd.DataFrame, out: Path, reps: int, run_s: float, start_s: float) -> None:
    """Message outcomes, p99 latency and producer time with one queue down for 5 minutes."""
    sel = df[df["study"] == "outage"].copy()
    sel["case"] = list(zip(sel["option"], sel["outage_queue"], strict=True))
    cases = {c: _outage_label(*c) for c in dict.fromkeys(sel["case"])}
    fig, (a, b, c) = new_panels(1, 3, 15.0, 5.0)
    outcomes = {"all_delivered_fraction": "all N queues", "partial_fraction": "some, not all",
                "none_delivered_fraction": "no queue"}  # fmt: skip
    frac = sel[sel["metric"].isin(list(outcomes))]
    ci_bars(frac, a, "case", "metric", cases, outcomes,
            {"all_delivered_fraction": "tab:green", "partial_fraction": "tab:orange",
             "none_delivered_fraction": "tab:red"})  # fmt: skip
    a.set_ylabel("fraction of messages delivered to ...")
    a.set_ylim(0, 1.05)
    a.legend(fontsize=8, title="delivered to", title_fontsize=8)
    a.set_title("(a) message outcomes", fontsize=10)
    lat = sel[sel["metric"].isin(["latency_p99_s", "outage_queue_latency_p99_s"])]
    ci_bars(lat, b, "case", "metric", cases,
            {"latency_p99_s": "all queues", "outage_queue_latency_p99_s": "the queue down"},
            {"latency_p99_s": "tab:gray", "outage_queue_latency_p99_s": "tab:purple"})
    b.set_yscale("log")
    b.set_ylabel("end-to-end latency, p99 of delivered pairs (s)")
    b.legend(fontsize=8, title="p99 over consumers of", title_fontsize=8)
    b.set_title("(b) latency of what is delivered", fontsize=10)
    prod = sel[sel["metric"] == "producer_latency_mean_s"].copy()
    for col in ("mean", "ci_low", "ci_high"):
        prod[col] = prod[col] * 1e3
    ci_bars(prod, c, "case", "metric", cases, {"producer_latency_mean_s": "mean"},
            {"producer_latency_mean_s": "tab:blue"})  # fmt: skip
    c.set_ylabel("producer time per message, mean (ms)")
    c.set_title("(c) producer-side latency", fontsize=10)
    for ax in (a, b, c):
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"One queue unavailable for {OUTAGE_S / 60:g} minutes (t = {start_s:g}–"
                 f"{start_s + OUTAGE_S:g} s of a {run_s:g} s run), N = {OUTAGE_QUEUES}, "
                 f"q = {OUTAGE_Q:.0%}, {OUTAGE_ATTEMPTS} SDK attempts; mean and 95% CI of "
                 f"{reps} replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


