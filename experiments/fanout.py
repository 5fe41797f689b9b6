"""Fan-out to N SQS queues: sequential sends (option 1) vs one SNS publish (option 2), DESIGN A4.

A producer emits messages that must reach N SQS standard queues, each drained by its own Lambda
function (so every queue is an intended sink of every message).

* **Option 1, sequential fan-out.** The producer sends the message to ``q1``, ``q2``, ... ``qN``
  in turn (``send_to: [q1 .. qN]``) with the AWS SDK's standard retry (``retry.max_attempts``
  attempts per send, full-jitter backoff from 1 s, cap 20 s) and stops at the first send that
  still fails after its retries: the queues before it have the message, the others never get it.
* **Option 2, SNS fan-out.** The producer publishes once to an SNS standard topic (with the same
  SDK retry) to which the N queues are subscribed; SNS delivers to every queue with the
  AWS-managed retry policy (3 immediate retries, 2 at 1 s, 10 backing off to 20 s, then 100,000
  every 20 s: about 23 days).

Send failures: every SendMessage to a queue fails independently with probability q (the queue's
``errors.rate``), whether the producer or SNS sends it; in option 2 the Publish also fails with
probability q (the topic's ``errors.rate``). Swept: q ∈ {0.1%, 1%, 5%} × N ∈ {2, 3, 5, 10} ×
``max_attempts`` ∈ {1 (no SDK retries), 3 (the SDK default)} × option. A second study takes one
queue down for 5 minutes (N = 5, q = 1%, 3 attempts): in option 1 the first, the middle or the
last queue; in option 2 the middle one (SNS treats its subscriptions alike).

Closed forms (DESIGN §7), with q_m = q^m the probability that a send fails after m attempts
(:func:`sim.analysis.theory.sdk_send_failure`): option 1 P(all N) = (1 − q_m)^N
(:func:`sim.analysis.theory.sequential_fanout_all_delivered`), P(partial) = (1 − q_m) − (1 − q_m)^N,
P(none) = q_m; option 2 P(all) = 1 − q_m and P(partial) = 0, as SNS's 23-day schedule
outlasts any failure here.

Assumed latencies (AWS publishes no distributions; the same in both options): SendMessage
lognormal with median 15 ms (σ 0.5), Publish median 25 ms (σ 0.5); the consumer functions run
lognormal median 50 ms (σ 0.5), event source batch size 10, no batching window. Producer-side
latency (``producer_latency_mean_s``) is the time the producer spends per message on its sends
and retries; end-to-end latency runs from the message's creation to its processing by a
consumer, over every (message, queue) pair delivered.

Common random numbers: every variant uses the same root seed and replication indices; the
arrivals and SDK backoff draws are on the producer's streams and each queue's send failures on
that queue's own stream, so variants see the same messages. ``differences.csv`` holds the
paired differences option 2 − option 1, replication by replication.

Writes ``fanout.csv`` (tidy: one row per configuration and metric with n, mean, std, the 95%
t-interval over replications and the closed form where there is one), ``differences.csv``,
three PNG charts and ``findings.md`` into ``results/fanout/``, then the results index. Same
seed ⇒ the same files, byte for byte.

Usage: ``python experiments/fanout.py [--quick] [--out DIR] [--seed S] [--workers N]
[--replications R] [--replot]`` (``--replot`` redraws charts and findings from the CSVs).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.analysis.theory import sdk_send_failure, sequential_fanout_all_delivered
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, Report, Study, percent_ci, run_study
from sim.study import mean_ci as _ci
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import points_ci as _pp
from sim.study import run_metric as _m
from sim.study import select as _select
from sim.study import summary_row as _row

RATE_PER_S = 10.0
DRAIN_S = 60.0
SEND_MEDIAN_S = 0.015
PUBLISH_MEDIAN_S = 0.025
FUNCTION_MEDIAN_S = 0.05
SIGMA = 0.5
SEND_FAILURES = (0.001, 0.01, 0.05)
QUEUE_COUNTS = (2, 3, 5, 10)
MAX_ATTEMPTS = (1, 3)
OPTIONS = (1, 2)
OUTAGE_QUEUES = 5
OUTAGE_Q = 0.01
OUTAGE_ATTEMPTS = 3
OUTAGE_S = 300.0
HEADLINE_Q, HEADLINE_N = 0.01, 5

_pct = functools.partial(percent_ci, constant="every")  # "... in every replication" when all agree


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    send_failures: tuple[float, ...]
    queue_counts: tuple[int, ...]
    duration_s: float
    replications: int
    outage_positions: tuple[int, ...]  # option 1; option 2 takes the middle queue down
    outage_run_s: float
    outage_start_s: float
    outage_replications: int


FULL = Grid(SEND_FAILURES, QUEUE_COUNTS, 180.0, 10, (1, 3, 5), 600.0, 150.0, 4)
QUICK = Grid((0.01, 0.05), (2, 5), 120.0, 3, (3,), 480.0, 90.0, 2)


# --------------------------------------------------------------------------- scenarios


def _lognormal(median: float) -> dict[str, Any]:
    return {"lognormal": {"median": median, "sigma": SIGMA}}


class Point(NamedTuple):
    """One configuration; ``outage`` is the position (1..N) of the queue taken down, or 0."""

    study: str  # "sweep" or "outage"
    option: int
    n_queues: int
    q: float
    max_attempts: int
    outage: int = 0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} option={self.option} N={self.n_queues} q={self.q:g} "
                f"m={self.max_attempts} outage={self.outage}")  # fmt: skip

    def scenario(self, duration_s: float, seed: int, outage_start_s: float) -> Scenario:
        """The scenario of this point (same producer and queue names in every variant)."""
        queues = [f"q{i + 1}" for i in range(self.n_queues)]
        comps: dict[str, Any] = {}
        for i, q in enumerate(queues):
            comps[q] = {"type": "sqs_queue", "errors": {"rate": self.q},
                        "latency_s": _lognormal(SEND_MEDIAN_S)}  # fmt: skip
            comps[f"f{i + 1}"] = {
                "type": "lambda_function", "trigger": {"source": q, "batch_size": 10},
                "duration_s": _lognormal(FUNCTION_MEDIAN_S),
            }  # fmt: skip
        retry = {"max_attempts": self.max_attempts}
        if self.option == 1:
            comps["app"] = {"type": "producer", "rate_per_s": RATE_PER_S, "send_to": queues,
                            "retry": retry}  # fmt: skip
        else:
            comps["app"] = {"type": "producer", "rate_per_s": RATE_PER_S, "send_to": ["topic"],
                            "retry": retry}  # fmt: skip
            comps["topic"] = {"type": "sns_topic", "errors": {"rate": self.q},
                              "latency_s": _lognormal(PUBLISH_MEDIAN_S),
                              "subscriptions": [{"target": q} for q in queues]}  # fmt: skip
        outages = (
            [{"component": f"q{self.outage}", "start_s": outage_start_s, "duration_s": OUTAGE_S}]
            if self.outage
            else []
        )
        return scenario_from_dict({
            "name": self.name, "seed": seed, "duration_s": duration_s, "drain_s": DRAIN_S,
            "components": comps, "outages": outages,
        })  # fmt: skip


def sweep_points(grid: Grid) -> list[Point]:
    """The sweep: option × q × N × max_attempts."""
    return [Point("sweep", o, n, q, m) for q in grid.send_failures for m in MAX_ATTEMPTS
            for n in grid.queue_counts for o in OPTIONS]  # fmt: skip


def outage_points(grid: Grid) -> list[Point]:
    """The outage study: option 1 with each queue position down, option 2 with the middle."""
    middle = (OUTAGE_QUEUES + 1) // 2
    pts = [Point("outage", 1, OUTAGE_QUEUES, OUTAGE_Q, OUTAGE_ATTEMPTS, k)
           for k in grid.outage_positions]  # fmt: skip
    return [*pts, Point("outage", 2, OUTAGE_QUEUES, OUTAGE_Q, OUTAGE_ATTEMPTS, middle)]


# --------------------------------------------------------------------------- theory


def theory(option: int, q: float, n: int, m: int) -> dict[str, float]:
    """Closed forms (DESIGN §7) of the delivered fractions of one configuration."""
    qm = sdk_send_failure(q, m)
    if option == 1:
        all_ = sequential_fanout_all_delivered(qm, n)
        partial = (1.0 - qm) - all_
    else:
        all_, partial = 1.0 - qm, 0.0
    return {"all_delivered_fraction": all_, "partial_fraction": partial,
            "none_delivered_fraction": qm, "partial_per_million": partial * 1e6}  # fmt: skip


# --------------------------------------------------------------------------- design


def measure(p: Point, r: RunResult) -> dict[str, float]:
    """The reported quantities of one replication (in its worker)."""
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{p.name} rep {r.rep}: messages still in flight")
    all_, partial = _m(r, "all_delivered_fraction"), _m(r, "partial_fraction")
    out = {
        "messages": _m(r, "messages_produced"),
        "all_delivered_fraction": all_,
        "partial_fraction": partial,
        "none_delivered_fraction": round(1.0 - all_ - partial, 12),  # no float residue
        "partial_per_million": partial * 1e6,
        "delivered_fraction": _m(r, "delivered_fraction"),
        "producer_latency_mean_s": _m(r, "producer_latency_mean_s"),
        "latency_mean_s": _m(r, "latency_mean_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
        "lost": _m(r, "lost"),
        "in_flight": _m(r, "in_flight"),
    }
    if p.outage:
        v = r.sinks.get(f"f{p.outage}", {}).get("latency_p99_s")
        out["outage_queue_latency_p99_s"] = math.nan if v is None else float(v)
    return out


KEYS = ("study", "option", "n_queues", "send_failure_q", "max_attempts", "outage_queue")
DIFF_METRICS = ("all_delivered_fraction", "partial_fraction", "partial_per_million",
                "producer_latency_mean_s", "latency_p99_s", "cost_per_million_usd")  # fmt: skip


def _keys(p: Point) -> dict[str, Any]:
    return dict(zip(KEYS, (p.study, p.option, p.n_queues, p.q, p.max_attempts, p.outage),
                    strict=True))  # fmt: skip


def designs(o: Options) -> list[Design[Point]]:
    """The sweep and the outage study: option 2 differenced against option 1, point by point."""
    grid = QUICK if o.quick else FULL
    common: dict[str, Any] = {
        "measure": measure, "table": "fanout", "columns": _keys,
        "closed_forms": lambda p: theory(p.option, p.q, p.n_queues, p.max_attempts)
        if p.study == "sweep" else {},
        "baseline": lambda p: p._replace(option=1) if p.option == 2 else None,
        "difference_metrics": DIFF_METRICS,
        "difference_columns": lambda p: {k: v for k, v in _keys(p).items() if k != "option"},
    }  # fmt: skip
    return [
        Design("sweep", sweep_points(grid), replications=grid.replications,
               scenario=lambda p: p.scenario(grid.duration_s, o.seed, 0.0), **common),
        Design("outage", outage_points(grid), replications=grid.outage_replications,
               scenario=lambda p: p.scenario(grid.outage_run_s, o.seed, grid.outage_start_s),
               **common),
    ]  # fmt: skip


# --------------------------------------------------------------------------- charts

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


def _symlog(ax: Any, top: float) -> None:
    """Symmetric-log y from 0 (linear below 1 per million), plain tick labels."""
    ax.set_yscale("symlog", linthresh=1.0)
    ticks = [0.0] + [10.0**i for i in range(0, 7) if 10.0**i <= max(top, 1.0) * 3.0]
    names = {1e3: "1k", 1e4: "10k", 1e5: "100k", 1e6: "1M"}
    ax.set_yticks(ticks, [names.get(v, f"{v:g}") for v in ticks])
    ax.minorticks_off()
    ax.set_ylim(0, max(top, 1.0) * 3.0)


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
        _symlog(bottom, float(part[["mean", "ci_high"]].max().max()))
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


# --------------------------------------------------------------------------- findings


def theory_checks(sw: pd.DataFrame) -> pd.DataFrame:
    """Sweep rows of the all-delivered and partial fractions, each with a ``verdict``.

    ``inside``: the closed form is inside the 95% CI; ``no event``: every replication saw the
    same extreme value (no partial message, or every message everywhere), so the CI has zero
    width, and the closed form expects at most 3 such events in all replications together
    (Poisson probability of none ≥ 5%); ``miss`` otherwise.
    """
    rows = sw[sw["metric"].isin(["all_delivered_fraction", "partial_fraction"])].copy()
    messages = _select(sw, "messages").set_index(list(KEYS))
    pooled = [float(messages.loc[k, "mean"] * messages.loc[k, "n"])
              for k in rows[list(KEYS)].itertuples(index=False, name=None)]  # fmt: skip
    rare = (rows["theory"].where(rows["metric"] == "partial_fraction", 1.0 - rows["theory"])
            * pooled)  # fmt: skip
    extreme = (rows["std"] == 0) & (rows["mean"].isin([0.0, 1.0]))
    inside = (rows["ci_low"] <= rows["theory"]) & (rows["theory"] <= rows["ci_high"])
    rows["verdict"] = "miss"
    rows.loc[extreme & (rare <= 3.0), "verdict"] = "no event"
    rows.loc[inside, "verdict"] = "inside"
    return rows


def findings(
    df: pd.DataFrame, diff: pd.DataFrame, out_name: str, quick: bool, seed: int,
    reps: int, outage_reps: int, run_s: float, start_s: float,
) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the two CSV tables."""
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "fanout.csv", "differences.csv", "delivery.png", "latency_cost.png", "outage.png"))
    sw = df[df["study"] == "sweep"]
    qs = sorted(sw["send_failure_q"].unique())
    ns = sorted(int(n) for n in sw["n_queues"].unique())
    q0 = HEADLINE_Q if HEADLINE_Q in qs else qs[0]
    n0 = HEADLINE_N if HEADLINE_N in ns else ns[-1]
    at = {"study": "sweep", "send_failure_q": q0, "n_queues": n0}
    msgs = float(_select(sw, "messages")["mean"].mean())
    msgs_out = float(_select(df[df["study"] == "outage"], "messages")["mean"].mean())
    lines = [
        "# Fan-out: sequential sends vs SNS to N SQS queues (partial deliveries, latency, cost)",
        "",
        f"Script `experiments/fanout.py`{' (`--quick`)' if quick else ''}, root seed {seed}, "
        f"{reps} replications per sweep configuration of about {_num(msgs)} messages each "
        f"({outage_reps} of about {_num(msgs_out)} for the outage), common random numbers "
        f"(every variant sees the same messages); files: {files}.",
        "",
        f"Setup (DESIGN A4): {SETUP}. Option 1 sends to q1 … qN in turn and stops at the first "
        "send that fails after its SDK attempts (m = `retry.max_attempts`, full-jitter backoff "
        "from 1 s); option 2 publishes once to an SNS topic with the N queues subscribed "
        "(AWS-managed retry policy, ≈ 23 days). Each SendMessage, by the producer or by SNS, and "
        "each Publish fails independently with probability q. Closed forms (DESIGN §7): option "
        "1 P(all) = (1 − q^m)^N, P(partial) = (1 − q^m) − (1 − q^m)^N; option 2 P(all) = 1 − "
        "q^m, P(partial) = 0.",
        "",
        "![all-delivered and partial fractions vs N](" + out_name + "/delivery.png)",
        "![producer latency, p99 latency and cost vs N](" + out_name + "/latency_cost.png)",
        "![one queue down for 5 minutes](" + out_name + "/outage.png)",
        "",
    ]
    part = {(o, m): _row(sw, "partial_fraction", option=o, max_attempts=m, **at)
            for o in OPTIONS for m in MAX_ATTEMPTS}  # fmt: skip
    alld = {(o, m): _row(sw, "all_delivered_fraction", option=o, max_attempts=m, **at)
            for o in OPTIONS for m in MAX_ATTEMPTS}  # fmt: skip
    d1 = _row(diff, "partial_fraction", max_attempts=1, **at)
    th = theory(1, q0, n0, 1)
    lines.append(
        f"- **Headline, q = {q0:.0%} and N = {n0}.** Without SDK retries option 1 leaves "
        f"{_pct(part[(1, 1)])} of messages in some queues but not all (closed form "
        f"{th['partial_fraction']:.3%}); option 2 leaves {_pct(part[(2, 1)])} (paired "
        f"difference option 2 − option 1: {_pp(d1)}). All {n0} queues get "
        f"{_pct(alld[(1, 1)])} of messages in option 1 (closed form "
        f"{th['all_delivered_fraction']:.3%}) and {_pct(alld[(2, 1)])} in option 2 "
        f"(closed form {theory(2, q0, n0, 1)['all_delivered_fraction']:.3%}: only a failed "
        "Publish loses a message, and then it reaches no queue at all)."
    )
    lines.append(
        f"- **SDK retries** (m = 3) shrink option 1's partial fraction to {_pct(part[(1, 3)])} "
        f"at q = {q0:.0%}, N = {n0} (closed form {theory(1, q0, n0, 3)['partial_fraction']:.2e}), "
        f"and option 2 delivers {_pct(alld[(2, 3)])} to all queues. Retries make independent "
        "failures rare in both options (a send fails with probability q^m); what they cannot "
        "cure is a correlated failure (the outage below)."
    )
    worst = _row(sw, "partial_fraction", option=1, max_attempts=1, send_failure_q=qs[-1],
                 n_queues=ns[-1])  # fmt: skip
    worst3 = _row(sw, "partial_fraction", option=1, max_attempts=3, send_failure_q=qs[-1],
                  n_queues=ns[-1])  # fmt: skip
    opt2_max = float(sw.loc[(sw["metric"] == "partial_fraction") & (sw["option"] == 2),
                            "mean"].max())  # fmt: skip
    lines.append(
        f"- **Across the sweep** option 1's partial fraction grows with N and q, up to "
        f"{_pct(worst)} at q = {qs[-1]:.0%}, N = {ns[-1]} without retries "
        f"(closed form {theory(1, qs[-1], ns[-1], 1)['partial_fraction']:.3%}) and "
        f"{_pct(worst3)} with 3 attempts; option 2's is at most {_p(opt2_max)} in every "
        "configuration. (Option 2's fractions do not depend on N: under common random numbers "
        "its Publish failures are the same draws whatever the number of subscribers.)"
    )
    checks = theory_checks(sw)
    misses = checks[checks["verdict"] == "miss"]
    # option 2's rows for different N are one estimate (the same Publish draws): list them once
    by = ["option", "send_failure_q", "max_attempts", "metric", "mean", "theory"]
    miss_text = "; ".join(
        f"option {k[0]}, q = {k[1]:.1%}, N = {', '.join(str(n) for n in g['n_queues'])}, "
        f"m = {k[2]}, {k[3]}: {k[4]:.4g} vs {k[5]:.4g}"
        for k, g in misses.groupby(by, sort=False))
    lines.append(
        f"- **Against the closed forms**: of {len(checks)} all-delivered and partial "
        f"fractions, {int((checks['verdict'] == 'inside').sum())} have the closed form inside "
        f"their 95% CI and {int((checks['verdict'] == 'no event').sum())} saw no event at all "
        "(a CI of zero width) where the closed form expects at most 3 in all replications "
        f"together; {len(misses)} miss"
        + (f" ({miss_text}); about 5% misses are expected by chance." if len(misses) else ".")
    )
    lat = {(o, m): _row(sw, "producer_latency_mean_s", option=o, max_attempts=m, **at)
           for o in OPTIONS for m in MAX_ATTEMPTS}  # fmt: skip
    p99 = {(o, m): _row(sw, "latency_p99_s", option=o, max_attempts=m, **at)
           for o in OPTIONS for m in MAX_ATTEMPTS}  # fmt: skip
    cost = {o: _row(sw, "cost_per_million_usd", option=o, max_attempts=3, **at)
            for o in OPTIONS}  # fmt: skip
    lat_n = {o: _row(sw, "producer_latency_mean_s", option=o, max_attempts=3,
                     study="sweep", send_failure_q=q0, n_queues=ns[-1]) for o in OPTIONS}
    at_n = (f" (N = {ns[-1]}: {_ci(lat_n[1], 'ms', 1e3)} vs {_ci(lat_n[2], 'ms', 1e3)})"
            if ns[-1] != n0 else "")
    lines.append(
        f"- **Producer-side latency** at q = {q0:.0%}, N = {n0}, 3 attempts: option 1 "
        f"{_ci(lat[(1, 3)], 'ms', 1e3)}, option 2 {_ci(lat[(2, 3)], 'ms', 1e3)}{at_n}; option 1 "
        "pays N "
        "round trips plus the backoff of every retried send. **End-to-end p99**: "
        f"{_ci(p99[(1, 3)], 'ms', 1e3)} vs {_ci(p99[(2, 3)], 'ms', 1e3)} (without retries "
        f"{_ci(p99[(1, 1)], 'ms', 1e3)} vs {_ci(p99[(2, 1)], 'ms', 1e3)}): with retries the "
        "p99 lands on messages that waited out an SDK backoff (U(0, 1) s before the first "
        "retry), which in option 1 is the ≈ N·q of messages with a retried send and in option "
        "2 the ≈ q with a retried Publish. **Cost** per million "
        f"messages: {_ci(cost[1], 'USD')} vs {_ci(cost[2], 'USD')} (SNS adds $0.50 per million "
        "publishes; its deliveries to SQS are free, the SQS requests and Lambda invocations "
        "are the same)."
    )
    ou = df[df["study"] == "outage"]
    if not ou.empty:
        mid = int(ou.loc[ou["option"] == 2, "outage_queue"].iloc[0])
        o1 = {k: {m: _row(ou, m, option=1, outage_queue=k) for m in (
            "all_delivered_fraction", "partial_fraction", "none_delivered_fraction")}
            for k in sorted(int(k) for k in ou.loc[ou["option"] == 1, "outage_queue"].unique())}
        o2 = {m: _row(ou, m, option=2) for m in (
            "all_delivered_fraction", "partial_fraction", "latency_p99_s",
            "outage_queue_latency_p99_s", "producer_latency_mean_s")}
        share = OUTAGE_S / run_s
        parts = "; ".join(
            f"q{k} down: {_pct(v['all_delivered_fraction'])} all, "
            f"{_pct(v['partial_fraction'])} partial, {_pct(v['none_delivered_fraction'])} none"
            for k, v in o1.items())
        p99_1 = _row(ou, "latency_p99_s", option=1, outage_queue=mid)
        lines.append(
            f"- **Outage of one queue for {OUTAGE_S / 60:g} minutes** (N = {OUTAGE_QUEUES}, "
            f"q = {OUTAGE_Q:.0%}, {OUTAGE_ATTEMPTS} SDK attempts; {share:.0%} of the run's "
            f"messages are created during the outage): option 1 — {parts}. The SDK's few "
            "seconds of "
            "retries cannot bridge a 5-minute outage, so practically every message sent during "
            "it is cut "
            "off at the queue that is down: partial if that queue is not the first, lost "
            f"everywhere if it is. Option 2 (q{mid} down): {_pct(o2['all_delivered_fraction'])} "
            f"delivered to all queues, {_pct(o2['partial_fraction'])} partial — SNS keeps "
            f"retrying every 20 s and delivers once the queue is back — at the price of latency: "
            f"p99 at the consumer of the queue that was down "
            f"{_ci(o2['outage_queue_latency_p99_s'], 's')}, over all queues "
            f"{_ci(o2['latency_p99_s'], 's')} (option 1, q{mid} down: {_ci(p99_1, 's')}, over "
            "delivered pairs only)."
        )
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: every message is resolved by the end of each run (largest mean in "
        f"flight: {_num(flight)}); fractions are per message over its N intended queues. "
        "Send latencies are assumptions (AWS publishes no distribution); the SDK retry quota "
        "(token bucket) and SNS retry jitter are not modelled."
    )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def report(rep: Report) -> str:
    """The three charts and the findings, from ``fanout.csv`` and ``differences.csv``."""
    grid = QUICK if rep.quick else FULL
    df, diff, out = rep.tables["fanout"], rep.tables["differences"], rep.out
    reps = int(df.loc[df["study"] == "sweep", "n"].max())
    outage_reps = int(df.loc[df["study"] == "outage", "n"].max())
    chart_delivery(df, out / "delivery.png", reps)
    chart_latency_cost(df, out / "latency_cost.png", reps)
    chart_outage(df, out / "outage.png", outage_reps, grid.outage_run_s, grid.outage_start_s)
    return findings(df, diff, out.name, rep.quick, rep.seed, reps, outage_reps,
                    grid.outage_run_s, grid.outage_start_s)  # fmt: skip


STUDY = Study(
    "fanout",
    "Fan-out to N SQS queues, sequential sends vs SNS (DESIGN A4); writes results/fanout/.",
    20260604,
    designs,
    report,
    replications_help="replications per configuration (default: 10 sweep / 4 outage, "
    "--quick 3 / 2)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
