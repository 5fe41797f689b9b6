"""The compiled (mypyc) build and the pure Python build give byte-identical results.

``pip install .`` compiles the typed core when it can; ``EVSIM_PURE_PYTHON=1`` makes the same
installation import the ``.py`` modules instead. The comparison runs every example, shortened,
through the ``evsim`` CLI in a subprocess under both and compares the JSON byte for byte. It
needs the compiled build installed (it is skipped otherwise, e.g. in an editable install).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim.engine.ledger
from sim._pure import SourceFinder

ROOT = Path(__file__).resolve().parent.parent
COMPILED = not str(sim.engine.ledger.__file__).endswith(".py")

# Each example, with a duration that still covers its outages, bursts and redrives.
EXAMPLES = {
    "api_uploads": 900,
    "audit_alerts": 3600,
    "dlq": 900,
    "lambda_database": 900,
    "order_pipeline": 900,
    "s3_eventbridge": 900,
    "sns_fanout": 600,
}


def _evsim(args: list[str], pure: bool, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EVSIM_PURE_PYTHON"}
    if pure:
        env["EVSIM_PURE_PYTHON"] = "1"
    # cwd outside the repository: `-m` puts it first on sys.path, and the source tree there
    # would shadow the installed (compiled) package.
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True,
                          text=True, timeout=600, check=False, env=env, cwd=cwd)  # fmt: skip


def test_pure_python_switch_reports_and_imports_sources(tmp_path: Path) -> None:
    pure = _evsim(["--version"], pure=True, cwd=tmp_path)
    assert pure.returncode == 0, pure.stderr
    assert pure.stdout.rstrip().endswith("(pure Python)")
    default = _evsim(["--version"], pure=False, cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert default.stdout.rstrip().endswith("(compiled)" if COMPILED else "(pure Python)")


def test_source_finder_finds_py_files_only() -> None:
    finder = SourceFinder()  # not installed here: this process keeps the modules it has
    spec = finder.find_spec("sim.engine.ledger", [str(ROOT / "sim" / "engine")])
    assert spec is not None and spec.origin == str(ROOT / "sim" / "engine" / "ledger.py")
    package = finder.find_spec("sim.services.sqs", [str(ROOT / "sim" / "services")])
    assert package is not None and package.origin is not None
    assert package.origin.endswith("sqs/__init__.py")
    assert finder.find_spec("numpy.linalg", None) is None
    assert finder.find_spec("sim.engine.nothing", [str(ROOT / "sim" / "engine")]) is None


@pytest.mark.skipif(not COMPILED, reason="the compiled build is not installed (pip install .)")
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_compiled_and_pure_python_results_are_byte_identical(
    example: str, tmp_path: Path
) -> None:
    args = ["run", str(ROOT / "examples" / f"{example}.yaml"), "--json", "--replications", "2",
            "--workers", "1", "--set", f"duration_s={EXAMPLES[example]}"]  # fmt: skip
    compiled = _evsim(args, pure=False, cwd=tmp_path)
    pure = _evsim(args, pure=True, cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    assert pure.returncode == 0, pure.stderr
    assert '"messages_produced"' in compiled.stdout
    assert compiled.stdout == pure.stdout
    assert compiled.stderr == pure.stderr
