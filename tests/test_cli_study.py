"""``evsim compare`` and ``evsim sweep`` (DESIGN §5, a stable contract), in-process.

Checks the ``--json`` shapes, ``--out`` files, worker independence, ``--precision`` /
``--max-replications``, ``--quiet`` and the progress bar (stderr only, and only on a terminal).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.analysis.metrics import METRICS
from sim.cli import main

STAT_KEYS = ["mean", "ci_low", "ci_high", "std"]
DIFF_KEYS = ["mean", "ci_low", "ci_high"]

#: About 60 messages per replication, some failing, some dead-lettered: milliseconds per run.
SCENARIO = """\
name: {name}
seed: 3
duration_s: 30
drain_s: 30
replications: 3
components:
  orders: {{type: producer, rate_per_s: 2, send_to: [jobs]}}
  jobs:
    type: sqs_queue
    visibility_timeout_s: 5
    dead_letter: {{target: jobs-dlq, max_receive_count: 2}}
  jobs-dlq: {{type: sqs_queue}}
  worker:
    type: lambda_function
    trigger: {{source: jobs, batch_size: 1, max_concurrency: 2}}
    duration_s: {{exponential: {{mean: {mean}}}}}
    timeout_s: 5
    errors: {{rate: {rate}}}
"""

#: A tqdm bar line: "desc:  40%|████      | 2/5 [...]".
BAR = re.compile(r"\d+%\|.*\| *\d+/\d+")


def write(tmp_path: Path, name: str, mean: float = 0.2, rate: float = 0.1) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, mean=mean, rate=rate))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "base": write(tmp_path, "base"),
        "slow": write(tmp_path, "slow", mean=1.0, rate=0.3),
    }


def _no_nan(token: str) -> Any:
    raise AssertionError(f"stdout has the non-JSON constant {token}")


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def call_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run ``argv --json`` (one worker unless given); stdout must be one JSON object alone."""
    args = [*argv, "--json"]
    if "--workers" not in args:
        args += ["--workers", "1"]
    status, out, err = call(capsys, *args)
    assert status == 0, err
    assert out.endswith("\n") and out.count("\n") == 1, f"stdout is not one line: {out[:200]!r}"
    js = json.loads(out, parse_constant=_no_nan)
    assert isinstance(js, dict)
    assert not BAR.search(err)
    return js


def _stats_ok(block: dict[str, Any], keys: list[str]) -> None:
    assert list(block) == list(METRICS)
    for name, stats in block.items():
        assert list(stats) == keys, name
        for v in stats.values():
            assert v is None or (isinstance(v, int | float) and math.isfinite(v)), (name, v)


# --- compare --json ----------------------------------------------------------------------


def test_compare_json_shape(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    js = call_json(capsys, "compare", str(files["base"]), str(files["slow"]), str(files["base"]))
    assert list(js) == ["baseline", "variants", "differences", "warnings"]
    assert js["baseline"] == "base"
    assert list(js["variants"]) == ["base", "slow", "base#2"]
    assert list(js["differences"]) == ["slow", "base#2"]  # not the baseline
    for block in js["variants"].values():
        assert "metrics" in block
        _stats_ok(block["metrics"], STAT_KEYS)
    for block in js["differences"].values():
        _stats_ok(block, DIFF_KEYS)
    # the baseline again: exactly zero, CI exactly [0, 0]
    for name, d in js["differences"]["base#2"].items():
        expected = 0.0 if js["variants"]["base"]["metrics"][name]["mean"] is not None else None
        assert d == {"mean": expected, "ci_low": expected, "ci_high": expected}, name
    # variant minus baseline: paired means are differences of the means
    v = js["variants"]
    for name in ("latency_mean_s", "dead_lettered", "attempts"):
        d = js["differences"]["slow"][name]["mean"]
        assert d == pytest.approx(v["slow"]["metrics"][name]["mean"]
                                  - v["base"]["metrics"][name]["mean"], rel=1e-9)  # fmt: skip
    assert js["differences"]["slow"]["latency_mean_s"]["mean"] > 0
    # common random numbers: the same workload in both
    assert js["differences"]["slow"]["messages_produced"] == {
        "mean": 0.0, "ci_low": 0.0, "ci_high": 0.0,
    }  # fmt: skip


def test_compare_replications_and_seed_options(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    one = call_json(capsys, "compare", str(files["base"]), str(files["slow"]),
                    "--replications", "2", "--seed", "9", "--out", str(tmp_path / "o"))  # fmt: skip
    doc = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert doc["replications"] == 2
    assert doc["root_seed"] == 9
    two = call_json(capsys, "compare", str(files["base"]), str(files["slow"]),
                    "--replications", "2", "--seed", "10")  # fmt: skip
    assert one["variants"]["base"]["metrics"] != two["variants"]["base"]["metrics"]


# --- sweep --json ------------------------------------------------------------------------


def test_sweep_json_rows_in_grid_order_with_typed_values(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    js = call_json(
        capsys, "sweep", str(files["base"]),
        "--grid", "components.worker.errors.rate=0,0.25",
        "--grid", "components.worker.trigger.batch_size=1,3",
        "--grid", "components.worker.trigger.report_batch_item_failures=true,false",
        "--replications", "2",
    )  # fmt: skip
    assert list(js) == ["rows", "warnings"]
    rows = js["rows"]
    params = [r["params"] for r in rows]
    expected = [
        {
            "components.worker.errors.rate": rate,
            "components.worker.trigger.batch_size": bs,
            "components.worker.trigger.report_batch_item_failures": rbif,
        }
        for rate in (0, 0.25)
        for bs in (1, 3)
        for rbif in (True, False)
    ]
    assert params == expected
    for p in params:
        assert list(p) == list(expected[0])  # paths in --grid order
        assert type(p["components.worker.errors.rate"]) in (int, float)
        assert type(p["components.worker.trigger.batch_size"]) is int
        assert type(p["components.worker.trigger.report_batch_item_failures"]) is bool
    assert type(params[-1]["components.worker.errors.rate"]) is float
    for row in rows:
        assert list(row)[:2] == ["params", "metrics"]
        _stats_ok(row["metrics"], STAT_KEYS)
        # the point was really applied: no errors, nothing dead-lettered
        if row["params"]["components.worker.errors.rate"] == 0:
            assert row["metrics"]["dead_lettered"]["mean"] == 0
    assert any(r["metrics"]["dead_lettered"]["mean"] > 0 for r in rows[4:])
    # common random numbers across points
    produced = {json.dumps(r["metrics"]["messages_produced"]) for r in rows}
    assert len(produced) == 1


def test_bad_grid_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    for bad in ("components.worker.errors.rate", "=0.1,0.2", "components.worker.errors.rate="):
        status, out, err = call(capsys, "sweep", str(files["base"]), "--grid", bad, "--json")
        assert status == 2, bad
        assert out == ""
        assert "Traceback" not in err
        assert err.startswith("evsim: error:"), err
        assert "--grid" in err and "PATH=V1,V2" in err, err
        assert err.count("\n") == 1, err


def test_bad_grid_message_does_not_show_none(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    _, _, err = call(capsys, "sweep", str(files["base"]), "--grid", "components.worker.errors.rate")
    assert "None" not in err


def test_grid_values_in_exponent_notation_are_floats(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    js = call_json(capsys, "sweep", str(files["base"]), "--replications", "1",
                   "--grid", "components.worker.errors.rate=1e-3,1e-1")  # fmt: skip
    assert [r["params"]["components.worker.errors.rate"] for r in js["rows"]] == [0.001, 0.1]


# --- --out -------------------------------------------------------------------------------


def _read_rows(out: Path) -> pd.DataFrame:
    for name in ("rows.parquet", "rows.csv", "summary.csv", "manifest.json"):
        assert (out / name).is_file(), name
    pq = pd.read_parquet(out / "rows.parquet")
    csv = pd.read_csv(out / "rows.csv")
    assert list(pq.columns) == list(csv.columns)
    assert len(pq) == len(csv)
    return pq


def test_compare_out_writes_rows_summary_and_manifest(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    js = call_json(capsys, "compare", str(files["base"]), str(files["slow"]),
                   str(files["base"]), "--out", str(out))  # fmt: skip
    rows = _read_rows(out)
    assert rows.columns[0] == "variant"
    assert list(dict.fromkeys(rows["variant"])) == ["base", "slow", "base#2"]
    for variant, g in rows.groupby("variant", sort=False):
        assert sorted(g["rep"].unique()) == [0, 1, 2], variant
        everything = g[(g["sink"] == "*") & (g["metric"] == "dead_lettered")]
        assert everything["value"].mean() == pytest.approx(
            js["variants"][variant]["metrics"]["dead_lettered"]["mean"]
        )
    summary = pd.read_csv(out / "summary.csv")
    assert summary.columns[0] == "variant"
    assert set(summary["variant"]) == {"base", "slow", "base#2"}
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["kind"] == "compare"
    assert doc["variants"] == ["base", "slow", "base#2"]
    # the paired differences, as in the JSON
    diffs = pd.read_csv(out / "differences.csv")
    assert list(diffs.columns) == ["variant", "metric", "mean", "ci_low", "ci_high"]
    assert list(dict.fromkeys(diffs["variant"])) == ["slow", "base#2"]
    assert len(diffs) == 2 * len(METRICS)
    for row in diffs.itertuples(index=False):
        want = js["differences"][row.variant][row.metric]
        for key in ("mean", "ci_low", "ci_high"):
            got = getattr(row, key)
            if want[key] is None:
                assert math.isnan(got), (row, key)
            else:
                assert got == pytest.approx(want[key], rel=1e-12, abs=1e-15), (row, key)
    # the time series of every variant and replication
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns) == ["variant", "rep", "t_s", "component", "metric", "value"]
    assert list(dict.fromkeys(ts["variant"])) == ["base", "slow", "base#2"]
    assert sorted(ts["rep"].unique()) == [0, 1, 2]
    assert doc["replications"] == 3
    assert doc["root_seed"] == 3
    assert [s["name"] for s in doc["scenarios"]] == ["base", "slow", "base"]


def test_sweep_out_has_one_column_per_swept_path(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "swp"
    rate, bs = "components.worker.errors.rate", "components.worker.trigger.batch_size"
    js = call_json(capsys, "sweep", str(files["base"]), "--grid", f"{rate}=0.0,0.3",
                   "--grid", f"{bs}=1,2", "--replications", "2", "--out", str(out))  # fmt: skip
    rows = _read_rows(out)
    assert {"variant", rate, bs} <= set(rows.columns)
    points = [r["params"] for r in js["rows"]]
    variants = list(dict.fromkeys(rows["variant"]))
    assert len(variants) == len(points) == 4
    for variant, point in zip(variants, points, strict=True):
        g = rows[rows["variant"] == variant]
        assert set(g[rate]) == {point[rate]}, variant
        assert set(g[bs]) == {point[bs]}, variant
        assert sorted(g["rep"].unique()) == [0, 1]
    assert rows[bs].dtype.kind == "i"
    assert rows[rate].dtype.kind == "f"
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["kind"] == "sweep"
    assert doc["params"] == points
    assert doc["grid"] == {rate: [0.0, 0.3], bs: [1, 2]}
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:3]) == ["variant", rate, bs]
    assert set(summary["variant"]) == set(variants)
    for variant, point in zip(variants, points, strict=True):
        g = summary[summary["variant"] == variant]
        assert set(g[rate]) == {point[rate]} and set(g[bs]) == {point[bs]}, variant
        delivered = g[(g["sink"] == "*") & (g["metric"] == "delivered")].iloc[0]
        want = js["rows"][variants.index(variant)]["metrics"]["delivered"]
        assert delivered["mean"] == pytest.approx(want["mean"])
        assert delivered["ci_low"] == pytest.approx(want["ci_low"])
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns[:3]) == ["variant", rate, bs]
    assert set(ts["variant"]) == set(variants)


def test_sweep_table_has_a_column_per_path_and_cis(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    rate, bs = "components.worker.errors.rate", "components.worker.trigger.batch_size"
    status, out, err = call(
        capsys, "sweep", str(files["base"]), "--grid", f"{rate}=0.0,0.3", "--grid", f"{bs}=1,2",
        "--replications", "3", "--workers", "1",
    )  # fmt: skip
    assert status == 0, err
    lines = out.splitlines()
    header = next(line for line in lines if rate in line)
    assert bs in header and "delivered_fraction" in header
    rows = [line for line in lines[lines.index(header) + 2 :] if line.strip()]
    assert len(rows) == 4
    assert all(re.search(r"\[[-0-9.,e]+, [-0-9.,e]+\]", row) for row in rows)  # mean [CI]


# --- workers, quiet, precision -----------------------------------------------------------


def test_output_does_not_depend_on_workers(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    argvs = [
        ["compare", str(files["base"]), str(files["slow"])],
        ["sweep", str(files["base"]), "--grid", "components.worker.errors.rate=0.1,0.4"],
    ]
    for argv in argvs:
        outs = []
        for workers in ("1", "2"):
            status, out, err = call(capsys, *argv, "--json", "--workers", workers)
            assert status == 0, err
            outs.append(out)
        assert outs[0] == outs[1], argv[0]


def test_quiet_runs_and_prints_the_tables(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    status, out, err = call(capsys, "compare", str(files["base"]), str(files["slow"]),
                            "--quiet", "--workers", "1")  # fmt: skip
    assert status == 0, err
    assert out.startswith("baseline: base")
    assert "paired differences" in out
    # no progress bar: stderr holds warnings only (CIs of rare events with 3 replications)
    assert all(line.startswith("evsim: warning: ") for line in err.splitlines()), err
    status, out, err = call(capsys, "sweep", str(files["base"]), "--quiet", "--workers", "1",
                            "--grid", "components.worker.errors.rate=0.1,0.4")  # fmt: skip
    assert status == 0, err
    assert out.startswith("sweep")
    assert all(line.startswith("evsim: warning: ") for line in err.splitlines()), err


def test_precision_adds_replications_up_to_the_cap(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    opts = ["--replications", "2", "--precision", "0.2", "--max-replications", "6"]
    js = call_json(capsys, "run", str(files["slow"]), *opts)
    assert 2 < js["replications"] <= 6
    for kind, argv in (
        ("compare", ["compare", str(files["base"]), str(files["slow"])]),
        ("sweep", ["sweep", str(files["base"]), "--grid", "components.worker.errors.rate=0.1,0.4"]),
    ):
        out = tmp_path / kind
        call_json(capsys, *argv, *opts, "--out", str(out))
        doc = json.loads((out / "manifest.json").read_text())
        assert 2 < doc["replications"] <= 6, kind
        rows = pd.read_parquet(out / "rows.parquet")
        assert rows.groupby("variant")["rep"].nunique().tolist() == [doc["replications"]] * len(
            doc["variants"]
        )


@pytest.mark.parametrize("value", ["1.5", "0", "-0.1", "1"])
def test_precision_outside_0_1_is_an_error(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], value: str
) -> None:
    for argv in (
        ["compare", str(files["base"])],
        ["sweep", str(files["base"]), "--grid", "components.worker.errors.rate=0.1"],
    ):
        status, out, err = call(capsys, *argv, "--precision", value, "--workers", "1")
        assert status == 2
        assert out == ""
        assert "--precision" in err and "Traceback" not in err


# --- progress bar ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_progress_bar_only_on_a_terminal_and_not_with_quiet(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, Path],
    command: str,
) -> None:
    argv = (
        ["compare", str(files["base"]), str(files["slow"])]
        if command == "compare"
        else ["sweep", str(files["base"]), "--grid", "components.worker.errors.rate=0.1,0.4"]
    )
    argv += ["--workers", "1"]
    # stderr is not a terminal (captured): no bar
    status, _, err = call(capsys, *argv)
    assert status == 0
    assert not BAR.search(err), err
    # stderr is a terminal: a bar, on stderr only; --quiet and --json turn it off
    monkeypatch.setattr(type(__import__("sys").stderr), "isatty", lambda self: True)
    status, out, err = call(capsys, *argv)
    assert status == 0
    assert BAR.search(err), err
    assert not BAR.search(out)
    for flag in ("--quiet", "--json"):
        status, _, err = call(capsys, *argv, flag)
        assert status == 0
        assert not BAR.search(err), (flag, err)
