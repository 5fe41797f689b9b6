"""FIFO ordering (DESIGN A2): what strict per-group order costs, SQS standard vs FIFO → Lambda.

Four studies, every variant of a study run with common random numbers (the same root seed and
replication indices, unchanged producers: the same messages, message by message):

1. **Ordering and duplicates** — ordering violations and duplicate processings per 10,000
   produced messages, standard queue (``duplicate_rate`` 0.001, ``reorder_rate`` 0.01) vs FIFO
   queue (deduplication ids), 10 message groups, batch size 10, up to 10 concurrent batches,
   partial batch responses, a producer that re-sends 0.1% of its messages 1 s later (same
   deduplication id), and a transient function error rate of 0, 0.1% or 1%.
2. **Message groups** — delivered throughput and p99 latency against the number of groups
   (1 … 1,000) at 50 msg/s with batch size 1 and 0.1 s per invocation: one group can carry
   at most ~10 msg/s (one batch in flight per group), so the group count caps the concurrency.
   The standard queue is the reference (groups only label its messages).
3. **Head-of-line blocking** — one poison message in a known group of a FIFO queue; how long
   the group stalls with a DLQ (theory: ``max_receive_count`` × visibility timeout) and
   without one (until retention: 600 s here, instead of the default 4 days, to keep the runs
   short), measured from a per-event trace (``run_once(..., trace=True)``).
4. **FIFO throughput limit** — offered load above 300 SendMessage calls/s: throttled sends,
   SDK retries (3 attempts, full-jitter backoff), messages lost after the retries, producer
   time per message, delivered throughput against offered load.

How exactly one poison message is made (study 3). A message is poison when its workload draw
``poison_u`` (one uniform per message on the producer's ``poison`` stream) is below the
function's ``poison_rate``. Each group is its own producer (``groups: 1``) sending one message
every ``period`` seconds at a fixed phase (bursts spread evenly), so every message's group and
index follow from its send time in the trace, and each producer sends a known number of
messages. Before a replication runs, the script reads the producers' ``poison`` streams from
``RandomStreams(seed, rep)`` and sets ``poison_rate`` halfway between the smallest and the
second smallest draw of the whole run: exactly one message, the one with the smallest draw, is
poison. Replications whose poison message would land too early or too late to observe the whole
stall are skipped (a search over replication indices: it conditions on the poison's position,
nothing else). After the run the trace must show failures of that one message only, in the
planned group at the planned time; otherwise the script stops with an error.

Writes into ``--out`` (default ``results/fifo_ordering/``): ``ordering.csv``, ``groups.csv``,
``head_of_line.csv``, ``head_of_line_timeline.csv``, ``throughput_limit.csv`` (tidy: one row per
variant and metric with n, mean, std and the 95% t-interval), four PNG charts, ``findings.md``
(numbers read back from the CSVs), then ``results/README.md``. Same seed ⇒ same bytes.

Usage, from the repository root: ``python -m experiments.fifo_ordering [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs), or ``evsim experiments fifo_ordering [--quick]``. The design is in
:mod:`experiments.fifo_ordering_design` (the head-of-line sub-study's poison plans and trace
measure in :mod:`experiments.fifo_ordering_poison`), the charts in
:mod:`experiments.fifo_ordering_charts`, the findings text in
:mod:`experiments.fifo_ordering_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from experiments.fifo_ordering_charts import groups_chart, hol_chart, limit_chart, ordering_chart
from experiments.fifo_ordering_design import designs, setup_of, timeline
from experiments.fifo_ordering_findings import findings
from sim.study import Report, Study, run_study


def report(rep: Report) -> str:
    """The four charts and the findings, from the five CSV tables."""
    setup, t, out = setup_of(rep.options), rep.tables, rep.out
    ordering_chart(t["ordering"], setup, out / "ordering.png")
    groups_chart(t["groups"], setup, out / "groups.png")
    hol_chart(t["head_of_line"], t["head_of_line_timeline"], setup, out / "head_of_line.png")
    limit_chart(t["throughput_limit"], setup, out / "throughput_limit.png")
    return findings(dict(t), setup, out.name, rep.quick, rep.seed)


STUDY = Study(
    "fifo_ordering",
    "SQS standard vs FIFO → Lambda (DESIGN A2); writes results/fifo_ordering/.",
    20260402,
    designs,
    report,
    extra_tables=timeline,
    extra_table_names=("head_of_line_timeline",),
    float_format="%.10g",
    quick_help="shorter runs, fewer replications",
    replications_help="replications per variant of every study (default: the study's)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the four studies (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
