"""The DLQ-policies study's findings text, from its tidy tables.

The study is :mod:`experiments.dlq_policies`.
"""

from __future__ import annotations

import math

import pandas as pd

from experiments.dlq_policies_charts import SETUP
from experiments.dlq_policies_design import (
    PARTIAL,
    POLICY_CONCURRENCY,
    RATE_PER_S,
    RESERVED_CONCURRENCY,
    RETENTION_S,
    VISIBILITY_TIMEOUT_S,
    VT_DURATION_MEDIAN_S,
    VT_TIMEOUT_CAP_S,
)
from sim.study import mean_ci as _ci
from sim.study import number as _num
from sim.study import select as _select
from sim.study import summary_row as _row


def findings(
    pol: pd.DataFrame, vt: pd.DataFrame, dlq: pd.DataFrame, out_name: str, quick: bool,
    seed: int, reps: int,
) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the three CSV tables."""
    ks = sorted(int(k) for k in pol["max_receive_count"].dropna().unique())
    errs = sorted(pol["error_rate"].unique())
    poisons = sorted(pol["poison_rate"].unique())
    e_mid = 0.1 if 0.1 in errs else errs[len(errs) // 2]
    p_hi, p_mid = poisons[-1], poisons[len(poisons) // 2]
    k_mid = 5 if 5 in ks else ks[-1]
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "policies.csv", "dlq_contents.csv", "visibility.csv", "good_lost.png", "poison_loop.png",
        "batch_failures.png", "visibility_timeout.png"))  # fmt: skip
    lines = [
        "# DLQ retry policies: max receives, partial batch responses and visibility timeouts "
        "for SQS → Lambda",
        "",
        f"Script `experiments/dlq_policies.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, {reps} replications per configuration, common random numbers (every "
        f"configuration sees the same messages, poison messages included); files: {files}.",
        "",
        f"Setup (DESIGN A1): {SETUP}; the function fails each message with the transient error "
        "rate per attempt, and always for poison messages. The 600 s retention (AWS default: 4 "
        "days) keeps the no-DLQ runs tractable: evsim simulates every receive of a poison "
        "message (DESIGN §3), about 20 here instead of about 11,500. Good messages lost = "
        "expected − delivered − poison messages, exact per replication (the poison count comes "
        "from a census variant of the same workload).",
        "",
        "![good messages lost vs max_receive_count](" + out_name + "/good_lost.png)",
        "![poison messages with and without a DLQ](" + out_name + "/poison_loop.png)",
        "![whole-batch failure vs partial batch response](" + out_name + "/batch_failures.png)",
        "![visibility timeout sweep](" + out_name + "/visibility_timeout.png)",
        "",
    ]
    lost = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                    error_rate=e_mid, poison_rate=p_hi, report_batch_item_failures=True)
            for k in ks}  # fmt: skip
    whole = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                     error_rate=e_mid, poison_rate=p_hi, report_batch_item_failures=False)
             for k in ks}  # fmt: skip
    theory = ", ".join(f"{_num(e_mid**k * 1e6)}" for k in ks)
    lines.append(
        f"- **Good messages lost to the DLQ** fall as p^k: at {e_mid:.0%} transient errors "
        f"({p_hi:.1%} poison, partial batch response) max_receive_count "
        + "; ".join(f"{k} loses {_ci(lost[k])}" for k in ks)
        + f" good messages per million (theory p^k: {theory}). With whole-batch failure: "
        + "; ".join(f"{k}: {_num(_mean(whole[k]))}"
                    for k in ks)
        + " (evsim processes every message of a failing batch, and a good message processed "
        "once counts as delivered, so only its own failures can dead-letter it)."
    )
    in_dlq = _row(dlq, "good_in_dlq_per_million", max_receive_count=ks[0], error_rate=e_mid)
    processed = _row(dlq, "processed_in_dlq_per_million", max_receive_count=ks[0],
                     error_rate=e_mid)  # fmt: skip
    if in_dlq is not None:
        lines.append(
            f"- **But the DLQ fills with good messages under whole-batch failure**: at "
            f"{e_mid:.0%} errors and max_receive_count {ks[0]}, {_ci(in_dlq)} good messages per "
            f"million end in the DLQ, {_ci(processed)} of them already processed (a redrive "
            f"would process them again); with a partial batch response only the "
            f"{_ci(lost[ks[0]])} never processed do."
        )
    e_lo = errs[0]
    extra = {m: _row(pol, "extra_attempts_per_poison", policy="no_dlq", error_rate=e_lo,
                     poison_rate=p_hi, report_batch_item_failures=m) for m in PARTIAL}  # fmt: skip
    dup = _row(pol, "extra_duplicates_per_poison", policy="no_dlq", error_rate=e_lo,
               poison_rate=p_hi, report_batch_item_failures=False)  # fmt: skip
    with_dlq = _row(pol, "extra_attempts_per_poison", policy="dlq", max_receive_count=k_mid,
                    error_rate=e_lo, poison_rate=p_hi, report_batch_item_failures=True)  # fmt: skip
    default_cycles = 345_600 / VISIBILITY_TIMEOUT_S
    capacity = POLICY_CONCURRENCY * 10 / (0.2 * math.exp(0.5**2 / 2) + 10 * 0.1)
    poison_rps = RATE_PER_S * p_hi * default_cycles
    lines.append(
        f"- **No DLQ: the endless loop.** Each poison message is received until it expires: "
        f"{_ci(extra[True])} extra attempts per poison message with partial batch responses "
        f"(retention ÷ VT = {RETENTION_S / VISIBILITY_TIMEOUT_S:g} receives, less the attempt "
        f"it would have needed as a good message) and {_ci(extra[False])} "
        f"with whole-batch failure, which also reprocesses {_ci(dup)} good batch-mates per "
        f"poison message ({e_lo:.0%} errors, {p_hi:.0%} poison). With a DLQ at "
        f"max_receive_count {k_mid} the waste is {_ci(with_dlq)} attempts ({k_mid} receives, "
        f"less the same one). At AWS's default "
        f"4-day retention a poison message would be received about {default_cycles:,.0f} times, "
        f"and {p_hi:.0%} poison at {RATE_PER_S:g} msg/s would alone demand about "
        f"{poison_rps:,.0f} receives/s, far beyond this consumer's capacity of about "
        f"{capacity:.0f} messages/s (full batches): the good "
        "traffic would be crowded out entirely (extrapolated, not simulated)."
    )
    d = {m: _row(pol, "duplicates_per_1k", policy="dlq", max_receive_count=k_mid,
                 error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
         for m in PARTIAL}  # fmt: skip
    c = {m: _row(pol, "cost_per_million_usd", policy="dlq", max_receive_count=k_mid,
                 error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
         for m in PARTIAL}  # fmt: skip
    lat = {m: _row(pol, "latency_p99_s", policy="dlq", max_receive_count=k_mid,
                   error_rate=e_mid, poison_rate=p_mid, report_batch_item_failures=m)
           for m in PARTIAL}  # fmt: skip
    partial_dups = _select(pol, "duplicates_per_1k", report_batch_item_failures=True)["mean"]
    lines.append(
        f"- **Whole-batch failure costs duplicates, money and latency, not messages**: at "
        f"{e_mid:.0%} errors (max_receive_count {k_mid}, {p_mid:.1%} poison) it causes "
        f"{_ci(d[False])} duplicate processings per 1,000 messages against "
        f"{_num(_mean(d[True]))} with a partial batch "
        f"response (0 in all {len(partial_dups)} partial-response configurations: "
        f"max {_num(partial_dups.max())}), {_ci(c[False], 'USD')} vs {_ci(c[True], 'USD')} per "
        f"million messages and a p99 latency of {_ci(lat[False], 's')} vs {_ci(lat[True], 's')}."
    )
    e_hi = errs[-1]
    sat = {k: _row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k,
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
           for k in (k_mid, ks[-1])}  # fmt: skip
    sat_lat = _row(pol, "latency_p99_s", policy="dlq", max_receive_count=ks[-1],
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
    sat_exp = _row(pol, "expired", policy="dlq", max_receive_count=ks[-1],
                   error_rate=e_hi, poison_rate=p_hi, report_batch_item_failures=False)
    if e_hi != e_mid:
        lines.append(
            f"- At {e_hi:.0%} errors whole-batch failure saturates the consumer (p99 "
            f"{_ci(sat_lat, 's')} at max_receive_count {ks[-1]}) and messages expire "
            f"({_ci(sat_exp)} per replication), so more receives stop helping: "
            f"max_receive_count {ks[-1]} loses {_ci(sat[ks[-1]])} good messages per million, "
            f"{k_mid} loses {_ci(sat[k_mid])}."
        )
    lines += _visibility_findings(vt)
    lines.append(_what_changed(pol, vt, e_hi, ks, k_mid))
    lines.append(
        "- **What changed in the cost with this version of evsim.** Lambda bills the INIT phase "
        "(a cold start) at the duration rate since 1 August 2025, a ReceiveMessage request "
        "carries at most 10 messages, and an event source's pollers make billed long polls "
        "(one per 20 s each, an assumption) while the queue is empty; evsim billed none of "
        "these before. The cost per million messages rose by 0.1% to 2.0% (median 1.3%) across "
        "the policy grid; no other number moved for this reason."
    )
    dlq_rows = pol[(pol["policy"] == "dlq") & (pol["metric"] == "expired")]
    exact = int((dlq_rows["mean"] == 0).sum())
    resolved = float(pol.loc[pol["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: the largest mean number of messages still in flight at the end of a "
        f"run is {_num(resolved)}; dead-lettered − poison (`good_dead_lettered`) is exact in "
        f"{exact} of {len(dlq_rows)} DLQ configurations (those where nothing expired). p99 "
        "latency is over delivered messages only: max_receive_count 1 looks fast because a "
        "message that fails once is dead-lettered instead of retried."
    )
    return "\n".join(lines) + "\n"


#: What this study published with evsim's previous event source mapping (its level only grew;
#: a throttled batch held its slot until its visibility timeout; commit a5136fe), full run.
PREVIOUS = {
    "vt_duplicates_per_1k_max": 20.7, "vt_duplicates_at_s": 8.0,
    "vt_dead_lettered_per_1k_at_120": 1.34, "vt_p99_at_120_s": 205.0,
    "sat_p99_s": 467.0, "sat_expired": 146.0, "sat_lost_k10": 2553.0, "sat_lost_k5": 2413.0,
    "loop_p50_s": 7.17, "loop_p99_s": 58.5,  # no DLQ, 10% errors, 1% poison, whole batch
}


def _what_changed(pol: pd.DataFrame, vt: pd.DataFrame, e_hi: float, ks: list[int],
                  k_mid: int) -> str:  # fmt: skip
    """The bullet on the event source's new back-off, before and after."""
    loud = 2 * RESERVED_CONCURRENCY
    last = sorted(vt["visibility_timeout_s"].unique())[-1]
    dups = _select(vt, "duplicates_per_1k", esm_max_concurrency=loud)
    top = float(dups["mean"].max()) if len(dups) else math.nan
    dl = _mean(_row(vt, "dead_lettered_per_1k", esm_max_concurrency=loud,
                    visibility_timeout_s=last))  # fmt: skip
    p99 = _mean(_row(vt, "latency_p99_s", esm_max_concurrency=loud, visibility_timeout_s=last))
    sat = {m: _mean(_row(pol, m, policy="dlq", max_receive_count=ks[-1], error_rate=e_hi,
                         poison_rate=pol["poison_rate"].max(), report_batch_item_failures=False))
           for m in ("latency_p99_s", "expired", "good_lost_per_million")}  # fmt: skip
    lost_mid = _mean(_row(pol, "good_lost_per_million", policy="dlq", max_receive_count=k_mid,
                          error_rate=e_hi, poison_rate=pol["poison_rate"].max(),
                          report_batch_item_failures=False))  # fmt: skip
    e_mid = 0.1 if 0.1 in set(pol["error_rate"]) else sorted(pol["error_rate"].unique())[0]
    loop = {m: _mean(_row(pol, m, policy="no_dlq", error_rate=e_mid,
                          poison_rate=pol["poison_rate"].max(), report_batch_item_failures=False))
            for m in ("latency_p50_s", "latency_p99_s")}  # fmt: skip
    prev = PREVIOUS
    return (
        "- **What changed with this version of evsim: the event source backs off.** AWS "
        "documents that an SQS event source reduces its concurrency on throttles and on "
        "function errors (not on function errors with partial batch responses) and scales "
        "back when traffic falls; evsim's level used to only grow, and a throttled batch held "
        "its slot until its visibility timeout. Now a throttled batch releases its slot and "
        "is retried with the next free one, and every failed invocation without partial "
        f"batch responses lowers the level by one (down to 2). Throttling ({loud} batches "
        f"against reserved concurrency {RESERVED_CONCURRENCY}): duplicates at most "
        f"{_num(prev['vt_duplicates_per_1k_max'])} per 1,000 before (at VT "
        f"{_num(prev['vt_duplicates_at_s'])} s), {_num(top)} now; good messages "
        f"dead-lettered unprocessed at VT {last:g} s {_num(prev['vt_dead_lettered_per_1k_at_120'])}"
        f" per 1,000 before, {_num(dl)} now; p99 latency {_num(prev['vt_p99_at_120_s'])} s "
        f"before, {_num(p99)} s now. Whole-batch failure at {e_hi:.0%} errors "
        f"(max_receive_count {ks[-1]}): fewer concurrent batches saturate the consumer sooner, "
        f"p99 {_num(prev['sat_p99_s'])} s → {_num(sat['latency_p99_s'])} s, expired "
        f"{_num(prev['sat_expired'])} → {_num(sat['expired'])} per replication, good messages "
        f"lost {_num(prev['sat_lost_k10'])} → {_num(sat['good_lost_per_million'])} per million "
        f"(max_receive_count {k_mid}: {_num(prev['sat_lost_k5'])} → {_num(lost_mid)}). The "
        "lower concurrency shows wherever whole batches fail often: without a DLQ at "
        f"{e_mid:.0%} errors and {pol['poison_rate'].max():.0%} poison the median latency went "
        f"from {_num(prev['loop_p50_s'])} s to {_num(loop['latency_p50_s'])} s and the p99 from "
        f"{_num(prev['loop_p99_s'])} s to {_num(loop['latency_p99_s'])} s. With partial batch "
        "responses every number is unchanged (the same runs: failures do not back the event "
        "source off, and nothing is throttled here)."
    )


def _mean(row: pd.Series | None) -> float:
    return math.nan if row is None else float(row["mean"])


def _visibility_findings(vt: pd.DataFrame) -> list[str]:
    quiet, loud = RESERVED_CONCURRENCY, 2 * RESERVED_CONCURRENCY
    vts = sorted(vt["visibility_timeout_s"].unique())
    low = vts[1] if len(vts) > 2 else vts[0]
    dl_low = _row(vt, "dead_lettered_per_1k", esm_max_concurrency=quiet,
                  visibility_timeout_s=low)  # fmt: skip
    zero = [v for v in vts if (r := _row(vt, "dead_lettered_per_1k", esm_max_concurrency=quiet,
                                         visibility_timeout_s=v)) is not None
            and r["mean"] == 0]  # fmt: skip
    dup_quiet = _select(vt, "duplicates_per_1k", esm_max_concurrency=quiet)["mean"].max()
    dups = _select(vt, "duplicates_per_1k", esm_max_concurrency=loud)
    top = dups.loc[dups["mean"].idxmax()] if len(dups) else None  # type: ignore[call-overload]
    last = vts[-1]
    dl_last = _row(vt, "dead_lettered_per_1k", esm_max_concurrency=loud,
                   visibility_timeout_s=last)  # fmt: skip
    p99 = {c: _row(vt, "latency_p99_s", esm_max_concurrency=c, visibility_timeout_s=last)
           for c in (quiet, loud)}  # fmt: skip
    return [
        f"- **Visibility timeout** (function timeout = min(VT, {VT_TIMEOUT_CAP_S:g} s), as "
        f"AWS rejects a timeout above the VT; duration median {VT_DURATION_MEDIAN_S:g} s): a VT "
        f"below the duration makes invocations time out, and timed-out batches are retried "
        f"until the DLQ: at VT {low:g} s {_ci(dl_low)} per 1,000 good messages are "
        f"dead-lettered without errors, none from VT "
        f"{_num(min(zero)) if zero else 'n/a'} s on. Because the timeout cannot exceed the VT, "
        f"a function never outlives the VT by itself; premature redelivery needs time between "
        f"the receive and the run. Without throttling only cold starts give it (at most "
        f"{_num(dup_quiet)} duplicates per 1,000). With the event source allowed {loud} "
        f"batches against a reserved concurrency of {quiet}, throttled batches may wait out "
        f"their VT: up to {_ci(top) if top is not None else 'n/a'} duplicates per 1,000 (at VT "
        f"{_num(top['visibility_timeout_s']) if top is not None else 'n/a'} s), and at VT "
        f"{last:g} s ({last / min(last, VT_TIMEOUT_CAP_S):g} × the function timeout; AWS "
        f"recommends ≥ 6 ×) still {_ci(dl_last)} per 1,000 "
        f"good messages dead-lettered unprocessed, with a p99 latency of {_ci(p99[loud], 's')} "
        f"vs {_ci(p99[quiet], 's')} without throttling: a throttled batch gives its slot up "
        "and lowers the event source's level, keeps its messages and gets the next slot an "
        "invocation frees, so it rarely waits out its VT (the back-off AWS documents; its "
        "size is an assumption).",
    ]
