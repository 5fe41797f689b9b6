"""evsim: a discrete-event reliability simulator for AWS event-processing architectures.

The public API, for scripts and notebooks::

    from sim import load_scenario, run_replications, compare

    base = load_scenario("examples/dlq.yaml")
    results = run_replications(base, replications=10)      # list of RunResult
    variant = base.with_updates({"components.worker.errors.rate": 0.2})
    diff = compare([base, variant], replications=10)       # paired, common random numbers

* :func:`load_scenario` reads a YAML scenario file (``--set`` style overrides optional) into
  a frozen, validated :class:`Scenario`; an invalid file raises one :class:`ScenarioError`
  naming the file, the field, the value and what is allowed.
* :func:`run_once` runs one replication and returns a :class:`RunResult` (metrics, per-sink
  metrics, an optional trace); :func:`run_replications`, :func:`compare` and :func:`sweep` run
  many, serially, on worker processes or on Dask, with identical results either way. With
  ``observe=True`` each replication also records its time series (``RunResult.timeseries``: one
  sample per component and metric every interval).

The layers below, from the bottom: :mod:`sim.config` (scenario files, no SimPy),
:mod:`sim.patterns`, :mod:`sim.engine` (message, ledger, streams, faults, cost, scheduling,
the component base and ports), :mod:`sim.services` (one module per AWS service),
:mod:`sim.analysis` (metrics, theory, output, plots; no SimPy), then :mod:`sim.build`,
:mod:`sim.experiment`, :mod:`sim.study` and :mod:`sim.cli`. ``docs/architecture.md`` draws
the layers and says where to add a service, a metric or a study.
"""

from __future__ import annotations

import os as _os

if _os.environ.get("EVSIM_PURE_PYTHON"):  # before any other sim module is imported
    from sim._pure import use_source_modules

    use_source_modules()

from sim.analysis.metrics import RunResult
from sim.build import run_once
from sim.config import Scenario, ScenarioError, load_scenario
from sim.experiment import compare, run_replications, sweep

__all__ = [
    "RunResult",
    "Scenario",
    "ScenarioError",
    "compare",
    "load_scenario",
    "run_once",
    "run_replications",
    "sweep",
]
