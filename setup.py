"""Build evsim, compiling its typed hot path with mypyc when it can, else pure Python.

``pip install .`` compiles the modules listed by :func:`compiled_modules` (the engine, the
services and the pattern matcher) into C extensions with mypyc when mypy and a C compiler are
there. Anything that goes wrong (mypy not importable, a module mypyc rejects, no compiler, a
failed compile or link) falls back to the pure Python package, with a warning in the build log
and a note in the installed package that ``evsim --version`` prints. The ``.py`` files are
installed either way; ``EVSIM_PURE_PYTHON=1`` at run time makes the package import them
instead of the compiled modules.

* ``EVSIM_NO_COMPILE=1`` at install time: build pure Python without trying.
* Editable installs (``pip install -e .``) stay pure Python unless ``EVSIM_COMPILE=1``.

Everything else (metadata, dependencies) is in ``pyproject.toml``.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: Where the note on what was built goes, in the installed package.
BUILD_NOTE = "sim/_build_note.txt"
#: Modules of the engine and the services kept interpreted (none: the time-series recorder is
#: compiled too, since its samples are a fixed cost that shows against a compiled run).
INTERPRETED: set[str] = set()
#: mypy options on top of ``[tool.mypy]``: the build environment has the packages whose types
#: the compiled modules use (pyproject's ``[build-system] requires``) but not every stub of the
#: modules they import in turn; those are type-checked by ``make lint``, not here.
BUILD_COMMANDS = {"bdist_wheel", "build", "build_ext", "install", "editable_wheel", "develop"}
MYPY_FLAGS = ["--follow-imports=silent", "--ignore-missing-imports", "--no-warn-unused-ignores"]


def compiled_modules() -> list[str]:
    """The modules to compile: every module of sim/engine and sim/services, and the matcher.

    Package ``__init__`` modules stay interpreted (``sim/__init__.py`` decides at import time
    whether to load the compiled modules at all).
    """
    paths = [*HERE.glob("sim/engine/*.py"), *HERE.glob("sim/services/**/*.py"),
             HERE / "sim/patterns/match.py"]  # fmt: skip
    rel = sorted(p.relative_to(HERE).as_posix() for p in paths)
    return [p for p in rel if not p.endswith("__init__.py") and p not in INTERPRETED]


def _warn(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\nevsim: WARNING: {message}\nevsim: installing pure Python.\n{bar}\n",
          file=sys.stderr, flush=True)  # fmt: skip


def _skip_reason() -> str | None:
    """Why not to try compiling, or None to try."""
    if os.environ.get("EVSIM_NO_COMPILE"):
        return "EVSIM_NO_COMPILE is set"
    commands = set(sys.argv[1:])
    if commands & {"egg_info", "dist_info"} and not commands & BUILD_COMMANDS:
        return "metadata only"  # pip asks for it first; the wheel's own run compiles
    editable = bool(commands & {"editable_wheel", "develop"})
    if editable and not os.environ.get("EVSIM_COMPILE"):
        return "an editable install (set EVSIM_COMPILE=1 to compile it)"
    return None


def _ext_modules() -> tuple[list[object], str]:
    """The mypyc extensions, or none and the reason why not."""
    reason = _skip_reason()
    if reason is not None:
        return [], f"pure Python: not compiled ({reason})"
    try:
        from mypyc.build import mypycify

        cwd = os.getcwd()
        os.chdir(HERE)  # mypyc names the modules after the paths it is given
        try:
            exts = mypycify([*MYPY_FLAGS, *compiled_modules()], opt_level="3", debug_level="0")
        finally:
            os.chdir(cwd)
    except BaseException as exc:  # mypy type errors end in SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _warn(f"mypyc could not compile the typed core: {detail}")
        return [], f"pure Python: mypyc failed at install ({detail})"
    return list(exts), "compiled"


def _write_note(build_lib: str, note: str) -> None:
    target = Path(build_lib) / BUILD_NOTE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(note + "\n", encoding="utf-8")


class BuildPy(build_py):
    """``build_py`` that also writes the note on what was built (not for editable installs)."""

    def run(self) -> None:
        """Copy the modules, then write the note."""
        super().run()
        if not getattr(self, "editable_mode", False):
            _write_note(self.build_lib, NOTE)


class BuildExt(build_ext):
    """``build_ext`` that falls back to pure Python when the C build fails, and says so."""

    def run(self) -> None:
        """Build the extensions; on any failure remove them and note the fallback."""
        try:
            super().run()
        except Exception as exc:  # CompileError, LinkError, no compiler, ...
            _warn(f"compiling the typed core failed: {exc}")
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            self.extensions = []
            if not (self.inplace or getattr(self, "editable_mode", False)):
                _write_note(self.build_lib, f"pure Python: the C build failed at install ({exc})")


EXT_MODULES, NOTE = _ext_modules()

setup(ext_modules=EXT_MODULES, cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
