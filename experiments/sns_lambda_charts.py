"""The SNS → Lambda study's charts: errors, throttling and outage, from the CSV tables.

Also the two readers the findings share with the charts: :func:`one` (the one summary row of
a configuration) and :func:`age_label`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.sns_lambda_design import (
    BACKGROUND_ERROR_RATE,
    BURST_AT_S,
    BURST_SPREAD_S,
    CAPACITY_PER_S,
    DEFAULT_AGE_S,
    ERROR_RATE_PER_S,
    MEAN_DURATION_S,
    OUTAGE_LENGTH_S,
    OUTAGE_MODES,
    OUTAGE_START_S,
    RESERVED_CONCURRENCY,
    THROTTLE_RATE_PER_S,
    TIMELINE_BIN_S,
    TIMEOUT_S,
    error_theory,
)
from sim.analysis.plots import ci_lines, new_panels, save_png, symlog_y
from sim.analysis.theory import async_lambda_loss
from sim.study import select

R_COLORS: dict[object, str] = {0: "tab:red", 1: "tab:orange", 2: "tab:blue"}
R_LABELS: dict[object, str] = {0: "max_retries 0", 1: "max_retries 1", 2: "max_retries 2"}
P_COLORS: dict[object, str] = {0.01: "tab:blue", 0.1: "tab:orange", 0.3: "tab:red"}
FUNCTION = (f"function lognormal(median 0.1 s, σ 0.5), timeout {TIMEOUT_S:g} s, AWS "
            "cold starts")  # fmt: skip
#: The latency lines of the errors and throttling charts: metric, line style, marker, label.
LATENCIES = (("latency_p99_s", "-", "o", "p99"), ("latency_p50_s", "--", "s", "p50"))


def one(df: pd.DataFrame, metric: str, **eq: object) -> pd.Series:
    """The one summary row of ``metric`` whose columns equal ``eq``.

    Raises:
        KeyError: when there is not exactly one such row.
    """
    sel = select(df, metric, **eq)
    if len(sel) != 1:
        raise KeyError((metric, eq, len(sel)))
    return sel.iloc[0]


def age_label(a: float) -> str:
    """A maximum age for the charts and the findings: ``60 s``, ``10 min``, ``6 h``."""
    return f"{a / 3600:g} h" if a >= 3600 else (f"{a / 60:g} min" if a >= 120 else f"{a:g} s")


def _scaled(df: pd.DataFrame, k: float) -> pd.DataFrame:
    out = df.copy()
    for c in ("mean", "ci_low", "ci_high"):
        out[c] = out[c] * k
    return out


def _age_axis(ax: Any, ages: Sequence[float]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(ages), [age_label(a) for a in ages])
    ax.minorticks_off()
    ax.set_xlabel("max_event_age_s (maximum event age)")


def _latency_lines(df: pd.DataFrame, ax: Any, x: str, series: str, label: Mapping[Any, str],
                   colors: Mapping[object, str], **eq: object) -> None:  # fmt: skip
    """The p99 (solid) and p50 (dashed) latency lines of the rows matching ``eq``."""
    for metric, style, marker, what in LATENCIES:
        ci_lines(select(df, metric, **eq), ax, x, series,
                 {k: f"{what}, {v}" for k, v in label.items()}, colors, linestyle=style,
                 marker=marker)  # fmt: skip


def _fates_by_age(b: Any, err: pd.DataFrame, ps: Sequence[float], rs: Sequence[int],
                  ages: Sequence[float]) -> None:  # fmt: skip
    """Panel (b) of the errors chart: lost and expired, stacked, per retries and age."""
    p_hi = max(ps)
    width = 0.8 / len(rs)
    for j, age in enumerate(ages):
        for i, r in enumerate(rs):
            x = j - 0.4 + width * (i + 0.5)
            at = {"error_rate": p_hi, "max_retries": r, "max_event_age_s": age,
                  "on_failure": False}  # fmt: skip
            lo = one(err, "lost_fraction", **at)["mean"]
            ex = one(err, "expired_fraction", **at)["mean"]
            tot = one(err, "failed_fraction", **at)
            color = R_COLORS[r]
            b.bar(x, lo, width * 0.9, color=color,
                  label=f"{R_LABELS[r]}: lost (retries exhausted)" if j == 0 else None)
            b.bar(x, ex, width * 0.9, bottom=lo, color=color, alpha=0.35, hatch="//",
                  edgecolor=color, label=f"{R_LABELS[r]}: expired (max age)" if j == 0 else None)
            b.errorbar([x], [tot["mean"]], yerr=[[tot["mean"] - tot["ci_low"]],
                       [tot["ci_high"] - tot["mean"]]], fmt="none", ecolor="black",
                       elinewidth=1.0, capsize=3)  # fmt: skip
            theory = error_theory(p_hi, r, age)["failed_fraction"]
            b.plot([x - width * 0.45, x + width * 0.45], [theory, theory], color="black",
                   linewidth=2.0, label="theory p^(r'+1), r' = retries that fit"
                   if (i, j) == (0, 0) else None)  # fmt: skip
    b.set_xticks(range(len(ages)), [age_label(a_) for a_ in ages])
    b.set_xlabel("max_event_age_s (maximum event age)")
    b.set_ylabel("share of events failed for good")
    b.set_title(f"(b) lost vs expired by maximum age, p = {p_hi:.0%}", fontsize=10)
    b.grid(axis="y", color="0.88", linewidth=0.8)
    b.set_axisbelow(True)
    b.legend(fontsize=6.5, loc="upper right")
    b.set_ylim(0, p_hi * 1.45)


def chart_errors(err: pd.DataFrame, out: Path) -> None:
    """Loss vs retries with theory; fates vs maximum age; latency vs retries."""
    reps = int(err["n"].max())
    rs = sorted(err["max_retries"].unique())
    ps = sorted(err["error_rate"].unique())
    ages = sorted(err["max_event_age_s"].unique())
    fig, (a, b, c) = new_panels(1, 3, 16.5, 5.4)
    at_default: dict[str, object] = {"max_event_age_s": DEFAULT_AGE_S, "on_failure": False}
    lost = _scaled(select(err, "lost_fraction", **at_default), 1e6)
    dl = _scaled(select(err, "dead_lettered_fraction", on_failure=True), 1e6)
    ci_lines(lost, a, "max_retries", "error_rate",
             {p: f"p = {p:.0%}: lost (no destination)" for p in ps}, P_COLORS,
             {r: r - 0.06 for r in rs})  # fmt: skip
    ci_lines(dl, a, "max_retries", "error_rate",
             {p: f"p = {p:.0%}: dead-lettered (on-failure SQS queue)" for p in ps}, P_COLORS,
             {r: r + 0.06 for r in rs}, linestyle="none", marker="s")  # fmt: skip
    for p in ps:
        a.plot(rs, [async_lambda_loss(p, r) * 1e6 for r in rs], linestyle=":", marker="x",
               color=P_COLORS.get(p), linewidth=1.2, label=f"theory p^(r+1), p = {p:.0%}")
    symlog_y(a, max(float(lost["ci_high"].max()), max(ps) * 1e6))
    a.set_xticks(rs, [str(r) for r in rs])
    a.set_xlabel("max_retries (function-error retries, after 1 and 2 minutes)")
    a.set_ylabel("events failed for good per million\n(symmetric log scale)")
    a.set_title(f"(a) loss vs retries, maximum age {age_label(DEFAULT_AGE_S)} (default)",
                fontsize=10)  # fmt: skip
    a.legend(fontsize=6.5, loc="lower left")

    _fates_by_age(b, err, ps, rs, ages)

    _latency_lines(err, c, "max_retries", "error_rate", {p: f"p = {p:.0%}" for p in ps},
                   P_COLORS, **at_default)  # fmt: skip
    c.set_yscale("log")
    c.set_xticks(rs, [str(r) for r in rs])
    c.set_xlabel("max_retries")
    c.set_ylabel("latency of delivered events (s, log scale)\npublish → end of first success")
    c.set_title(f"(c) latency, maximum age {age_label(DEFAULT_AGE_S)}", fontsize=10)
    c.legend(fontsize=6.5, ncol=2, loc="center right")
    n_msgs = select(err, "messages")["mean"].mean()
    fig.suptitle(
        f"SNS → Lambda (asynchronous), independent function errors p per attempt: "
        f"{ERROR_RATE_PER_S:g} events/s, ≈{n_msgs:,.0f} events per replication; mean and "
        f"95% CI of {reps} replications (common random numbers)\n{FUNCTION}; no throttling; "
        f"theory from sim.analysis.theory.async_lambda_loss", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_throttling(thr: pd.DataFrame, tl: pd.DataFrame, out: Path, burst: int) -> None:
    """Fates and latency vs maximum age under a burst, and the drill-down timeline."""
    reps = int(thr["n"].max())
    ages = sorted(thr["max_event_age_s"].unique())
    rs = sorted(thr["max_retries"].unique())
    fig, axes = new_panels(2, 2, 13.5, 9.6)
    a, b, c, d = axes
    ci_lines(select(thr, "delivered_fraction", on_failure=False), a, "max_event_age_s",
             "max_retries", {r: R_LABELS[r] for r in rs}, R_COLORS)  # fmt: skip
    a.set_ylabel("share of events delivered")
    a.set_title("(a) delivered", fontsize=10)
    a.legend(fontsize=7)
    ci_lines(select(thr, "expired_fraction", on_failure=False), b, "max_event_age_s",
             "max_retries", {r: f"{R_LABELS[r]}: expired" for r in rs}, R_COLORS)  # fmt: skip
    ci_lines(select(thr, "lost_fraction", on_failure=False), b, "max_event_age_s",
             "max_retries", {r: f"{R_LABELS[r]}: lost" for r in rs}, R_COLORS, linestyle="--",
             marker="v")  # fmt: skip
    r_hi = max(rs)
    ci_lines(select(thr, "dead_lettered_fraction", on_failure=True), b, "max_event_age_s",
             "max_retries", {r_hi: f"{R_LABELS[r_hi]} + on-failure SQS queue: dead-lettered"},
             {r_hi: "black"}, linestyle="none", marker="s")  # fmt: skip
    b.set_ylabel("share of events")
    b.set_title("(b) expired, lost, or sent to the on-failure queue", fontsize=10)
    b.legend(fontsize=7)
    _latency_lines(thr, c, "max_event_age_s", "max_retries", {r: R_LABELS[r] for r in rs},
                   R_COLORS, on_failure=False)  # fmt: skip
    drain = burst / CAPACITY_PER_S
    c.axhline(drain, color="0.3", linestyle=":", linewidth=1.2,
              label=f"burst ÷ capacity = {drain:.0f} s (a work-conserving queue)")  # fmt: skip
    c.set_yscale("log")
    c.set_ylabel("latency of delivered events (s, log scale)")
    c.set_title("(c) latency", fontsize=10)
    c.legend(fontsize=6.5, ncol=2)
    for ax in (a, b, c):
        _age_axis(ax, ages)
    t = tl[tl["drill"] == "throttling"]
    d.bar(t["t_s"] / 60.0, t["delivered_per_s"], width=TIMELINE_BIN_S / 60.0, align="edge",
          color="tab:blue", label=f"deliveries per second ({TIMELINE_BIN_S:g} s bins)")
    d.axhline(CAPACITY_PER_S, color="tab:red", linestyle="--", linewidth=1.0,
              label=f"capacity {RESERVED_CONCURRENCY} ÷ {MEAN_DURATION_S:.3f} s = "
                    f"{CAPACITY_PER_S:.1f}/s")  # fmt: skip
    d.set_xlabel("time (minutes)")
    d.set_ylabel("deliveries per second")
    d2 = d.twinx()
    d2.plot(t["t_s"] / 60.0, t["waiting"], color="black", linewidth=1.2,
            label="events waiting in Lambda's queue (right axis)")
    d2.set_ylabel("events waiting")
    d2.set_ylim(0, None)
    h1, l1 = d.get_legend_handles_labels()
    h2, l2 = d2.get_legend_handles_labels()
    d.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper right")
    d.grid(color="0.9", linewidth=0.8)
    d.set_title(f"(d) one replication, max_retries {r_hi}, age {age_label(DEFAULT_AGE_S)}: "
                "the internal queue drains at capacity", fontsize=10)  # fmt: skip
    fig.suptitle(
        f"SNS → Lambda under a burst: reserved concurrency {RESERVED_CONCURRENCY} (capacity "
        f"≈{CAPACITY_PER_S:.1f} events/s), {burst:,} events in {BURST_SPREAD_S:g} s at "
        f"t = {BURST_AT_S:g} s on a background of {THROTTLE_RATE_PER_S:g}/s, "
        f"{BACKGROUND_ERROR_RATE:.0%} function errors\nfreed concurrency goes to the oldest "
        f"waiting event; the queue's reader retries after 1, 2, 4, … s up to 5 min; {FUNCTION}; "
        f"mean and 95% CI of {reps} replications (common random numbers)",
        fontsize=10)  # fmt: skip
    save_png(fig, out)


def _outage_failed(ax: Any, out_df: pd.DataFrame, th: pd.DataFrame, mode: str,
                   rs: Sequence[int]) -> None:  # fmt: skip
    """Panels (a) and (b) of the outage chart: failed share vs maximum age in ``mode``."""
    titles = {"unavailable": "(a) Lambda unavailable (invokes rejected; SNS retries them)",
              "failing": "(b) function failing (every run times out at 3 s)"}  # fmt: skip
    r_hi = max(rs)
    k = 1e6 if mode == "unavailable" else 1.0  # per million on a symmetric log scale
    df = _scaled(select(out_df, "failed_fraction", outage_mode=mode, on_failure=False), k)
    ci_lines(df, ax, "max_event_age_s", "max_retries",
             {r: f"{R_LABELS[r]}: lost + expired" for r in rs}, R_COLORS)  # fmt: skip
    ci_lines(_scaled(select(out_df, "dead_lettered_fraction", outage_mode=mode,
                            on_failure=True), k), ax,
             "max_event_age_s", "max_retries",
             {r_hi: f"{R_LABELS[r_hi]} + on-failure queue: dead-lettered"},
             {r_hi: "black"}, linestyle="none", marker="s")  # fmt: skip
    t = th[(th["study"] == "outage") & (th["outage_mode"] == mode)]
    for r in rs:
        tr = t[t["max_retries"] == r].sort_values("max_event_age_s")
        ax.plot(tr["max_event_age_s"], tr["theory"] * k, linestyle=":", marker="x",
                color=R_COLORS[r], linewidth=1.2,
                label=f"approximation, {R_LABELS[r]}")  # fmt: skip
    if mode == "unavailable":
        symlog_y(ax, float(df["ci_high"].max()))
        ax.set_ylabel("events failed for good per million\n(symmetric log scale)")
    else:
        ax.set_ylim(0, None)
        ax.set_ylabel("share of events failed for good")
    ax.set_title(titles[mode], fontsize=10)
    ax.legend(fontsize=6.5)


def chart_outage(out_df: pd.DataFrame, th: pd.DataFrame, tl: pd.DataFrame, out: Path,
                 rate: float, horizon_s: float) -> None:  # fmt: skip
    """Failed share and latency vs maximum age per outage mode; delivery by arrival time."""
    reps = int(out_df["n"].max())
    ages = sorted(out_df["max_event_age_s"].unique())
    rs = sorted(out_df["max_retries"].unique())
    fig, axes = new_panels(2, 2, 13.5, 9.6)
    r_hi = max(rs)
    for ax, mode in zip(axes[:2], OUTAGE_MODES, strict=True):
        _outage_failed(ax, out_df, th, mode, rs)
        _age_axis(ax, ages)
    c = axes[2]
    for mode, style, marker in (("unavailable", "-", "o"), ("failing", "--", "s")):
        ci_lines(select(out_df, "latency_p99_s", outage_mode=mode, on_failure=False), c,
                 "max_event_age_s", "max_retries",
                 {r: f"p99, {mode}, {R_LABELS[r]}" for r in rs}, R_COLORS, linestyle=style,
                 marker=marker)  # fmt: skip
    c.axhline(OUTAGE_LENGTH_S, color="0.3", linestyle=":", linewidth=1.2,
              label=f"outage length {OUTAGE_LENGTH_S / 60:g} min")
    c.set_yscale("log")
    c.set_ylabel("p99 latency of delivered events (s, log scale)")
    c.set_title("(c) latency tail", fontsize=10)
    c.legend(fontsize=6.5)
    _age_axis(c, ages)
    d = axes[3]
    t = tl[tl["drill"] == "outage"]
    styles = {("failing", min(rs)): ("tab:red", "-"), ("failing", r_hi): ("tab:blue", "-"),
              ("unavailable", min(rs)): ("tab:red", ":"),
              ("unavailable", r_hi): ("tab:blue", ":")}  # fmt: skip
    for (mode, r), (color, style) in styles.items():
        g = t[(t["outage_mode"] == mode) & (t["max_retries"] == r)]
        d.step(g["t_s"] / 60.0, g["delivered_share"], where="post", color=color,
               linestyle=style, linewidth=1.3, label=f"{mode}, {R_LABELS[r]}")
    d.axvspan(OUTAGE_START_S / 60, (OUTAGE_START_S + OUTAGE_LENGTH_S) / 60, color="0.9",
              label="outage", zorder=0)  # fmt: skip
    d.set_xlabel("arrival time of the event (minutes; 1-minute bins)")
    d.set_ylabel("share of the minute's events delivered")
    d.set_ylim(-0.03, 1.05)
    d.grid(color="0.9", linewidth=0.8)
    d.set_title(f"(d) one replication, age {age_label(DEFAULT_AGE_S)}: who is delivered",
                fontsize=10)  # fmt: skip
    d.legend(fontsize=7, loc="center right")
    fig.suptitle(
        f"SNS → Lambda through a {OUTAGE_LENGTH_S / 60:g}-minute function outage "
        f"(minutes {OUTAGE_START_S / 60:g}–{(OUTAGE_START_S + OUTAGE_LENGTH_S) / 60:g} of "
        f"{horizon_s / 60:g}), {rate:g} event{'' if rate == 1 else 's'}/s, "
        f"{BACKGROUND_ERROR_RATE:.0%} function errors outside it\n{FUNCTION}; mean and 95% CI "
        f"of {reps} replications (common random numbers); approximation: deterministic "
        "attempt schedule", fontsize=10)  # fmt: skip
    save_png(fig, out)
