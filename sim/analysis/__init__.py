"""From run results to tables, closed forms, files and charts; no SimPy.

:mod:`metrics` (the run result, tidy frames, t-based CIs, the ``--json`` objects),
:mod:`timeseries` (the time series' metrics, units and summaries over replications),
:mod:`theory` (closed forms), :mod:`output` (files and manifests), :mod:`report` (text tables),
and, imported only when charts are asked for, :mod:`plots` (the one chart API), :mod:`charts`
(the charts of ``--plot``) and :mod:`html` (the page of ``--report``).
"""
