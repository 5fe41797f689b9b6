"""DLQ retry policies: SQS standard queue → Lambda (event source mapping) → DLQ (DESIGN A1).

Two studies, run together under common random numbers (one root seed, the same replication
indices, so every variant of a study sees the same messages, poison messages included):

* **Policies.** ``max_receive_count`` (1, 2, 3, 5, 10, or no DLQ at all) × transient error rate
  (1%, 10%, 30% per message and attempt) × poison fraction (0, 0.1%, 1%) × whole-batch failure
  or ``report_batch_item_failures`` (partial batch response), batch size 10 with a 1 s batching
  window so that batches are full. The queue keeps messages ``RETENTION_S`` = 600 s (AWS's
  default is 4 days): without a DLQ a poison message is received about every
  ``VISIBILITY_TIMEOUT_S`` = 30 s until it expires, about 20 times here, where the default
  retention would make it about 11,500 times (DESIGN §3: evsim simulates each of those receives,
  so the run is kept tractable by the short retention; the findings extrapolate).
* **Visibility timeout.** The visibility timeout swept around the function's duration (lognormal,
  median 4 s), with the function timeout as large as AWS allows (``timeout_s`` ≤ the visibility
  timeout, capped at 20 s, beyond the duration's tail), without throttling (ESM maximum
  concurrency 5 = reserved concurrency 5) and with it (ESM maximum concurrency 10 > reserved
  concurrency 5, AWS's documented pitfall), ``max_receive_count`` 5, no errors.

Estimating good messages lost. A poison message can never be processed, so per replication
``good_lost = deliveries_expected − delivered − poison_messages`` exactly, where
``poison_messages`` comes from a *census* variant of the same workload (errors 0, partial batch
response, ``max_receive_count`` 1), in which exactly the poison messages are dead-lettered.
``good_dead_lettered = dead_lettered − poison_messages`` is exact when no message expired or
stayed in flight (every poison message then reached the DLQ); otherwise it undercounts.
Poison's waste is measured against the poison-free twin (same policy and error rate, poison 0):
``extra_attempts_per_poison = (attempts − attempts_twin) / poison_messages``.

Writes ``policies.csv``, ``visibility.csv`` and ``dlq_contents.csv`` (a drill-down of the
DLQ's depth, see :func:`dlq_contents`), tidy: one row per configuration and metric with n, mean,
std and the 95% t-interval over replications; four PNG charts and ``findings.md`` into
``results/dlq_policies/``, then the results index. Same seed ⇒ the same files, byte for byte.

Usage: ``python experiments/dlq_policies.py [--quick] [--out DIR] [--seed S] [--workers N]
[--replications R] [--replot]`` (``--replot`` redraws charts and findings from the CSVs).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.build import build
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, Report, Run, Study, run_study, summary_rows
from sim.study import mean_ci as _ci
from sim.study import number as _num
from sim.study import select as _select
from sim.study import summary_row as _row

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


# --------------------------------------------------------------------------- charts

WHOLE, PARTIAL_LABEL = "whole-batch failure", "partial batch response"
MODE_COLORS: dict[object, str] = {False: "tab:red", True: "tab:blue"}
MODE_LABELS: dict[object, str] = {False: WHOLE, True: PARTIAL_LABEL}
ERR_COLORS = {0.01: "tab:blue", 0.1: "tab:orange", 0.3: "tab:red"}
SETUP = (f"SQS standard → Lambda, {RATE_PER_S:g} msg/s, batch 10 (1 s window), ≤ 5 concurrent "
         f"batches, VT {VISIBILITY_TIMEOUT_S:g} s, retention {RETENTION_S:g} s")  # fmt: skip


def _symlog(ax: Any, linthresh: float, top: float) -> None:
    """A symmetric-log y axis from 0 with plain tick labels (0, 1, 10, 100, 1k, ...)."""
    ax.set_yscale("symlog", linthresh=linthresh)
    ticks = [0.0] + [10.0**i for i in range(round(math.log10(linthresh)), 8)
                     if 10.0**i <= max(top, linthresh) * 2.0]  # fmt: skip
    names = {1e3: "1k", 1e4: "10k", 1e5: "100k", 1e6: "1M", 1e7: "10M"}
    ax.set_yticks(ticks, [names.get(v, f"{v:g}") for v in ticks])
    ax.minorticks_off()
    ax.set_ylim(0, max(top, linthresh) * 2.0)


def _top(*frames: pd.DataFrame) -> float:
    """The largest CI bound (or mean) in ``frames``, for axis limits."""
    vals = [v for f in frames for c in ("mean", "ci_high") for v in f[c].dropna()]
    return max(vals, default=1.0)


def _k_positions(ks: Sequence[int]) -> dict[object, float]:
    pos: dict[object, float] = {k: float(i) for i, k in enumerate(ks)}
    pos["none"] = float(len(ks))
    return pos


def _k_column(df: pd.DataFrame) -> pd.Series:
    return df["max_receive_count"].astype("object").where(df["policy"] == "dlq", "none")


def chart_good_lost(pol: pd.DataFrame, dlq: pd.DataFrame, out: Path, reps: int) -> None:
    """Good messages never processed (a) and good messages in the DLQ (b) vs max receives."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    poison = float(pol["poison_rate"].max())
    errs = sorted(pol["error_rate"].unique())
    fig, (a, b) = new_panels(1, 2, 13.0, 5.2)
    pos = _k_positions(ks)
    drawn: list[pd.DataFrame] = []
    for partial, style, shift in ((False, "-", -0.06), (True, "--", 0.06)):
        lost = _select(pol, "good_lost_per_million", poison_rate=poison,
                       report_batch_item_failures=partial)  # fmt: skip
        lost["k"] = _k_column(lost)
        in_dlq = (
            _select(dlq, "good_in_dlq_per_million") if not partial else
            _select(pol, "good_dead_lettered_per_million", policy="dlq", poison_rate=poison,
                    report_batch_item_failures=True)
        )  # fmt: skip
        in_dlq = in_dlq.assign(k=in_dlq["max_receive_count"].astype("object"))
        shifted = {k: v + shift for k, v in pos.items()}
        mode = MODE_LABELS[partial]
        marker = "o" if partial else "s"
        labels = {e: f"{e:.0%} errors, {mode}" for e in errs}
        ci_lines(lost[lost["k"] != "none"], a, "k", "error_rate", labels, ERR_COLORS, shifted,
                 linestyle=style, marker=marker)  # fmt: skip
        ci_lines(lost[lost["k"] == "none"], a, "k", "error_rate",
                 {e: "_nolegend_" for e in errs}, ERR_COLORS, shifted, linestyle="none",
                 marker=marker)  # fmt: skip
        ci_lines(in_dlq, b, "k", "error_rate", labels, ERR_COLORS, shifted, linestyle=style,
                 marker=marker)  # fmt: skip
        drawn += [lost, in_dlq]
    for e in errs:
        xs = [pos[k] for k in ks]
        a.plot(xs, [e**k * 1e6 for k in ks], linestyle=":", marker="x", color=ERR_COLORS[e],
               linewidth=1.0, label=f"theory p^k, p = {e:.0%}")  # fmt: skip
    top = _top(*drawn)
    for ax in (a, b):
        _symlog(ax, 10.0, top)
        ax.set_xlabel("max_receive_count (receives before the DLQ)")
    a.set_xticks(list(pos.values()), [*map(str, ks), "no DLQ"])
    b.set_xticks([pos[k] for k in ks], [str(k) for k in ks])
    b.set_xlim(a.get_xlim()[0], pos[ks[-1]] + 0.5)
    a.set_ylabel("good messages never processed\n(dead-lettered or expired) per million")
    b.set_ylabel("good messages in the DLQ per million\n(including ones already processed)")
    a.set_title("(a) good messages lost", fontsize=10)
    b.set_title(f"(b) DLQ contents: whole-batch from a drill-down of {int(dlq['n'].min())} "
                "replications", fontsize=10)  # fmt: skip
    a.legend(fontsize=7, ncol=1, loc="upper right")
    b.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Good messages lost to the DLQ vs max_receive_count, {poison:.0%} poison "
                 f"messages; mean and 95% CI of {reps} replications\n{SETUP}",
                 fontsize=11)  # fmt: skip
    save_png(fig, out)


def chart_poison(pol: pd.DataFrame, out: Path, reps: int) -> None:
    """The endless loop: what each poison message costs, with and without a DLQ."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    poison = float(pol["poison_rate"].max())
    err = float(pol["error_rate"].min())
    fig, (a, b) = new_panels(1, 2, 13.0, 4.8)
    cats: dict[object, str] = {**{k: str(k) for k in ks}, "none": "no DLQ"}
    for ax, metric, ylabel in (
        (a, "extra_attempts_per_poison", "extra processing attempts per poison message"),
        (b, "extra_duplicates_per_poison",
         "extra duplicate processings of good\nmessages per poison message"),
    ):  # fmt: skip
        df = _select(pol, metric, poison_rate=poison, error_rate=err)
        df["k"] = _k_column(df)
        ci_bars(df, ax, "k", "report_batch_item_failures", cats, MODE_LABELS, MODE_COLORS)
        ax.set_xlabel("max_receive_count (receives before the DLQ)")
        ax.set_ylabel(ylabel)
    cycles = RETENTION_S / VISIBILITY_TIMEOUT_S
    a.axhline(cycles, color="black", linestyle=":", linewidth=1.0,
              label=f"retention ÷ VT = {cycles:g} receives")  # fmt: skip
    a.set_title("(a) wasted attempts: k with a DLQ, until expiry without", fontsize=10)
    b.set_title("(b) collateral: batch-mates of a poison message reprocessed", fontsize=10)
    a.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Poison messages with and without a DLQ ({poison:.0%} poison, {err:.0%} "
                 f"transient errors; vs the same workload without poison, common random "
                 f"numbers; mean and 95% CI of {reps} replications)\n{SETUP} (AWS default "
                 f"retention 4 days = {345_600 / VISIBILITY_TIMEOUT_S:,.0f} receives)",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_batch_failures(pol: pd.DataFrame, out: Path, reps: int, k: int) -> None:
    """Whole-batch failure vs partial batch response across error rates, at one policy."""
    poison = sorted(pol["poison_rate"].unique())[len(pol["poison_rate"].unique()) // 2]
    errs = sorted(pol["error_rate"].unique())
    cats: dict[object, str] = {e: f"{e:.0%}" for e in errs}
    fig, axes = new_panels(1, 3, 14.0, 4.6)
    for ax, metric, ylabel in zip(axes, (
        "duplicates_per_1k", "latency_p99_s", "cost_per_million_usd"), (
        "duplicate processings per 1,000 messages", "p99 latency of delivered messages (s)",
        "cost per million messages (USD)"), strict=True):  # fmt: skip
        df = _select(pol, metric, policy="dlq", max_receive_count=k, poison_rate=poison)
        ci_bars(df, ax, "error_rate", "report_batch_item_failures", cats, MODE_LABELS,
                MODE_COLORS)  # fmt: skip
        ax.set_xlabel("transient error rate (per message and attempt)")
        ax.set_ylabel(ylabel)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(f"Whole-batch failure vs partial batch response (ReportBatchItemFailures), "
                 f"max_receive_count {k}, {poison:.1%} poison; mean and 95% CI of {reps} "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_visibility(vt: pd.DataFrame, out: Path, reps: int) -> None:
    """Good messages dead-lettered, duplicates and p99 latency vs the visibility timeout."""
    fig, axes = new_panels(1, 3, 14.0, 4.8)
    labels: dict[object, str] = {
        RESERVED_CONCURRENCY: f"ESM max concurrency {RESERVED_CONCURRENCY} = reserved "
                              f"{RESERVED_CONCURRENCY} (no throttling)",
        2 * RESERVED_CONCURRENCY: f"ESM max concurrency {2 * RESERVED_CONCURRENCY} > reserved "
                                  f"{RESERVED_CONCURRENCY} (throttled)",
    }  # fmt: skip
    colors: dict[object, str] = {RESERVED_CONCURRENCY: "tab:blue",
                                 2 * RESERVED_CONCURRENCY: "tab:red"}  # fmt: skip
    vts = sorted(vt["visibility_timeout_s"].unique())
    for ax, metric, ylabel in zip(axes, (
        "dead_lettered_per_1k", "duplicates_per_1k", "latency_p99_s"), (
        "good messages dead-lettered per 1,000\n(never processed; no errors, no poison)",
        "duplicate processings per 1,000 messages", "p99 latency of delivered messages (s)",
    ), strict=True):  # fmt: skip
        ci_lines(_select(vt, metric), ax, "visibility_timeout_s", "esm_max_concurrency",
                 labels, colors)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks(vts, [f"{v:g}" for v in vts])
        ax.minorticks_off()
        ax.axvline(VT_DURATION_MEDIAN_S, color="0.4", linestyle=":", linewidth=1.0,
                   label=f"median function duration {VT_DURATION_MEDIAN_S:g} s")  # fmt: skip
        ax.axvline(VT_TIMEOUT_CAP_S, color="0.4", linestyle="--", linewidth=1.0,
                   label=f"function timeout reaches its cap, {VT_TIMEOUT_CAP_S:g} s")  # fmt: skip
        ax.set_xlabel("visibility timeout VT (s, log scale)")
        ax.set_ylabel(ylabel)
    _symlog(axes[0], 1.0, _top(_select(vt, "dead_lettered_per_1k")))
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(f"Visibility timeout around the function's duration (lognormal, median "
                 f"{VT_DURATION_MEDIAN_S:g} s per batch); SQS standard → Lambda, "
                 f"{VT_RATE_PER_S:g} msg/s, batch 10, partial batch response, "
                 f"max_receive_count {VT_MAX_RECEIVE_COUNT}, no errors\nfunction timeout = "
                 f"min(VT, {VT_TIMEOUT_CAP_S:g} s) (AWS requires timeout ≤ VT), cold start "
                 f"~1 s (not counted in the timeout); mean and 95% CI of {reps} replications",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


# --------------------------------------------------------------------------- findings


def findings(
    pol: pd.DataFrame, vt: pd.DataFrame, dlq: pd.DataFrame, out_name: str, quick: bool,
    seed: int, reps: int,
) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the three CSV tables."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    errs = sorted(pol["error_rate"].unique())
    poisons = sorted(pol["poison_rate"].unique())
    e_mid = 0.1 if 0.1 in errs else errs[len(errs) // 2]
    p_hi, p_mid = poisons[-1], poisons[len(poisons) // 2]
    k_mid = 5 if 5 in ks else ks[-1]
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "policies.csv", "dlq_contents.csv", "visibility.csv", "good_lost.png", "poison_loop.png",
        "batch_failures.png", "visibility_timeout.png"))  # fmt: skip
    lines = [
        "# DLQ retry policies: max receives, partial batch responses and visibility timeouts "
        "for SQS → Lambda",
        "",
        f"Script `experiments/dlq_policies.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, {reps} replications per configuration, common random numbers (every "
        f"configuration sees the same messages, poison messages included); files: {files}.",
        "",
        f"Setup (DESIGN A1): {SETUP}; the function fails each message with the transient error "
        "rate per attempt, and always for poison messages. The 600 s retention (AWS default: 4 "
        "days) keeps the no-DLQ runs tractable: evsim simulates every receive of a poison "
        "message (DESIGN §3), about 20 here instead of about 11,500. Good messages lost = "
        "expected − delivered − poison messages, exact per replication (the poison count comes "
        "from a census variant of the same workload).",
        "",
        "![good messages lost vs max_receive_count](" + out_name + "/good_lost.png)",
        "![poison messages with and without a DLQ](" + out_name + "/poison_loop.png)",
        "![whole-batch failure vs partial batch response](" + out_name + "/batch_failures.png)",
        "![visibility timeout sweep](" + out_name + "/visibility_timeout.png)",
        "",
    ]
    lost = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                    error_rate=e_mid, poison_rate=p_hi, report_batch_item_failures=True)
            for k in ks}  # fmt: skip
    whole = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                     error_rate=e_mid, poison_rate=p_hi, report_batch_item_failures=False)
             for k in ks}  # fmt: skip
    theory = ", ".join(f"{_num(e_mid**k * 1e6)}" for k in ks)
    lines.append(
        f"- **Good messages lost to the DLQ** fall as p^k: at {e_mid:.0%} transient errors "
        f"({p_hi:.1%} poison, partial batch response) max_receive_count "
        + "; ".join(f"{k} loses {_ci(lost[k])}" for k in ks)
        + f" good messages per million (theory p^k: {theory}). With whole-batch failure: "
        + "; ".join(f"{k}: {_num(_mean(whole[k]))}"
                    for k in ks)
        + " (evsim processes every message of a failing batch, and a good message processed "
        "once counts as delivered, so only its own failures can dead-letter it)."
    )
    in_dlq = _row(dlq, "good_in_dlq_per_million", max_receive_count=ks[0], error_rate=e_mid)
    processed = _row(dlq, "processed_in_dlq_per_million", max_receive_count=ks[0],
                     error_rate=e_mid)  # fmt: skip
    if in_dlq is not None:
        lines.append(
            f"- **But the DLQ fills with good messages under whole-batch failure**: at "
            f"{e_mid:.0%} errors and max_receive_count {ks[0]}, {_ci(in_dlq)} good messages per "
            f"million end in the DLQ, {_ci(processed)} of them already processed (a redrive "
            f"would process them again); with a partial batch response only the "
            f"{_ci(lost[ks[0]])} never processed do."
        )
    e_lo = errs[0]
    extra = {m: _row(pol, "extra_attempts_per_poison", policy="no_dlq", error_rate=e_lo,
                     poison_rate=p_hi, report_batch_item_failures=m) for m in PARTIAL}  # fmt: skip
    dup = _row(pol, "extra_duplicates_per_poison", policy="no_dlq", error_rate=e_lo,
               poison_rate=p_hi, report_batch_item_failures=False)  # fmt: skip
    with_dlq = _row(pol, "extra_attempts_per_poison", policy="dlq", max_receive_count=k_mid,
                    error_rate=e_lo, poison_rate=p_hi, report_batch_item_failures=True)  # fmt: skip
    default_cycles = 345_600 / VISIBILITY_TIMEOUT_S
    capacity = POLICY_CONCURRENCY * 10 / (0.2 * math.exp(0.5**2 / 2) + 10 * 0.1)
    poison_rps = RATE_PER_S * p_hi * default_cycles
    lines.append(
        f"- **No DLQ: the endless loop.** Each poison message is received until it expires: "
        f"{_ci(extra[True])} extra attempts per poison message with partial batch responses "
        f"(retention ÷ VT = {RETENTION_S / VISIBILITY_TIMEOUT_S:g} receives, less the attempt "
        f"it would have needed as a good message) and {_ci(extra[False])} "
        f"with whole-batch failure, which also reprocesses {_ci(dup)} good batch-mates per "
        f"poison message ({e_lo:.0%} errors, {p_hi:.0%} poison). With a DLQ at "
        f"max_receive_count {k_mid} the waste is {_ci(with_dlq)} attempts ({k_mid} receives, "
        f"less the same one). At AWS's default "
        f"4-day retention a poison message would be received about {default_cycles:,.0f} times, "
        f"and {p_hi:.0%} poison at {RATE_PER_S:g} msg/s would alone demand about "
        f"{poison_rps:,.0f} receives/s, far beyond this consumer's capacity of about "
        f"{capacity:.0f} messages/s (full batches): the good "
        "traffic would be crowded out entirely (extrapolated, not simulated)."
    )
    d = {m: _row(pol, "duplicates_per_1k", policy="dlq", max_receive_count=k_mid,
                 error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
         for m in PARTIAL}  # fmt: skip
    c = {m: _row(pol, "cost_per_million_usd", policy="dlq", max_receive_count=k_mid,
                 error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
         for m in PARTIAL}  # fmt: skip
    lat = {m: _row(pol, "latency_p99_s", policy="dlq", max_receive_count=k_mid,
                   error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
           for m in PARTIAL}  # fmt: skip
    partial_dups = _select(pol, "duplicates_per_1k", report_batch_item_failures=True)["mean"]
    lines.append(
        f"- **Whole-batch failure costs duplicates, money and latency, not messages**: at "
        f"{e_mid:.0%} errors (max_receive_count {k_mid}, {p_mid:.1%} poison) it causes "
        f"{_ci(d[False])} duplicate processings per 1,000 messages against "
        f"{_num(_mean(d[True]))} with a partial batch "
        f"response (0 in all {len(partial_dups)} partial-response configurations: "
        f"max {_num(partial_dups.max())}), {_ci(c[False], 'USD')} vs {_ci(c[True], 'USD')} per "
        f"million messages and a p99 latency of {_ci(lat[False], 's')} vs {_ci(lat[True], 's')}."
    )
    e_hi = errs[-1]
    sat = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
           for k in (k_mid, ks[-1])}  # fmt: skip
    sat_lat = _row(pol, "latency_p99_s", policy="dlq", max_receive_count=ks[-1],
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
    sat_exp = _row(pol, "expired", policy="dlq", max_receive_count=ks[-1],
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
    if e_hi != e_mid:
        lines.append(
            f"- At {e_hi:.0%} errors whole-batch failure saturates the consumer (p99 "
            f"{_ci(sat_lat, 's')} at max_receive_count {ks[-1]}) and messages expire "
            f"({_ci(sat_exp)} per replication), so more receives stop helping: "
            f"max_receive_count {ks[-1]} loses {_ci(sat[ks[-1]])} good messages per million, "
            f"{k_mid} loses {_ci(sat[k_mid])}."
        )
    lines += _visibility_findings(vt)
    dlq_rows = pol[(pol["policy"] == "dlq") & (pol["metric"] == "expired")]
    exact = int((dlq_rows["mean"] == 0).sum())
    resolved = float(pol.loc[pol["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: the largest mean number of messages still in flight at the end of a "
        f"run is {_num(resolved)}; dead-lettered − poison (`good_dead_lettered`) is exact in "
        f"{exact} of {len(dlq_rows)} DLQ configurations (those where nothing expired). p99 "
        "latency is over delivered messages only: max_receive_count 1 looks fast because a "
        "message that fails once is dead-lettered instead of retried."
    )
    return "\n".join(lines) + "\n"


def _mean(row: pd.Series | None) -> float:
    return math.nan if row is None else float(row["mean"])


def _visibility_findings(vt: pd.DataFrame) -> list[str]:
    quiet, loud = RESERVED_CONCURRENCY, 2 * RESERVED_CONCURRENCY
    vts = sorted(vt["visibility_timeout_s"].unique())
    low = vts[1] if len(vts) > 2 else vts[0]
    dl_low = _row(vt, "dead_lettered_per_1k", esm_max_concurrency=quiet,
                  visibility_timeout_s=low)  # fmt: skip
    zero = [v for v in vts if (r := _row(vt, "dead_lettered_per_1k", esm_max_concurrency=quiet,
                                         visibility_timeout_s=v)) is not None
            and r["mean"] == 0]  # fmt: skip
    dup_quiet = _select(vt, "duplicates_per_1k", esm_max_concurrency=quiet)["mean"].max()
    dups = _select(vt, "duplicates_per_1k", esm_max_concurrency=loud)
    top = dups.loc[dups["mean"].idxmax()] if len(dups) else None  # type: ignore[call-overload]
    last = vts[-1]
    dl_last = _row(vt, "dead_lettered_per_1k", esm_max_concurrency=loud,
                   visibility_timeout_s=last)  # fmt: skip
    p99 = {c: _row(vt, "latency_p99_s", esm_max_concurrency=c, visibility_timeout_s=last)
           for c in (quiet, loud)}  # fmt: skip
    return [
        f"- **Visibility timeout** (function timeout = min(VT, {VT_TIMEOUT_CAP_S:g} s), as "
        f"AWS rejects a timeout above the VT; duration median {VT_DURATION_MEDIAN_S:g} s): a VT "
        f"below the duration makes invocations time out, and timed-out batches are retried "
        f"until the DLQ: at VT {low:g} s {_ci(dl_low)} per 1,000 good messages are "
        f"dead-lettered without errors, none from VT "
        f"{_num(min(zero)) if zero else 'n/a'} s on. Because the timeout cannot exceed the VT, "
        f"a function never outlives the VT by itself; premature redelivery needs time between "
        f"the receive and the run. Without throttling only cold starts give it (at most "
        f"{_num(dup_quiet)} duplicates per 1,000). With the event source allowed {loud} "
        f"batches against a reserved concurrency of {quiet}, throttled batches wait out their "
        f"VT: up to {_ci(top) if top is not None else 'n/a'} duplicates per 1,000 (at VT "
        f"{_num(top['visibility_timeout_s']) if top is not None else 'n/a'} s), and at VT "
        f"{last:g} s ({last / min(last, VT_TIMEOUT_CAP_S):g} × the function timeout; AWS "
        f"recommends ≥ 6 ×) still {_ci(dl_last)} per 1,000 "
        f"good messages dead-lettered unprocessed, with a p99 latency of {_ci(p99[loud], 's')} "
        f"vs {_ci(p99[quiet], 's')} without throttling. evsim's event source does not scale "
        "down on throttles and gives a freed slot to a new batch before a backed-off one "
        "(assumptions: AWS documents neither), so the throttled curve is pessimistic.",
    ]


# --------------------------------------------------------------------------- main


def report(rep: Report) -> str:
    """The four charts and the findings, from the three CSV tables."""
    pol, vt, dlq = (rep.tables[n] for n in ("policies", "visibility", "dlq_contents"))
    reps, out = int(pol["n"].max()), rep.out
    k = 5 if 5 in set(pol["max_receive_count"].dropna()) else int(pol["max_receive_count"].max())
    chart_good_lost(pol, dlq, out / "good_lost.png", reps)
    chart_poison(pol, out / "poison_loop.png", reps)
    chart_batch_failures(pol, out / "batch_failures.png", reps, k)
    chart_visibility(vt, out / "visibility_timeout.png", reps)
    return findings(pol, vt, dlq, out.name, rep.quick, rep.seed, reps)


STUDY = Study(
    "dlq_policies",
    "DLQ retry policies for SQS → Lambda (DESIGN A1); writes results/dlq_policies/.",
    20260601,
    designs,
    report,
    extra_tables=dlq_contents,
    extra_table_names=("dlq_contents",),
    read_csv={"dtype": {"max_receive_count": "Int64"}},
    replications_help="replications per configuration (default: 10, --quick 3)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
