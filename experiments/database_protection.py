"""Protecting a database from a Lambda fleet: concurrency, connections, timeouts, duplicates.

An SQS standard queue is drained by a Lambda function (event source mapping, batch size 1)
whose handler makes one query to a relational database per message; a message whose query
still fails after the SDK's retries fails, returns to the queue after the visibility timeout
and, after 3 receives, goes to the dead-letter queue. The database has 20 connections and an
exponential service time of 0.2 s for a query alone, and slows down under load by the
Universal Scalability Law with contention σ = 0.05 and coherency κ = 0.01: with N queries in
service each takes 0.2 s × (1 + σ(N − 1) + κN(N − 1)), so it completes
X(N) = N / (0.2 s × (1 + σ(N − 1) + κN(N − 1))) queries per second, which peaks at N = 10
(√((1 − σ)/κ) ≈ 9.7) and falls beyond. Its capacity, the largest X(N) over N ≤ 20
connections, is X(10) = 21.3 queries per second; offered loads are multiples of it. The
client is explicit: each query attempt has a 2 s client timeout and is retried with the AWS
SDK's standard policy (3 attempts, full-jitter backoff from 1 s, cap 20 s); a query whose
client timed out keeps running on the database (wasted work). The function runs 10 ms besides
its query, times out after 30 s; the visibility timeout is 180 s (6 × the function timeout,
as AWS recommends); cold starts take 0.25 s (evsim's default).

Four questions, each run with common random numbers (one root seed, the same replication
indices, so every variant sees the same messages; 10 replications at full size):

1. **Concurrency against the connection limit** (``load.csv``): the event source's
   ``max_concurrency`` ∈ {2, 5, 10, 20, 40, 80} or none at all (the event source may then
   run up to 1,000 batches), and, as a separate axis, ``reserved_concurrency`` ∈ {5, 10, 20}
   on the function instead (AWS's documented pitfall: the event source does not know the
   reservation and its batches are throttled), at offered loads 0.5 – 2 × capacity for a
   120 s window, then a drain until every message is delivered or dead-lettered. Throughput
   is the rate of first successful processings inside the window; latency runs from a
   message's creation to its processing, so at overload it includes the drain of the
   backlog; utilisation is connection-seconds in service ÷ (20 × the time to the last
   processing). Paired differences: reserved R − max_concurrency R.
2. **A connection per call (a pool or RDS Proxy) or one per warm execution environment**
   (``connections.csv``): ``connection: per_call`` against ``per_environment`` with
   max_concurrency ∈ {10, 20, 30, 40, 80} at 0.8 and 1.25 × capacity: with one connection per
   environment an environment beyond the 20th is refused ("too many connections"), and keeps
   being refused while the others stay warm. Paired differences: per environment − per call.
3. **A client timeout shorter than the slowed-down service time** (``outage.csv``,
   ``outage_timeline.csv``): the database slows down 5-fold (a ``slow`` outage) for 120 s at
   0.5 × capacity, with client timeouts of 1, 2, 4 and 8 s (a query alone then takes 1 s, and
   5.75 s with 20 in service), max_concurrency 20 (= the connections) with and without SDK
   retries, and 10 (the knee) with them, against the same runs without the outage. Recovery
   is measured on the messages created from 60 s after the outage on (their latency, and the
   deliveries per second then); the timeline gives latency by creation time in 30 s bins.
4. **Where a pipeline's duplicates come from, and what an idempotent consumer buys**
   (``pipeline.csv``): SQS → A → SQS → B (queries the database) → SQS → C, 8 messages/s for
   150 s, batches of up to 10 (1 s window), A and B failing each message with probability r
   ∈ {0, 2%, 5%, 10%} *after* their side effects (A has sent, B has queried and sent), whole
   batch failures or partial batch responses (``report_batch_item_failures``), with and
   without ``idempotent`` consumers (an input processed successfully is skipped). Closed
   forms for partial batch responses without idempotency: duplicates at B and C and queries
   per message (:func:`experiments.database_protection_design.pipeline_theory`). Paired
   differences: idempotent − plain.

Writes ``load.csv``, ``connections.csv``, ``outage.csv``, ``outage_timeline.csv``,
``pipeline.csv`` and ``differences.csv`` (tidy: configuration columns, ``metric``, ``n``,
``mean``, ``std``, ``ci_low``, ``ci_high`` over replications, 95% t-intervals), six PNG charts,
``findings.md`` and ``manifest.json`` into ``results/database_protection/``, then the results
index. Same seed ⇒ the same files, byte for byte.

Usage, from the repository root: ``python -m experiments.database_protection [--quick]
[--out DIR] [--seed S] [--workers N] [--replications R] [--replot]``. The design is in
:mod:`experiments.database_protection_design` (per-run measures in
:mod:`experiments.database_protection_measures`), the charts in
:mod:`experiments.database_protection_charts`, the findings text in
:mod:`experiments.database_protection_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from experiments.database_protection_charts import (
    chart_concurrency,
    chart_connections,
    chart_database,
    chart_outage,
    chart_pipeline,
    chart_reserved,
)
from experiments.database_protection_design import FULL, QUICK, designs
from experiments.database_protection_findings import findings
from sim.study import Design, Options, Report, Run, Study, run_study, summary_rows


def outage_timeline(o: Options, ds: Sequence[Design[Any]], run: Run) -> Mapping[str, pd.DataFrame]:
    """The outage study's timeline: per 30 s bin, latency by creation and deliveries per s."""
    design = next(d for d in ds if d.name == "outage")
    rows: list[dict[str, Any]] = []
    for point in design.points:
        per_rep = [run.details[point][rep] for rep in run.reps[design.name]]
        for i, t in enumerate(per_rep[0]["t_s"]):
            measures = [{"latency_mean_s": float(df["latency_mean_s"].iloc[i]),
                         "delivered_per_s": float(df["delivered_per_s"].iloc[i])}
                        for df in per_rep]  # fmt: skip
            columns = {**(design.columns(point) or {}), "t_s": float(t)}
            rows += summary_rows(columns, measures, seed=run.seed)
    return {"outage_timeline": pd.DataFrame(rows)}


def report(rep: Report) -> str:
    """The six charts and the findings, from the CSV tables."""
    t = rep.tables
    grid = QUICK if rep.quick else FULL
    out = rep.out
    chart_database(t["load"], out / "database.png")
    chart_concurrency(t["load"], out / "concurrency.png", grid)
    chart_reserved(t["load"], out / "reserved.png", grid)
    chart_connections(t["connections"], out / "connections.png", grid)
    chart_outage(t["outage"], t["outage_timeline"], out / "outage.png", grid)
    chart_pipeline(t["pipeline"], out / "pipeline.png", grid)
    return findings(rep, grid)


STUDY = Study(
    "database_protection",
    "Protecting a database from a Lambda fleet: concurrency, connections, client timeouts "
    "and pipeline duplicates; writes results/database_protection/.",
    20260610,
    designs,
    report,
    extra_tables=outage_timeline,
    extra_table_names=("outage_timeline",),
    replications_help="replications per configuration (default: 10, --quick 2)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
