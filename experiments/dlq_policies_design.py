"""The DLQ-policies study's design: grids, points, scenarios, per-run measures and designs.

The question and the method are stated in :mod:`experiments.dlq_policies`. Besides the two
designs (the policies with their censuses, and the visibility-timeout sweep) this module holds
the drill-down of the DLQ's contents (:func:`dlq_contents`), an extra table computed from
re-runs of chosen replications.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import pandas as pd

from sim.analysis.metrics import RunResult
from sim.build import build
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, Run, summary_rows

#: A replication's run metrics (``RunResult.metrics``), as its worker returns them.
Raw = Mapping[str, Any]

RATE_PER_S = 10.0
POLICY_CONCURRENCY = 5  # at most 5 concurrent batches (ESM maximum concurrency)
RETENTION_S = 600.0
VISIBILITY_TIMEOUT_S = 30.0
MAX_RECEIVE_COUNTS = (1, 2, 3, 5, 10)
ERROR_RATES = (0.01, 0.1, 0.3)
POISON_RATES = (0.0, 0.001, 0.01)
PARTIAL = (False, True)
VT_RATE_PER_S = 5.0
VT_DURATION_MEDIAN_S = 4.0
VT_TIMEOUT_CAP_S = 20.0
VT_MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUTS_S = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 20.0, 40.0, 60.0, 120.0)
RESERVED_CONCURRENCY = 5


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    max_receive_counts: tuple[int, ...]
    error_rates: tuple[float, ...]
    poison_rates: tuple[float, ...]
    visibility_timeouts_s: tuple[float, ...]
    duration_s: float
    replications: int
    drill_replications: int


FULL = Grid(MAX_RECEIVE_COUNTS, ERROR_RATES, POISON_RATES, VISIBILITY_TIMEOUTS_S, 1200.0, 10, 3)
QUICK = Grid((1, 5), (0.1,), (0.0, 0.01), (3.0, 20.0), 300.0, 3, 1)


# --------------------------------------------------------------------------- scenarios


def policy_base(duration_s: float, seed: int) -> Scenario:
    """SQS standard queue → Lambda (batch 10, 1 s window, at most 5 batches) → DLQ."""
    return scenario_from_dict({
        "name": "dlq-policies", "seed": seed, "duration_s": duration_s,
        "drain_s": RETENTION_S + 300.0,  # every message is resolved (delivered, DLQ, expired)
        "components": {
            "orders": {"type": "producer", "rate_per_s": RATE_PER_S, "send_to": ["jobs"]},
            "jobs": {"type": "sqs_queue", "visibility_timeout_s": VISIBILITY_TIMEOUT_S,
                     "retention_s": RETENTION_S,
                     "dead_letter": {"target": "jobs-dlq", "max_receive_count": 5}},
            "jobs-dlq": {"type": "sqs_queue"},
            "worker": {
                "type": "lambda_function",
                "trigger": {"source": "jobs", "batch_size": 10, "batching_window_s": 1.0,
                            "max_concurrency": POLICY_CONCURRENCY},
                "duration_s": {"lognormal": {"median": 0.2, "sigma": 0.5}},
                "duration_per_message_s": {"exponential": {"mean": 0.1}},
                "timeout_s": VISIBILITY_TIMEOUT_S,
            },
        },
    })  # fmt: skip


def vt_base(duration_s: float, seed: int) -> Scenario:
    """SQS → Lambda with a slow function (median 4 s per batch) and reserved concurrency 5."""
    return scenario_from_dict({
        "name": "dlq-visibility", "seed": seed, "duration_s": duration_s, "drain_s": 900.0,
        "components": {
            "orders": {"type": "producer", "rate_per_s": VT_RATE_PER_S, "send_to": ["jobs"]},
            "jobs": {"type": "sqs_queue", "visibility_timeout_s": 30.0,
                     "dead_letter": {"target": "jobs-dlq",
                                     "max_receive_count": VT_MAX_RECEIVE_COUNT}},
            "jobs-dlq": {"type": "sqs_queue"},
            "worker": {
                "type": "lambda_function",
                "trigger": {"source": "jobs", "batch_size": 10, "max_concurrency": 5,
                            "report_batch_item_failures": True},
                "duration_s": {"lognormal": {"median": VT_DURATION_MEDIAN_S, "sigma": 0.5}},
                "timeout_s": 20.0, "reserved_concurrency": RESERVED_CONCURRENCY,
                "cold_start": {"duration_s": {"lognormal": {"median": 1.0, "sigma": 0.5}}},
            },
        },
    })  # fmt: skip


class Point(NamedTuple):
    """One configuration: its study, parameters and the variant name that carries them."""

    study: str  # "policy", "census" or "visibility"
    policy: str = "dlq"  # "dlq" or "no_dlq"
    max_receive_count: int | None = None
    error_rate: float = 0.0
    poison_rate: float = 0.0
    partial: bool = False
    visibility_timeout_s: float = 0.0
    esm_max_concurrency: int = 0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        if self.study == "visibility":
            return f"vt={self.visibility_timeout_s:g} esm={self.esm_max_concurrency}"
        k = "none" if self.max_receive_count is None else str(self.max_receive_count)
        return (f"{self.study} k={k} err={self.error_rate:g} poison={self.poison_rate:g} "
                f"partial={int(self.partial)}")  # fmt: skip

    def updates(self) -> dict[str, Any]:
        """Dotted-path updates that turn the study's base scenario into this point."""
        if self.study == "visibility":
            vt = self.visibility_timeout_s
            return {
                "name": self.name,
                "components.jobs.visibility_timeout_s": vt,
                "components.worker.timeout_s": max(1.0, min(vt, VT_TIMEOUT_CAP_S)),
                "components.worker.trigger.max_concurrency": self.esm_max_concurrency,
            }
        dl: dict[str, Any] = (
            {"components.jobs.dead_letter": None}
            if self.max_receive_count is None
            else {"components.jobs.dead_letter.max_receive_count": self.max_receive_count}
        )
        return {
            "name": self.name,
            "components.worker.errors.rate": self.error_rate,
            "components.worker.errors.poison_rate": self.poison_rate,
            "components.worker.trigger.report_batch_item_failures": self.partial,
            **dl,
        }


def points(grid: Grid) -> list[Point]:
    """Every configuration of ``grid``: policies, censuses, then the visibility sweep."""
    out = []
    for partial in PARTIAL:
        for err in grid.error_rates:
            for poison in grid.poison_rates:
                for k in (*grid.max_receive_counts, None):
                    out.append(Point("policy", "dlq" if k else "no_dlq", k, err, poison, partial))
    for poison in grid.poison_rates:
        if poison > 0:
            out.append(Point("census", "dlq", 1, 0.0, poison, True))
    for esm in (RESERVED_CONCURRENCY, 2 * RESERVED_CONCURRENCY):
        for vt in grid.visibility_timeouts_s:
            out.append(Point("visibility", visibility_timeout_s=vt, esm_max_concurrency=esm))
    return out


# --------------------------------------------------------------------------- derived metrics


def _m(r: RunResult | Raw, name: str) -> float:
    """Metric ``name`` of a run or of its metrics as a float; NaN where there is none."""
    v = (r.metrics if isinstance(r, RunResult) else r).get(name)
    return math.nan if v is None else float(v)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def policy_metrics(r: Raw, poison: float, twin: Raw | None, dlq: bool) -> dict[str, float]:
    """Derived metrics of one replication of a policy point (see the module docstring)."""
    produced = _m(r, "messages_produced")
    expected = _m(r, "deliveries_expected")
    good = expected - poison
    good_lost = expected - _m(r, "delivered") - poison
    out = {
        "messages": produced,
        "poison_messages": poison,
        "good_lost": good_lost,
        "good_lost_per_million": _ratio(good_lost, good) * 1e6,
        "good_dead_lettered": _m(r, "dead_lettered") - poison if dlq else math.nan,
        "good_dead_lettered_per_million": (
            _ratio(_m(r, "dead_lettered") - poison, good) * 1e6 if dlq else math.nan
        ),
        "dead_lettered": _m(r, "dead_lettered"),
        "expired": _m(r, "expired"),
        "in_flight": _m(r, "in_flight"),
        "attempts_per_message": _ratio(_m(r, "attempts"), produced),
        "invocations_per_1k": _ratio(_m(r, "invocations"), produced) * 1e3,
        "duplicates_per_1k": _ratio(_m(r, "duplicates"), produced) * 1e3,
        "latency_mean_s": _m(r, "latency_mean_s"),
        "latency_p50_s": _m(r, "latency_p50_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
    }
    if twin is not None and poison > 0:
        extra = _m(r, "attempts") - _m(twin, "attempts")
        out["extra_attempts_per_poison"] = extra / poison
        out["poison_attempt_share"] = _ratio(extra, _m(r, "attempts"))
        out["extra_invocations_per_poison"] = (
            _m(r, "invocations") - _m(twin, "invocations")
        ) / poison
        out["extra_duplicates_per_poison"] = (
            _m(r, "duplicates") - _m(twin, "duplicates")
        ) / poison
    return out


def visibility_metrics(r: RunResult) -> dict[str, float]:
    """Derived metrics of one replication of a visibility point (no errors, no poison)."""
    produced = _m(r, "messages_produced")
    successes = _m(r, "delivered") + _m(r, "duplicates")
    return {
        "messages": produced,
        "dead_lettered_per_1k": _ratio(_m(r, "dead_lettered"), produced) * 1e3,
        "duplicates_per_1k": _ratio(_m(r, "duplicates"), produced) * 1e3,
        # with no errors every failed attempt is a timeout
        "timeouts_per_1k": _ratio(_m(r, "attempts") - successes, produced) * 1e3,
        "throttles_per_1k": _ratio(_m(r, "throttles"), produced) * 1e3,
        "expired": _m(r, "expired"),
        "in_flight": _m(r, "in_flight"),
        "latency_p50_s": _m(r, "latency_p50_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
    }


def raw_metrics(p: Point, r: RunResult) -> Raw:
    """A policy or census replication's run metrics (in its worker; census checked)."""
    m = r.metrics
    if p.study == "census" and (m["expired"] or m["in_flight"] or m["lost"] or (
        m["delivered"] + m["dead_lettered"] != m["deliveries_expected"]
    )):  # fmt: skip  # exactly the poison messages must reach the DLQ
        raise RuntimeError(f"census {p.name} rep {r.rep} is not exact: {m}")
    return dict(m)


def derive(p: Point, measured: Mapping[Hashable, Sequence[Raw]]) -> list[dict[str, float]]:
    """A policy point's metrics against its census (poison count) and poison-free twin."""
    census = measured.get(Point("census", "dlq", 1, 0.0, p.poison_rate, True))
    twin = measured.get(p._replace(poison_rate=0.0))
    return [policy_metrics(r, _m(census[i], "dead_lettered") if census else 0.0,
                           twin[i] if twin else None, p.policy == "dlq")
            for i, r in enumerate(measured[p])]  # fmt: skip


def _columns(p: Point) -> dict[str, Any] | None:
    if p.study == "policy":
        return {"policy": p.policy, "max_receive_count": p.max_receive_count,
                "error_rate": p.error_rate, "poison_rate": p.poison_rate,
                "report_batch_item_failures": p.partial}  # fmt: skip
    if p.study == "visibility":
        return {"esm_max_concurrency": p.esm_max_concurrency,
                "reserved_concurrency": RESERVED_CONCURRENCY,
                "visibility_timeout_s": p.visibility_timeout_s,
                "function_timeout_s": max(1.0, min(p.visibility_timeout_s, VT_TIMEOUT_CAP_S))}
    return None  # a census: measured for the policies, not tabulated


def designs(o: Options) -> list[Design[Point]]:
    """The policies (with their censuses) and the visibility sweep, one seed for all."""
    grid = QUICK if o.quick else FULL
    pts = points(grid)
    base = policy_base(grid.duration_s, o.seed)
    vt = vt_base(grid.duration_s, o.seed)
    return [
        Design("policies", [p for p in pts if p.study != "visibility"],
               lambda p: base.with_updates(p.updates()), raw_metrics, grid.replications,
               "policies", _columns, derive=derive, dtypes={"max_receive_count": "Int64"}),
        Design("visibility", [p for p in pts if p.study == "visibility"],
               lambda p: vt.with_updates(p.updates()), visibility_measure, grid.replications,
               "visibility", _columns),
    ]  # fmt: skip


def visibility_measure(p: Point, r: RunResult) -> dict[str, float]:
    """The measures of a visibility replication (in its worker)."""
    return visibility_metrics(r)


def dlq_contents(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """Drill-down: how many good messages the DLQ holds under whole-batch failure.

    The ledger counts a message processed successfully once as delivered, even if its batch
    failed and the message later reached the DLQ (its work was done; a redrive would repeat
    it). The DLQ's depth at the end of a run counts those too. With a partial batch response
    a processed message is deleted, so there the DLQ holds exactly the dead-lettered ones.
    Re-runs replications ``0 .. drill_replications-1`` of the whole-batch policy points at the
    highest poison fraction (identical runs: same scenario, seed and replication).
    """
    grid, seed = QUICK if o.quick else FULL, o.seed
    pts, runs = designs[0].points, run.measured
    poison = max(grid.poison_rates)
    census = {p.poison_rate: runs[p] for p in pts if p.study == "census"}
    base = policy_base(grid.duration_s, seed)
    rows: list[dict[str, Any]] = []
    for p in pts:
        if not (p.study == "policy" and p.policy == "dlq" and not p.partial
                and p.poison_rate == poison):  # fmt: skip
            continue
        per_rep = []
        for rep in range(grid.drill_replications):
            model = build(base.with_updates(p.updates()), rep, seed)
            r = model.run()
            if r.metrics != runs[p][rep]:
                raise RuntimeError(f"drill-down of {p.name} rep {rep} differs from its run")
            n_poison = _m(census[poison][rep], "dead_lettered") if poison > 0 else 0.0
            good = _m(r, "deliveries_expected") - n_poison
            depth = float(model.queues["jobs-dlq"].depth)
            per_rep.append({
                "good_in_dlq_per_million": (depth - n_poison) / good * 1e6,
                "processed_in_dlq_per_million": (depth - _m(r, "dead_lettered")) / good * 1e6,
                "good_dead_lettered_per_million": (_m(r, "dead_lettered") - n_poison) / good * 1e6,
            })  # fmt: skip
        keys = {"max_receive_count": p.max_receive_count, "error_rate": p.error_rate,
                "poison_rate": p.poison_rate, "report_batch_item_failures": p.partial}  # fmt: skip
        rows += summary_rows(keys, per_rep, seed=seed)
    return {"dlq_contents": pd.DataFrame(rows)}
