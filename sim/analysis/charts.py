"""The charts of ``evsim run|compare|sweep --plot`` (no SimPy; matplotlib on the Agg canvas).

Each chart function draws onto given axes from a tidy frame or a ``--json`` object, as the
helpers of :mod:`sim.analysis.plots` do; the ``*_figures`` functions lay them out and return
the figures by file name, for :func:`write_figures` (PNG files) or the HTML report.

* A run: ``timeline.png`` (queue backlog, function concurrency, throughput and the p99 latency
  of each interval over simulated time, and, when the scenario has them, SNS and EventBridge
  deliveries waiting for a retry and dependency utilisation: the mean over replications as a
  line, the min–max band over replications shaded, the outages shaded in grey) and
  ``fates.png`` (the fates of each sink's pairs, stacked, and the undelivered ones with 95%
  CIs).
* A comparison: ``compare_metrics.png`` (the headline metrics of every variant with 95% CIs)
  and ``compare_differences.png`` (the paired differences against the baseline with 95% CIs).
* A sweep: ``sweep_metrics.png`` (each headline metric against the first swept path with a
  95% CI band, one line per value of the other swept paths).

Importing this module imports matplotlib: ``evsim`` imports it only when charts are asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis.plots import ci_bars, new_panels, save_png
from sim.analysis.report import HEADLINE, SWEEP_COLUMNS
from sim.analysis.timeseries import across_replications, concat_timeseries
from sim.config.scenario import Scenario

__all__ = [
    "compare_figures",
    "fates_chart",
    "metric_unit",
    "run_figures",
    "sweep_figures",
    "timeline_chart",
    "write_figures",
]

_FATES = ("delivered", "dead_lettered", "expired", "lost", "in_flight")
_FATE_COLORS = {
    "delivered": "tab:green", "dead_lettered": "tab:orange", "expired": "tab:purple",
    "lost": "tab:red", "in_flight": "tab:gray",
}  # fmt: skip
_OUTAGE_COLORS = {"unavailable": "0.55", "throttled": "0.7", "slow": "0.85"}

#: The panels of the timeline: (metric, component types, axis label, drawn only when some
#: value is above 0).
_TIMELINE = (
    ("visible", ("sqs_queue",), "visible messages (count)", False),
    ("concurrency", ("lambda_function",), "executions running (count)", False),
    ("rate", (), "messages per second (1/s)", False),
    ("latency_p99_s", ("sink",), "p99 latency of the interval's deliveries (s)", False),
    ("retrying", ("sns_topic", "event_bus"), "deliveries waiting for a retry (count)", True),
    ("utilization", ("database", "dynamodb_table", "http_api"),
     "dependency capacity in use (fraction)", False),
)  # fmt: skip


def metric_unit(metric: str) -> str:
    """The unit of a run metric, for axis labels."""
    if metric.endswith("_fraction"):
        return "fraction"
    if metric.startswith("cost_per_million"):
        return "USD per million messages"
    if metric.startswith("cost_usd"):
        return "USD"
    if metric.endswith("_s"):
        return "s"
    if metric in ("invocations", "throttles", "cold_starts", "function_timeouts"):
        return "invocations"
    if metric in ("attempts",):
        return "attempts"
    if metric in ("duplicates", "ordering_violations"):
        return "processings"
    if metric.startswith("messages_"):
        return "messages"
    return "pairs"


def _label(metric: str) -> str:
    return f"{metric} ({metric_unit(metric)})"


# --------------------------------------------------------------------------- a run


def timeline_chart(
    agg: pd.DataFrame,
    ax: Axes,
    metric: str,
    components: Sequence[str],
    outages: Sequence[tuple[str, float, float, str]] = (),
) -> Axes:
    """One time-series metric of several components: mean line and min–max band over reps.

    Args:
        agg: :func:`~sim.analysis.timeseries.across_replications` of the time series.
        ax: The axes to draw on.
        metric: The metric to draw.
        components: The components to draw, one line each (those without the metric skipped).
        outages: ``(component, start_s, duration_s, mode)`` windows to shade.

    Returns:
        ``ax``, with one line per component drawn.
    """
    for component in components:
        part = agg[(agg["component"] == component) & (agg["metric"] == metric)]
        if part.empty:
            continue
        part = part.sort_values("t_s")
        (line,) = ax.plot(part["t_s"], part["mean"], linewidth=1.3, label=f"{component}")
        if int(part["n"].max()) > 1:
            ax.fill_between(part["t_s"], part["min"], part["max"], color=line.get_color(),
                            alpha=0.2, linewidth=0)  # fmt: skip
    _shade(ax, outages)
    ax.grid(color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    return ax


def _shade(ax: Axes, outages: Sequence[tuple[str, float, float, str]]) -> None:
    for component, start, duration, mode in outages:
        ax.axvspan(start, start + duration, color=_OUTAGE_COLORS.get(mode, "0.7"), alpha=0.35,
                   linewidth=0, label=f"outage: {component} ({mode})")  # fmt: skip


def _rates(agg: pd.DataFrame, types: Mapping[str, str]) -> pd.DataFrame:
    """Producers' ``sent_per_s`` and sinks' ``delivered_per_s`` as one metric ``rate``."""
    producers = {c for c, t in types.items() if t in ("producer", "api_gateway")}
    sent = agg[(agg["metric"] == "sent_per_s") & agg["component"].isin(producers)].copy()
    sent["component"] = sent["component"] + " sent"
    done = agg[agg["metric"] == "delivered_per_s"].copy()
    done["component"] = done["component"] + " delivered"
    out = pd.concat([sent, done], ignore_index=True)
    out["metric"] = "rate"
    return out


def fates_chart(summary: Mapping[str, Any], axes: Sequence[Axes], replications: int) -> None:
    """The fates of each sink's pairs: stacked means (left), undelivered with CIs (right).

    Args:
        summary: The ``--json`` object of a run (``sinks`` with their metric summaries).
        axes: Two axes.
        replications: Replications behind the means (for the labels).
    """
    sinks = list(summary["sinks"])
    left, right = axes
    lefts = [0.0] * len(sinks)
    for fate in _FATES:
        means = [summary["sinks"][s]["metrics"][fate]["mean"] or 0.0 for s in sinks]
        left.barh(sinks, means, left=lefts, height=0.5, color=_FATE_COLORS[fate], label=fate)
        lefts = [a + b for a, b in zip(lefts, means, strict=True)]
    for y, s in enumerate(sinks):
        share = summary["sinks"][s]["metrics"]["delivered_fraction"]["mean"]
        if share is not None:
            left.annotate(f"{share:.2%} delivered", (0, y), xytext=(4, 0),
                          textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    left.set_ylim(len(sinks) - 0.5, -0.5)
    left.set_xlabel(f"pairs (count; mean of {replications} replications)")
    left.set_ylabel("sink")
    left.set_title("fates of every pair, stacked", fontsize=9)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=5)
    rows = [
        {"sink": s, "fate": f, **summary["sinks"][s]["metrics"][f]}
        for s in sinks
        for f in _FATES[1:]
    ]
    ci_bars(pd.DataFrame(rows), right, "sink", "fate", {s: s for s in sinks},
            {f: f for f in _FATES[1:]}, _FATE_COLORS)  # fmt: skip
    right.set_ylabel("pairs (count; mean with 95% CI)")
    right.set_xlabel("sink")
    right.set_title("pairs not delivered, by fate", fontsize=9)
    right.legend(fontsize=7)


def run_figures(
    results: Sequence[Any], summary: Mapping[str, Any], scenario: Scenario, seed: int
) -> dict[str, Figure]:
    """The charts of ``evsim run --plot``: ``timeline.png`` and ``fates.png``.

    Args:
        results: The replications (``RunResult``; the timeline needs their time series).
        summary: Their ``--json`` object.
        scenario: The scenario they ran (names, component types, outages).
        seed: The root seed.
    """
    n = len(results)
    setup = f"{scenario.name}: {n} replication{'s' if n != 1 else ''}, seed {seed}"
    figures: dict[str, Figure] = {}
    ts = concat_timeseries(results)
    if ts is not None and len(ts):
        figures["timeline.png"] = _timeline_figure(ts, scenario, setup, n)
    fig, axes = new_panels(1, 2, 11, 0.5 * max(3, len(summary["sinks"])) + 2.5)
    fates_chart(summary, axes, n)
    fig.suptitle(f"{setup}: what became of each (message, sink) pair", fontsize=10)
    figures["fates.png"] = fig
    return figures


def _timeline_figure(ts: pd.DataFrame, scenario: Scenario, setup: str, n: int) -> Figure:
    types = {name: spec.type for name, spec in scenario.components.items()}
    agg = across_replications(ts)
    agg = pd.concat([agg, _rates(agg, types)], ignore_index=True)
    sinks = [str(c) for c in dict.fromkeys(agg[agg["metric"] == "delivered_per_s"]["component"])]
    outages = [(o.component, o.start_s, o.duration_s, o.mode) for o in scenario.outages]
    panels = []
    for metric, kinds, ylabel, optional in _TIMELINE:
        if metric == "rate":
            names = [str(c) for c in dict.fromkeys(agg[agg["metric"] == "rate"]["component"])]
        elif kinds == ("sink",):
            names = sinks
        else:
            names = [c for c, t in types.items() if t in kinds]
        values = agg[(agg["metric"] == metric) & agg["component"].isin(names)]["max"]
        if names and len(values) and not (optional and not (values > 0).any()):
            panels.append((metric, names, ylabel))
    fig, axes = new_panels(len(panels), 1, 10, 2.4 * len(panels) + 1.0)
    for ax, (metric, names, ylabel) in zip(axes, panels, strict=True):
        if ax is not axes[0]:
            ax.sharex(axes[0])
        ax.set_xlim(scenario.warmup_s, scenario.duration_s + scenario.drain_s)
        timeline_chart(agg, ax, metric, names, outages)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_xlabel("simulated time (s)", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper right", ncol=2)
    band = "min–max band over replications shaded" if n > 1 else "one replication"
    interval = float(ts["t_s"].drop_duplicates().sort_values().diff().median() or 0.0)
    fig.suptitle(
        f"{setup}: what happened over time\nmean over replications (line), {band}; "
        f"a sample every {interval:g} s; outages shaded grey",
        fontsize=10,
    )
    return fig


# --------------------------------------------------------------------------- compare, sweep


def _grid(n: int) -> tuple[int, int]:
    cols = 2 if n > 1 else 1
    return math.ceil(n / cols), cols


def compare_figures(
    js: Mapping[str, Any], seed: int, replications: int, metrics: Sequence[str] = HEADLINE
) -> dict[str, Figure]:
    """``compare_metrics.png`` and ``compare_differences.png`` from a compare ``--json``."""
    names = list(js["variants"])
    setup = (f"{len(names)} variants, {replications} replications each, seed {seed}, "
             "common random numbers")  # fmt: skip
    rows, cols = _grid(len(metrics))
    fig, axes = new_panels(rows, cols, 11, 2.3 * rows + 1.0)
    for ax, metric in zip(axes, metrics, strict=False):
        rows_ = [{"metric": metric, "variant": n, **js["variants"][n]["metrics"][metric]}
                 for n in names]  # fmt: skip
        df = pd.DataFrame(rows_)
        ci_bars(df, ax, "metric", "variant", {metric: ""}, {n: n for n in names})
        _from_zero(ax, [_num(r[k]) for r in rows_ for k in ("mean", "ci_low", "ci_high")])
        ax.set_ylabel(metric_unit(metric), fontsize=8)
        ax.set_title(metric, fontsize=9)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Headline metrics, mean with 95% CI: {setup}", fontsize=10)
    out = {"compare_metrics.png": fig}
    diffs = js["differences"]
    if diffs:
        others = list(diffs)
        fig, axes = new_panels(rows, cols, 11, (1.0 + 0.3 * len(others)) * rows + 1.0)
        for ax, metric in zip(axes, metrics, strict=False):
            df = pd.DataFrame([{"v": o, **diffs[o][metric]} for o in others])
            _points(df, ax, others)
            ax.axvline(0.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_xlabel(f"difference ({metric_unit(metric)})", fontsize=8)
            ax.set_title(metric, fontsize=9)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(
            f"Paired differences, variant − {js['baseline']}, mean with 95% CI: {setup}",
            fontsize=10,
        )
        out["compare_differences.png"] = fig
    return out


def _from_zero(ax: Axes, values: Sequence[float]) -> None:
    """Start the y axis at 0 when none of ``values`` (means and CI bounds) is below it."""
    if all(math.isnan(v) or v >= 0 for v in values):
        ax.set_ylim(bottom=0)


def _points(df: pd.DataFrame, ax: Axes, names: Sequence[str]) -> None:
    """Horizontal mean ± CI per row of ``df`` (columns v, mean, ci_low, ci_high)."""
    for y, row in enumerate(df.itertuples(index=False)):
        mean = _num(row.mean)
        if math.isnan(mean):
            continue
        lo, hi = _num(row.ci_low), _num(row.ci_high)
        err = [[0.0 if math.isnan(lo) else max(0.0, mean - lo)],
               [0.0 if math.isnan(hi) else max(0.0, hi - mean)]]  # fmt: skip
        ax.errorbar([mean], [y], xerr=err, fmt="o", capsize=3, color="tab:blue")
    ax.set_yticks(range(len(names)), list(names), fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.grid(axis="x", color="0.9", linewidth=0.8)


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def _position(values: Sequence[Any]) -> dict[Any, float]:
    """Horizontal positions of swept values: themselves if all are numbers, else their order."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return {v: float(v) for v in values}
    return {v: float(i) for i, v in enumerate(dict.fromkeys(values))}


def sweep_figures(
    js: Mapping[str, Any], seed: int, replications: int, metrics: Sequence[str] = SWEEP_COLUMNS
) -> dict[str, Figure]:
    """``sweep_metrics.png``: each metric against the first swept path, 95% CI bands."""
    rows_ = js["rows"]
    paths = list(rows_[0]["params"]) if rows_ else []
    x = paths[0] if paths else ""
    rest = paths[1:]
    xs = _position([r["params"][x] for r in rows_]) if paths else {}
    rows, cols = _grid(len(metrics))
    fig, axes = new_panels(rows, cols, 11, 2.5 * rows + 1.0)
    for ax, metric in zip(axes, metrics, strict=False):
        lines: dict[str, list[tuple[float, float, float, float]]] = {}
        for r in rows_:
            key = ", ".join(str(r["params"][p]) for p in rest)
            s = r["metrics"][metric]
            lines.setdefault(key, []).append(
                (xs[r["params"][x]], _num(s["mean"]), _num(s["ci_low"]), _num(s["ci_high"]))
            )
        _from_zero(ax, [v for pts in lines.values() for p in pts for v in p[1:]])
        for key, pts in lines.items():
            pts.sort()
            px = [p[0] for p in pts]
            (line,) = ax.plot(px, [p[1] for p in pts], marker="o", markersize=4,
                              label=key or metric)  # fmt: skip
            lo = [p[2] if not math.isnan(p[2]) else p[1] for p in pts]
            hi = [p[3] if not math.isnan(p[3]) else p[1] for p in pts]
            ax.fill_between(px, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_xticks(list(xs.values()), [str(v) for v in xs], fontsize=8)
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(_label(metric), fontsize=8)
        ax.grid(color="0.9", linewidth=0.8)
    if rest and len(axes):
        axes[0].legend(fontsize=7, title=", ".join(rest), title_fontsize=7)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle(
        f"Sweep of {', '.join(paths)}\nmean and 95% CI band, {replications} replications per "
        f"point, seed {seed}, common random numbers",
        fontsize=10,
    )
    return {"sweep_metrics.png": fig}


def write_figures(figures: Mapping[str, Figure], out: Path) -> list[Path]:
    """Write each figure as ``out/NAME`` (PNG); returns the paths."""
    paths = []
    for name, fig in figures.items():
        save_png(fig, out / name)
        paths.append(out / name)
    return paths

