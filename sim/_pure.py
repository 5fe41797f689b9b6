"""Run the pure Python modules even where the compiled (mypyc) build is installed.

The compiled build installs each compiled module twice: as a C extension and as its ``.py``
source, and Python's import system prefers the extension. With ``EVSIM_PURE_PYTHON=1`` in the
environment, ``sim/__init__.py`` calls :func:`use_source_modules` before importing anything else
of the package, and every later ``sim.*`` import loads the ``.py`` file. Results are the same
either way (a test compares them byte for byte); the switch is for that test and for debugging.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import SOURCE_SUFFIXES, FileFinder, ModuleSpec, SourceFileLoader
from types import ModuleType

__all__ = ["SourceFinder", "use_source_modules"]


class SourceFinder:
    """A meta path finder that finds ``sim.*`` modules as ``.py`` sources only."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The spec of ``fullname``'s ``.py`` file, or None (not a ``sim`` submodule)."""
        if not fullname.startswith("sim.") or not path:
            return None
        for entry in path:
            spec = FileFinder(entry, (SourceFileLoader, SOURCE_SUFFIXES)).find_spec(fullname)
            if spec is not None and spec.loader is not None:
                return spec
        return None


def use_source_modules() -> None:
    """Make every later ``sim.*`` import load the ``.py`` source (idempotent)."""
    if not any(isinstance(f, SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, SourceFinder())
