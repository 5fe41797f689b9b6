"""Every experiment script has ``main(argv)`` and a ``--quick`` mode that runs here."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment

from sim.cli import main as evsim

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
COLUMNS = [
    "case", "theory", "sim_mean", "ci_low", "ci_high", "inside_ci", "replications", "level",
    "unit",
]  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Three cases on two scenarios (the two p=0.2 cases share their runs): well under a second.
SMALL = ["--case", "M/M/1 mean sojourn, rho=0.3", "--case", "p=0.2, k=2", "--workers", "1"]


def load(name: str) -> ModuleType:
    return load_experiment(name)


@pytest.fixture(scope="module")
def validation() -> ModuleType:
    return load("validation")


def test_validation_quick_subset_writes_csv_png_and_index(
    validation: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "validation"
    assert validation.main(["--quick", "--out", str(out), *SMALL]) == 0
    table = pd.read_csv(out / "validation.csv")
    assert list(table.columns) == COLUMNS
    assert list(table["case"]) == [
        "M/M/1 mean sojourn, rho=0.3",
        "P(dead-lettered)=p^k, p=0.2, k=2",
        "mean attempts (1-p^k)/(1-p), p=0.2, k=2",
    ]
    assert table["theory"].tolist() == pytest.approx([1 / 0.7, 0.04, 1.2])
    assert (table["level"] == 0.99).all() and (table["replications"] == 10).all()
    assert (table["ci_low"] <= table["sim_mean"]).all()
    assert (table["sim_mean"] <= table["ci_high"]).all()
    bounds = zip(table["ci_low"], table["theory"], table["ci_high"], strict=True)
    assert table["inside_ci"].tolist() == [lo <= th <= hi for lo, th, hi in bounds]
    assert (out / "validation.png").read_bytes().startswith(PNG_MAGIC)

    # the findings and the index are written from the CSV: their numbers are the CSV's
    readme = (tmp_path / "README.md").read_text()
    assert "(validation/validation.png)" in readme
    assert f"**{int(table['inside_ci'].sum())} of 3**" in readme
    assert "experiments/validation.py" in readme
    assert readme == readme.rstrip("\n") + "\n"

    printed = capsys.readouterr().out
    assert "M/M/1 mean sojourn, rho=0.3" in printed and "inside_ci" in printed


def test_validation_files_are_byte_identical_for_the_same_seed(
    validation: ModuleType, tmp_path: Path
) -> None:
    first, second, other = (tmp_path / d / "validation" for d in ("a", "b", "c"))
    validation.main(["--quick", "--out", str(first), *SMALL])
    validation.main(["--quick", "--out", str(second), *SMALL[:-2], "--workers", "2"])
    validation.main(["--quick", "--out", str(other), *SMALL, "--seed", "1"])
    for name in ("validation.csv", "validation.png", "findings.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    readme_a, readme_b = (tmp_path / d / "README.md" for d in ("a", "b"))
    assert readme_a.read_bytes() == readme_b.read_bytes()
    assert (first / "validation.csv").read_bytes() != (other / "validation.csv").read_bytes()


def test_validation_unknown_case_is_an_error(
    validation: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validation.main(["--quick", "--out", str(tmp_path), "--case", "no such case"]) == 2
    assert "no case matches" in capsys.readouterr().err


def test_evsim_experiments_lists_the_validation_script(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert evsim(["experiments", "no-such-experiment"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment(s) no-such-experiment" in err
    assert "validation" in err.split("available:")[1]


@pytest.mark.slow
def test_validation_quick_runs_every_case(validation: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "validation"
    assert validation.main(["--quick", "--out", str(out)]) == 0
    table = pd.read_csv(out / "validation.csv")
    from sim.study.validation import cases

    assert list(table["case"]) == [c.name for c in cases(quick=True)]
    assert (out / "validation.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "README.md").exists()
