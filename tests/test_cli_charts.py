"""``--plot DIR`` and ``--report FILE.html`` of ``evsim run|compare|sweep``, in-process.

The charts are PNG files; the report is one self-contained HTML page (its images inline as
base64 ``data:`` URIs, nothing fetched from elsewhere); and a plain ``evsim run`` imports no
plotting library (checked in a fresh interpreter).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: A queue, a function that is down for 10 s, and a DLQ: milliseconds per run.
SCENARIO = """\
name: {name}
seed: 3
duration_s: 40
drain_s: 20
replications: 2
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
    duration_s: {{exponential: {{mean: 0.3}}}}
    timeout_s: 5
    errors: {{rate: {rate}}}
outages:
  - {{component: worker, start_s: 10, duration_s: 10}}
"""

PNG = b"\x89PNG\r\n\x1a\n"
URL = re.compile(r"https?://", re.IGNORECASE)


def write(tmp_path: Path, name: str, rate: float = 0.1) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, rate=rate))
    return path


def evsim(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status = main([*argv, "--workers", "1"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def pngs(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir())
    for name in names:
        assert (folder / name).read_bytes().startswith(PNG), name
    return names


def self_contained(page: Path, images: int) -> str:
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count('<img src="data:image/png;base64,') == images
    assert not URL.search(text), URL.search(text)
    assert "<script" not in text and "<link" not in text
    return text


def test_run_plot_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = write(tmp_path, "down")
    out = evsim(capsys, "run", str(scenario), "--plot", str(tmp_path / "charts"),
                "--report", str(tmp_path / "report" / "run.html"))  # fmt: skip
    assert pngs(tmp_path / "charts") == ["fates.png", "timeline.png"]
    assert f"wrote {tmp_path / 'charts'}/ (timeline.png, fates.png)" in out
    assert [p.name for p in (tmp_path / "report").iterdir()] == ["run.html"]
    text = self_contained(tmp_path / "report" / "run.html", images=2)
    for needle in ("down", "Run metrics", "delivered_fraction", "Per queue", "backlog_max",
                   "Scenario as loaded", "visibility_timeout_s: 5", "Manifest", "root_seed"):
        assert needle in text, needle


def test_compare_plot_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b = write(tmp_path, "calm", 0.0), write(tmp_path, "faulty", 0.3)
    evsim(capsys, "compare", str(a), str(b), "--plot", str(tmp_path / "c"),
          "--report", str(tmp_path / "c.html"), "--json")  # fmt: skip
    assert pngs(tmp_path / "c") == ["compare_differences.png", "compare_metrics.png"]
    text = self_contained(tmp_path / "c.html", images=2)
    assert "faulty − calm" in text and "Variant faulty" in text


def test_sweep_plot_and_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = write(tmp_path, "grid")
    evsim(capsys, "sweep", str(scenario), "--grid", "components.worker.errors.rate=0,0.3",
          "--grid", "components.worker.trigger.batch_size=1,2",
          "--plot", str(tmp_path / "s"), "--report", str(tmp_path / "s.html"))  # fmt: skip
    assert pngs(tmp_path / "s") == ["sweep_metrics.png"]
    text = self_contained(tmp_path / "s.html", images=1)
    assert "components.worker.trigger.batch_size" in text


def test_out_writes_the_time_series(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    scenario = write(tmp_path, "ts")
    evsim(capsys, "run", str(scenario), "--out", str(tmp_path / "o"), "--json")
    ts = pd.read_parquet(tmp_path / "o" / "timeseries.parquet")
    assert list(ts.columns) == ["rep", "t_s", "component", "metric", "value"]
    assert sorted(ts["rep"].unique()) == [0, 1]
    assert ts["t_s"].max() == 60.0  # to the end of the run, a sample a second
    worker = ts[(ts["component"] == "worker") & (ts["metric"] == "invocations_per_s")]
    during = worker[(worker["t_s"] > 10) & (worker["t_s"] <= 20)]
    assert (during["value"] == 0).all()  # the function is down


def _imports(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from sim.cli import main\n"
        f"assert main({list(argv)!r}) == 0\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split("\n")[-2].split())


def test_a_plain_run_imports_no_plotting_library(tmp_path: Path) -> None:
    scenario = str(write(tmp_path, "plain"))
    common = ["--workers", "1", "--replications", "1", "--json"]
    plain = _imports("run", scenario, *common)
    assert "matplotlib" not in plain
    assert "matplotlib" not in _imports("run", scenario, *common, "--out", str(tmp_path / "o"))
    assert "matplotlib" in _imports("run", scenario, *common, "--plot", str(tmp_path / "p"))
