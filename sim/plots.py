"""Charts of evsim results: matplotlib helpers that take ``(df, ax)`` (no SimPy here).

Every chart function draws onto a given ``Axes`` from a tidy DataFrame and returns the axes;
it never creates a window or touches pyplot's global state. :func:`new_figure` makes a figure
on the Agg (raster, non-interactive) canvas, and :func:`save_png` writes it byte-for-byte
reproducibly: fixed dpi and no "Software" metadata (which would carry the matplotlib version),
so the same data always gives the same PNG file.

``evsim run`` does not import this module (it stays free of plotting libraries).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["DPI", "case_label", "new_figure", "save_png", "validation_chart"]

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
    fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})


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
