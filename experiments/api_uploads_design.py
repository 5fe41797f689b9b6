"""The API uploads study's design: grids, points, scenarios, closed forms and per-run measures.

The question and the method are stated in :mod:`experiments.api_uploads`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from scipy.stats import norm

from sim.analysis.metrics import RunResult
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options
from sim.study import run_metric as _m

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
    """The scenario of point ``p`` (the same client names in every variant).

    Every study has the clients, the API and what stands behind it; they differ in the clients'
    total rate and arrivals, the integration and the run length.
    """
    rate = p.load * RATE_PER_S  # uploads per second, all the clients together
    extra: dict[str, Any] = {}  # the clients' other settings
    api, behind, warmup = _api("uploads", p.burst), _processing(), 0.0
    if p.study in ("load", "clients"):
        duration = grid.load_s
    elif p.study == "bucket":
        behind, warmup = _processing(sink_only=True), WARMUP_S
        duration = WARMUP_S + grid.bucket_window_s
    elif p.study == "bursts":
        rate, extra = STEADY_LOAD * RATE_PER_S, {"arrivals": _burst_arrivals}
        duration = grid.burst_run_s
    elif p.study == "timeout":
        rate, api, duration = TIMEOUT_RATE_PER_S, _api("convert", p.burst), grid.timeout_run_s
        behind = {"convert": {"type": "lambda_function",
                              "duration_s": _lognormal(p.function_median_s, FUNCTION_SIGMA),
                              "timeout_s": 900, "cold_start": {"duration_s": 0}}}  # fmt: skip
    elif p.study == "payload":
        rate, duration = PAYLOAD_RATE_PER_S, grid.payload_run_s
        extra = {"attributes": {"size_bytes": _lognormal(SIZE_MEDIAN_BYTES, SIZE_SIGMA)}}
    else:
        raise ValueError(f"unknown study {p.study!r}")
    comps = {**_clients(rate, p.mode, p.clients, **extra), "api": api, **behind}
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
        return [
            Point("clients", m, CLIENTS_LOAD, clients=k)
            for k in ks
            for m in ("standard", "adaptive")
            if m == "adaptive" or k in (ks[0], ks[-1])
        ]
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


#: The SDK's retry quota (standard mode's default): tokens per client, cost of a retry, refund
#: of a first-attempt success (a retried success refunds its retry's cost).
QUOTA_TOKENS, RETRY_COST, SUCCESS_REFUND = 500, 5, 1


def retries_with_quota(theta: float, uploads: float, clients: int) -> float:
    """Mean-field retries of ``uploads`` standard-mode uploads under the clients' retry quotas.

    Each attempt is throttled independently with probability ``theta``. Without a quota the
    uploads retry ``uploads × (θ + θ²)`` times (3 attempts). A quota that binds spends its
    ``clients × 500`` tokens and every refund: 5 per retry made, 1 back per first-attempt
    success and 5 per successful retry, so ``5 R θ = 500 N + uploads (1 − θ)``. The retries
    are the smaller of the two.
    """
    unlimited = uploads * sum(theta**j for j in range(1, ATTEMPTS))
    if theta <= 0.0:
        return unlimited
    budget = (QUOTA_TOKENS * clients + SUCCESS_REFUND * uploads * (1.0 - theta)) / (
        RETRY_COST * theta)
    return min(unlimited, budget)


def standard_mean_field(success: float, uploads: float, clients: int) -> tuple[float, float]:
    """``(θ, requests per upload)`` such that the standard mode processes ``success``.

    Processed fraction = (1 − θ)(1 + R/uploads) with R from :func:`retries_with_quota`;
    θ is found by bisection (the processed fraction falls as θ grows).
    """
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        r = retries_with_quota(mid, uploads, clients)
        if (1.0 - mid) * (1.0 + r / uploads) > success:
            lo = mid
        else:
            hi = mid
    theta = 0.5 * (lo + hi)
    return theta, 1.0 + retries_with_quota(theta, uploads, clients) / uploads


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
            kind = "approx (fluid, independent attempts, retry quota)"
            uploads = p.load * RATE_PER_S * grid.load_s
            theta, req = standard_mean_field(s, uploads, p.clients)
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
