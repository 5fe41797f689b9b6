"""Charts of evsim results: matplotlib helpers that take ``(df, ax)`` (no SimPy here).

Every chart function draws onto a given ``Axes`` from a tidy DataFrame and returns the axes;
it never creates a window or touches pyplot's global state. :func:`new_figure` makes a figure
on the Agg (raster, non-interactive) canvas, and :func:`save_png` writes it byte-for-byte
reproducibly: fixed dpi and no "Software" metadata (which would carry the matplotlib version),
so the same data always gives the same PNG file.

``evsim run`` does not import this module (it stays free of plotting libraries).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "case_label",
    "ci_bars",
    "ci_lines",
    "new_figure",
    "new_panels",
    "png_bytes",
    "save_png",
    "symlog_y",
    "validation_chart",
]

#: Resolution of every saved chart (dots per inch).
DPI = 120

_INSIDE = "tab:blue"
_OUTSIDE = "tab:red"


def new_figure(width_in: float, height_in: float) -> tuple[Figure, Axes]:
    """A figure of ``width_in`` × ``height_in`` inches on an Agg canvas, with one axes."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_png(fig: Figure, path: Path, dpi: int = DPI) -> None:
    """Write ``fig`` as a PNG at ``dpi``; the same figure gives the same bytes every time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(fig, dpi))


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """``fig`` as PNG bytes at ``dpi`` (as :func:`save_png` writes them)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _num(value: object) -> float:
    """``value`` as a float, NaN when it is missing."""
    if value is None:
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3g}"


def case_label(case: str, theory: float, unit: str = "") -> str:
    """A readable axis label for a validation case: Greek letters, and the theoretical value."""
    text = case.replace("rho=", "ρ=").replace("λW", "λ·W")
    value = _fmt(theory)
    if unit == "probability":
        value = f"probability {value}"
    elif unit:
        value = f"{value} {unit.replace(' per ', '/')}"
    return f"{text}\n(theory {value})"


def validation_chart(df: pd.DataFrame, ax: Axes) -> Axes:
    """Simulation ÷ theory for each validation case, with its confidence interval.

    Args:
        df: One row per case with columns ``case``, ``theory``, ``sim_mean``, ``ci_low``,
            ``ci_high`` and ``inside_ci``; optional ``level`` (the CI's confidence level, e.g.
            0.99), ``unit`` (of the theoretical value) and ``replications``. Missing CI bounds
            (one replication) draw the point without an error bar.
        ax: The axes to draw on.

    Returns:
        ``ax``: cases top to bottom in ``df`` order, the ratio on a dimensionless x axis with
        the line of exact agreement at 1.
    """
    n = len(df)
    levels = sorted({float(v) for v in df["level"]}) if "level" in df and n else [0.99]
    level_text = "/".join(f"{lv:.0%}" for lv in levels)
    ys = list(range(n))
    labels: list[str] = []
    points: dict[bool, tuple[list[float], list[float], list[float], list[float]]] = {
        True: ([], [], [], []),
        False: ([], [], [], []),
    }
    for y, row in zip(ys, df.itertuples(index=False), strict=True):
        theory = _num(row.theory)
        unit = str(getattr(row, "unit", "") or "")
        labels.append(case_label(str(row.case), theory, unit))
        if not theory or math.isnan(theory):
            continue  # a ratio to 0 (or to nothing) is not defined
        mean = _num(row.sim_mean) / theory
        lo = _num(row.ci_low) / theory
        hi = _num(row.ci_high) / theory
        if theory < 0:
            lo, hi = hi, lo
        xs, yy, minus, plus = points[bool(row.inside_ci)]
        xs.append(mean)
        yy.append(y)
        minus.append(0.0 if math.isnan(lo) else mean - lo)
        plus.append(0.0 if math.isnan(hi) else hi - mean)

    ax.axvline(1.0, color="black", linestyle="--", linewidth=1.0, label="theory (ratio = 1)")
    legend = {
        True: f"simulation mean with {level_text} CI (CI contains theory)",
        False: f"simulation mean with {level_text} CI (CI misses theory)",
    }
    for inside, color, marker in ((True, _INSIDE, "o"), (False, _OUTSIDE, "X")):
        xs, yy, minus, plus = points[inside]
        if xs:
            ax.errorbar(
                xs, yy, xerr=[minus, plus], fmt=marker, color=color, ecolor=color,
                elinewidth=1.5, capsize=4, markersize=6, label=legend[inside],
            )  # fmt: skip
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_ylim(n - 0.5, -0.5)  # first case at the top
    ax.grid(axis="x", color="0.85", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.set_xlabel("simulated mean ÷ theoretical value (dimensionless; 1 = exact agreement)")
    ax.set_ylabel("validation case (theoretical value, unit)")
    inside_count = int(df["inside_ci"].astype(bool).sum()) if n else 0
    reps = sorted({int(r) for r in df["replications"]}) if "replications" in df and n else []
    rep_text = f", {'/'.join(map(str, reps))} replications" if reps else ""
    ax.set_title(
        f"evsim vs queueing theory: {inside_count} of {n} theoretical values inside\n"
        f"the simulation's {level_text} confidence interval{rep_text}",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=8, framealpha=0.95)
    return ax


def new_panels(
    nrows: int, ncols: int, width_in: float, height_in: float
) -> tuple[Figure, list[Axes]]:
    """A figure with an ``nrows`` × ``ncols`` grid of axes (row-major list), on an Agg canvas."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def symlog_y(ax: Axes, top: float, linthresh: float = 1.0, headroom: float = 3.0) -> None:
    """A symmetric-log y axis from 0 for counts: linear below ``linthresh``, plain tick labels.

    Ticks at 0 and the powers of ten from ``linthresh`` up to ``headroom`` times the largest
    value ``top`` (labelled 1k, 10k, ... 10M); the axis ends there.
    """
    ax.set_yscale("symlog", linthresh=linthresh)
    high = max(top, linthresh) * headroom
    ticks = [0.0] + [10.0**i for i in range(round(math.log10(linthresh)), 8) if 10.0**i <= high]
    names = {1e3: "1k", 1e4: "10k", 1e5: "100k", 1e6: "1M", 1e7: "10M"}
    ax.set_yticks(ticks, [names.get(v, f"{v:g}") for v in ticks])
    ax.minorticks_off()
    ax.set_ylim(0, high)


def _yerr(df: pd.DataFrame) -> tuple[list[float], list[float], list[float]]:
    """Means and the distances to their CI bounds (0 where a bound is missing)."""
    means = [_num(v) for v in df["mean"]]
    lows = [_num(v) for v in df["ci_low"]]
    highs = [_num(v) for v in df["ci_high"]]
    minus = [0.0 if math.isnan(lo) or math.isnan(m) else max(0.0, m - lo)
             for m, lo in zip(means, lows, strict=True)]  # fmt: skip
    plus = [0.0 if math.isnan(hi) or math.isnan(m) else max(0.0, hi - m)
            for m, hi in zip(means, highs, strict=True)]  # fmt: skip
    return means, minus, plus


def ci_lines(
    df: pd.DataFrame,
    ax: Axes,
    x: str,
    series: str,
    labels: Mapping[Any, str],
    colors: Mapping[Any, str] | None = None,
    positions: Mapping[Any, float] | None = None,
    linestyle: str = "-",
    marker: str = "o",
) -> Axes:
    """One line per value of column ``series``: the mean against column ``x``, with CI bars.

    Args:
        df: Summary rows with columns ``x``, ``series``, ``mean``, ``ci_low`` and ``ci_high``;
            a missing CI bound draws no bar on that side, a missing mean no point.
        ax: The axes to draw on.
        x: Column of the horizontal coordinate.
        series: Column whose values make the lines, drawn in the order of ``labels``.
        labels: Legend label of each series value (values not listed are not drawn).
        colors: Colour of each series value (matplotlib's cycle if omitted).
        positions: Horizontal position of each ``x`` value (for categorical axes); default
            the value itself.
        linestyle: Line style of every line.
        marker: Marker of every point.

    Returns:
        ``ax``, with one errorbar container per series, in ``labels`` order.
    """
    for key, label in labels.items():
        part = df[df[series] == key]
        if part.empty:
            continue
        part = part.sort_values(x, key=lambda s: s.map(positions) if positions else s)
        xs = [positions[v] if positions else float(v) for v in part[x]]
        means, minus, plus = _yerr(part)
        ax.errorbar(
            xs, means, yerr=[minus, plus], fmt=marker, linestyle=linestyle, capsize=3,
            elinewidth=1.2, markersize=5, label=label, color=colors.get(key) if colors else None,
        )  # fmt: skip
    ax.grid(color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    return ax


def ci_bars(
    df: pd.DataFrame,
    ax: Axes,
    category: str,
    series: str,
    categories: Mapping[Any, str],
    labels: Mapping[Any, str],
    colors: Mapping[Any, str] | None = None,
    width: float = 0.8,
    *,
    annotate: bool = False,
    theory: str | None = None,
    theory_label: str = "theory",
) -> Axes:
    """Grouped bars: one group per ``category`` value, one bar per ``series`` value, CI bars.

    Args:
        df: Summary rows with columns ``category``, ``series``, ``mean``, ``ci_low`` and
            ``ci_high``.
        ax: The axes to draw on (set a log y scale before, if wanted: bars with a mean ≤ 0
            then get no value label).
        category: Column whose values make the groups, in the order and with the tick labels
            of ``categories``.
        series: Column whose values make the bars of a group, in the order and with the legend
            labels of ``labels``.
        categories: Tick label of each category value.
        labels: Legend label of each series value.
        colors: Colour of each series value.
        width: Total width of a group (1 = no gap between groups).
        annotate: Print each bar's mean above its CI bar (3 significant digits, whole
            numbers with separators from 100 on).
        theory: Column of a closed form to mark on each bar as a black bar-wide tick (NaN: no
            tick), labelled ``theory_label`` in the legend.
        theory_label: The legend label of the theory ticks.

    Returns:
        ``ax``, with one bar container per series.
    """
    keys = list(categories)
    n = max(1, len(labels))
    bar = width / n
    log = ax.get_yscale() == "log"
    theory_drawn = False
    for i, (key, label) in enumerate(labels.items()):
        part = df[df[series] == key].set_index(category).reindex(keys)
        xs = [j - width / 2 + bar * (i + 0.5) for j in range(len(keys))]
        means, minus, plus = _yerr(part.reset_index())
        heights = [0.0 if math.isnan(m) else m for m in means]
        color = colors.get(key) if colors else None
        ax.bar(xs, heights, width=bar * 0.92, label=label, color=color)
        ax.errorbar(xs, heights, yerr=[minus, plus], fmt="none", ecolor="black",
                    elinewidth=1.0, capsize=3)  # fmt: skip
        if annotate:
            for x, m, up in zip(xs, means, plus, strict=True):
                if math.isnan(m) or (log and m <= 0):
                    continue
                ax.annotate(f"{m:,.0f}" if abs(m) >= 100 else f"{m:.3g}", (x, m + up),
                            xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7)  # fmt: skip
        if theory is not None:
            for x, th in zip(xs, part[theory], strict=True):
                t = _num(th)
                if math.isnan(t):
                    continue
                ax.plot([x - bar * 0.5, x + bar * 0.5], [t, t], color="black", linewidth=2.0,
                        label=None if theory_drawn else theory_label)  # fmt: skip
                theory_drawn = True
    ax.set_xticks(range(len(keys)), list(categories.values()))
    ax.grid(axis="y", color="0.88", linewidth=0.8)
    ax.set_axisbelow(True)
    return ax
