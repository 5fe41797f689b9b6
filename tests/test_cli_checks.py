"""``evsim check``, ``schema``, ``--version``, ``validate FILE``, and the CLI's warnings and errors.

Each warning and error has a test with the input that triggers it: warnings go to stderr and
into the ``warnings`` list of ``--json`` output and of ``manifest.json``; errors exit with
status 2 and one clear message, never a traceback. Commands run in-process through
:func:`sim.cli.main`, as in ``tests/test_cli.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TINY

from sim.cli import main, version_line
from sim.config import load_scenario
from sim.config.reference import markdown
from sim.config.schema import json_schema


def write(tmp_path: Path, text: str = TINY, name: str = "tiny.yaml", **updates: Any) -> Path:
    data = yaml.safe_load(text)
    for dotted, value in updates.items():
        node = data
        *parents, last = dotted.split("__")
        for seg in parents:
            node = node.setdefault(seg, {})
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def warnings_in(err: str) -> list[str]:
    return [line.removeprefix("evsim: warning: ") for line in err.splitlines()
            if line.startswith("evsim: warning: ")]  # fmt: skip


def one_error(status: int, out: str, err: str) -> str:
    """The single error line of a command that failed with status 2 and printed nothing."""
    assert status == 2, err
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("evsim: error: ")]
    assert len(errors) == 1, err
    return errors[0]


# --- evsim check / validate FILE ------------------------------------------------------------


def test_check_prints_the_scenario_as_loaded_with_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path)
    status, out, err = call(capsys, "check", str(path))
    assert status == 0, err
    assert out.startswith(f"# {path}\nname: tiny\nseed: 3\nduration_s: 30.0\ndrain_s: 30.0\n")
    data = yaml.safe_load(out)
    jobs = data["components"]["jobs"]
    assert jobs["retention_s"] == 345_600  # a default, filled in
    assert list(jobs)[:3] == ["type", "fifo", "visibility_timeout_s"]  # the spec's field order
    assert data["components"]["worker"]["duration_s"] == {"exponential": {"mean": 0.2}}
    assert data["components"]["worker"]["cold_start"]["duration_s"] == 0.25  # short form
    again = tmp_path / "again.yaml"
    again.write_text(out, encoding="utf-8")
    assert load_scenario(again) == load_scenario(path)  # what check prints loads back


def test_check_leaves_out_what_was_read_from_files_and_reloads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text("t_s\n1\n2\n", encoding="utf-8")
    path = write(tmp_path, components__orders__arrivals={"trace": {"file": "t.csv"}},
                 components__orders__rate_per_s=None)  # fmt: skip
    status, out, _ = call(capsys, "check", str(path))
    assert status == 0
    trace = yaml.safe_load(out)["components"]["orders"]["arrivals"]["trace"]
    assert trace == {"file": "t.csv", "column": "t_s"}  # no `times`
    again = tmp_path / "again.yaml"
    again.write_text(out, encoding="utf-8")
    assert load_scenario(again) == load_scenario(path)


def test_check_several_files_reports_every_bad_one_with_run_s_problem_lines(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = write(tmp_path, name="good.yaml")
    bad = write(tmp_path, name="bad.yaml", components__jobs__visibility_timeout_s=-1)
    status, out, err = call(capsys, "check", str(good), str(bad), str(good))
    assert status == 2
    assert out.count("# ") == 2 and "\n---\n" in out  # the two good ones, as two documents
    assert len(list(yaml.safe_load_all(out))) == 2
    checked = [line for line in err.splitlines() if line.startswith("evsim: error: ")]
    status, _, run_err = call(capsys, "run", str(bad))
    assert status == 2
    assert checked == run_err.strip().splitlines()  # the same lines as run prints
    assert "components.jobs.visibility_timeout_s: -1 — must be ≥ 0" in checked[0]


def test_validate_with_files_checks_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path)
    assert call(capsys, "validate", str(path)) == call(capsys, "check", str(path))
    bad = write(tmp_path, name="bad.yaml", components__orders__rate_per_s=True)
    status, out, err = call(capsys, "validate", str(bad))
    line = one_error(status, out, err)
    assert "components.orders.rate_per_s: True — must be a number, not true" in line


def test_schema_prints_the_json_schema_and_the_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = call(capsys, "schema")
    assert status == 0 and json.loads(out) == json_schema()
    status, out, _ = call(capsys, "schema", "--markdown")
    assert status == 0 and out == markdown()


def test_version_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out == version_line() + "\n"
    import sim.engine.ledger

    compiled = not str(sim.engine.ledger.__file__).endswith(".py")
    assert out.startswith("evsim ")
    assert out.rstrip().endswith("(compiled)" if compiled else "(pure Python)")


def test_console_script_version_and_check(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "evsim"
    if not script.exists():
        pytest.skip("the evsim console script is not installed next to this python")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1
    assert proc.stdout.startswith("evsim ")
    proc = subprocess.run([str(script), "check", str(write(tmp_path))], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["name"] == "tiny"


# --- warnings -------------------------------------------------------------------------------


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict[str, Any], str]:
    status, out, err = call(capsys, *argv, "--json", "--workers", "1")
    assert status == 0, err
    js = json.loads(out)
    assert js["warnings"] == warnings_in(err)  # the same warnings, in the same order
    return js, err


def test_in_flight_at_the_end_warns_with_the_drain_that_would_resolve_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, drain_s=5, components__jobs__dead_letter={
        "target": "jobs-dlq", "max_receive_count": 20})  # fmt: skip
    out_dir = tmp_path / "out"
    js, _ = run_json(capsys, "run", str(path), "--out", str(out_dir))
    assert js["metrics"]["in_flight"]["mean"] > 0
    [w] = [w for w in js["warnings"] if "still in flight" in w]
    assert "(message, sink) pairs per replication on average (worker:" in w
    assert "20 receives of queue 'jobs' before its dead-letter queue" in w
    assert w.endswith("try --set drain_s=100")
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["warnings"] == js["warnings"]


def test_in_flight_without_a_longer_schedule_suggests_a_longer_drain(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # one slow consumer and no failures: a backlog at the end of a 1 s drain
    path = write(tmp_path, drain_s=1, components__worker__errors={"rate": 0},
                 components__worker__duration_s=2)  # fmt: skip
    js, _ = run_json(capsys, "run", str(path))
    [w] = [w for w in js["warnings"] if "still in flight" in w]
    assert "probably a backlog" in w and "--set drain_s=600" in w


def test_precision_not_reached_at_the_cap_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    js, _ = run_json(capsys, "run", str(write(tmp_path)), "--precision", "0.001",
                     "--max-replications", "3")  # fmt: skip
    assert js["replications"] == 3
    [w] = [w for w in js["warnings"] if w.startswith("--precision")]
    assert "--precision 0.001 not reached after 3 replications" in w
    assert "latency_mean_s ±" in w and "replications would reach it" in w


def test_precision_reached_gives_no_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    js, _ = run_json(capsys, "run", str(write(tmp_path)), "--precision", "0.9")
    assert not [w for w in js["warnings"] if w.startswith("--precision")]


def test_compare_that_changes_the_workload_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = write(tmp_path, name="base.yaml")
    busier = write(tmp_path, name="busier.yaml", components__orders__rate_per_s=3)
    system = write(tmp_path, name="system.yaml", components__worker__errors={"rate": 0.3})
    js, _ = run_json(capsys, "compare", str(base), str(busier), str(system), "--out",
                     str(tmp_path / "cmp"))  # fmt: skip
    crn = [w for w in js["warnings"] if "changes the workload" in w]
    assert crn == [
        f"{busier} changes the workload of {base} (producer 'orders' changes rate_per_s): its "
        "messages differ from the baseline's, so common random numbers no longer pair them and "
        "the differences mix workload and system effects"
    ]  # a change to the system (system.yaml) is what compare is for: no warning
    manifest = json.loads((tmp_path / "cmp" / "manifest.json").read_text())
    assert manifest["warnings"] == js["warnings"]


def test_ci_below_zero_on_a_count_warns_with_the_replications_needed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    js, _ = run_json(capsys, "run", str(write(tmp_path)))
    below = [m for m, s in js["metrics"].items() if s["ci_low"] is not None and s["ci_low"] < 0]
    assert "dead_lettered" in below  # rare: 3 replications, a handful each at most
    [w] = [w for w in js["warnings"] if "reaches below 0" in w]
    assert w.startswith(f"the 95% CI of {below[0]}")
    assert "3 replications are too few" in w and "replications would keep the CI above 0" in w
    needed = int(w.rsplit("--replications ", 1)[1].rstrip(")"))
    js, _ = run_json(capsys, "run", str(write(tmp_path)), "--replications", str(needed * 3))
    assert js["metrics"]["dead_lettered"]["ci_low"] >= 0


def test_sweep_json_and_manifest_carry_the_warnings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, drain_s=5)
    js, _ = run_json(capsys, "sweep", str(path), "--grid",
                     "components.jobs.dead_letter.max_receive_count=2,20",
                     "--out", str(tmp_path / "swp"))  # fmt: skip
    assert any(w.startswith("components.jobs.dead_letter.max_receive_count=20: ") and
               "still in flight" in w for w in js["warnings"])  # fmt: skip
    manifest = json.loads((tmp_path / "swp" / "manifest.json").read_text())
    assert manifest["warnings"] == js["warnings"]


def test_fifo_queue_fed_without_groups_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo = {"components__jobs__fifo": True, "components__jobs-dlq__fifo": True,
            "components__jobs__content_based_dedup": True}  # fmt: skip
    path = write(tmp_path, **fifo)
    js, _ = run_json(capsys, "run", str(path), "--replications", "1")
    [w] = [w for w in js["warnings"] if "MessageGroupId" in w]
    assert w.startswith(f"{path}: components.orders.groups: unset — orders sends to the FIFO "
                        "queue 'jobs', and AWS requires a MessageGroupId")  # fmt: skip
    path = write(tmp_path, **fifo, components__orders__groups=1)  # said on purpose: no warning
    js, _ = run_json(capsys, "run", str(path), "--replications", "1")
    assert not [w for w in js["warnings"] if "MessageGroupId" in w]


def test_almost_no_expected_message_warns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, components__orders__rate_per_s=0.02, seed=1)
    status, out, err = call(capsys, "run", str(path), "--json", "--workers", "1")
    assert f"{path}: duration_s: 30 — only 0.6 messages are expected in [warmup_s, " \
           "duration_s) = [0, 30) s" in err  # fmt: skip
    if status == 0:
        assert any("only 0.6 messages" in w for w in json.loads(out)["warnings"])


def test_a_big_run_warns_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, components__orders__rate_per_s=1e7, duration_s=3600)

    class Stopped(Exception):
        """Stands for the user stopping the run after reading the warnings."""

    def not_run(*args: Any, **kwargs: Any) -> Any:
        raise Stopped

    monkeypatch.setattr("sim.experiment.run_replications", not_run)
    with pytest.raises(Stopped):
        main(["run", str(path), "--workers", "2"])
    found = warnings_in(capsys.readouterr().err)
    assert found[0].startswith("this run creates about 1.08e+11 messages (3 replications) and "
                               "will take roughly 9 days")  # fmt: skip
    assert "on 2 worker(s) (about 14 µs per message)" in found[0]
    assert found[1].startswith("if messages pile up in flight (consumers slower than "
                               "arrivals), the 3.6e+10 messages of a replication could need "
                               "up to ")  # fmt: skip
    status, _, err = call(capsys, "check", str(path))  # check warns too, and runs nothing
    assert status == 0 and len(warnings_in(err)) == 2


# --- errors ---------------------------------------------------------------------------------


def test_duration_with_no_arrival_is_an_error_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, duration_s=0.5, components__orders__rate_per_s=None,
                 components__orders__arrivals={"bursts": [{"at_s": 1, "count": 5}]})  # fmt: skip
    for command in ("run", "check"):
        line = one_error(*call(capsys, command, str(path)))
        assert line == (f"evsim: error: {path}: duration_s: 0.5 — no message arrives in "
                        "[warmup_s, duration_s) = [0, 0.5) s: the producers' arrivals fall "
                        "outside it, so a run would have nothing to measure; lengthen "
                        "duration_s or move them in")  # fmt: skip


def test_a_scenario_without_a_producer_is_an_error_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "quiet.yaml"
    path.write_text("duration_s: 60\ncomponents: {q: {type: sqs_queue}}\n", encoding="utf-8")
    for command in ("run", "check"):
        line = one_error(*call(capsys, command, str(path)))
        assert line == (f"evsim: error: {path}: components — no producer: a run would create no "
                        "message and have nothing to measure")  # fmt: skip


def test_no_message_produced_in_any_replication_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, components__orders__rate_per_s=0.001, replications=2)
    status, out, err = call(capsys, "run", str(path), "--json", "--workers", "1")
    line = one_error(status, out, err)
    assert line == (f"evsim: error: {path}: duration_s: 30 — no message was produced in any "
                    "of the 2 replications, so there is nothing to report; lengthen duration_s "
                    "or raise the rates")  # fmt: skip
    assert "only 0.03 messages are expected" in err  # the warning came first


def test_bool_for_a_number_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path, components__orders__rate_per_s=True)
    line = one_error(*call(capsys, "run", str(path)))
    assert line == (f"evsim: error: {path}: components.orders.rate_per_s: True — must be a "
                    "number, not true")  # fmt: skip


def test_a_repeated_grid_path_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = one_error(*call(capsys, "sweep", str(write(tmp_path)),
                           "--grid", "components.worker.errors.rate=0.1",
                           "--grid", "components.worker.errors.rate=0.9"))  # fmt: skip
    assert line == ("evsim: error: --grid: components.worker.errors.rate: '0.9' — given twice; "
                    "give every value of a path in one --grid (PATH=V1,V2,...), or the later "
                    "one would replace the earlier")  # fmt: skip


@pytest.mark.parametrize("seed", ["-1", "1.5", "many"])
def test_a_negative_or_fractional_seed_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seed: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", str(write(tmp_path)), "--seed", seed])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert f"argument --seed: must be a whole number ≥ 0, got '{seed}'" in err


@pytest.mark.parametrize("name", ["*", "a,b", "a/b", "a\nb"])
def test_a_component_name_that_breaks_output_files_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    data = yaml.safe_load(TINY)
    data["components"][name] = data["components"].pop("jobs-dlq")
    data["components"]["jobs"]["dead_letter"]["target"] = name
    path = tmp_path / "names.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    line = one_error(*call(capsys, "run", str(path)))
    assert line.startswith(f"evsim: error: {path}: components: {name!r} — component names must "
                           "not contain")  # fmt: skip


def test_an_unreachable_dask_scheduler_is_a_quick_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr("sim.experiment.DASK_CONNECT_TIMEOUT_S", 1.0)
    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    start = time.monotonic()
    line = one_error(*call(capsys, "run", str(write(tmp_path)), "--dask", address))
    assert time.monotonic() - start < 30
    assert line.startswith(f"evsim: error: --dask: '{address}' — no Dask scheduler answered "
                           "within 1 s")  # fmt: skip
    assert line.endswith("start one (dask scheduler) or use --dask local")
