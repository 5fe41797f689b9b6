"""Doubts about a set of replications, found after they ran (no SimPy here).

Each function looks at the replications of one scenario (or variant) and returns a sentence
for ``evsim`` to print as a warning, or None:

* :func:`in_flight_warning`: pairs still in flight when the run ended (their fate unknown),
  with the ``drain_s`` that the scenario's retry schedules suggest;
* :func:`negative_ci_warning`: a 95% CI that reaches below 0 on a quantity that cannot be
  negative (every metric evsim reports: counts, latencies, fractions, costs), with the number
  of replications that would keep it above 0;
* :func:`precision_warning`: a ``--precision`` target not reached at ``--max-replications``,
  with the number of replications that would reach it.

:func:`produced_nothing` is the one error: no replication created a counted message.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats as sps

from sim.analysis.metrics import METRICS, SINK_METRICS, RunResult, ci_stats
from sim.config.scenario import Scenario
from sim.config.workload import retry_horizons

__all__ = [
    "in_flight_warning",
    "negative_ci_warning",
    "precision_shortfall",
    "precision_warning",
    "produced_nothing",
    "replications_for_half_width",
]


def produced_nothing(results: Sequence[RunResult]) -> bool:
    """True when no replication created a (counted) message: there is nothing to report."""
    return all(not r.metrics.get("messages_produced") for r in results)


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def in_flight_warning(scenario: Scenario, results: Sequence[RunResult]) -> str | None:
    """Pairs still in flight at the end of the runs, and the drain that would resolve them."""
    mean = _mean([float(r.metrics.get("in_flight") or 0) for r in results])
    if mean <= 0:
        return None
    expected = _mean([float(r.metrics.get("deliveries_expected") or 0) for r in results])
    sinks = sorted({s for r in results for s in r.sinks})
    at = [(s, _mean([float(r.sinks.get(s, {}).get("in_flight") or 0) for r in results]))
          for s in sinks]  # fmt: skip
    where = ", ".join(f"{s}: {n:.3g}" for s, n in sorted(at, key=lambda x: -x[1]) if n > 0)
    end = scenario.duration_s + scenario.drain_s
    head = (f"{mean:.3g} (message, sink) pairs per replication on average ({where}) were "
            f"still in flight when the run ended at duration_s + drain_s = {end:g} s, out of "
            f"{expected:.3g} expected: their fates are unknown, so the fractions undercount")
    longer = sorted((h for h in retry_horizons(scenario) if h[0] > scenario.drain_s), reverse=True)
    if longer:
        seconds, what = longer[0]
        return (f"{head}. The longest retry schedule here, {what}, can take {seconds:,.0f} s, "
                f"more than drain_s ({scenario.drain_s:g}); try --set drain_s="
                f"{math.ceil(seconds)}")  # fmt: skip
    suggestion = max(600.0, 2 * scenario.drain_s)
    return (f"{head}. Every retry schedule here ends within drain_s ({scenario.drain_s:g} s), so "
            "they are probably a backlog the consumers had not cleared; try a longer drain_s "
            f"(--set drain_s={suggestion:g})")  # fmt: skip


def replications_for_half_width(std: float, target: float, n: int, level: float = 0.95) -> int:
    """The smallest n' ≥ ``n`` with a t-based CI half-width t·std/√n' ≤ ``target`` (≤ 10⁶)."""
    if target <= 0:
        return n
    z = float(sps.norm.ppf(0.5 + level / 2))
    m = max(n, 2, math.ceil((z * std / target) ** 2))  # t > z: a lower bound
    while m < 1_000_000 and float(sps.t.ppf(0.5 + level / 2, m - 1)) * std / math.sqrt(m) > target:
        m += 1
    return m


def _below_zero(results: Sequence[RunResult]) -> list[tuple[str, int]]:
    """``(metric label, replications needed)`` of each CI that reaches below 0."""
    out = []
    blocks: list[tuple[str, Sequence[str], dict[str, list[float | None]]]] = [
        ("", METRICS, {m: [r.metrics.get(m) for r in results] for m in METRICS})
    ]
    for sink in sorted({s for r in results for s in r.sinks}):
        values = {m: [r.sinks.get(sink, {}).get(m) for r in results] for m in SINK_METRICS}
        blocks.append((f" at {sink}", SINK_METRICS, values))
    for dep in sorted({d for r in results for d in r.dependencies}):
        dep_names = sorted({m for r in results for m in r.dependencies.get(dep, {})})
        dep_values = {m: [r.dependencies.get(dep, {}).get(m) for r in results] for m in dep_names}
        blocks.append((f" of {dep}", dep_names, dep_values))
    for suffix, names, values in blocks:
        for name in names:
            s = ci_stats(values[name])
            mean, low, std, n = s["mean"], s["ci_low"], s["std"], s["n"]
            if mean is None or low is None or std is None or low >= 0 or mean < 0:
                continue
            out.append((f"{name}{suffix}", replications_for_half_width(std, mean, int(n or 0))))
    return out


def negative_ci_warning(results: Sequence[RunResult]) -> str | None:
    """A warning when a 95% CI reaches below 0 on a quantity that cannot be negative."""
    below = _below_zero(results)
    if not below:
        return None
    names = ", ".join(name for name, _ in below[:6]) + (", ..." if len(below) > 6 else "")
    need = max(n for _, n in below)
    return (f"the 95% CI of {names} reaches below 0, which {'it' if len(below) == 1 else 'they'} "
            f"cannot: {len(results)} replications are too few for such rare or variable "
            f"events; about {need:,} replications would keep the CI above 0 "
            f"(--replications {need})")  # fmt: skip


def precision_shortfall(
    results: Sequence[RunResult], precision: float, metrics: Sequence[str]
) -> list[tuple[str, float, int]]:
    """``(metric, relative half-width, replications needed)`` of the metrics not yet precise."""
    out = []
    for name in metrics:
        s = ci_stats([r.metrics.get(name) for r in results])
        mean, low, high, std, n = s["mean"], s["ci_low"], s["ci_high"], s["std"], s["n"]
        if mean is None or low is None or high is None or std is None:
            continue
        half = (high - low) / 2
        if half > precision * abs(mean):
            need = replications_for_half_width(std, precision * abs(mean), int(n or 0))
            out.append((name, half / abs(mean) if mean else math.inf, need))
    return out


def precision_warning(
    results: Sequence[RunResult], precision: float, metrics: Sequence[str]
) -> str | None:
    """A warning when ``precision`` is not reached (the run stopped at its cap)."""
    short = precision_shortfall(results, precision, metrics)
    if not short:
        return None
    parts = ", ".join(f"{name} ±{rel:.1%}" for name, rel, _ in short)
    need = max(n for _, _, n in short)
    return (f"--precision {precision:g} not reached after {len(results)} replications "
            f"(--max-replications): 95% CI half-widths relative to the mean are {parts}; "
            f"about {need:,} replications would reach it (--max-replications {need})")  # fmt: skip
