"""API uploads (DESIGN A7): throttling, SDK retries, bursts, timeouts and the payload limit.

Uploads go through API Gateway into S3 and on to processing. Clients upload objects with HTTP
requests to an API Gateway REST API whose integration is an S3 PutObject (the S3 proxy pattern);
each stored object raises an S3 event notification to an SQS standard queue drained by a Lambda
function, the processing step and the sink. The gateway answers 429 when its token bucket
(``rate_per_s`` tokens per second, at most ``burst``) is empty, 413 for a payload over 10 MB
(never retried) and 504 when the integration has not answered within 29 s (the integration goes
on). Three client behaviours, the AWS SDK's retry modes: ``none`` (``max_attempts: 1``),
``standard`` (3 attempts, full-jitter backoff from 1 s, cap 20 s, retrying 429, 5xx and
timeouts) and ``adaptive`` (standard plus the client-side CUBIC rate limiter that engages after
a 429; one limiter per SDK client).

The gateway is scaled down 200-fold from the account defaults (10,000 requests/s, burst 5,000)
to ``rate_per_s`` 50 and ``burst`` 100 so that runs stay small; only the ratios matter (offered
load λ/rate, burst/rate). The load comes from 20 clients (producers) of equal Poisson rate, so
that an adaptive client's limiter reacts to its own 429s only, as 20 independent SDK clients
would; without retries the superposition is one Poisson stream at λ.

Studies (every one with all three retry modes unless said otherwise; the same root seed and
producer names everywhere, so variants see the same uploads: common random numbers):

1. **load**: offered load λ/rate ∈ {0.5, 0.8, 0.95, 1, 1.1, 1.5, 2, 3}, 40 s of arrivals from
   a full bucket. Fluid approximation: the gateway accepts at most rate·T + burst requests in
   T seconds, so the success of no-retry and standard clients is ≈ min(1, (rate·T + burst)/(λ·T));
   with m attempts each throttled independently with probability θ, 1 − θ^m = success gives the
   throttled fraction θ and the requests per upload (1 − θ^m)/(1 − θ) (mean-field; labelled
   approximations in the ``theory_kind`` column).
2. **clients**: adaptive (and, at the extremes, standard) retries at 2× the rate with the load
   split over N ∈ {1, 5, 20, 100} SDK clients: each client's limiter reacts to its own 429s.
3. **bucket**: the token bucket against its exact stationary theory, no retries, bursts
   {1, 5, 20} × λ/rate ∈ {0.5 … 2}, the bucket as the sink, 30 s warm-up and 40 s measured.
   With Poisson arrivals the bucket's token deficit is the workload of an M/D/1 queue that
   admits an arrival only when the workload is ≤ burst − 1 service times;
   :func:`token_bucket_throttled` solves its stationary level-crossing equation numerically
   (PASTA: the throttled fraction of requests is the time fraction above burst − 1). Burst 1
   gives ρ/(1 + ρ) (Erlang B with one server).
4. **bursts**: a steady half-rate load plus two bursts of 1,000 uploads in 2 s (at 10 s and
   70 s of a 100-s run) against burst sizes {50, 200, 1000, 5000}. Fluid theory for no retry:
   a burst meets min(burst, refilled tokens) + rate·2 s tokens.
5. **timeout**: the integration is a Lambda function (synchronous invoke) running a lognormal
   time (σ 0.8, median 5, 10 or 20 s; no cold starts) behind the default 29 s integration
   timeout: a run longer than 29 s gives the client a 504 while the function finishes. With
   p = P(run > 29 s): 504s per request and client errors p (no retry) or p³ (3 attempts),
   duplicates per upload p + p², requests per upload 1 + p + p², and every upload is processed.
   Counted from the per-event trace (504s, client give-ups).
6. **payload**: object sizes lognormal (median 2 MB, σ 1): the share above 10 MiB is answered
   413 and lost in every mode (not retried); theory: the lognormal tail probability.

Assumed latencies (AWS publishes no distributions): PutObject lognormal median 50 ms (σ 0.5),
the processing function median 200 ms (σ 0.5, batch size 10), S3 notification delay evsim's
default (lognormal median 1 s, σ 1.5, an assumption: "seconds, sometimes a minute or longer").
End-to-end latency runs from the upload's
creation to the end of its first successful processing; producer latency is the time the client
spends per upload on requests, backoffs and adaptive waits.

Writes ``api_uploads.csv`` (tidy: one row per configuration and metric with n, mean, std, the
95% t-interval over replications, the theory where there is one and its kind),
``differences.csv`` (paired differences of each retry mode minus no retry), five PNG charts and
``findings.md`` into ``results/api_uploads/``, then the results index. Same seed ⇒ the same
files, byte for byte.

Usage, from the repository root: ``python -m experiments.api_uploads [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--only STUDY ...] [--replot]`` (``--replot``
redraws charts and findings from the CSVs). The design is in
:mod:`experiments.api_uploads_design`, the charts in :mod:`experiments.api_uploads_charts`, the
findings text in :mod:`experiments.api_uploads_findings`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from experiments.api_uploads_charts import (
    chart_bucket,
    chart_bursts,
    chart_clients,
    chart_load,
    chart_timeouts,
)
from experiments.api_uploads_design import FULL, QUICK, STUDIES, designs
from experiments.api_uploads_findings import findings
from sim.study import Report, Study, run_study


def report(rep: Report) -> str:
    """The charts of the studies present and the findings, from the two CSV tables."""
    grid = QUICK if rep.quick else FULL
    df, diff, out = rep.tables["api_uploads"], rep.tables["differences"], rep.out
    present = set(df["study"])
    n = {s: int(df.loc[df["study"] == s, "n"].max()) for s in present}
    if "load" in present:
        chart_load(df, out / "load.png", n["load"], grid.load_s)
    if "clients" in present:
        chart_clients(df, out / "clients.png", n["clients"], grid.load_s)
    if "bucket" in present:
        chart_bucket(df, out / "token_bucket.png", n["bucket"])
    if "bursts" in present:
        chart_bursts(df, out / "bursts.png", n["bursts"], grid.burst_run_s)
    if present & {"timeout", "payload"}:
        chart_timeouts(df, out / "timeouts.png", max(n.get("timeout", 0), n.get("payload", 0)))
    return findings(df, diff, out.name, rep.quick, rep.seed, grid)


def _only(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", nargs="+", choices=STUDIES, default=None, metavar="STUDY",
                   help=f"run only these studies ({', '.join(STUDIES)})")  # fmt: skip


STUDY = Study(
    "api_uploads",
    "Uploads through API Gateway into S3 and processing: throttling, SDK retries, bursts, "
    "timeouts (DESIGN A7); writes results/api_uploads/.",
    20260607,
    designs,
    report,
    replications_help="replications per configuration (default: per study, see Grid)",
    add_options=_only,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
