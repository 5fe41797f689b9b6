"""Fan-out to N SQS queues: sequential sends (option 1) vs one SNS publish (option 2), DESIGN A4.

A producer emits messages that must reach N SQS standard queues, each drained by its own Lambda
function (so every queue is an intended sink of every message).

* **Option 1, sequential fan-out.** The producer sends the message to ``q1``, ``q2``, ... ``qN``
  in turn (``send_to: [q1 .. qN]``) with the AWS SDK's standard retry (``retry.max_attempts``
  attempts per send, full-jitter backoff from 1 s, cap 20 s) and stops at the first send that
  still fails after its retries: the queues before it have the message, the others never get it.
* **Option 2, SNS fan-out.** The producer publishes once to an SNS standard topic (with the same
  SDK retry) to which the N queues are subscribed; SNS delivers to every queue with the
  AWS-managed retry policy (3 immediate retries, 2 at 1 s, 10 backing off to 20 s, then 100,000
  every 20 s: about 23 days).

Send failures: every SendMessage to a queue fails independently with probability q (the queue's
``errors.rate``), whether the producer or SNS sends it; in option 2 the Publish also fails with
probability q (the topic's ``errors.rate``). Swept: q ∈ {0.1%, 1%, 5%} × N ∈ {2, 3, 5, 10} ×
``max_attempts`` ∈ {1 (no SDK retries), 3 (the SDK default)} × option. A second study takes one
queue down for 5 minutes (N = 5, q = 1%, 3 attempts): in option 1 the first, the middle or the
last queue; in option 2 the middle one (SNS treats its subscriptions alike).

Closed forms (DESIGN §7), with q_m = q^m the probability that a send fails after m attempts
(:func:`sim.analysis.theory.sdk_send_failure`): option 1 P(all N) = (1 − q_m)^N
(:func:`sim.analysis.theory.sequential_fanout_all_delivered`), P(partial) = (1 − q_m) − (1 − q_m)^N,
P(none) = q_m; option 2 P(all) = 1 − q_m and P(partial) = 0, as SNS's 23-day schedule
outlasts any failure here.

Assumed latencies (AWS publishes no distributions; the same in both options): SendMessage
lognormal with median 15 ms (σ 0.5), Publish median 25 ms (σ 0.5); the consumer functions run
lognormal median 50 ms (σ 0.5), event source batch size 10, no batching window. Producer-side
latency (``producer_latency_mean_s``) is the time the producer spends per message on its sends
and retries; end-to-end latency runs from the message's creation to its processing by a
consumer, over every (message, queue) pair delivered.

Common random numbers: every variant uses the same root seed and replication indices; the
arrivals and SDK backoff draws are on the producer's streams and each queue's send failures on
that queue's own stream, so variants see the same messages. ``differences.csv`` holds the
paired differences option 2 − option 1, replication by replication.

Writes ``fanout.csv`` (tidy: one row per configuration and metric with n, mean, std, the 95%
t-interval over replications and the closed form where there is one), ``differences.csv``,
three PNG charts and ``findings.md`` into ``results/fanout/``, then the results index. Same
seed ⇒ the same files, byte for byte.

Usage, from the repository root: ``python -m experiments.fanout [--quick] [--out DIR] [--seed S]
[--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and findings from
the CSVs). The design is in :mod:`experiments.fanout_design`, the charts in
:mod:`experiments.fanout_charts`, the findings text in :mod:`experiments.fanout_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from experiments.fanout_charts import chart_delivery, chart_latency_cost, chart_outage
from experiments.fanout_design import FULL, QUICK, designs
from experiments.fanout_findings import findings
from sim.study import Report, Study, run_study


def report(rep: Report) -> str:
    """The three charts and the findings, from ``fanout.csv`` and ``differences.csv``."""
    grid = QUICK if rep.quick else FULL
    df, diff, out = rep.tables["fanout"], rep.tables["differences"], rep.out
    reps = int(df.loc[df["study"] == "sweep", "n"].max())
    outage_reps = int(df.loc[df["study"] == "outage", "n"].max())
    chart_delivery(df, out / "delivery.png", reps)
    chart_latency_cost(df, out / "latency_cost.png", reps)
    chart_outage(df, out / "outage.png", outage_reps, grid.outage_run_s, grid.outage_start_s)
    return findings(df, diff, out.name, rep.quick, rep.seed, reps, outage_reps,
                    grid.outage_run_s, grid.outage_start_s)  # fmt: skip


STUDY = Study(
    "fanout",
    "Fan-out to N SQS queues, sequential sends vs SNS (DESIGN A4); writes results/fanout/.",
    20260604,
    designs,
    report,
    replications_help="replications per configuration (default: 10 sweep / 4 outage, "
    "--quick 3 / 2)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
