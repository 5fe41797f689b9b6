"""The S3 → EventBridge study's charts, from its tidy table.

The question and the method are stated in :mod:`experiments.s3_eventbridge`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.s3_eventbridge_design import (
    DUP_EB,
    DUP_S3,
    HOUR,
    KIB,
    MAX_AGE_S,
    OUTAGE_RULE,
    REPLAY_VARIANTS,
    ROUTING_VARIANTS,
    RULES,
    SIZE_MEDIAN_B,
    SIZE_SIGMA,
    p_delivered_after_outage,
    retry_span_s,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.study import select as _select

VARIANT_LABELS = {
    "eventbridge": "EventBridge: 4 rules, one per consumer",
    "s3-sns-fanout": "S3 notification → SNS → 4 queues, filters in code",
    "no-dlq": "target without DLQ",
    "dlq": "target with a DLQ",
    "no-replay": "no archive, no replay",
    "replay-all-rules": "replay to every rule",
    "replay-images-only": "replay; healthy rules exclude replays",
}
VARIANT_COLORS = {
    "eventbridge": "tab:blue", "s3-sns-fanout": "tab:orange", "no-replay": "tab:gray",
    "replay-all-rules": "tab:red", "replay-images-only": "tab:green",
}  # fmt: skip
SETUP = (f"uploads: key img/ 50%, docs/ 30%, raw/*.csv 20%; size lognormal median "
         f"{SIZE_MEDIAN_B // KIB} KiB, σ {SIZE_SIGMA:g}; tenant enterprise 10%;\nS3 event delay "
         "lognormal median 1 s (σ 1); bus latency median 40 ms; consumers SQS → Lambda, "
         "median 100 ms")  # fmt: skip


def _theory_marks(ax: Any, df: pd.DataFrame, category: str, categories: Sequence[Any],
                  series: Sequence[Any], series_col: str, width: float = 0.8,
                  label: str = "closed form") -> None:  # fmt: skip
    """A black diamond at each bar's closed form (bars laid out as ``plots.ci_bars``)."""
    bar = width / len(series)
    xs, ys = [], []
    for i, key in enumerate(series):
        for j, cat in enumerate(categories):
            sel = df[(df[series_col] == key) & (df[category] == cat)]
            if sel.empty or pd.isna(sel["theory"].iloc[0]):
                continue
            xs.append(j - width / 2 + bar * (i + 0.5))
            ys.append(float(sel["theory"].iloc[0]))
    if xs:
        ax.scatter(xs, ys, marker="D", color="black", s=22, zorder=5, label=label)


def chart_routing(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Selectivity, latency, duplicates and cost: EventBridge rules vs S3 → SNS fan-out."""
    rt = df[df["study"] == "routing"]
    fig, axes = new_panels(2, 2, 14.0, 9.5)
    a, b, c, d = axes
    recv = _select(rt, "received_fraction")
    cats = {r.function: f"{r.function}\n" + r.description.replace(" ", "\n", 1) for r in RULES}
    labels = {v: VARIANT_LABELS[v] for v in ROUTING_VARIANTS}
    ci_bars(recv, a, "sink", "variant", cats, labels, VARIANT_COLORS)
    _theory_marks(a, recv, "sink", list(cats), list(labels), "variant")
    a.set_ylabel("fraction of uploads the consumer receives")
    a.set_ylim(0, 1.35)
    a.tick_params(axis="x", labelsize=8)
    a.legend(fontsize=8, loc="upper left", ncol=2)
    a.set_title("(a) what each consumer receives (EventBridge: the rule's selectivity)",
                fontsize=10)  # fmt: skip
    lat = rt[(rt["sink"] == "*") & rt["metric"].isin(
        ["latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_max_s"])]
    ci_bars(lat, b, "metric", "variant",
            {"latency_p50_s": "p50", "latency_p90_s": "p90", "latency_p99_s": "p99",
             "latency_max_s": "max"}, labels, VARIANT_COLORS)  # fmt: skip
    b.set_yscale("log")
    b.set_ylabel("end-to-end latency over delivered pairs (s)")
    b.set_xlabel("percentile over all (upload, consumer) pairs of a replication")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) upload → processed by the consumer", fontsize=10)
    dup = _select(rt, "duplicates_per_million_uploads", sink="*")
    dup["cat"] = "all"
    ci_bars(dup, c, "variant", "cat", {v: VARIANT_LABELS[v].split(":")[0].split(" →")[0]
                                       for v in ROUTING_VARIANTS},
            {"all": "simulated (mean, 95% CI)"}, {"all": "tab:purple"})  # fmt: skip
    _theory_marks(c, dup, "variant", list(ROUTING_VARIANTS), ["all"], "cat")
    c.set_xticks(range(len(ROUTING_VARIANTS)), [VARIANT_LABELS[v] for v in ROUTING_VARIANTS],
                 fontsize=8)  # fmt: skip
    c.set_ylabel("duplicate processings per million uploads")
    c.legend(fontsize=8)
    c.set_title(f"(c) duplicates (assumed: S3 {DUP_S3:g}/event, EventBridge {DUP_EB:g}/delivery)",
                fontsize=10)  # fmt: skip
    cost = _select(rt, "cost_per_million_uploads_usd")
    ci_bars(cost, d, "sink", "variant", {r.function: r.function for r in RULES}, labels,
            VARIANT_COLORS)  # fmt: skip
    d.set_ylabel("consumer cost per million uploads (USD)\n(SQS requests + Lambda)")
    d.set_ylim(0, float(cost["ci_high"].max()) * 1.3)
    d.legend(fontsize=8, loc="upper left", ncol=2)
    d.set_title("(d) cost at each consumer (S3 PUTs and SNS publishes not included)",
                fontsize=10)  # fmt: skip
    fig.suptitle(f"S3 uploads to four consumers: EventBridge rules vs S3 notifications fanned out "
                 f"by SNS; mean and 95% CI of {reps} replications; diamonds: closed forms\n"
                 f"{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_outage(df: pd.DataFrame, out: Path, reps: int) -> None:
    """The outage target's pairs by fate, and their delay, against the outage length."""
    ou = df[(df["study"] == "outage") & (df["sink"] == OUTAGE_RULE.function)].copy()
    ou["outage_h"] = ou["outage_s"] / HOUR
    fig, (a, b) = new_panels(1, 2, 14.0, 5.6)
    mean, sd = retry_span_s()
    for ax in (a, b):
        ax.axvspan((mean - 2 * sd) / HOUR, (mean + 2 * sd) / HOUR, color="tab:red", alpha=0.12,
                   label="185 retries end (mean ± 2 sd)")  # fmt: skip
        ax.axvline(MAX_AGE_S / HOUR, color="black", linestyle="--", linewidth=1,
                   label="24 h maximum event age")  # fmt: skip
    series = (("delivered_fraction", "no-dlq", "delivered (with or without DLQ)", "tab:green",
               "o"), ("lost_fraction", "no-dlq", "lost (no DLQ)", "tab:red", "X"),
              ("dead_lettered_fraction", "dlq", "dead-lettered (with DLQ)", "tab:purple", "s"))
    for k, (metric, variant, label, color, marker) in enumerate(series):
        sel = _select(ou, metric, variant=variant)
        sel["s"] = metric
        nudge = {h: h * 1.08 ** (k - 1) for h in sel["outage_h"]}  # side by side on a log axis
        ci_lines(sel, a, "outage_h", "s", {metric: label}, {metric: color}, nudge, "none",
                 marker)  # fmt: skip
    xs = [10 ** (k / 50) for k in range(-50, 90)]
    a.plot(xs, [p_delivered_after_outage(x * HOUR) for x in xs], ":", color="black",
           label="delivered, closed form")  # fmt: skip
    a.set_xscale("log")
    a.set_xlabel("outage of thumbs-q (hours, log scale); uploads arrive in its first 10 min")
    a.set_ylabel("fraction of the thumbnailer's (upload, consumer) pairs")
    a.set_ylim(-0.03, 1.05)
    a.legend(fontsize=8, loc="center left", framealpha=0.95)
    a.set_title("(a) fate of the pairs sent to the target that is down", fontsize=10)
    for metric, label, color in (("latency_p50_h", "p50", "tab:blue"),
                                 ("latency_p99_h", "p99", "tab:orange"),
                                 ("latency_max_h", "max", "tab:gray")):  # fmt: skip
        sel = _select(ou, metric, variant="no-dlq").dropna(subset=["mean"])
        sel["s"] = metric
        ci_lines(sel, b, "outage_h", "s", {metric: f"delay, {label}"}, {metric: color},
                 linestyle="none")  # fmt: skip
    xs = [x for x in xs if x <= 30]
    b.plot(xs, xs, ":", color="black", label="delay = outage length")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("outage of thumbs-q (hours, log scale)")
    b.set_ylabel("upload → processed, delivered pairs (hours, log scale)")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) delay of what is delivered", fontsize=10)
    fig.suptitle(f"One EventBridge target (SQS queue) unavailable from t = 0; default retry "
                 f"policy (24 h, 185 retries, backoff 1 s doubling to 600 s with jitter); mean "
                 f"and 95% CI of {reps} replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_replay(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Recovery, duplicates and cost of an archive replay after the outage."""
    rp = df[df["study"] == "replay"].copy()
    rp["outage_h"] = rp["outage_s"] / HOUR
    cats = {h: f"{h:g} h outage" for h in sorted(rp["outage_h"].unique())}
    labels = {v: VARIANT_LABELS[v] for v in REPLAY_VARIANTS}
    fig, (a, b, c) = new_panels(1, 3, 16.0, 6.0)
    sel = _select(rp, "delivered_fraction", sink=OUTAGE_RULE.function)
    ci_bars(sel, a, "outage_h", "variant", cats, labels, VARIANT_COLORS)
    _theory_marks(a, sel, "outage_h", list(cats), list(labels), "variant")
    a.set_ylabel("thumbnailer pairs delivered (fraction)")
    a.set_ylim(0, 1.1)
    a.set_title("(a) the target that was down", fontsize=10)
    dup = _select(rp, "healthy_duplicates_per_upload", sink="*")
    thumbs = _select(rp, "duplicates_per_upload", sink=OUTAGE_RULE.function)
    both = pd.concat([dup, thumbs])
    for col in ("mean", "ci_low", "ci_high", "theory"):
        both[col] = both[col] * 1000
    both["where"] = both["sink"].map({"*": "healthy", OUTAGE_RULE.function: "down"})
    both["cat"] = [f"{h:g} h\n{w}" for h, w in zip(both["outage_h"], both["where"], strict=True)]
    dcats = {f"{h:g} h\n{w}": f"{h:g} h:\n{w}" for h in cats for w in ("healthy", "down")}
    ci_bars(both, b, "cat", "variant", dcats, labels, VARIANT_COLORS)
    _theory_marks(b, both, "cat", list(dcats), list(labels), "variant")
    b.set_ylabel("duplicate processings per 1,000 uploads")
    b.tick_params(axis="x", labelsize=8)
    b.set_title("(b) duplicates: the 3 healthy consumers, the one down", fontsize=10)
    cost = _select(rp, "cost_per_million_usd", sink="*")
    ci_bars(cost, c, "outage_h", "variant", cats, labels, VARIANT_COLORS)
    c.set_ylabel("cost per million uploads (USD)")
    c.set_title("(c) cost: S3 PUTs, archive, replay, SQS, Lambda", fontsize=10)
    handles, names = a.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=4, fontsize=9)
    fig.suptitle(f"Archive replay of the outage window, started 10 min after the outage ends (no "
                 f"DLQ); mean and 95% CI of {reps} replications; diamonds: closed forms\n"
                 f"{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)
