"""From run results to tables, closed forms, files and charts; no SimPy.

:mod:`metrics` (the run result, tidy frames, t-based CIs, the ``--json`` objects),
:mod:`theory` (closed forms), :mod:`output` (files and manifests), :mod:`report` (text tables)
and :mod:`plots` (the one chart API; imported only when charts are asked for).
"""
