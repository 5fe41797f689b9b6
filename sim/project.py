"""Where the evsim checkout is: the experiments to run and the ``results/`` to write.

``make results`` installs evsim into ``.venv`` (compiled, not editable), so the package's own
location is ``site-packages``, not the checkout. The checkout is found from the current
directory instead: it or the nearest parent that holds evsim's ``pyproject.toml``. Failing
that (a command run outside any checkout), the source tree the package was imported from when
that is a checkout (an editable install, ``PYTHONPATH``), else the current directory.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["project_root"]

_NAME = re.compile(r'^name\s*=\s*"evsim"\s*$', re.MULTILINE)


def _is_checkout(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    try:
        return pyproject.is_file() and bool(_NAME.search(pyproject.read_text(encoding="utf-8")))
    except OSError:
        return False


def project_root(cwd: Path | None = None) -> Path:
    """The evsim checkout to work in (see the module docstring)."""
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    source = Path(__file__).resolve().parent.parent
    return source if _is_checkout(source) else here
