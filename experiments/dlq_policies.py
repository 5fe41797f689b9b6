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
DLQ's depth, see :func:`experiments.dlq_policies_design.dlq_contents`), tidy: one row per
configuration and metric with n, mean, std and the 95% t-interval over replications; four
PNG charts and ``findings.md`` into ``results/dlq_policies/``, then the results index. Same
seed ⇒ the same files, byte for byte.

Usage, from the repository root: ``python -m experiments.dlq_policies [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs). The design is in :mod:`experiments.dlq_policies_design`, the charts in
:mod:`experiments.dlq_policies_charts`, the findings text in
:mod:`experiments.dlq_policies_findings`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from experiments.dlq_policies_charts import (
    chart_batch_failures,
    chart_good_lost,
    chart_poison,
    chart_visibility,
)
from experiments.dlq_policies_design import designs, dlq_contents
from experiments.dlq_policies_findings import findings
from sim.study import Report, Study, run_study


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
