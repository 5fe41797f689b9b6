"""sim.project: results go to the checkout the command runs in, not next to the package."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.project import project_root
from sim.study import results_dir


def _checkout(folder: Path, name: str = "evsim") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n', encoding="utf-8")
    return folder


def test_the_checkout_is_the_current_directory_or_its_nearest_evsim_parent(tmp_path: Path) -> None:
    repo = _checkout(tmp_path / "repo")
    deep = repo / "notebooks" / "sub"
    deep.mkdir(parents=True)
    assert project_root(repo) == repo.resolve()
    assert project_root(deep) == repo.resolve()
    other = _checkout(tmp_path / "other", name="not-evsim")
    source = Path(sim.__file__).resolve().parent.parent
    expected = source if (source / "pyproject.toml").is_file() else other.resolve()
    assert project_root(other) == expected  # another project's folder is not evsim's checkout


def test_study_results_go_to_the_checkout_of_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _checkout(tmp_path / "repo")
    monkeypatch.chdir(repo)
    assert results_dir("fanout") == repo.resolve() / "results" / "fanout"
