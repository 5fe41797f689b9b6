"""Tests for sim.analysis.charts and sim.analysis.html: what charts draw, what pages hold."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.charts import compare_figures, metric_unit, sweep_figures, timeline_chart
from sim.analysis.html import run_page
from sim.analysis.plots import new_figure
from sim.analysis.timeseries import across_replications


def _ts() -> pd.DataFrame:
    rows = []
    for rep, scale in ((0, 1.0), (1, 3.0)):
        for t in (1.0, 2.0, 3.0):
            rows.append((rep, t, "q", "visible", scale * t))
            rows.append((rep, t, "fn", "latency_p50_s", math.nan if rep else 0.5))
    return pd.DataFrame(rows, columns=["rep", "t_s", "component", "metric", "value"])


def test_across_replications_gives_mean_band_and_count() -> None:
    agg = across_replications(_ts())
    q = agg[agg["metric"] == "visible"].set_index("t_s")
    assert q.loc[2.0, ["mean", "min", "max", "n"]].tolist() == [4.0, 2.0, 6.0, 2]
    lat = agg[agg["metric"] == "latency_p50_s"].set_index("t_s")
    assert lat.loc[1.0, "n"] == 1 and lat.loc[1.0, "mean"] == 0.5  # NaN left out


def test_timeline_chart_draws_a_line_a_band_and_the_outages() -> None:
    _, ax = new_figure(6, 3)
    agg = across_replications(_ts())
    assert timeline_chart(agg, ax, "visible", ["q", "absent"], [("fn", 1.5, 1.0, "slow")]) is ax
    (line,) = ax.get_lines()
    assert np.allclose(line.get_xydata(), [[1, 2], [2, 4], [3, 6]])
    _, labels = ax.get_legend_handles_labels()
    assert labels == ["q", "outage: fn (slow)"]
    assert len(ax.collections) == 1  # the min-max band


def test_compare_and_sweep_figures_name_their_files_and_units() -> None:
    stat = {"mean": 1.0, "ci_low": 0.5, "ci_high": 1.5, "std": 0.1}
    block: dict[str, Any] = {"metrics": {m: stat for m in ("lost", "latency_mean_s")}}
    js = {"baseline": "a", "variants": {"a": block, "b": block},
          "differences": {"b": {"lost": stat, "latency_mean_s": stat}}}  # fmt: skip
    figs = compare_figures(js, 1, 3, metrics=("lost", "latency_mean_s"))
    assert list(figs) == ["compare_metrics.png", "compare_differences.png"]
    axes = figs["compare_metrics.png"].axes
    assert [a.get_title() for a in axes[:2]] == ["lost", "latency_mean_s"]
    assert [a.get_ylabel() for a in axes[:2]] == ["pairs", "s"]
    rows = [{"params": {"x": x, "y": y}, "metrics": block["metrics"]}
            for x in (1, 2) for y in (True, False)]  # fmt: skip
    figs = sweep_figures({"rows": rows}, 1, 3, metrics=("lost",))
    (ax, *_) = figs["sweep_metrics.png"].axes
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "lost (pairs)"
    assert len(ax.get_lines()) == 2  # one per value of y
    assert metric_unit("cost_per_million_usd") == "USD per million messages"
    assert metric_unit("delivered_fraction") == "fraction"


def test_the_page_escapes_what_it_shows() -> None:
    stat = {"mean": 1.0, "ci_low": None, "ci_high": None, "std": None}
    summary = {
        "scenario": "<b>x</b>", "replications": 1, "seed": 0, "metrics": {"lost": stat},
        "sinks": {}, "queues": {}, "dependencies": {},
    }  # fmt: skip
    page = run_page(summary, {}, {"name": "<b>x</b>"}, {"note": "a & b"})
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "a &amp; b" in page
