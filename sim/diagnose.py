"""Checks around a run of ``evsim``: errors and warnings before it, and from its results.

Before (:func:`before_run`): a scenario that expects no message at all is an error, one that
expects less than one message per replication gets a warning, and so does a set of runs
expected to take more than a few minutes (:data:`~sim.config.workload.SLOW_RUN_S`) or that
could need more memory than the machine has available if its messages pile up
(:func:`sim.config.workload.run_size`).

After (:func:`after_run`): a variant that produced no message in any replication is an error;
the run's own warnings (:class:`~sim.analysis.metrics.RunResult` ``diagnostics``), pairs still
in flight, CIs below 0 and an unreached ``--precision`` are warnings
(:mod:`sim.analysis.diagnostics`). Warnings go to ``warn``, a callable taking one sentence.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from sim.analysis.metrics import RunResult
from sim.config.problems import NO_VALUE, ScenarioError
from sim.config.producer import ProducerSpec
from sim.config.scenario import Scenario

__all__ = ["after_run", "before_run"]


def before_run(
    scenarios: Sequence[Scenario],
    replications: int,
    workers: int | None,
    warn: Callable[[str], None],
) -> None:
    """Before running ``replications`` of each of ``scenarios`` on ``workers`` (None: all cores).

    Raises:
        ScenarioError: when a scenario expects no message at all (nothing to measure).
    """
    from sim.config.workload import (
        SLOW_RUN_S,
        US_PER_MESSAGE,
        available_memory_bytes,
        expected_messages,
        run_size,
    )

    for s in scenarios:
        expected = expected_messages(s, counted=True)
        window = f"[warmup_s, duration_s) = [{s.warmup_s:g}, {s.duration_s:g}) s"
        if expected == 0 and not s.of_type(ProducerSpec):
            why = "no producer: a run would create no message and have nothing to measure"
            raise ScenarioError(s.source, [("components", NO_VALUE, why)])
        if expected == 0:
            why = (f"no message arrives in {window}: the producers' arrivals fall outside it, so "
                   "a run would have nothing to measure; lengthen duration_s or move them in")
            raise ScenarioError(s.source, [("duration_s", s.duration_s, why)])
        if expected < 1:
            warn(f"{s.source}: duration_s: {s.duration_s:g} — only {expected:.2g} messages are "
                 f"expected in {window}: most replications will produce none and have nothing "
                 "to measure; lengthen duration_s")
    size = run_size(list(scenarios), replications, workers or os.cpu_count() or 1)
    if size.seconds > SLOW_RUN_S:
        runs = f"{replications} replication{'s' if replications != 1 else ''}"
        if len(scenarios) > 1:
            runs += f" × {len(scenarios)} variants"
        warn(
            f"this run creates about {size.messages:,.3g} messages ({runs}) and will take "
            f"roughly {_duration(size.seconds)} on {size.workers} worker(s) (about "
            f"{US_PER_MESSAGE:g} µs per message); shorten duration_s, lower the rates or run "
            "fewer replications"
        )
    available = available_memory_bytes()
    if available is not None and size.peak_bytes > available:
        warn(
            f"if messages pile up in flight (consumers slower than arrivals), the "
            f"{size.per_replication:,.3g} messages of a replication could need up to "
            f"{size.peak_bytes / 1e9:,.3g} GB on {size.workers} worker(s), more than the "
            f"{available / 1e9:.3g} GB available; the run may be killed"
        )


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:,.0f} days"


def after_run(
    variants: Mapping[str, Sequence[RunResult]],
    scenarios: Sequence[Scenario],
    precision: float | None,
    warn: Callable[[str], None],
) -> None:
    """After running: the replications of each variant (named), with its scenario, in order.

    ``precision`` is the ``--precision`` the runs aimed at (None: none).

    Raises:
        ScenarioError: when a variant produced no message in any replication.
    """
    from sim.analysis.diagnostics import (
        in_flight_warning,
        negative_ci_warning,
        precision_warning,
        produced_nothing,
    )
    from sim.experiment import HEADLINE_METRICS

    for (name, results), s in zip(variants.items(), scenarios, strict=True):
        label = f"{name}: " if len(variants) > 1 else ""
        if produced_nothing(results):
            why = (f"{label}no message was produced in any of the {len(results)} replications, "
                   "so there is nothing to report; lengthen duration_s or raise the rates")
            raise ScenarioError(s.source, [("duration_s", s.duration_s, why)])
        for r in results:
            for message in r.diagnostics.get("warnings", []):
                warn(label + message)
        found = [in_flight_warning(s, results), negative_ci_warning(results)]
        if precision is not None:
            found.append(precision_warning(results, precision, HEADLINE_METRICS))
        for message in found:
            if message is not None:
                warn(label + message)
