"""S3 uploads routed by EventBridge rules: selectivity, target outages, replay, vs S3 notifications.

DESIGN A5. Uploads are put into the S3 bucket ``media`` with EventBridge enabled; the bus
``default`` routes the ``Object Created`` events with four rules, each to its own SQS standard
queue drained by its own Lambda function (batch size 1):

================  ====================================================  ==========  ===========
rule              pattern on ``detail.object``                          queue       consumer
================  ====================================================  ==========  ===========
``images``        ``key`` prefix ``img/``                               thumbs-q    thumbnailer
``large-objects`` ``size`` numeric range [1 MiB, 100 MiB)                transcode-q transcoder
``enterprise``    ``metadata.tenant`` = ``enterprise``                  audit-q     auditor
``not-csv``       ``key`` anything-but suffix ``.csv``                  index-q     indexer
================  ====================================================  ==========  ===========

Workload (one Poisson producer; the three attributes are drawn independently per upload): the
key is ``img/{id}.jpg``, ``docs/{id}.pdf`` or ``raw/{id}.csv`` with probabilities 0.5, 0.3, 0.2;
the object size is lognormal with median 256 KiB and σ = 1.5; the metadata attribute ``tenant``
is ``free``, ``pro`` or ``enterprise`` with probabilities 0.6, 0.3, 0.1. Every rule's matched
fraction therefore has a closed form (the ``theory`` column): 0.5; Φ(ln(100 MiB/m)/σ) −
Φ(ln(1 MiB/m)/σ) ≈ 0.178; 0.1; 0.8; and an upload matches no rule with probability
0.2 · (1 − p_large) · 0.9.

Three studies, each with common random numbers (the same root seed and replication indices, so
every variant of a study sees the same uploads, key by key):

1. **Routing** (``study = routing``): the four rules (variant ``eventbridge``) against the
   direct-notification design (variant ``s3-sns-fanout``): S3 rejects overlapping notification
   filters for one event type, and size, metadata and anything-but cannot be expressed as a
   prefix/suffix filter at all, so four consumers that need overlapping subsets of the uploads
   get one unfiltered notification to an SNS topic with the four queues subscribed, and each
   consumer filters in code (it receives every upload). Measured: fraction of uploads each
   consumer receives (EventBridge: vs the closed forms), the useful fraction of what it receives
   (precision), invocations, duplicates, end-to-end latency, cost per million uploads.
2. **Outage** (``study = outage``): ``thumbs-q`` is ``unavailable`` from t = 0 for 10 min, 1 h,
   6 h, 22 h, 23 h, 25 h or 48 h while uploads arrive for the first 10 minutes; the rule's target
   has the default retry policy (24 h, 185 retries), without and with a target DLQ
   (``thumbs-dlq``). Measured: the thumbnailer's pairs delivered / dead-lettered / lost and the
   delay of the delivered ones. Closed form: retry i waits d_i/2 + U(0, d_i/2) with d_i =
   min(2^(i−1), 600) s, so the 185 retries span S with mean 0.75 Σ d_i ≈ 22.1 h and standard
   deviation √(Σ d_i²/48) ≈ 0.32 h (normal approximation; the 24 h maximum age never binds with
   these defaults); an upload arriving a seconds into an outage of D seconds is delivered iff
   S ≥ D − a, averaged over a uniform on the arrival window.
3. **Replay** (``study = replay``): the bus keeps an archive (every event, indefinitely); after
   outages of 6 h, 23 h and 48 h (no DLQ) a replay of the outage window [0, D) starts 10 minutes
   after the outage ends (AWS's advice for the archive lag). Variants: ``no-replay`` (and no
   archive), ``replay-all-rules`` (every rule takes replayed events) and
   ``replay-images-only`` (the three healthy rules carry ``"replay-name": [{"exists":
   false}]``). Measured: the lost pairs recovered, duplicates at targets that had processed the
   events already, events replayed and the cost of archive plus replay.

Assumptions (AWS publishes no distributions): S3's event delay lognormal, median 1 s, σ 1
(evsim's default, the same for notifications and for EventBridge); EventBridge bus latency
lognormal, median 40 ms, σ 0.5 (p90 ≈ 76 ms, close to the ~80 ms p90 an AWS blog reports);
consumers run lognormal median 100 ms, σ 0.5, 128 MB. In the routing study S3 duplicates an
event with probability 0.001 and EventBridge duplicates a target delivery with probability
0.001 (AWS: at-least-once, no rate published); the outage and replay studies have no
duplicates, so every duplicate there comes from the replay. EventBridge's retry backoff base
(1 s) and cap (600 s) are evsim's unconfirmed defaults.

Writes ``s3_eventbridge.csv`` (tidy: one row per configuration, sink and metric with n, mean,
std, the 95% t-interval over replications and the closed form where there is one),
``differences.csv`` (paired differences between variants), three PNG charts and ``findings.md``
into ``results/s3_eventbridge/``, then the results index. Same seed ⇒ the same files.

Usage, from the repository root: ``python -m experiments.s3_eventbridge [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs). The design is in :mod:`experiments.s3_eventbridge_design`, the
charts in :mod:`experiments.s3_eventbridge_charts`, the findings text in
:mod:`experiments.s3_eventbridge_findings`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from experiments.s3_eventbridge_charts import chart_outage, chart_replay, chart_routing
from experiments.s3_eventbridge_design import (
    DEFAULT_SEED,
    EVENTBRIDGE,
    LEVEL,
    OUTAGE_RULE,
    RULES,
    STUDIES,
    TABLE,
    Case,
    matched_per_upload,
)
from experiments.s3_eventbridge_findings import findings
from experiments.s3_eventbridge_measures import by_sink, columns, designs
from sim.study import Design, Options, Report, Run, Study, difference_rows, run_study, summary_rows

PerSink = dict[str, dict[str, float]]


def differences(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """The paired differences between variants (``differences.csv``), with closed forms.

    Routing: the fan-out against EventBridge. Replay: each replay variant against no replay at
    the same outage, with two paired ratios besides the differences: the fraction of the lost
    pairs the replay recovered, and the replay's cost per million replayed events.
    """
    measures = {p: [by_sink(d) for d in ms] for p, ms in run.measures.items()}
    rows: list[dict[str, Any]] = []

    def paired(c: Case, base: Case, sink: str, metric: str, th: float = math.nan,
               fn: Callable[[PerSink, PerSink], float] | None = None) -> None:  # fmt: skip
        cols = {**columns(c), "sink": sink}
        if fn is None:
            rows.extend({**row, "theory": th, "seed": o.seed} for row in difference_rows(
                cols, [b[sink] for b in measures[base]], [v[sink] for v in measures[c]],
                run.reps[c.study], [metric], level=LEVEL))  # fmt: skip
            return
        values = [{metric: fn(b, v)} for b, v in zip(measures[base], measures[c], strict=True)]
        rows.extend(summary_rows(cols, values, level=LEVEL, theory={metric: th},
                                 seed=o.seed))  # fmt: skip

    fan = Case("routing", "s3-sns-fanout")
    paired(fan, EVENTBRIDGE, "*", "invocations_per_upload", len(RULES) - matched_per_upload())
    for metric in ("latency_p50_s", "latency_p99_s", "cost_per_million_usd",
                   "duplicates_per_million_uploads"):
        paired(fan, EVENTBRIDGE, "*", metric)
    sink = OUTAGE_RULE.function
    for c in next(d for d in designs if d.name == "replay").points:
        if c.variant == "no-replay":
            continue
        base = c._replace(variant="no-replay")
        paired(c, base, sink, "delivered_fraction")
        paired(c, base, sink, "recovered_fraction_of_lost", 1.0, lambda b, v: (
            (v[sink]["delivered_fraction"] - b[sink]["delivered_fraction"])
            / b[sink]["lost_fraction"] if b[sink]["lost_fraction"] > 0 else math.nan))
        paired(c, base, "*", "cost_per_million_usd")
        paired(c, base, "*", "replay_cost_per_million_replayed_usd", fn=lambda b, v: (
            (v["*"]["cost_usd"] - b["*"]["cost_usd"])
            / (v["*"]["events_replayed_per_upload"] * v["*"]["uploads"]) * 1e6))
    return {"differences": pd.DataFrame(rows)}


def report(rep: Report) -> str:
    """The three charts and the findings, from ``s3_eventbridge.csv`` and ``differences.csv``."""
    df, diff, out = rep.tables[TABLE], rep.tables["differences"], rep.out
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in STUDIES}
    chart_routing(df, out / "routing.png", reps["routing"])
    chart_outage(df, out / "outage.png", reps["outage"])
    chart_replay(df, out / "replay.png", reps["replay"])
    return findings(df, diff, out.name, rep.quick, rep.seed)


STUDY = Study(
    "s3_eventbridge",
    "S3 → EventBridge rules, target outages, archive replay and direct S3 notifications "
    "(DESIGN A5); writes results/s3_eventbridge/.",
    DEFAULT_SEED,
    designs,
    report,
    extra_tables=differences,
    extra_table_names=("differences",),
    quick_help="small grid, short runs (for tests)",
    replications_help="replications per configuration (default: routing 10, outage 10, "
    "replay 5; --quick 3, 3, 2)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
