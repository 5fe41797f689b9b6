"""Tests for sim.analysis.plots: what the validation chart draws, and byte-stable PNGs."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.plots import case_label, new_figure, save_png, validation_chart


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": ["M/M/1 mean sojourn, rho=0.9", "P(dead-lettered)=p^k, p=0.5, k=4"],
            "theory": [10.0, 0.0625],
            "sim_mean": [9.0, 0.08],
            "ci_low": [8.0, 0.07],
            "ci_high": [11.0, 0.09],
            "inside_ci": [True, False],
            "replications": [20, 20],
            "level": [0.99, 0.99],
            "unit": ["s", "probability"],
        }
    )


def test_validation_chart_draws_ratios_cis_and_labels(table: pd.DataFrame) -> None:
    _, ax = new_figure(8, 3)
    assert validation_chart(table, ax) is ax
    _, labels = ax.get_legend_handles_labels()
    assert labels == [
        "theory (ratio = 1)",
        "simulation mean with 99% CI (CI contains theory)",
        "simulation mean with 99% CI (CI misses theory)",
    ]
    # the points: ratio to theory, first case on top (y = 0 with an inverted axis)
    inside, outside = ax.containers
    assert np.allclose(inside.lines[0].get_xydata(), [[0.9, 0.0]])
    assert np.allclose(outside.lines[0].get_xydata(), [[0.08 / 0.0625, 1.0]])
    # the error bar spans the CI divided by theory
    segments = inside.lines[2][0].get_segments()
    assert np.allclose(segments[0], [[0.8, 0.0], [1.1, 0.0]])
    assert ax.get_ylim() == (1.5, -0.5)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [
        "M/M/1 mean sojourn, ρ=0.9\n(theory 10 s)",
        "P(dead-lettered)=p^k, p=0.5, k=4\n(theory probability 0.0625)",
    ]
    assert "dimensionless" in ax.get_xlabel() and ax.get_ylabel()
    assert "1 of 2" in ax.get_title() and "99%" in ax.get_title()
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [
        1.0
    ]


def test_missing_ci_draws_the_point_without_a_bar(table: pd.DataFrame) -> None:
    table = table.iloc[:1].assign(ci_low=[None], ci_high=[None], replications=[1])
    _, ax = new_figure(8, 2)
    validation_chart(table, ax)
    (points,) = ax.containers
    assert np.allclose(points.lines[0].get_xydata(), [[0.9, 0.0]])
    assert np.allclose(points.lines[2][0].get_segments()[0], [[0.9, 0.0], [0.9, 0.0]])


def test_case_label_units() -> None:
    assert case_label("x, rho=0.3", 1.4285714, "s") == "x, ρ=0.3\n(theory 1.429 s)"
    assert case_label("a", 1.2, "attempts per message") == "a\n(theory 1.2 attempts/message)"
    assert case_label("b", 0.000976, "probability") == "b\n(theory probability 0.000976)"
    assert case_label("c", 3.0) == "c\n(theory 3)"


def test_png_is_byte_stable_and_has_no_version_metadata(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    paths = [tmp_path / "a.png", tmp_path / "b" / "b.png"]
    for path in paths:
        fig, ax = new_figure(8, 3)
        validation_chart(table, ax)
        save_png(fig, path)
    data = paths[0].read_bytes()
    assert data.startswith(b"\x89PNG") and data == paths[1].read_bytes()
    assert b"matplotlib" not in data.lower()


def test_plots_import_neither_simpy_nor_pyplot() -> None:
    import sim.analysis.plots

    tree = ast.parse(Path(sim.analysis.plots.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert "matplotlib.figure" in imported  # the check sees the imports
    assert not {m for m in imported if m.split(".")[0] in ("simpy", "sim")}
    assert "matplotlib.pyplot" not in imported  # no global figure state
