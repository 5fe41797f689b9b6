"""Uploads through API Gateway into S3 and on to processing: throttling, SDK retries, bursts,
timeouts and the payload limit, DESIGN A7.

Clients upload objects with HTTP requests to an API Gateway REST API whose integration is an S3
PutObject (the S3 proxy pattern); each stored object raises an S3 event notification to an SQS
standard queue drained by a Lambda function, the processing step and the sink. The gateway
answers 429 when its token bucket (``rate_per_s`` tokens per second, at most ``burst``) is
empty, 413 for a payload over 10 MB (never retried) and 504 when the integration has not answered
within 29 s (the integration goes on). Three client behaviours, the AWS SDK's retry modes:
``none`` (``max_attempts: 1``), ``standard`` (3 attempts, full-jitter backoff from 1 s, cap
20 s, retrying 429, 5xx and timeouts) and ``adaptive`` (standard plus the client-side CUBIC rate
limiter that engages after a 429; one limiter per SDK client).

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
default (lognormal median 1 s, σ 1, unconfirmed). End-to-end latency runs from the upload's
creation to the end of its first successful processing; producer latency is the time the client
spends per upload on requests, backoffs and adaptive waits.

Writes ``api_uploads.csv`` (tidy: one row per configuration and metric with n, mean, std, the
95% t-interval over replications, the theory where there is one and its kind),
``differences.csv`` (paired differences of each retry mode minus no retry), five PNG charts and
``findings.md`` into ``results/api_uploads/``, then the results index. Same seed ⇒ the same
files, byte for byte.

Usage: ``python experiments/api_uploads.py [--quick] [--out DIR] [--seed S] [--workers N]
[--replications R] [--only STUDY ...] [--replot]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import norm

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, Report, Study, mean_ci, percent_ci, points_ci, run_study
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import run_metric as _m
from sim.study import select as _select
from sim.study import summary_row as _row

# The findings' intervals: a metric equal in every replication reads as its mean (percentages:
# "... in every replication").
_ci = partial(mean_ci, constant="mean")
_pct = partial(percent_ci, constant="every")
_pp = partial(points_ci, constant="mean")

RATE_PER_S = 50.0
BURST = 100
CLIENTS = 20
ATTEMPTS = 3
MODES = ("none", "standard", "adaptive")
PUT_MEDIAN_S = 0.05
FUNCTION_MEDIAN_S = 0.2
SIGMA = 0.5
BATCH_SIZE = 10
DRAIN_S = 3600.0  # adaptive clients queue uploads; long enough that every run ends resolved
LOADS = (0.5, 0.8, 0.95, 1.0, 1.1, 1.5, 2.0, 3.0)
# bucket study
BUCKET_SIZES = (1, 5, 20)
WARMUP_S = 30.0
# bursts study
STEADY_LOAD = 0.5
BURST_COUNT = 1000
BURST_SPREAD_S = 2.0
BURST_TIMES = (10.0, 70.0)
BURST_SIZES = (50, 200, 1000, 5000)
# timeout study
TIMEOUT_RATE_PER_S = 5.0
API_TIMEOUT_S = 29.0
FUNCTION_SIGMA = 0.8
FUNCTION_MEDIANS = (5.0, 10.0, 20.0)
# payload study
PAYLOAD_RATE_PER_S = 20.0
SIZE_MEDIAN_BYTES = 2_000_000
SIZE_SIGMA = 1.0
MAX_PAYLOAD_BYTES = 10_485_760
# clients study
CLIENTS_LOAD = 2.0
CLIENT_COUNTS = (1, 5, 20, 100)
STUDIES = ("load", "clients", "bucket", "bursts", "timeout", "payload")


class Grid(NamedTuple):
    """The configurations, run lengths and replications of one invocation of the script."""

    loads: tuple[float, ...]
    load_s: float
    load_reps: int
    bucket_sizes: tuple[int, ...]
    bucket_loads: tuple[float, ...]
    bucket_window_s: float
    bucket_reps: int
    burst_sizes: tuple[int, ...]
    burst_run_s: float
    burst_reps: int
    function_medians: tuple[float, ...]
    timeout_run_s: float
    timeout_reps: int
    payload_run_s: float
    payload_reps: int
    client_counts: tuple[int, ...]
    clients_reps: int


FULL = Grid(LOADS, 40.0, 5, BUCKET_SIZES, LOADS[:-1], 40.0, 6, BURST_SIZES, 100.0, 4,
            FUNCTION_MEDIANS, 240.0, 6, 120.0, 6, CLIENT_COUNTS, 4)  # fmt: skip
QUICK = Grid((0.8, 2.0), 30.0, 3, (1, 5), (0.8, 2.0), 30.0, 6, (200,), 100.0, 2,
             (10.0,), 120.0, 3, 60.0, 3, (1, 100), 2)  # fmt: skip


# --------------------------------------------------------------------------- scenarios


def _lognormal(median: float, sigma: float = SIGMA) -> dict[str, Any]:
    return {"lognormal": {"median": median, "sigma": sigma}}


def _retry(mode: str) -> dict[str, Any]:
    if mode == "none":
        return {"max_attempts": 1}
    return {"max_attempts": ATTEMPTS, "mode": mode}


class Point(NamedTuple):
    """One configuration of one study (NaN where a parameter does not apply)."""

    study: str
    mode: str
    load: float = math.nan  # offered load λ / rate
    burst: int = BURST
    function_median_s: float = math.nan
    clients: int = CLIENTS

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} mode={self.mode} load={self.load:g} burst={self.burst} "
                f"median={self.function_median_s:g} clients={self.clients}")  # fmt: skip


def _clients(total_per_s: float, mode: str, n: int = CLIENTS, **extra: Any) -> dict[str, Any]:
    """``n`` producers of equal Poisson rate sending to the API (one SDK client each)."""
    return {
        f"client{i + 1:03d}": {"type": "producer", "rate_per_s": total_per_s / n,
                               "send_to": ["api"], "retry": _retry(mode),
                               **{k: (v(i) if callable(v) else v) for k, v in extra.items()}}
        for i in range(n)
    }  # fmt: skip


def _processing(sink_only: bool = False) -> dict[str, Any]:
    """The S3 bucket and, unless ``sink_only``, its notifications to SQS and the function."""
    uploads: dict[str, Any] = {"type": "s3_bucket", "latency_s": _lognormal(PUT_MEDIAN_S)}
    if sink_only:
        return {"uploads": uploads}
    uploads["notifications"] = [{"target": "jobs"}]
    return {
        "uploads": uploads,
        "jobs": {"type": "sqs_queue"},
        "process": {"type": "lambda_function",
                    "trigger": {"source": "jobs", "batch_size": BATCH_SIZE},
                    "duration_s": _lognormal(FUNCTION_MEDIAN_S)},
    }  # fmt: skip


def _api(integration: str, burst: int = BURST) -> dict[str, Any]:
    return {"type": "api_gateway", "integration": integration, "rate_per_s": RATE_PER_S,
            "burst": burst, "timeout_s": API_TIMEOUT_S}  # fmt: skip


def _burst_arrivals(i: int) -> dict[str, Any]:
    """Client ``i``'s share of each burst, offset so that the bursts' uploads are evenly spaced."""
    count = BURST_COUNT // CLIENTS
    offset = i * BURST_SPREAD_S / BURST_COUNT
    return {"bursts": [{"at_s": t + offset, "count": count, "spread_s": BURST_SPREAD_S}
                       for t in BURST_TIMES]}  # fmt: skip


def scenario(p: Point, grid: Grid, seed: int) -> Scenario:
    """The scenario of point ``p`` (the same client names in every variant)."""
    comps: dict[str, Any]
    warmup = 0.0
    if p.study in ("load", "clients"):
        comps = {**_clients(p.load * RATE_PER_S, p.mode, p.clients), "api": _api("uploads"),
                 **_processing()}  # fmt: skip
        duration = grid.load_s
    elif p.study == "bucket":
        comps = {**_clients(p.load * RATE_PER_S, p.mode), "api": _api("uploads", p.burst),
                 **_processing(sink_only=True)}  # fmt: skip
        warmup = WARMUP_S
        duration = WARMUP_S + grid.bucket_window_s
    elif p.study == "bursts":
        comps = {**_clients(STEADY_LOAD * RATE_PER_S, p.mode, arrivals=_burst_arrivals),
                 "api": _api("uploads", p.burst), **_processing()}  # fmt: skip
        duration = grid.burst_run_s
    elif p.study == "timeout":
        comps = {**_clients(TIMEOUT_RATE_PER_S, p.mode), "api": _api("convert"),
                 "convert": {"type": "lambda_function",
                             "duration_s": _lognormal(p.function_median_s, FUNCTION_SIGMA),
                             "timeout_s": 900, "cold_start": {"duration_s": 0}}}  # fmt: skip
        duration = grid.timeout_run_s
    elif p.study == "payload":
        size = {"size_bytes": _lognormal(SIZE_MEDIAN_BYTES, SIZE_SIGMA)}
        comps = {**_clients(PAYLOAD_RATE_PER_S, p.mode, attributes=size), "api": _api("uploads"),
                 **_processing()}  # fmt: skip
        duration = grid.payload_run_s
    else:
        raise ValueError(f"unknown study {p.study!r}")
    return scenario_from_dict({
        "name": p.name, "seed": seed, "duration_s": duration, "warmup_s": warmup,
        "drain_s": DRAIN_S, "components": comps,
    })  # fmt: skip


def points(grid: Grid, study: str) -> list[Point]:
    """The configurations of ``study``."""
    if study == "load":
        return [Point("load", m, x) for x in grid.loads for m in MODES]
    if study == "bucket":
        return [Point("bucket", "none", x, b) for b in grid.bucket_sizes for x in grid.bucket_loads]
    if study == "bursts":
        return [Point("bursts", m, STEADY_LOAD, b) for b in grid.burst_sizes for m in MODES]
    if study == "timeout":
        return [Point("timeout", m, TIMEOUT_RATE_PER_S / RATE_PER_S, BURST, d)
                for d in grid.function_medians for m in MODES]  # fmt: skip
    if study == "payload":
        return [Point("payload", m, PAYLOAD_RATE_PER_S / RATE_PER_S) for m in MODES]
    if study == "clients":
        ks = grid.client_counts  # standard retries do not depend on N: only the extremes
        return [Point("clients", m, CLIENTS_LOAD, clients=k) for k in ks
                for m in ("standard", "adaptive") if m == "adaptive" or k in (ks[0], ks[-1])]
    raise ValueError(f"unknown study {study!r}")


# --------------------------------------------------------------------------- theory


def token_bucket_throttled(load: float, burst: int, cells_per_token: int = 200) -> float:
    """Stationary fraction of Poisson requests a token bucket throttles (no retries).

    The bucket's deficit (``burst`` − tokens), in units of 1/rate seconds, is the workload of an
    M/D/1 queue with unit service whose arrivals (rate ``load`` = λ/rate per unit time) are
    admitted only when the workload is ≤ ``burst`` − 1. The stationary density f on
    (0, burst] with atom P0 at 0 solves the level-crossing equation
    f(x) = load · [P0·1{x ≤ 1} + ∫ f(y) dy over max(0, x − 1) < y ≤ min(x, burst − 1)],
    here on cells of width 1/``cells_per_token`` (midpoint rule, second order; the jumps at
    integers fall on cell edges), and the throttled fraction is P(workload > burst − 1) (PASTA).

    Args:
        load: Offered load λ/rate (any positive value: the bounded workload is always stable).
        burst: Bucket capacity in tokens (≥ 1).
        cells_per_token: Grid resolution.

    Returns:
        The long-run throttled fraction of requests.
    """
    a, n, b = float(load), int(cells_per_token), int(burst)
    h = 1.0 / n
    limit = (b - 1) * n  # cells at or below the admission threshold burst − 1
    f = [0.0] * (b * n)
    p0 = 1.0  # unnormalised; the equation is linear
    window = 0.0  # sum of f over the n − 1 cells before the current one
    implicit = 1.0 - a * h / 2.0
    for i in range(b * n):
        atom = p0 if (i + 0.5) * h <= 1.0 else 0.0
        first = f[i - n] if i >= n else 0.0
        if i < limit:
            v = a * (atom + h * (first / 2.0 + window)) / implicit
        else:  # above the threshold: only arrivals at admitted levels cross upwards
            lo = max(i - n + 1, 0)
            admitted = math.fsum(f[lo:limit]) + (first / 2.0 if i - n < limit else 0.0)
            v = a * (atom + h * admitted)
        f[i] = v
        window += v
        if i - n + 1 >= 0:
            window -= f[i - n + 1]
        if v > 1e150:  # rescale (overload grows the unnormalised solution exponentially)
            f[: i + 1] = [x * 1e-150 for x in f[: i + 1]]
            p0 *= 1e-150
            window *= 1e-150
    mass = p0 + h * math.fsum(f)
    return max(0.0, h * math.fsum(f[limit:]) / mass)


def fluid_success(load: float, burst: int, window_s: float) -> float:
    """Fluid approximation of the accepted fraction over ``window_s`` from a full bucket."""
    return min(1.0, (RATE_PER_S * window_s + burst) / (load * RATE_PER_S * window_s))


def burst_fluid_throttled(burst: int, run_s: float) -> float:
    """Fluid approximation of the throttled fraction of the bursts study (no retries)."""
    steady = STEADY_LOAD * RATE_PER_S
    tokens, t, throttled = float(burst), 0.0, 0.0
    for at in BURST_TIMES:
        tokens = min(float(burst), tokens + (RATE_PER_S - steady) * (at - t))
        demand = BURST_COUNT + steady * BURST_SPREAD_S
        supply = tokens + RATE_PER_S * BURST_SPREAD_S
        throttled += max(0.0, demand - supply)
        tokens = min(float(burst), max(0.0, supply - demand))
        t = at + BURST_SPREAD_S
    return throttled / (steady * run_s + BURST_COUNT * len(BURST_TIMES))


def timeout_probability(median_s: float) -> float:
    """P(a lognormal(median, FUNCTION_SIGMA) run outlasts the 29 s integration timeout)."""
    return float(norm.sf(math.log(API_TIMEOUT_S / median_s) / FUNCTION_SIGMA))


def payload_too_large_probability() -> float:
    """P(a lognormal(SIZE_MEDIAN_BYTES, SIZE_SIGMA) object rounds to more than 10 MiB)."""
    return float(norm.sf(math.log((MAX_PAYLOAD_BYTES + 0.5) / SIZE_MEDIAN_BYTES) / SIZE_SIGMA))


def _throttled(th: float, kind: str) -> dict[str, tuple[float, str]]:
    """The theory of a point without retries whose requests are throttled with probability th."""
    return {"throttled_fraction": (th, kind), "success_fraction": (1.0 - th, kind),
            "lost_fraction": (th, kind), "requests_per_upload": (1.0, "exact")}  # fmt: skip


def theory(p: Point, grid: Grid) -> dict[str, tuple[float, str]]:
    """The theory of point ``p``: metric -> (value, kind)."""
    m = 1 if p.mode == "none" else ATTEMPTS
    if p.study == "bucket":
        th = token_bucket_throttled(p.load, p.burst)
        return _throttled(th, "exact (stationary M/D/1 with bounded workload)")
    if p.study == "load" and p.mode != "adaptive":
        s = fluid_success(p.load, p.burst, grid.load_s)
        theta = (1.0 - s) ** (1.0 / m)
        kind = "approx (fluid: rate·T + burst accepted)"
        out = {"success_fraction": (s, kind), "lost_fraction": (1.0 - s, kind)}
        if m == 1:
            out |= {"throttled_fraction": (theta, kind), "requests_per_upload": (1.0, "exact")}
        else:
            kind = "approx (fluid, independent attempts)"
            req = (1.0 - theta**m) / (1.0 - theta) if theta < 1.0 else float(m)
            out |= {"throttled_fraction": (theta, kind), "requests_per_upload": (req, kind)}
        return out
    if p.study == "bursts" and p.mode == "none":
        return _throttled(burst_fluid_throttled(p.burst, grid.burst_run_s), "approx (fluid bursts)")
    if p.study == "timeout":
        q = timeout_probability(p.function_median_s)
        kind = "exact (lognormal tail, independent attempts)"
        return {
            "timeout_fraction": (sum(q**j for j in range(1, m + 1))
                                 / sum(q**j for j in range(m)), kind),
            "client_error_fraction": (q**m, kind),
            "duplicates_per_upload": (sum(q**j for j in range(1, m)), kind),
            "requests_per_upload": (sum(q**j for j in range(m)), kind),
            "success_fraction": (1.0, "exact"),
        }  # fmt: skip
    if p.study == "payload":
        q = payload_too_large_probability()
        kind = "exact (lognormal tail)"
        return {
            "lost_fraction": (q, kind),
            "success_fraction": (1.0 - q, kind),
            "client_error_fraction": (q, kind),
            "requests_per_upload": (1.0, "exact"),
        }
    return {}


#: The closed-form columns of ``api_uploads.csv`` and their value where a metric has none.
THEORY_COLUMNS = {"theory": math.nan, "theory_kind": ""}


def closed_forms(p: Point, grid: Grid) -> dict[str, dict[str, Any]]:
    """The theory of point ``p`` as the table's ``theory`` and ``theory_kind`` columns."""
    return {k: {"theory": v, "theory_kind": kind} for k, (v, kind) in theory(p, grid).items()}


# --------------------------------------------------------------------------- design


def measure(p: Point, r: RunResult) -> dict[str, float]:
    """The reported quantities of one replication (in its worker; the timeout study's traced).

    Raises:
        RuntimeError: if an upload is still in flight at the end of the run.
    """
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{p.name} rep {r.rep}: uploads still in flight")
    uploads = _m(r, "messages_produced")
    requests = _m(r, "api_requests")
    out = {
        "uploads": uploads,
        "success_fraction": _m(r, "delivered_fraction"),
        "lost_fraction": _m(r, "lost") / _m(r, "deliveries_expected"),
        "throttled_fraction": _m(r, "api_throttled") / requests,
        "requests_per_upload": requests / uploads,
        "duplicates_per_upload": _m(r, "duplicates") / uploads,
        "producer_latency_mean_s": _m(r, "producer_latency_mean_s"),
        "latency_p50_s": _m(r, "latency_p50_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
        "in_flight": _m(r, "in_flight"),
    }
    tr = r.trace
    if tr is not None:  # traced runs (timeout study): count the 504s and client give-ups
        component = tr["component"].astype(str)
        timeouts = int(((component == "api") & (tr["event"] == "timeout")).sum())
        give_ups = int((component.str.startswith("client") & (tr["event"] == "gave_up")).sum())
        out["timeout_fraction"] = timeouts / requests
        out["client_error_fraction"] = give_ups / uploads
    else:  # without 504s a client gives up exactly when its upload is lost
        out["client_error_fraction"] = out["lost_fraction"]
    return out


KEYS = ("study", "retry_mode", "load", "burst", "function_median_s", "clients")
DIFF_METRICS = ("success_fraction", "throttled_fraction", "requests_per_upload",
                "duplicates_per_upload", "producer_latency_mean_s", "latency_p99_s")  # fmt: skip


def _keys(p: Point) -> dict[str, Any]:
    values = (p.study, p.mode, p.load, p.burst, p.function_median_s, p.clients)
    return dict(zip(KEYS, values, strict=True))



def designs(o: Options) -> list[Design[Point]]:
    """One design per study (``--only`` selects them), each retry mode paired with no retry."""
    grid = QUICK if o.quick else FULL
    only = getattr(o.args, "only", None)
    reps = {"load": grid.load_reps, "bucket": grid.bucket_reps, "bursts": grid.burst_reps,
            "timeout": grid.timeout_reps, "payload": grid.payload_reps,
            "clients": grid.clients_reps}  # fmt: skip
    return [
        Design(study, points(grid, study), lambda p: scenario(p, grid, o.seed), measure,
               reps[study], "api_uploads", _keys, trace=study == "timeout",
               closed_forms=lambda p: closed_forms(p, grid), theory_columns=THEORY_COLUMNS,
               baseline=lambda p: p._replace(mode="none") if p.mode != "none" else None,
               difference_metrics=DIFF_METRICS,
               difference_columns=lambda p: {**_keys(p), "baseline": "none"})
        for study in STUDIES
        if only is None or study in only
    ]  # fmt: skip



# --------------------------------------------------------------------------- charts

MODE_LABELS = {
    "none": "no retry (1 attempt)",
    "standard": "SDK standard retry (3 attempts)",
    "adaptive": "SDK adaptive retry (3 attempts + client rate limiter)",
}
MODE_COLORS = {"none": "tab:red", "standard": "tab:blue", "adaptive": "tab:green"}
MODE_STYLE = {"none": ("-", "o"), "standard": ("--", "s"), "adaptive": ("-.", "D")}
SETUP = (f"API Gateway rate {RATE_PER_S:g} req/s, burst {BURST} (scaled down from 10,000/5,000); "
         f"{CLIENTS} Poisson clients; S3 PutObject median {PUT_MEDIAN_S * 1e3:g} ms → S3 "
         f"notification → SQS → Lambda (median {FUNCTION_MEDIAN_S * 1e3:g} ms)")  # fmt: skip


def _categories(values: Sequence[float]) -> dict[object, float]:
    """Evenly spaced positions 0, 1, ... for the sorted distinct ``values``."""
    return {v: float(i) for i, v in enumerate(sorted(set(values)))}


def _category_axis(ax: Any, pos: dict[object, float], labels: Sequence[str], name: str) -> None:
    ax.set_xticks(list(pos.values()), list(labels), fontsize=8)
    ax.set_xlim(-0.5, len(pos) - 0.5)
    ax.set_xlabel(name)


def _plain_log(ax: Any, symlog_below: float | None = None) -> None:
    """A log (or symlog) y axis with plain tick labels (0.1, 1, 10 rather than 10^k)."""
    if symlog_below is None:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    else:
        ax.set_yscale("symlog", linthresh=symlog_below)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _offset(mode: str, spread: float) -> float:
    return (MODES.index(mode) - 1) * spread


def _mode_lines(
    df: pd.DataFrame, ax: Any, x: str, pos: dict[object, float], spread: float, scale: float = 1.0
) -> None:
    """One CI line per retry mode against column ``x`` at ``pos``, offset sideways."""
    for col in ("mean", "ci_low", "ci_high"):
        df[col] = df[col] * scale
    for mode in MODES:
        ls, marker = MODE_STYLE[mode]
        dx = _offset(mode, spread)
        at = {v: p + dx for v, p in pos.items()}
        ci_lines(df, ax, x, "retry_mode", {mode: MODE_LABELS[mode]}, MODE_COLORS, at, ls,
                 marker)  # fmt: skip


def _theory_marks(
    ax: Any, df: pd.DataFrame, x: str, mode: str, label: str, pos: dict[object, float],
    spread: float,
) -> None:  # fmt: skip
    """The theory of ``mode``'s rows as dotted crosses next to its simulated points."""
    sel = df[(df["retry_mode"] == mode) & df["theory"].notna()].sort_values(x)
    if sel.empty:
        return
    xs = [pos[v] + _offset(mode, spread) for v in sel[x]]
    ax.plot(xs, sel["theory"], linestyle=":", color=MODE_COLORS[mode], linewidth=1.4,
            marker="x", markersize=7, label=label, zorder=3)  # fmt: skip


def chart_load(df: pd.DataFrame, out: Path, reps: int, window_s: float) -> None:
    """Success, throttling, requests, producer time and latency against the offered load."""
    ld = df[df["study"] == "load"]
    pos = _categories(list(ld["load"]))
    panels = (
        ("success_fraction", "(a) uploads processed (fraction)", None),
        ("throttled_fraction", "(b) requests answered 429 (fraction)", None),
        ("requests_per_upload", "(c) API requests per upload", None),
        ("producer_latency_mean_s", "(d) client time per upload, mean (s)", 0.0),
        ("latency_p50_s", "(e) end-to-end latency, p50 (s)", 0.0),
        ("latency_p99_s", "(f) end-to-end latency, p99 (s)", 0.0),
    )
    fig, axes = new_panels(2, 3, 15.0, 9.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        sel = _select(ld, metric)
        _mode_lines(sel, ax, "load", pos, 0.08)
        if metric in ("success_fraction", "throttled_fraction", "requests_per_upload"):
            _theory_marks(ax, sel, "load", "none", "fluid approximation, no retry", pos, 0.08)
            _theory_marks(ax, sel, "load", "standard",
                          "fluid + mean-field approximation, standard", pos, 0.08)  # fmt: skip
        if log is not None:
            _plain_log(ax)
        if 1.0 in pos:
            ax.axvline(pos[1.0], color="0.5", linewidth=0.8, linestyle=":")
        _category_axis(ax, pos, [f"{x:g}" for x in pos], "offered load λ / gateway rate")
        ax.set_ylabel(ylabel)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylim(bottom=0)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"Uploads through API Gateway against the offered load: {window_s:g} s of "
                 f"arrivals from a full token bucket; mean and 95% CI of {reps} replications; "
                 f"crosses: approximations\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_bucket(df: pd.DataFrame, out: Path, reps: int) -> None:
    """The token bucket's throttled fraction against its exact stationary theory."""
    bk = _select(df[df["study"] == "bucket"], "throttled_fraction")
    fig, (ax,) = new_panels(1, 1, 8.0, 5.4)
    colors = ("tab:purple", "tab:orange", "tab:cyan", "tab:olive")
    lo, hi = float(bk["load"].min()), float(bk["load"].max())
    grid = [lo + (hi - lo) * i / 60 for i in range(61)]
    for color, b in zip(colors, sorted(bk["burst"].unique()), strict=False):
        part = bk[bk["burst"] == b]
        ax.plot(grid, [token_bucket_throttled(x, int(b)) for x in grid], linestyle=":",
                color=color, linewidth=1.4, label=f"burst {b}: exact stationary theory")
        ci_lines(part, ax, "load", "burst", {b: f"burst {b}: simulated (mean, 95% CI)"},
                 {b: color}, linestyle="none")  # fmt: skip
    _plain_log(ax, symlog_below=1e-3)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("offered load λ / gateway rate (Poisson requests, no retries)")
    ax.set_ylabel("requests answered 429 (fraction; linear scale below 0.001)")
    ax.axvline(1.0, color="0.5", linewidth=0.8, linestyle=":")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Token bucket vs its exact stationary theory: rate {RATE_PER_S:g}/s, "
                 f"{WARMUP_S:g} s warm-up; mean and 95% CI of {reps} replications",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_bursts(df: pd.DataFrame, out: Path, reps: int, run_s: float) -> None:
    """Throttled fraction, success and p99 latency against the burst size, per retry mode."""
    bs = df[df["study"] == "bursts"]
    pos = _categories([int(b) for b in bs["burst"]])
    panels = (
        ("throttled_fraction", "(a) requests answered 429 (fraction)", False),
        ("success_fraction", "(b) uploads processed (fraction)", False),
        ("latency_p99_s", "(c) end-to-end latency, p99 (s)", True),
        ("producer_latency_mean_s", "(d) client time per upload, mean (s)", True),
    )
    fig, axes = new_panels(1, 4, 17.0, 5.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        sel = _select(bs, metric)
        _mode_lines(sel, ax, "burst", pos, 0.1)
        _theory_marks(ax, sel, "burst", "none", "fluid approximation, no retry", pos, 0.1)
        if log:
            _plain_log(ax)
        _category_axis(ax, pos, [f"{b:,}" for b in pos], "gateway burst (token bucket size)")
        ax.set_ylabel(ylabel)
    axes[1].set_ylim(0, 1.05)
    axes[0].set_ylim(bottom=0)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(f"Bursts: a steady {STEADY_LOAD * RATE_PER_S:g} uploads/s plus "
                 f"{len(BURST_TIMES)} bursts of {BURST_COUNT:,} uploads in {BURST_SPREAD_S:g} s "
                 f"({run_s:g} s run); mean and 95% CI of {reps} replications\n{SETUP}",
                 fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_clients(df: pd.DataFrame, out: Path, reps: int, window_s: float) -> None:
    """Adaptive vs standard retries against the number of SDK clients sharing the load."""
    cl = df[df["study"] == "clients"]
    pos = _categories([int(k) for k in cl["clients"]])
    panels = (
        ("success_fraction", "(a) uploads processed (fraction)", False),
        ("requests_per_upload", "(b) API requests per upload", False),
        ("producer_latency_mean_s", "(c) client time per upload, mean (s)", True),
        ("latency_p99_s", "(d) end-to-end latency, p99 (s)", True),
    )
    fig, axes = new_panels(1, 4, 17.0, 5.0)
    for ax, (metric, ylabel, log) in zip(axes, panels, strict=True):
        _mode_lines(_select(cl, metric), ax, "clients", pos, 0.1)
        if log:
            _plain_log(ax)
        _category_axis(ax, pos, [f"{k:,}" for k in pos], "SDK clients sharing the load")
        ax.set_ylabel(ylabel)
    axes[0].set_ylim(top=1.01)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=8)
    load = float(cl["load"].iloc[0])
    setup = SETUP.replace(f"{CLIENTS} Poisson clients", "N Poisson clients")
    fig.suptitle(f"One adaptive rate limiter per SDK client: {load:g}× the gateway rate for "
                 f"{window_s:g} s split evenly over N clients; mean and 95% CI of {reps} "
                 f"replications\n{setup}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_timeouts(df: pd.DataFrame, out: Path, reps: int) -> None:
    """504s, client errors and duplicates against the function's median; the 413 share."""
    to = df[df["study"] == "timeout"]
    fig, axes = new_panels(1, 4, 18.0, 5.2)
    if not to.empty:
        pos = _categories(list(to["function_median_s"]))
        labels = [f"{m:g} s\nP(> 29 s) = {timeout_probability(m):.1%}" for m in pos]
        panels = (
            ("timeout_fraction", "(a) requests answered 504 (fraction)", False),
            ("client_error_fraction", "(b) uploads the client saw fail (fraction)", True),
            ("duplicates_per_upload", "(c) extra processings per upload (duplicates)", False),
        )
        for ax, (metric, ylabel, log) in zip(axes[:3], panels, strict=True):
            sel = _select(to, metric)
            _mode_lines(sel, ax, "function_median_s", pos, 0.12)
            for mode in ("none", "standard"):
                _theory_marks(ax, sel, "function_median_s", mode, f"closed form, {mode}", pos,
                              0.12)  # fmt: skip
            if log:
                _plain_log(ax, symlog_below=1e-3)
                ax.set_ylim(0, 1.0)
            else:
                ax.set_ylim(bottom=0)
            _category_axis(ax, pos, labels, "Lambda integration run time: lognormal median")
            ax.set_ylabel(ylabel)
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncol=5, fontsize=8)
    pl = _select(df[df["study"] == "payload"], "lost_fraction")
    ax = axes[3]
    if not pl.empty:
        for col in ("mean", "ci_low", "ci_high"):
            pl[col] = pl[col] * 100
        ci_bars(pl, ax, "retry_mode", "metric", {m: m for m in MODES},
                {"lost_fraction": "answered 413 Payload Too Large (lost)"},
                {"lost_fraction": "tab:gray"})  # fmt: skip
        ax.axhline(float(pl["theory"].iloc[0]) * 100, color="black", linestyle=":",
                   label="closed form: P(size > 10 MiB)")  # fmt: skip
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("retry mode")
    ax.set_ylabel("(d) uploads answered 413 and lost (%)")
    ax.set_title(f"API Gateway → S3, object size lognormal (median {SIZE_MEDIAN_BYTES / 1e6:g} "
                 f"MB, σ {SIZE_SIGMA:g})", fontsize=9)  # fmt: skip
    fig.suptitle(f"(a–c) Integration slower than the {API_TIMEOUT_S:g} s timeout: API Gateway "
                 f"→ Lambda (run time lognormal, σ {FUNCTION_SIGMA:g}), "
                 f"{TIMEOUT_RATE_PER_S:g} uploads/s; (d) payloads over 10 MB; mean and 95% CI "
                 f"of {reps} replications; crosses: closed forms", fontsize=10)  # fmt: skip
    save_png(fig, out)


# --------------------------------------------------------------------------- findings


def _small(x: float) -> str:
    """A tiny probability in scientific notation (below 1e-9 as a bound)."""
    return "less than 1e-9" if x < 1e-9 else f"{x:.1e}"


def theory_checks(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose theory is exact, each with ``verdict`` inside / no event / miss.

    ``no event``: every replication saw zero where the theory expects fewer than 3 events
    over all replications' requests together (a CI of zero width cannot contain it).
    """
    rows = df[df["theory_kind"].fillna("").str.startswith("exact")
              & df["metric"].isin(["throttled_fraction", "timeout_fraction",
                                   "client_error_fraction", "duplicates_per_upload",
                                   "lost_fraction"])].copy()  # fmt: skip
    uploads = _select(df, "uploads").set_index(list(KEYS))["mean"]
    n = _select(df, "uploads").set_index(list(KEYS))["n"]
    pooled = [float(uploads.loc[k] * n.loc[k])
              for k in rows[list(KEYS)].itertuples(index=False, name=None)]  # fmt: skip
    inside = (rows["ci_low"] <= rows["theory"]) & (rows["theory"] <= rows["ci_high"])
    none_seen = (rows["std"] == 0) & (rows["mean"] == 0) & (rows["theory"] * pooled < 3.0)
    rows["verdict"] = "miss"
    rows.loc[none_seen, "verdict"] = "no event"
    rows.loc[inside, "verdict"] = "inside"
    return rows


def _load_findings(ld: pd.DataFrame, diff: pd.DataFrame, grid: Grid) -> list[str]:
    loads = sorted(float(x) for x in ld["load"].unique())
    x0 = 2.0 if 2.0 in loads else loads[-1]
    at = {"load": x0}

    def get(metric: str, mode: str, **eq: object) -> pd.Series:
        row = _row(ld, metric, retry_mode=mode, **(eq or at))
        assert row is not None, (metric, mode, eq)
        return row

    s = {m: get("success_fraction", m) for m in MODES}
    prod = {m: get("producer_latency_mean_s", m) for m in MODES}
    p99 = {m: get("latency_p99_s", m) for m in MODES}
    out = [
        f"- **Headline, offered load {x0:g}× the gateway rate** ({x0 * RATE_PER_S:g} uploads/s "
        f"for {grid.load_s:g} s against {RATE_PER_S:g} requests/s, burst {BURST}): without "
        f"retries {_pct(s['none'])} of the uploads are processed (fluid approximation "
        f"(rate·T + burst)/(λ·T) = {_p(s['none']['theory'])}); the others get a 429 and are "
        f"lost. Standard retries process {_pct(s['standard'])} (paired difference "
        f"{_pp(_row(diff, 'success_fraction', retry_mode='standard', study='load', **at))}) "
        f"with {_ci(get('requests_per_upload', 'standard'))} requests per upload, "
        f"{_pct(get('throttled_fraction', 'standard'))} of them answered 429, and client "
        f"time per upload {_ci(prod['standard'], 's')} instead of {_ci(prod['none'], 's')}. "
        f"Adaptive clients process {_pct(s['adaptive'])}: their rate limiters hold uploads "
        f"in the client instead of spending attempts on 429s "
        f"({_ci(get('requests_per_upload', 'adaptive'))} requests per upload), so almost "
        f"nothing is lost but uploads wait: client time per upload "
        f"{_ci(prod['adaptive'], 's')}, end-to-end p99 {_ci(p99['adaptive'], 's')} against "
        f"{_ci(p99['none'], 's')} without retries.",
    ]
    below = ld[(ld["metric"] == "throttled_fraction") & (ld["load"] < 1.0)]
    if not below.empty:
        text = (
            f"- **Below the rate** (λ/rate ≤ {below['load'].max():g}) the largest throttled "
            f"fraction in any mode is {_p(below['mean'].max())}: a burst of {BURST} tokens "
            "absorbs the Poisson fluctuations (the exact stationary theory gives "
            f"{_small(token_bucket_throttled(below['load'].max(), BURST))} at "
            f"{below['load'].max():g}×)."
        )
        if 1.0 in loads:
            text += (
                " At exactly the rate the throttled fraction without retries is "
                f"{_pct(get('throttled_fraction', 'none', load=1.0))}: the deficit of a "
                "critically loaded bucket is a driftless random walk that needs about "
                f"burst²/λ = {BURST**2 / RATE_PER_S:g} s to reach the bottom (the "
                f"long-run value would be {_p(token_bucket_throttled(1.0, BURST))})."
            )
        out.append(text)
    over = [x for x in loads if x > 1.0]
    if over:
        pairs = "; ".join(
            f"{x:g}×: {_p(get('success_fraction', 'none', load=x)['mean'])} vs "
            f"{_p(get('success_fraction', 'standard', load=x)['mean'])} with "
            f"{_num(get('requests_per_upload', 'standard', load=x)['mean'])} requests per upload"
            for x in over
        )
        out.append(
            "- **Above the rate SDK retries add no capacity**: the gateway accepts about "
            "rate·T + burst requests whatever the clients do, so standard retries only decide "
            "which uploads get the tokens and multiply the requests (processed, no retry vs "
            f"standard: {pairs}). Their small gain comes from retries of the last uploads that "
            "land after the arrivals stop, when the bucket refills: an end effect of a finite "
            "overload. The mean-field approximation (each attempt throttled independently with "
            "probability θ, 1 − θ³ = processed fraction) follows the throttled fraction and the "
            "requests per upload (dotted lines)."
        )
    return out


def _clients_findings(cl: pd.DataFrame) -> list[str]:
    ks = sorted(int(k) for k in cl["clients"].unique())

    def get(metric: str, mode: str, k: int) -> pd.Series:
        row = _row(cl, metric, retry_mode=mode, clients=k)
        assert row is not None, (metric, mode, k)
        return row

    parts = "; ".join(
        f"{k:,} client{'s' if k > 1 else ''}: {_p(get('success_fraction', 'adaptive', k)['mean'])} "
        f"processed, {_num(get('requests_per_upload', 'adaptive', k)['mean'])} requests per "
        f"upload, p99 {_num(get('latency_p99_s', 'adaptive', k)['mean'])} s"
        for k in ks
    )
    std_rows = _select(cl, "success_fraction", retry_mode="standard").sort_values("clients")
    std = list(std_rows["mean"])
    std_n = " and ".join(f"{int(k):,}" for k in std_rows["clients"])
    load = float(cl["load"].iloc[0])
    return [
        f"- **Adaptive mode and the number of clients** ({load:g}× the rate split evenly over "
        f"N SDK clients, each with its own limiter): {parts}. A limiter reacts only to its own "
        "client's 429s, so one client slows down at the first one and queues almost every "
        "upload until the gateway has room, while many small clients each see too few 429s to "
        "slow down and keep spending their attempts on an empty bucket, drifting towards "
        f"standard mode (processed with standard retries at N = {std_n}: {_p(min(std))} – "
        f"{_p(max(std))}). Adaptive mode pays for its successes with time: queued uploads wait "
        "until the gateway drains the backlog at its rate."
    ]


def _bucket_findings(bk: pd.DataFrame) -> list[str]:
    rows = theory_checks(bk)
    rows = rows[rows["metric"] == "throttled_fraction"]
    verdicts = rows["verdict"].value_counts()
    bursts = sorted(int(b) for b in bk["burst"].unique())
    loads = sorted(float(x) for x in bk["load"].unique())
    x_low = 0.95 if 0.95 in loads else loads[0]
    per_b = []
    for b in bursts:
        row = _row(bk, "throttled_fraction", burst=b, load=x_low)
        assert row is not None
        per_b.append(f"burst {b}: {_p(row['mean'])} (theory {_p(row['theory'])})")
    misses = "; ".join(
        f"burst {int(r.burst)}, {r.load:g}×: {r.mean:.4g} vs {r.theory:.4g}"
        for r in rows[rows["verdict"] == "miss"].itertuples()
    )
    text = (
        f"- **The token bucket against its exact theory** (no retries, Poisson requests, "
        f"{WARMUP_S:g} s warm-up, bursts {', '.join(str(b) for b in bursts)}): of {len(rows)} "
        f"throttled fractions {verdicts.get('inside', 0)} have the stationary theory (an M/D/1 "
        "queue with bounded workload) inside their 95% CI"
    )
    if verdicts.get("no event", 0):
        text += (
            f", {verdicts['no event']} saw no 429 where the theory expects fewer than 3 in all "
            "replications together"
        )
    text += f"; misses: {misses}." if misses else "."
    text += (
        f" Below the rate throttling falls steeply with the burst; at {x_low:g}× the rate: "
        + "; ".join(per_b)
        + ". Burst 1 is Erlang's loss formula ρ/(1 + ρ); above the rate every burst "
        "converges to 1 − rate/λ."
    )
    return [text]


def _burst_findings(bs: pd.DataFrame) -> list[str]:
    def get(metric: str, mode: str, b: int) -> pd.Series:
        row = _row(bs, metric, retry_mode=mode, burst=b)
        assert row is not None, (metric, mode, b)
        return row

    sizes = sorted(int(x) for x in bs["burst"].unique())
    parts = [
        f"burst {b:,}: {_p(get('success_fraction', 'none', b)['mean'])} (fluid "
        f"{_p(get('success_fraction', 'none', b)['theory'])}) / "
        f"{_p(get('success_fraction', 'standard', b)['mean'])} / "
        f"{_p(get('success_fraction', 'adaptive', b)['mean'])} processed"
        for b in sizes
    ]
    out = (
        f"- **Bursts** ({len(BURST_TIMES)} bursts of {BURST_COUNT:,} uploads in "
        f"{BURST_SPREAD_S:g} s on top of {STEADY_LOAD * RATE_PER_S:g} uploads/s; no retry / "
        "standard / adaptive): " + "; ".join(parts) + ". The gateway absorbs a burst when the "
        "bucket holds it (burst + rate × spread ≥ the uploads of the spread)."
    )
    hit = [b for b in sizes if get("success_fraction", "none", b)["mean"] < 1.0]
    if hit:
        gain = [get("success_fraction", "standard", b)["mean"]
                - get("success_fraction", "none", b)["mean"] for b in hit]  # fmt: skip
        p99 = {m: max(get("latency_p99_s", m, b)["mean"] for b in hit) for m in MODES}
        worst = min(get("success_fraction", "adaptive", b)["mean"] for b in hit)
        out += (
            f" Where it does not (burst {', '.join(f'{b:,}' for b in hit)}), standard retries, "
            "all within about 3 s, mostly fall into the same empty bucket: they add "
            f"{min(gain) * 100:.2g} – {max(gain) * 100:.2g} percentage points. Adaptive clients "
            "hold the burst back and send it as the bucket refills: at least "
            f"{_p(worst)} processed, with an end-to-end p99 of up to {_num(p99['adaptive'])} s "
            f"(no retry: {_num(p99['none'])} s, standard: {_num(p99['standard'])} s)."
        )
    return [out]


def _timeout_findings(to: pd.DataFrame) -> list[str]:
    d0 = float(to["function_median_s"].max())
    q = timeout_probability(d0)

    def get(metric: str, mode: str) -> pd.Series:
        row = _row(to, metric, retry_mode=mode, function_median_s=d0)
        assert row is not None, (metric, mode)
        return row

    return [
        f"- **Integration slower than the 29 s timeout** (API Gateway → Lambda, run time "
        f"lognormal, median {d0:g} s, σ {FUNCTION_SIGMA:g}: P(run > 29 s) = p = {q:.1%}): "
        f"{_pct(get('timeout_fraction', 'none'))} of requests are answered 504. Without "
        f"retries the client sees {_pct(get('client_error_fraction', 'none'))} of its uploads "
        f"fail, yet the processed fraction is {_pct(get('success_fraction', 'none'))}: a 504 "
        "is an unknown outcome, not a failure. Standard retries cut the client errors to "
        f"{_pct(get('client_error_fraction', 'standard'))} (p³ = {q**3:.2%}) but process "
        f"uploads two or three times: {_ci(get('duplicates_per_upload', 'standard'))} "
        f"duplicates per upload (p + p² = {q + q * q:.3f}), so the processing must be "
        "idempotent. The retry also works as a hedged request: the first copy to finish "
        f"counts, so the end-to-end p99 falls from {_ci(get('latency_p99_s', 'none'), 's')} to "
        f"{_ci(get('latency_p99_s', 'standard'), 's')}, while the client waits "
        f"{_ci(get('producer_latency_mean_s', 'standard'), 's')} per upload on average "
        f"(without retries {_ci(get('producer_latency_mean_s', 'none'), 's')}). Adaptive mode "
        "behaves exactly like standard here (no 429, so its limiter never engages)."
    ]


def _payload_findings(pl: pd.DataFrame) -> list[str]:
    lost = _row(pl, "lost_fraction", retry_mode="none")
    req = _row(pl, "requests_per_upload", retry_mode="standard")
    same = pl[pl["metric"] == "lost_fraction"]["mean"].nunique() == 1
    assert lost is not None and req is not None
    return [
        f"- **Payload limit**: with object sizes lognormal (median {SIZE_MEDIAN_BYTES / 1e6:g} "
        f"MB, σ {SIZE_SIGMA:g}) {_pct(lost)} of the uploads are answered 413 and lost (theory "
        f"P(size > 10 MiB) = {_p(lost['theory'])}), "
        + ("the same in every retry mode" if same else "differently per retry mode")
        + f": a 4xx is not retried (standard retries send {_num(req['mean'])} request per "
        "upload). "
        "Larger objects need an S3 presigned URL instead of the API."
    ]


def findings(
    df: pd.DataFrame, diff: pd.DataFrame, out_name: str, quick: bool, seed: int, grid: Grid
) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the two CSV tables."""
    charts = {"load": "load.png", "clients": "clients.png", "bucket": "token_bucket.png",
              "bursts": "bursts.png", "timeout": "timeouts.png",
              "payload": "timeouts.png"}  # fmt: skip
    studies = [s for s in STUDIES if s in set(df["study"])]
    pngs = list(dict.fromkeys(charts[s] for s in studies))
    files = ", ".join(f"[`{f}`]({out_name}/{f})"
                      for f in ("api_uploads.csv", "differences.csv", *pngs))  # fmt: skip
    reps = ", ".join(f"{s} {int(df.loc[df['study'] == s, 'n'].max())}" for s in studies)
    lines = [
        "# API uploads: API Gateway throttling, SDK retries, bursts and timeouts on the way "
        "to S3 and processing",
        "",
        f"Script `experiments/api_uploads.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, replications per configuration: {reps}; common random numbers (every retry "
        f"mode sees the same uploads); files: {files}.",
        "",
        f"Setup (DESIGN A7): {SETUP}. End-to-end latency includes evsim's default S3 "
        "notification delay (lognormal, median 1 s, σ 1: an unconfirmed assumption), which sets "
        "the p99 of about 10 s when nothing is throttled. Retry modes: no retry "
        "(`max_attempts: 1`), the SDK's standard mode (3 attempts, full-jitter backoff from 1 s, "
        "retrying 429, 5xx and 504, not 413) and adaptive mode (standard plus a client-side "
        f"rate limiter per SDK client; {CLIENTS} clients). The gateway is scaled down 200-fold "
        "from the account defaults; the results depend on the ratios λ/rate and burst/rate.",
        "",
        *(f"![{p.removesuffix('.png').replace('_', ' ')}]({out_name}/{p})" for p in pngs),
        "",
    ]
    by = {s: df[df["study"] == s] for s in studies}
    if "load" in by:
        lines += _load_findings(by["load"], diff, grid)
    if "clients" in by:
        lines += _clients_findings(by["clients"])
    if "bucket" in by:
        lines += _bucket_findings(by["bucket"])
    if "bursts" in by:
        lines += _burst_findings(by["bursts"])
    if "timeout" in by:
        lines += _timeout_findings(by["timeout"])
    if "payload" in by:
        lines += _payload_findings(by["payload"])
    checks = theory_checks(df)
    verdicts = checks["verdict"].value_counts()
    lines.append(
        f"- **Against the exact closed forms** (token bucket, 504s, client errors, duplicates, "
        f"413s): {verdicts.get('inside', 0)} of {len(checks)} inside their 95% CI, "
        f"{verdicts.get('no event', 0)} with no event where fewer than 3 were expected, "
        f"{verdicts.get('miss', 0)} outside (about 5% are expected outside by chance)."
    )
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: every upload is resolved by the end of each run (largest mean in "
        f"flight: {_num(flight)}; runs drain for {DRAIN_S:g} s). Request latencies are "
        "assumptions; the SDK's retry quota (a token bucket of 500) is not modelled, which "
        "flatters standard retries under sustained throttling."
    )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


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
