"""The database-protection study's charts, drawn from its tidy tables.

The study is :mod:`experiments.database_protection`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from experiments.database_protection_design import (
    CAPACITY_PER_S,
    CLIENT_TIMEOUT_S,
    KAPPA,
    KNEE,
    MAX_CONNECTIONS,
    MAX_RECEIVE_COUNT,
    OUTAGE_FACTOR,
    OUTAGE_LOAD,
    PIPELINE_BATCH_SIZE,
    PIPELINE_RATE_PER_S,
    SERVICE_MEAN_S,
    SIGMA,
    TIMELINE_BIN_S,
    UNLIMITED,
    Grid,
    concurrency_reference,
    service_time_s,
    usl_throughput,
)
from sim.analysis.plots import ci_lines, new_panels, save_png, symlog_y
from sim.study import select

SETUP = (f"SQS → Lambda (batch 1) → database with {MAX_CONNECTIONS} connections, query "
         f"{SERVICE_MEAN_S:g} s alone (exponential), USL σ = {SIGMA:g}, κ = {KAPPA:g}: capacity "
         f"{CAPACITY_PER_S:.1f} queries/s at N = {KNEE};\nclient timeout {CLIENT_TIMEOUT_S:g} s, "
         f"SDK standard retries (3 attempts); DLQ after {MAX_RECEIVE_COUNT} receives")  # fmt: skip
LOAD_COLORS = ("tab:green", "tab:olive", "tab:orange", "tab:red", "tab:purple", "black")


def _reps(df: pd.DataFrame) -> int:
    return int(df["n"].max())


def _load_styles(loads: list[float]) -> tuple[dict[object, str], dict[object, str]]:
    labels: dict[object, str] = {x: f"{x:g} × capacity ({x * CAPACITY_PER_S:.1f}/s)"
                                 for x in loads}  # fmt: skip
    colors: dict[object, str] = {x: LOAD_COLORS[i % len(LOAD_COLORS)]
                                 for i, x in enumerate(loads)}  # fmt: skip
    return labels, colors


def _concurrency_axis(ax: Axes, values: list[int]) -> dict[object, float]:
    """Categorical x positions of concurrency limits (the unlimited one last, "none")."""
    pos: dict[object, float] = {c: float(i) for i, c in enumerate(values)}
    ax.set_xticks(list(pos.values()), ["none" if c == UNLIMITED else str(c) for c in values])
    return pos


def _mark_limits(ax: Axes, pos: dict[object, float]) -> None:
    """Vertical lines at the knee and at the connection limit, where they are on the axis."""
    for value, text, style in ((KNEE, f"knee N = {KNEE}", ":"),
                               (MAX_CONNECTIONS, f"{MAX_CONNECTIONS} connections", "--")):
        if value in pos:
            ax.axvline(pos[value], color="0.45", linestyle=style, linewidth=1.0, label=text)


def chart_database(load: pd.DataFrame, out: Path) -> None:
    """The database's scalability curve against the throughput the fleet sustained."""
    fig, (a, b) = new_panels(1, 2, 13.0, 4.8)
    ns = list(range(1, 81))
    a.plot(ns[:MAX_CONNECTIONS], [usl_throughput(n) for n in ns[:MAX_CONNECTIONS]],
           color="black", label="USL X(N) up to the connection limit")  # fmt: skip
    a.plot(ns[MAX_CONNECTIONS - 1:], [usl_throughput(n) for n in ns[MAX_CONNECTIONS - 1:]],
           color="black", linestyle=":", label="X(N) beyond it (unreachable)")  # fmt: skip
    a.axhline(CAPACITY_PER_S, color="0.5", linestyle="--", linewidth=1.0,
              label=f"capacity max X(N ≤ {MAX_CONNECTIONS}) = {CAPACITY_PER_S:.1f}/s")  # fmt: skip
    top = float(load["load"].max())
    sat = select(load, "throughput_per_s", limit="max_concurrency", load=top)
    ci_lines(sat, a, "concurrency", "load",
             {top: f"measured at {top:g} × capacity, max_concurrency = N"},
             {top: "tab:red"}, linestyle="none")  # fmt: skip
    free = select(load, "throughput_per_s", limit="none", load=top)
    if not free.empty:
        row = free.iloc[0]
        a.axhspan(row["ci_low"], row["ci_high"], color="tab:purple", alpha=0.3,
                  label=f"measured without a limit: {row['mean']:.1f}/s")  # fmt: skip
    a.set_xscale("log")
    ticks = [1, 2, 5, 10, 20, 40, 80]
    a.set_xticks(ticks, [str(t) for t in ticks])
    a.minorticks_off()
    a.set_xlabel("queries in service N (measured: the event source's max_concurrency)")
    a.set_ylabel("queries (messages) completed per second")
    a.set_title("(a) what the database can do, and what the fleet got from it", fontsize=10)
    a.set_ylim(0, 1.45 * CAPACITY_PER_S)
    a.legend(fontsize=7, loc="upper right")
    a.grid(color="0.88", linewidth=0.8)
    n20 = list(range(1, MAX_CONNECTIONS + 1))
    b.plot(n20, [service_time_s(n) for n in n20], color="tab:blue", label="normal")
    b.plot(n20, [service_time_s(n, OUTAGE_FACTOR) for n in n20], color="tab:red",
           label=f"slow outage × {OUTAGE_FACTOR:g}")  # fmt: skip
    for t in (1.0, 2.0, 4.0, 8.0):
        b.axhline(t, color="0.5", linestyle=":", linewidth=0.9)
        b.annotate(f"timeout {t:g} s", (1, t), xytext=(2, 2), textcoords="offset points",
                   fontsize=7)  # fmt: skip
    b.set_yscale("log")
    yticks = [0.2, 0.5, 1.0, 2.0, 4.0, 8.0]
    b.set_yticks(yticks, [f"{v:g}" for v in yticks])
    b.minorticks_off()
    b.set_xlabel("queries in service N")
    b.set_ylabel("mean time of one query (s, log scale)")
    b.set_title("(b) query time under load (model) against client timeouts", fontsize=10)
    b.legend(fontsize=8, loc="lower right")
    b.grid(color="0.88", linewidth=0.8)
    fig.suptitle(f"The database: Universal Scalability Law, X(N) = N / (S(1 + σ(N − 1) + "
                 f"κN(N − 1))); measured points: mean and 95% CI of {_reps(load)} "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_concurrency(load: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Question 1: throughput, p99 latency, dead letters and wasted work vs max_concurrency."""
    df = load[load["limit"].isin(["max_concurrency", "none"])]
    values = sorted(int(c) for c in df["concurrency"].unique())
    loads = sorted(float(x) for x in df["load"].unique())
    labels, colors = _load_styles(loads)
    fig, axes = new_panels(2, 2, 13.0, 9.0)
    panels = (
        ("throughput_per_s", "messages processed per second\nof the arrival window"),
        ("latency_p99_s", "p99 latency, creation → processed (s, log)"),
        ("dead_lettered_fraction", "fraction of messages dead-lettered"),
        ("db_wasted_fraction", "share of the database's busy time wasted\n"
                               "(queries whose client had given up)"),
    )  # fmt: skip
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        pos = _concurrency_axis(ax, values)
        ci_lines(select(df, metric), ax, "concurrency", "load", labels, colors, pos)
        _mark_limits(ax, pos)
        ax.set_xlabel("event source max_concurrency")
        ax.set_ylabel(ylabel)
        if metric != "latency_p99_s":
            ax.set_ylim(bottom=0)
    pos = _concurrency_axis(axes[0], values)
    axes[0].plot(list(pos.values()), [concurrency_reference(c) for c in values],
                 color="black", linestyle=":", marker="_",
                 label="USL X(min(limit, connections))")  # fmt: skip
    axes[1].set_yscale("log")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=5, fontsize=8)
    fig.suptitle(f"How much concurrency protects the database: {grid.window_s:g} s of load, "
                 f"then drained; mean and 95% CI of {_reps(load)} replications\n{SETUP}",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_reserved(load: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Question 1, second axis: reserved concurrency R against max_concurrency R."""
    rs = sorted(int(c) for c in load.loc[load["limit"] == "reserved_concurrency",
                                         "concurrency"].unique())  # fmt: skip
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    fig, axes = new_panels(1, 3, 14.0, 4.8)
    panels = (("throttles_per_message", "Lambda throttles per message"),
              ("latency_mean_s", "mean latency (s, log)"),
              ("latency_p99_s", "p99 latency (s, log)"))  # fmt: skip
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        for limit, style, marker in (("max_concurrency", "-", "o"),
                                     ("reserved_concurrency", "--", "s")):  # fmt: skip
            df = select(load, metric, limit=limit)
            df = df[df["concurrency"].isin(rs)]
            labels: dict[object, str] = {r: f"{limit} {r}" for r in rs}
            colors: dict[object, str] = {r: palette[i % len(palette)] for i, r in enumerate(rs)}
            ci_lines(df, ax, "load", "concurrency", labels, colors, linestyle=style,
                     marker=marker)  # fmt: skip
        ax.set_xlabel("offered load ÷ database capacity")
        ax.set_ylabel(ylabel)
        if metric != "throttles_per_message":
            ax.set_yscale("log")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(rs) * 2, fontsize=8)
    fig.suptitle(f"Reserved concurrency R on the function (event source unlimited, its batches "
                 f"throttled) vs max_concurrency R on the event source; {grid.window_s:g} s of "
                 f"load; mean and 95% CI of {_reps(load)} replications\n{SETUP}",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_connections(conn: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Question 2: a connection per call (pool/proxy) or one per warm environment."""
    values = sorted(int(c) for c in conn["max_concurrency"].unique())
    loads = sorted(float(x) for x in conn["load"].unique())
    fig, axes = new_panels(1, 4, 16.0, 4.8)
    panels = (("db_refused_per_message", "connections refused per message"),
              ("failed_attempts_per_message", "failed processing attempts per message"),
              ("dead_lettered_fraction", "fraction of messages dead-lettered"),
              ("latency_p99_s", "p99 latency (s, log)"))  # fmt: skip
    labels: dict[object, str] = {"per_call": "per call (pool / RDS Proxy)",
                                 "per_environment": "one per execution environment"}
    colors: dict[object, str] = {"per_call": "tab:blue", "per_environment": "tab:red"}
    styles = ("-", "--", "-.")
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        pos = _concurrency_axis(ax, values)
        for i, x in enumerate(loads):
            names: dict[object, str] = {k: f"{v}, {x:g} × capacity" for k, v in labels.items()}
            ci_lines(select(conn, metric, load=x), ax, "max_concurrency", "connection", names,
                     colors, pos, linestyle=styles[i % len(styles)])  # fmt: skip
        _mark_limits(ax, pos)
        ax.set_xlabel("event source max_concurrency")
        ax.set_ylabel(ylabel)
        if metric == "latency_p99_s":
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
    handles, texts = axes[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(f"Connections per call vs per warm execution environment, as concurrency "
                 f"passes the {MAX_CONNECTIONS} connections; {grid.window_s:g} s of load; mean "
                 f"and 95% CI of {_reps(conn)} replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_outage(outage: pd.DataFrame, timeline: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Question 3: latency over time, wasted work and recovery vs the client timeout."""
    top = int(outage["max_concurrency"].max())
    timeouts = sorted(float(t) for t in outage["client_timeout_s"].unique())
    fig, (a, b, c) = new_panels(1, 3, 16.0, 5.0)
    palette = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple")
    tcolors: dict[object, str] = {t: palette[i % len(palette)] for i, t in enumerate(timeouts)}
    tl = select(timeline, "latency_mean_s", max_concurrency=top, retry="standard")
    tl["t_s"] = tl["t_s"] + TIMELINE_BIN_S / 2  # at the middle of its bin
    ci_lines(tl[tl["outage"]], a, "t_s", "client_timeout_s",
             {t: f"client timeout {t:g} s" for t in timeouts}, tcolors, marker=".")  # fmt: skip
    ci_lines(tl[~tl["outage"]], a, "t_s", "client_timeout_s",
             {timeouts[0]: f"no outage, timeout {timeouts[0]:g} s"}, {timeouts[0]: "0.4"},
             linestyle=":", marker=".")  # fmt: skip
    a.axvspan(grid.outage_start_s, grid.outage_start_s + grid.outage_s, color="0.85",
              label=f"database {OUTAGE_FACTOR:g}× slower")  # fmt: skip
    a.axvline(grid.after_s, color="0.3", linestyle="--", linewidth=1.0,
              label="'after the outage' from here")  # fmt: skip
    a.set_yscale("log")
    a.set_ylim(top=1e4)  # room for the legend above the curves
    a.set_xlabel(f"time the message was created (s; {TIMELINE_BIN_S:g} s bins)")
    a.set_ylabel("mean latency of the messages created then (s, log)")
    a.set_title(f"(a) max_concurrency {top}, SDK retries", fontsize=10)
    a.legend(fontsize=7, loc="upper left", ncol=2, framealpha=0.95)
    series: dict[object, str] = {}
    colors: dict[object, str] = {}
    frames = []
    for conc, retry, outage_on, color in (
        (top, "standard", True, "tab:red"), (top, "none", True, "tab:orange"),
        (KNEE, "standard", True, "tab:blue"), (top, "standard", False, "0.4"),
    ):  # fmt: skip
        key = f"{conc}/{retry}/{int(outage_on)}"
        part = outage[(outage["max_concurrency"] == conc) & (outage["retry"] == retry)
                      & (outage["outage"] == outage_on)].copy()  # fmt: skip
        if part.empty:
            continue
        part["series"] = key
        frames.append(part)
        retries = "SDK retries" if retry == "standard" else "no SDK retry"
        series[key] = (f"max_concurrency {conc}, {retries}"
                       + ("" if outage_on else ", no outage"))  # fmt: skip
        colors[key] = color
    both = pd.concat(frames)
    for ax, metric, ylabel in (
        (b, "db_wasted_s", "database seconds wasted (connection-s; log)"),
        (c, "latency_after_mean_s", "mean latency of messages created\n"
                                    "60 s or more after the outage (s, log)"),
    ):  # fmt: skip
        ci_lines(select(both, metric), ax, "client_timeout_s", "series", series, colors)
        ax.set_xscale("log", base=2)
        ax.set_xticks(timeouts, [f"{t:g}" for t in timeouts])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel("client timeout per query attempt (s, log)")
        ax.set_ylabel(ylabel)
    b.set_title("(b) wasted work", fontsize=10)
    c.set_title("(c) recovery after the outage", fontsize=10)
    c.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"A {OUTAGE_FACTOR:g}× slowdown of the database for {grid.outage_s:g} s at "
                 f"{OUTAGE_LOAD:g} × capacity: client timeouts shorter and longer than the "
                 f"slowed query ({service_time_s(1, OUTAGE_FACTOR):g} s alone, "
                 f"{service_time_s(MAX_CONNECTIONS, OUTAGE_FACTOR):.2f} s with "
                 f"{MAX_CONNECTIONS} in service); mean and 95% CI of {_reps(outage)} "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_pipeline(pipe: pd.DataFrame, out: Path, grid: Grid) -> None:
    """Question 4: duplicates stage by stage and queries, whole vs partial, plain vs idempotent."""
    fig, axes = new_panels(1, 4, 16.0, 4.8)
    df = pipe.assign(series=pipe["report_batch_item_failures"].map(
        {True: "partial", False: "whole"}) + pipe["idempotent"].map(
        {True: "/idempotent", False: "/plain"}))  # fmt: skip
    labels: dict[object, str] = {
        "whole/plain": "whole-batch failure", "partial/plain": "partial batch response",
        "whole/idempotent": "whole-batch, idempotent consumers",
        "partial/idempotent": "partial, idempotent consumers",
    }  # fmt: skip
    colors: dict[object, str] = {"whole/plain": "tab:red", "partial/plain": "tab:blue",
                                 "whole/idempotent": "tab:orange",
                                 "partial/idempotent": "tab:cyan"}  # fmt: skip
    panels = (("duplicates_per_1k_a", "duplicates at A per 1,000 messages"),
              ("duplicates_per_1k_b", "duplicates at B per 1,000 messages"),
              ("duplicates_per_1k_c", "duplicates at C per 1,000 messages"),
              ("db_calls_per_message", "database queries per message (made by B)"))
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        for idem, style in ((False, "-"), (True, "--")):
            sel = select(df, metric, idempotent=idem)
            part = {k: v for k, v in labels.items() if str(k).endswith("idempotent") == idem}
            ci_lines(sel, ax, "error_rate", "series", part, colors, linestyle=style)
        th = select(df, metric, report_batch_item_failures=True, idempotent=False)
        th = th[th["theory"].notna()].sort_values("error_rate")
        if not th.empty:
            ax.plot(th["error_rate"], th["theory"], color="black", linestyle="none",
                    marker="x", label="closed form (partial, plain)")  # fmt: skip
        ax.set_xlabel("error rate r of A and B (per attempt)")
        ax.set_ylabel(ylabel + (" (symlog)" if metric.startswith("duplicates") else ""))
        if metric.startswith("duplicates"):
            top = max(1.0, float(select(df, metric)["ci_high"].max()))
            symlog_y(ax, top, 10.0, 2.0)
    handles, names = axes[-1].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=5, fontsize=8)
    fig.suptitle(f"Where a pipeline's duplicates come from: SQS → A → SQS → B (queries the "
                 f"database) → SQS → C, {PIPELINE_RATE_PER_S:g} messages/s for "
                 f"{grid.pipeline_window_s:g} s, batches of up to {PIPELINE_BATCH_SIZE};\nA and B "
                 f"fail after their side effects (each attempt sends its output); DLQ after "
                 f"{MAX_RECEIVE_COUNT} receives; mean and 95% CI of {_reps(pipe)} replications",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)
