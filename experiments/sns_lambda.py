"""SNS → Lambda (asynchronous invocation): loss, expiry and latency (DESIGN A3).

A producer publishes to a standard SNS topic whose one subscription is a Lambda function,
invoked asynchronously: SNS hands the event to the function's internal queue (retrying the
hand-over, with its 23-day AWS-managed policy, only while the function is unavailable), and
Lambda runs it, retrying a function error ``max_retries`` times (0–2) 1 and then 2 minutes
later, keeping throttled events in the function's internal queue (oldest first: concurrency
that frees up goes to the oldest waiting event, and the queue's reader retries after throttles
at an interval doubling from 1 s to 5 minutes), and discarding an event older than
``max_event_age_s`` (60 s – 6 h). An event that used its retries is ``lost``,
one discarded for its age ``expired``; with an ``on_failure`` SQS queue both are
``dead_lettered`` instead. The function runs lognormal(median 0.1 s, σ 0.5) per event (mean
0.113 s), times out at 3 s, with AWS-default cold starts. Three studies, each under common
random numbers (one root seed, the same replication indices: every variant of a study sees the
same messages):

* **Errors.** Function error rate p (1%, 10%, 30% per attempt) × ``max_retries`` (0, 1, 2) ×
  ``max_event_age_s`` (60, 120, 21,600 s), 10 messages/s for 400 s, no throttling.
  Theory (independent attempts; :func:`sim.analysis.theory.async_lambda_loss`): an event fails for
  good with probability p^(r'+1), where r' = min(r, the retries that fit in the maximum age): 0 at
  60 s (the first retry comes 60 s after a failure, too late), 1 at 120 s, 2 from 181 s on. The
  failure is ``lost`` when r ≤ r' (retries exhausted) and ``expired`` otherwise. Ages 600 s and
  3,600 s give exactly the runs of 21,600 s here (checked: the last retry is ~3 minutes after
  the event arrives).
* **Throttling.** Reserved concurrency 2 (capacity 2 ÷ 0.113 s ≈ 17.6 events/s), a background
  of 1 event/s for 15 minutes and a burst of 3,000 events spread over 10 s at t = 120 s
  (300 events/s, 17 × the capacity), 5% function errors; ``max_retries`` × ``max_event_age_s``
  (60, 600, 3,600, 21,600 s). A drill-down of one replication traces deliveries over time.
* **Outage.** A 30-minute outage of the function, [900 s, 2,700 s), in 60 minutes of 1
  event/s with 5% function errors, in two modes: ``unavailable`` (Lambda rejects the invoke:
  SNS keeps retrying the hand-over and delivers after the outage) and ``failing`` (the function
  runs but a dependency is down: every invocation hangs until its 3 s timeout, a function
  error; modelled as a ``slow`` outage with factor 1,000); ``max_retries`` ×
  ``max_event_age_s``. An approximation for the failing share: each arrival time's attempts on
  the deterministic schedule (attempt, +run, +60 s, +run, +120 s; run 3 s inside the outage,
  0.113 s outside), failing with probability 1 inside the failing window and p outside, and
  waiting for the end of an ``unavailable`` window (expiring if that is beyond its age).

On-failure share: the variants with ``max_retries`` 2 (AWS's default) run once more with an
``on_failure`` SQS queue (at every maximum age in the throttling study, at 21,600 s in the
others). The destination draws no random numbers, so these runs are the same runs with
``lost + expired`` turned into ``dead_lettered``: the script checks that identity replication
by replication.

Writes ``errors.csv``, ``throttling.csv`` and ``outage.csv`` (tidy: one row per configuration
and metric with n, mean, std and the 95% t-interval over replications), ``theory.csv`` (theory
against the pooled counts, with exact binomial 95% intervals and p-values), ``timelines.csv``
(drill-downs of one replication), ``manifest.json``, three PNG charts and ``findings.md`` into
``results/sns_lambda/``, then the results index. Same seed ⇒ the same files, byte for byte.

Usage, from the repository root: ``python -m experiments.sns_lambda [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs). The design is in :mod:`experiments.sns_lambda_design`, the charts in
:mod:`experiments.sns_lambda_charts`, the findings text in :mod:`experiments.sns_lambda_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pandas as pd
from scipy import stats as sps

from experiments.sns_lambda_charts import chart_errors, chart_outage, chart_throttling
from experiments.sns_lambda_design import (
    DEFAULT_SEED,
    LEVEL,
    Point,
    designs,
    error_theory,
    exact_interval,
    grid_of,
    outage_approximation,
)
from experiments.sns_lambda_findings import findings
from sim.analysis.metrics import ci_stats
from sim.study import Design, Options, Report, Run, Study, run_study

Measures = Mapping[str, float | None]


def _theory_row(p: Point, quantity: str, theory: float, kind: str, per_rep: Sequence[Measures],
                seed: int, **exact: Any) -> dict[str, Any]:  # fmt: skip
    s = ci_stats([d[quantity] for d in per_rep], LEVEL)
    return {
        "study": p.study, "outage_mode": p.outage_mode, "error_rate": p.error_rate,
        "max_retries": p.max_retries, "max_event_age_s": p.max_event_age_s,
        "on_failure": p.on_failure, "quantity": quantity, "theory": theory, "kind": kind,
        "mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"], **exact,
        "seed": seed,
    }  # fmt: skip


def theory_table(errors: Sequence[Point], outage: Sequence[Point],
                 measures: Mapping[Hashable, Sequence[Measures]], seed: int,
                 horizon_s: float) -> pd.DataFrame:  # fmt: skip
    """Theory (errors) and the approximation (outage) against the simulation.

    For the errors study, counts are pooled over replications: given the number of events, the
    failures of independent attempts are binomial, so the exact interval and the two-sided
    binomial test apply (the t-interval over replications is also given).
    """
    rows: list[dict[str, Any]] = []
    for p in errors:
        if p.check:
            continue
        th = error_theory(p.error_rate, p.max_retries, p.max_event_age_s)
        per_rep = measures[p]
        quantities = (("dead_lettered_fraction", th["failed_fraction"]),) if p.on_failure else (
            ("lost_fraction", th["lost_fraction"]), ("expired_fraction", th["expired_fraction"]))
        for q, theory in quantities:
            count = int(sum(d[q.removesuffix("_fraction")] or 0.0 for d in per_rep))
            n = int(sum(d["messages"] or 0.0 for d in per_rep))
            lo, hi = exact_interval(count, n)
            pval = float(sps.binomtest(count, n, theory).pvalue) if 0 < theory < 1 else (
                1.0 if count == 0 else 0.0)  # fmt: skip
            rows.append(_theory_row(
                p, q, theory, "exact (independent attempts)", per_rep, seed, count=count,
                pairs=n, exact_low=lo, exact_high=hi, p_value=pval,
                inside=bool(lo <= theory <= hi)))  # fmt: skip
    for p in outage:
        if p.on_failure:
            continue
        theory = outage_approximation(p.outage_mode, p.error_rate, p.max_retries,
                                      p.max_event_age_s, horizon_s)  # fmt: skip
        rows.append(_theory_row(
            p, "failed_fraction", theory, "approximation (deterministic schedule)",
            measures[p], seed, count=None, pairs=None, exact_low=None, exact_high=None,
            p_value=None, inside=None))  # fmt: skip
    return pd.DataFrame(rows)


def extra_tables(o: Options, designs: Sequence[Design[Any]], run: Run
                 ) -> dict[str, pd.DataFrame]:  # fmt: skip
    """``theory.csv`` from the measures, ``timelines.csv`` from the drill-downs' details."""
    by_name = {d.name: d for d in designs}
    theory = theory_table(by_name["errors"].points, by_name["outage"].points, run.measures,
                          run.seed, grid_of(o).outage_duration_s)  # fmt: skip
    drills = by_name["drills"].points
    rows = [row for p in drills for rep in sorted(run.details.get(p, {}))
            for row in run.details[p][rep]]  # fmt: skip
    return {"theory": theory, "timelines": pd.DataFrame(rows)}


def report(rep: Report) -> str:
    """The three charts and the findings, from the five CSV tables."""
    grid, t, out = grid_of(rep.options), rep.tables, rep.out
    err, thr, outage, th, tl = (t[k] for k in ("errors", "throttling", "outage", "theory",
                                               "timelines"))  # fmt: skip
    th["outage_mode"] = th["outage_mode"].fillna("")
    tl["outage_mode"] = tl["outage_mode"].fillna("")
    chart_errors(err, out / "errors.png")
    chart_throttling(thr, tl, out / "throttling.png", grid.burst)
    chart_outage(outage, th, tl, out / "outage.png", grid.outage_rate_per_s,
                 grid.outage_duration_s)  # fmt: skip
    return findings(err, thr, outage, th, rep.quick, rep.seed, grid.burst,
                    grid.outage_duration_s)  # fmt: skip


STUDY = Study(
    "sns_lambda",
    "SNS → Lambda asynchronous invocation under errors, throttling and outages (DESIGN A3); "
    "writes results/sns_lambda/.",
    DEFAULT_SEED,
    designs,
    report,
    extra_tables=extra_tables,
    extra_table_names=("theory", "timelines"),
    read_csv={"keep_default_na": False, "na_values": [""]},
    replications_help="replications per configuration (default: 8 errors, 5 throttling, "
    "6 outage; --quick 3)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
