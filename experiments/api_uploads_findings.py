"""The API uploads study's findings text, from its tables (see :mod:`experiments.api_uploads`)."""

from __future__ import annotations

import math
from functools import partial

import pandas as pd

from experiments.api_uploads_charts import SETUP
from experiments.api_uploads_design import (
    BURST,
    BURST_COUNT,
    BURST_SPREAD_S,
    BURST_TIMES,
    CLIENTS,
    DRAIN_S,
    FUNCTION_SIGMA,
    KEYS,
    MODES,
    RATE_PER_S,
    SIZE_MEDIAN_BYTES,
    SIZE_SIGMA,
    STEADY_LOAD,
    STUDIES,
    WARMUP_S,
    Grid,
    timeout_probability,
    token_bucket_throttled,
)
from sim.study import mean_ci, percent_ci, points_ci
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import select as _select
from sim.study import summary_row as _row

# The findings' intervals: a metric equal in every replication reads as its mean (percentages:
# "... in every replication").
_ci = partial(mean_ci, constant="mean")
_pct = partial(percent_ci, constant="every")
_pp = partial(points_ci, constant="mean")


def _mode_row(df: pd.DataFrame, metric: str, mode: str, **eq: object) -> pd.Series:
    """The summary row of ``metric`` for retry mode ``mode`` and the key values ``eq``."""
    row = _row(df, metric, retry_mode=mode, **eq)
    assert row is not None, (metric, mode, eq)
    return row


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


def _load_findings(ld: pd.DataFrame, diff: pd.DataFrame, grid: Grid,
                   cl: pd.DataFrame | None = None) -> list[str]:  # fmt: skip
    loads = sorted(float(x) for x in ld["load"].unique())
    x0 = 2.0 if 2.0 in loads else loads[-1]
    at = {"load": x0}

    get = partial(_mode_row, ld, load=x0)  # at another load: get(..., load=x)

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
            "overload. Each client's retry quota (500 tokens, 5 per retry, 1 back per "
            "first-attempt success, 5 per successful retry) caps the retries once the overload "
            "lasts: a mean-field approximation (each attempt throttled independently with "
            "probability θ; retries limited by 5 R θ = 500 N + uploads (1 − θ) for N clients) "
            "follows the throttled fraction and the requests per upload (dotted lines)."
        )
    out.append(_what_changed(ld, diff, x0, cl))
    return out


#: What this study published before evsim modelled the SDK's retry quota (commit a5136fe),
#: standard retries in the load study: processed share, requests per upload (by load), the
#: paired gain over no retry, the share of requests answered 429 and the client time at 2×;
#: and the bursts study's gain of standard retries.
PREVIOUS_STANDARD = {1.5: (0.723, 2.01), 2.0: (0.543, 2.34), 3.0: (0.366, 2.59)}
PREVIOUS_GAIN_PP, PREVIOUS_THROTTLED, PREVIOUS_CLIENT_S = 1.95, 0.768, 0.986
PREVIOUS_BURST_GAIN_PP = (3.7, 3.8)
#: The clients study, standard retries with one client: processed share, requests per upload.
PREVIOUS_ONE_CLIENT = (0.545, 2.34)


def _what_changed(ld: pd.DataFrame, diff: pd.DataFrame, x0: float,
                  cl: pd.DataFrame | None = None) -> str:  # fmt: skip
    """The bullet on the retry quota: the standard mode's numbers before and after."""
    loads = [x for x in PREVIOUS_STANDARD if x in set(ld["load"])]
    parts = "; ".join(
        f"{x:g}×: {_p(PREVIOUS_STANDARD[x][0])} → "
        f"{_p(_mode_row(ld, 'success_fraction', 'standard', load=x)['mean'])} processed, "
        f"{_num(PREVIOUS_STANDARD[x][1])} → "
        f"{_num(_mode_row(ld, 'requests_per_upload', 'standard', load=x)['mean'])} requests "
        "per upload" for x in loads)  # fmt: skip
    one = ""
    if cl is not None and 1 in set(cl["clients"]):
        s1 = _mode_row(cl, "success_fraction", "standard", clients=1)["mean"]
        r1 = _mode_row(cl, "requests_per_upload", "standard", clients=1)["mean"]
        one = (f" With all the load on one client (its single bucket) standard retries went "
               f"from {_p(PREVIOUS_ONE_CLIENT[0])} processed with "
               f"{_num(PREVIOUS_ONE_CLIENT[1])} requests per upload to {_p(s1)} with "
               f"{_num(r1)}.")  # fmt: skip
    gain = _row(diff, "success_fraction", retry_mode="standard", study="load", load=x0)
    thr = _mode_row(ld, "throttled_fraction", "standard", load=x0)["mean"]
    client = _mode_row(ld, "producer_latency_mean_s", "standard", load=x0)["mean"]
    return (
        "- **What changed with this version of evsim: the SDK's retry quota.** AWS's standard "
        "and adaptive modes stop retrying when a client's token bucket (500 tokens, 5 per "
        "retry) is empty; evsim used to retry every 429. With the quota the standard mode's "
        f"retries under a lasting overload fall ({parts}); at {x0:g}× the paired gain over no "
        f"retry went from +{PREVIOUS_GAIN_PP:g} to "
        f"{'+' if gain is not None and gain['mean'] >= 0 else ''}"
        f"{(gain['mean'] * 100 if gain is not None else math.nan):.3g} percentage points, the "
        f"share of requests answered 429 from {_p(PREVIOUS_THROTTLED)} to {_p(thr)} and the "
        f"client time per upload from {PREVIOUS_CLIENT_S:g} s to {_num(client)} s. The bursts' "
        f"gain from standard retries fell from {PREVIOUS_BURST_GAIN_PP[0]:g} – "
        f"{PREVIOUS_BURST_GAIN_PP[1]:g} percentage points (below).{one} The quota spares the "
        "gateway requests that would have been throttled anyway; adaptive mode (its limiter "
        "holds attempts back, so its quota rarely empties) is unchanged."
    )


def _clients_findings(cl: pd.DataFrame) -> list[str]:
    ks = sorted(int(k) for k in cl["clients"].unique())

    def get(metric: str, mode: str, k: int) -> pd.Series:
        return _mode_row(cl, metric, mode, clients=k)

    parts = "; ".join(
        f"{k:,} client{'s' if k > 1 else ''}: {_p(get('success_fraction', 'adaptive', k)['mean'])} "
        f"processed, {_num(get('requests_per_upload', 'adaptive', k)['mean'])} requests per "
        f"upload, p99 {_num(get('latency_p99_s', 'adaptive', k)['mean'])} s"
        for k in ks
    )
    std_rows = _select(cl, "success_fraction", retry_mode="standard").sort_values("clients")
    std_req = _select(cl, "requests_per_upload", retry_mode="standard").sort_values("clients")
    std_text = ", ".join(
        f"N = {int(k):,}: {_p(s)} with {_num(r)} requests per upload"
        for k, s, r in zip(std_rows["clients"], std_rows["mean"], std_req["mean"], strict=True))
    load = float(cl["load"].iloc[0])
    return [
        f"- **Adaptive mode and the number of clients** ({load:g}× the rate split evenly over "
        f"N SDK clients, each with its own limiter): {parts}. A limiter reacts only to its own "
        "client's 429s, so one client slows down at the first one and queues almost every "
        "upload until the gateway has room, while many small clients each see too few 429s to "
        "slow down and keep spending their attempts on an empty bucket, drifting towards "
        f"standard mode (processed with standard retries: {std_text}; each client's retry "
        "quota empties sooner when it carries more of the load). Adaptive mode pays for its "
        "successes with time: queued uploads wait until the gateway drains the backlog at its "
        "rate."
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
        f"burst {r.burst:.0f}, {r.load:g}×: {r.mean:.4g} vs {r.theory:.4g}"
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
        return _mode_row(bs, metric, mode, burst=b)

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

    get = partial(_mode_row, to, function_median_s=d0)

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
        "notification delay (lognormal, median 1 s, σ 1.5: an assumption shaped on AWS's "
        "\"typically seconds, sometimes a minute or longer\"), which sets the p99 of about 30 s "
        "when nothing is throttled. Retry modes: no retry "
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
        lines += _load_findings(by["load"], diff, grid, by.get("clients"))
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
        "assumptions; each SDK client has the default retry quota (500 tokens)."
    )
    return "\n".join(lines) + "\n"
