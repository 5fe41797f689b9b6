"""The studies behind ``results/``: one question each, on the :mod:`sim.study` library.

A study is ``experiments/<name>.py`` (its question in the docstring, the :class:`Study`, its
report and ``main``); its design (points, scenarios, per-run measures, closed forms) lives in
``<name>_design.py``, its charts and findings text in ``<name>_charts.py`` and
``<name>_findings.py``. A large design may put a self-contained part in one more
``<name>_<part>.py`` (``fifo_ordering_poison.py``, ``s3_eventbridge_measures.py``). Notebooks
import a study's design from here instead of retyping it. ``evsim experiments [NAME ...]
[--quick]`` runs the studies listed in :data:`STUDIES`; ``python -m experiments.<name>`` runs
one.
"""

#: The studies ``evsim experiments`` runs, in order (each an ``experiments/<name>.py``).
STUDIES = (
    "api_uploads",
    "audit_alerts",
    "database_protection",
    "dlq_policies",
    "fanout",
    "fifo_ordering",
    "metastability",
    "s3_eventbridge",
    "sns_lambda",
    "validation",
)
