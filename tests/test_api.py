"""The public API of ``sim``: what ``sim/__init__.py`` exports works as its docstring shows."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dlq.yaml"


def test_exports_are_the_documented_api() -> None:
    assert sorted(sim.__all__) == sorted([
        "RunResult", "Scenario", "ScenarioError", "compare", "load_scenario", "run_once",
        "run_replications", "sweep",
    ])  # fmt: skip
    for name in sim.__all__:
        assert getattr(sim, name) is not None


def test_docstring_workflow_on_a_short_run() -> None:
    base = sim.load_scenario(EXAMPLE, ["duration_s=120", "drain_s=60"])
    assert isinstance(base, sim.Scenario)
    results = sim.run_replications(base, replications=2)
    assert [r.rep for r in results] == [0, 1]
    assert all(isinstance(r, sim.RunResult) for r in results)
    one = sim.run_once(base, rep=1)
    assert one.metrics == results[1].metrics
    variant = base.with_updates({"components.worker.errors.rate": 0.2})
    diff = sim.compare([base, variant], replications=2)
    (name, metrics), = diff.differences().items()  # variant minus baseline, per metric
    assert name == diff.names[1]
    assert metrics["attempts"]["mean"] > 0  # a 20% error rate costs extra attempts
    swept = sim.sweep(base, {"components.worker.errors.rate": [0.0, 0.2]}, replications=2)
    assert len(swept.points) == 2


def test_bad_scenario_raises_the_public_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_s: -1\ncomponents: {}\n")
    with pytest.raises(sim.ScenarioError, match="duration_s"):
        sim.load_scenario(bad)


def test_every_package_folder_has_an_init_so_installs_ship_it() -> None:
    # setuptools' package discovery skips folders without __init__.py (namespace packages):
    # a wheel would then lack them although an editable install still imports them
    root = Path(sim.__file__).resolve().parent
    folders = {p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    missing = sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").exists())
    assert not missing
