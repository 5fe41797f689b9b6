"""Tests for the ``evsim`` command line (DESIGN §5, a stable contract).

Most tests call :func:`sim.cli.main` in-process (fast) and read stdout/stderr with ``capsys``;
one test runs the installed ``evsim`` console script in a real subprocess.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import TINY

from sim.analysis.metrics import METRICS, SINK_METRICS
from sim.cli import main

STAT_KEYS = {"mean", "ci_low", "ci_high", "std"}


#: A deterministic workload: exactly 10 messages in one burst, every one delivered.
BURST = """\
name: burst
duration_s: 10
drain_s: 30
components:
  orders: {type: producer, arrivals: {bursts: [{at_s: 1, count: 10}]}, send_to: [jobs]}
  jobs: {type: sqs_queue}
  worker: {type: lambda_function, trigger: {source: jobs, batch_size: 1}}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _no_nan(token: str) -> Any:
    raise AssertionError(f"stdout has the non-JSON constant {token}; nulls must be null")


def run_json(capsys: pytest.CaptureFixture[str], scenario: Path, *args: str) -> dict[str, Any]:
    """``evsim run SCENARIO --json ARGS`` in-process; checks stdout holds one JSON object only."""
    argv = ["run", str(scenario), "--json", *args]
    if "--workers" not in args:
        argv += ["--workers", "1"]
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.endswith("\n") and out.count("\n") == 1, f"stdout is not one line: {out!r}"
    js = json.loads(out, parse_constant=_no_nan)
    assert isinstance(js, dict)
    return js


def _stat_block_ok(block: dict[str, Any], names: tuple[str, ...]) -> None:
    assert list(block) == list(names)
    for name, stats in block.items():
        assert set(stats) == STAT_KEYS, name
        for key, value in stats.items():
            assert value is None or (isinstance(value, int | float) and math.isfinite(value)), (
                name, key, value,
            )  # fmt: skip


# --- the --json shape --------------------------------------------------------------------


def test_json_has_the_design_shape(capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    js = run_json(capsys, tiny)
    assert list(js) == [
        "scenario", "replications", "seed", "metrics", "sinks", "dependencies", "queues",
        "warnings",
    ]  # fmt: skip
    assert js["dependencies"] == {}  # tiny has none
    assert list(js["queues"]) == ["jobs", "jobs-dlq"]
    assert list(js["queues"]["jobs"]["metrics"]) == ["backlog_max", "oldest_age_max_s"]
    assert isinstance(js["warnings"], list) and all(isinstance(w, str) for w in js["warnings"])
    assert js["scenario"] == "tiny"
    assert js["replications"] == 3  # the scenario's replications
    assert js["seed"] == 3  # the scenario's seed
    _stat_block_ok(js["metrics"], METRICS)
    assert list(js["sinks"]) == ["worker"]
    assert list(js["sinks"]["worker"]) == ["metrics"]
    _stat_block_ok(js["sinks"]["worker"]["metrics"], SINK_METRICS)
    produced = js["metrics"]["messages_produced"]
    assert produced["mean"] > 20
    assert produced["ci_low"] < produced["mean"] < produced["ci_high"]
    assert produced["std"] > 0


def test_json_shows_each_dependency_under_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "deps.yaml"
    path.write_text(TINY + """\
  db: {type: database, max_connections: 5}
  table: {type: dynamodb_table, capacity_mode: provisioned, read_capacity_units: 5,
          write_capacity_units: 5}
  api: {type: http_api}
""")
    js = run_json(capsys, path, "--replications", "2")
    assert list(js["dependencies"]) == ["db", "table", "api"]
    for name, block in js["dependencies"].items():
        assert list(block) == ["metrics"], name
        m = block["metrics"]
        for metric in ("calls", "throttled", "timeouts", "wasted_s", "utilization_mean",
                       "utilization_max"):  # fmt: skip
            assert set(m[metric]) == STAT_KEYS, (name, metric)
        assert m["calls"]["mean"] == 0  # nothing calls them here
    # provisioned capacity is billed for the run even when unused
    assert js["dependencies"]["table"]["metrics"]["cost_usd"]["mean"] > 0
    for total in ("dependency_calls", "dependency_throttled", "dependency_timeouts",
                  "dependency_wasted_s"):  # fmt: skip
        assert js["metrics"][total]["mean"] == 0, total


def test_one_replication_has_null_ci_and_std(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    js = run_json(capsys, tiny, "--replications", "1")
    assert js["replications"] == 1
    blocks = [js["metrics"], js["sinks"]["worker"]["metrics"]]
    for block in blocks:
        for name, stats in block.items():
            assert stats["ci_low"] is None and stats["ci_high"] is None, name
            assert stats["std"] is None, name
    assert js["metrics"]["messages_produced"]["mean"] > 0


def test_zero_variance_metric_has_ci_mean_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "burst.yaml"
    path.write_text(BURST)
    js = run_json(capsys, path, "--replications", "4")
    assert js["metrics"]["messages_produced"] == {
        "mean": 10.0, "ci_low": 10.0, "ci_high": 10.0, "std": 0.0,
    }  # fmt: skip
    assert js["metrics"]["lost"] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0, "std": 0.0}


def test_latency_is_null_when_nothing_is_delivered(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    js = run_json(capsys, tiny, "--replications", "2", "--set", "components.worker.errors.rate=1")
    assert js["metrics"]["delivered"]["mean"] == 0
    assert js["metrics"]["dead_lettered"]["mean"] > 0
    for name in METRICS:
        if name.startswith("latency_"):
            assert js["metrics"][name] == dict.fromkeys(STAT_KEYS), name
            assert js["sinks"]["worker"]["metrics"][name]["mean"] is None, name


# --- seeds, overrides, workers -----------------------------------------------------------


def test_seed_changes_results_and_same_seed_reproduces_them(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    a = run_json(capsys, tiny, "--seed", "11", "--replications", "2")
    b = run_json(capsys, tiny, "--seed", "12", "--replications", "2")
    again = run_json(capsys, tiny, "--seed", "11", "--replications", "2")
    assert (a["seed"], b["seed"]) == (11, 12)
    assert a == again  # exactly, every float
    assert a["metrics"] != b["metrics"]
    assert a["metrics"]["messages_produced"] != b["metrics"]["messages_produced"]


def test_set_overrides_a_field(capsys: pytest.CaptureFixture[str], tiny: Path) -> None:
    base = run_json(capsys, tiny, "--replications", "2")
    worse = run_json(
        capsys, tiny, "--replications", "2", "--set", "components.worker.errors.rate=0.5"
    )
    # Same seed, same workload: only the failure rate differs.
    assert worse["metrics"]["messages_produced"] == base["metrics"]["messages_produced"]
    assert worse["metrics"]["dead_lettered"]["mean"] > base["metrics"]["dead_lettered"]["mean"]
    assert worse["metrics"]["attempts"]["mean"] > base["metrics"]["attempts"]["mean"]


def test_results_do_not_depend_on_workers(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    main(["run", str(tiny), "--json", "--workers", "1"])
    serial = capsys.readouterr().out
    main(["run", str(tiny), "--json", "--workers", "2"])
    parallel = capsys.readouterr().out
    assert json.loads(serial)["replications"] == 3
    assert parallel == serial


# --- the table and --out -----------------------------------------------------------------


def test_table_lists_every_metric_and_the_sink(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    assert main(["run", str(tiny), "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scenario: tiny   replications: 3   seed: 3")
    for name in METRICS:
        assert f"\n{name} " in out, name
    assert "\nworker " in out


def test_out_writes_rows_summary_and_manifest(
    capsys: pytest.CaptureFixture[str], tiny: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "run"
    js = run_json(capsys, tiny, "--out", str(out_dir), "--seed", "5")
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "manifest.json", "rows.csv", "rows.parquet", "summary.csv", "timeseries.parquet",
    ]  # fmt: skip
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert {"scenario", "root_seed", "replication_seeds", "versions", "git_commit"} <= set(
        manifest
    )
    assert manifest["root_seed"] == 5
    assert manifest["scenario"]["name"] == "tiny"
    assert [s["rep"] for s in manifest["replication_seeds"]] == [0, 1, 2]
    assert all(s["seed"] == 5 for s in manifest["replication_seeds"])
    assert manifest["versions"]["evsim"] and manifest["versions"]["simpy"]

    rows = pd.read_parquet(out_dir / "rows.parquet")
    assert list(rows.columns) == ["scenario", "rep", "seed", "sink", "metric", "value"]
    assert sorted(rows["rep"].unique()) == [0, 1, 2]
    produced = rows[(rows["sink"] == "*") & (rows["metric"] == "messages_produced")]
    assert produced["value"].mean() == pytest.approx(js["metrics"]["messages_produced"]["mean"])
    pd.testing.assert_frame_equal(pd.read_csv(out_dir / "rows.csv"), rows, check_dtype=False)

    summary = pd.read_csv(out_dir / "summary.csv")
    delivered = summary[(summary["sink"] == "*") & (summary["metric"] == "delivered")].iloc[0]
    assert delivered["mean"] == pytest.approx(js["metrics"]["delivered"]["mean"])
    assert delivered["ci_low"] == pytest.approx(js["metrics"]["delivered"]["ci_low"])


# --- bad input ---------------------------------------------------------------------------


def _bad_type(tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("{type: sqs_queue}", "{type: sqs_quux}"))
    return [str(path)]


def _missing(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "missing.yaml")]


def _malformed_set(tmp_path: Path) -> list[str]:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return [str(path), "--set", "components.worker.errors.rate"]


def _bad_set_value(tmp_path: Path) -> list[str]:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return [str(path), "--set", "components.worker.errors.rate=2"]


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (_bad_type, ["jobs-dlq.type", "'sqs_quux'", "unknown component type", "sqs_queue"]),
        (_missing, ["missing.yaml", "file not found"]),
        (_malformed_set, ["--set", "malformed override", "PATH=VALUE"]),
        (_bad_set_value, ["components.worker.errors.rate", "2", "≤ 1"]),
    ],
    ids=["unknown-type", "missing-file", "malformed-set", "out-of-range-set"],
)
def test_bad_scenario_exits_2_with_one_clear_message(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    make_args: Any,
    expected: list[str],
) -> None:
    for json_flag in ([], ["--json"]):
        status = main(["run", *make_args(tmp_path), *json_flag])
        out, err = capsys.readouterr()
        assert status == 2
        assert out == ""
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("evsim: error: ")
        for text in expected:
            assert text in lines[0], (text, lines[0])


def test_replications_below_one_is_an_error(
    capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    assert main(["run", str(tiny), "--replications", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("evsim: error: --replications")


# --- the real console script -------------------------------------------------------------


def _evsim() -> str:
    script = Path(sys.executable).parent / "evsim"
    if not script.exists():
        pytest.skip("the evsim console script is not installed next to this python")
    return str(script)


def test_console_script_json_on_stdout_warnings_on_stderr(tiny: Path) -> None:
    # max_concurrency 1 is accepted with a warning (an idealised setting): stderr only.
    proc = subprocess.run(
        [_evsim(), "run", str(tiny), "--json", "--replications", "2", "--workers", "1",
         "--set", "components.worker.trigger.max_concurrency=1"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "warning" in proc.stderr and "max_concurrency" in proc.stderr
    js = json.loads(proc.stdout, parse_constant=_no_nan)
    assert js["scenario"] == "tiny" and js["replications"] == 2
    assert proc.stdout.count("\n") == 1


def test_run_imports_no_plotting_library(tiny: Path) -> None:
    code = (
        "import sys\n"
        "from sim.cli import main\n"
        f"status = main(['run', {str(tiny)!r}, '--replications', '1', '--workers', '1'])\n"
        "plotting = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'sim'))\n"
        "print('MODULES', [m for m in plotting if not m.startswith('sim')], status)\n"
        "print('SIM', 'sim.analysis.plots' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "MODULES [] 0" in proc.stdout
    assert "SIM False" in proc.stdout
