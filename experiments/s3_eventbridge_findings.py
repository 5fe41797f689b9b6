"""The S3 → EventBridge study's findings text, from its tidy tables.

The question and the method are stated in :mod:`experiments.s3_eventbridge`.
"""

from __future__ import annotations

import functools

import pandas as pd
from scipy.stats import poisson

from experiments.s3_eventbridge_charts import SETUP
from experiments.s3_eventbridge_design import (
    DUP_EB,
    DUP_S3,
    HOUR,
    OUTAGE_RULE,
    ROUTING_VARIANTS,
    RULES,
    STUDIES,
    retry_span_s,
)
from sim.study import mean_ci, percent_ci
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import select as _select
from sim.study import summary_row as _get

# The findings' intervals: a NaN mean reads n/a, a metric equal in every replication reads as
# its mean alone.
_ci = functools.partial(mean_ci, constant="mean", nan_mean=True)
_pct = functools.partial(percent_ci, constant="mean", nan_mean=True)



def _mean(row: pd.Series | None) -> float | None:
    return None if row is None else float(row["mean"])


def binomial_checks(df: pd.DataFrame) -> pd.DataFrame:
    """EventBridge's matched and unrouted fractions, each with its pooled binomial z-score.

    The matched fraction of a rule, pooled over all uploads of all replications, is binomial:
    ``z = (mean − theory) / sqrt(theory (1 − theory) / uploads)``.
    """
    rt = df[(df["study"] == "routing") & (df["variant"] == "eventbridge")]
    uploads = _select(rt, "uploads", sink="*").set_index("variant")
    rows = rt[rt["metric"].isin(["received_fraction", "unrouted_fraction"])].copy()
    pooled = [float(uploads.loc[v, "mean"] * uploads.loc[v, "n"]) for v in rows["variant"]]
    rows["pooled_uploads"] = pooled
    se = (rows["theory"] * (1 - rows["theory"]) / rows["pooled_uploads"]) ** 0.5
    rows["z"] = (rows["mean"] - rows["theory"]) / se
    return rows


def findings(df: pd.DataFrame, diff: pd.DataFrame, out_name: str, quick: bool, seed: int) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the two CSV tables."""
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "s3_eventbridge.csv", "differences.csv", "routing.png", "outage.png", "replay.png"))
    rt, ou, rp = (df[df["study"] == s] for s in STUDIES)
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in STUDIES}
    up_rt = _get(rt, "uploads", sink="*", variant="eventbridge")
    up_ou = _get(ou, "uploads", sink="*")
    mean_s, sd_s = retry_span_s()
    lines = [
        "# S3 → EventBridge: rule selectivity, target outages vs the 24 h / 185-retry policy, "
        "archive replay, and direct S3 notifications",
        "",
        f"Script `experiments/s3_eventbridge.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, common random numbers (every variant of a study sees the same uploads); "
        f"routing: {reps['routing']} replications of about {_num(_mean(up_rt))} uploads; outage "
        f"and replay: {reps['outage']} and {reps['replay']} replications of about "
        f"{_num(_mean(up_ou))} uploads in the "
        f"first 10 minutes of the outage; files: {files}.",
        "",
        f"Setup (DESIGN A5): {SETUP.replace(chr(10), ' ')}. Four rules on the bus, each to its "
        "own SQS queue and Lambda consumer: "
        + "; ".join(f"`{r.name}` ({r.description}) → {r.function}" for r in RULES) + ". "
        "Assumed where AWS publishes no number: the delays above, duplicate rates (routing "
        f"study only: S3 {DUP_S3:g} per event, EventBridge {DUP_EB:g} per target delivery), the "
        "retry backoff base 1 s and cap 600 s. Caveat: real S3 events carry no user metadata; "
        "evsim exposes it as `detail.object.metadata` so that a metadata rule can be studied "
        "(in AWS the consumer would have to read the object's metadata itself).",
        "",
        "![routing: selectivity, latency, duplicates, cost](" + out_name + "/routing.png)",
        "![outage of one target](" + out_name + "/outage.png)",
        "![archive replay after the outage](" + out_name + "/replay.png)",
        "",
    ]
    sel = {r.name: _get(rt, "received_fraction", variant="eventbridge", sink=r.function)
           for r in RULES}  # fmt: skip
    checks = binomial_checks(df)
    worst = float(checks["z"].abs().max())
    unrouted = _get(rt, "unrouted_fraction", variant="eventbridge", sink="*")
    lines.append(
        "- **Selectivity.** Fraction of uploads each rule sends to its consumer: "
        + "; ".join(f"`{r.name}` {_pct(got)}, closed form {_p(got['theory'])}"
                    for r in RULES if (got := sel[r.name]) is not None)
        + f"; no rule matches {_pct(unrouted)} (closed form "
        f"{_p(unrouted['theory']) if unrouted is not None else 'n/a'}). Every fraction pooled "
        f"over all uploads lies within {worst:.2f} binomial standard errors of its closed form "
        f"({len(checks)} fractions)."
    )
    fan = {r.name: _get(rt, "useful_fraction", variant="s3-sns-fanout", sink=r.function)
           for r in RULES}  # fmt: skip
    inv = {v: _get(rt, "invocations_per_upload", variant=v, sink="*") for v in ROUTING_VARIANTS}
    extra = _get(diff, "invocations_per_upload", study="routing")
    cost = {v: _get(rt, "cost_per_million_usd", variant=v, sink="*") for v in ROUTING_VARIANTS}
    dcost = _get(diff, "cost_per_million_usd", study="routing")
    lines.append(
        "- **Direct S3 notifications cannot do this routing.** S3 rejects overlapping "
        "prefix/suffix filters for one event type, and size, metadata and anything-but are not "
        "prefix/suffix filters at all, so the four consumers get one unfiltered notification "
        "fanned out by SNS and filter in code: each receives every upload, of which only "
        + ", ".join(f"{_p(useful['mean'])} ({r.function})" for r in RULES
                    if (useful := fan[r.name]) is not None)
        + f" is useful. Consumer invocations per upload: {_ci(inv['s3-sns-fanout'])} vs "
        f"{_ci(inv['eventbridge'])} with EventBridge (paired difference {_ci(extra)}, closed "
        f"form {_num(extra['theory']) if extra is not None else 'n/a'}). Cost per million "
        f"uploads: {_ci(cost['s3-sns-fanout'], 'USD')} vs {_ci(cost['eventbridge'], 'USD')} "
        f"(difference {_ci(dcost, 'USD')}; both include $5 of S3 PUTs; S3 events on the "
        "default bus are free, SNS bills $0.50 per million publishes; evsim bills the full "
        "handler time for an upload the code discards, an upper bound)."
    )
    lat = {(v, q): _get(rt, f"latency_{q}_s", variant=v, sink="*")
           for v in ROUTING_VARIANTS for q in ("p50", "p99")}  # fmt: skip
    dup = {v: _get(rt, "duplicates_per_million_uploads", variant=v, sink="*")
           for v in ROUTING_VARIANTS}  # fmt: skip
    dp50 = _get(diff, "latency_p50_s", study="routing")
    lines.append(
        f"- **Latency and duplicates.** End-to-end p50 {_ci(lat[('eventbridge', 'p50')], 's')} "
        f"with EventBridge vs {_ci(lat[('s3-sns-fanout', 'p50')], 's')} through SNS (paired "
        f"difference {_ci(dp50, 's')}), p99 {_ci(lat[('eventbridge', 'p99')], 's')} vs "
        f"{_ci(lat[('s3-sns-fanout', 'p99')], 's')}: S3's own event delay (assumed lognormal, "
        "median 1 s, p99 ≈ 10 s) dominates both, and the difference is the assumed bus latency "
        "(evsim adds no SNS delay to an S3 notification). Duplicates per million uploads: "
        f"{_ci(dup['eventbridge'])} (closed form {_num(dup['eventbridge']['theory'])}) vs "
        f"{_ci(dup['s3-sns-fanout'])} (closed form {_num(dup['s3-sns-fanout']['theory'])}): "
        "EventBridge adds its own at-least-once copies to S3's, but the fan-out multiplies each "
        f"S3 duplicate by the four queues. {_s3_duplicate_check(rt)} Consumers must be "
        "idempotent either way."
        if dup["eventbridge"] is not None and dup["s3-sns-fanout"] is not None else ""
    )
    fates = []
    for d in sorted(ou["outage_s"].unique()):
        delv = _get(ou, "delivered_fraction", variant="no-dlq", outage_s=d)
        lost = _get(ou, "lost_fraction", variant="no-dlq", outage_s=d)
        dlq = _get(ou, "dead_lettered_fraction", variant="dlq", outage_s=d)
        p50 = _get(ou, "latency_p50_h", variant="no-dlq", outage_s=d)
        p99 = _get(ou, "latency_p99_h", variant="no-dlq", outage_s=d)
        if delv is None or lost is None or dlq is None:
            continue
        text = (f"{_hours(d)}: delivered {_pct(delv)} (closed form {_p(delv['theory'])}), "
                f"without DLQ lost {_pct(lost)}, with DLQ dead-lettered {_pct(dlq)}")
        if p50 is not None and p99 is not None and not pd.isna(p50["mean"]):
            text += f", delay p50 {_hours(p50['mean'] * HOUR)} / p99 {_hours(p99['mean'] * HOUR)}"
        fates.append(text)
    lines.append(
        f"- **Target outage vs the retry policy.** With the default policy the 185 retries span "
        f"{mean_s / HOUR:.2f} h on average (sd {sd_s / HOUR:.2f} h), so they run out before "
        "the 24 h maximum event age: an event whose target stays down more than ≈ 22 h after its "
        "first attempt is dropped (or dead-lettered), and the 24 h limit never binds. Per outage "
        "length (the thumbnailer's pairs; uploads in the outage's first 10 minutes): "
        + "; ".join(fates) + ". A delivered pair waits for the outage to end plus up to one "
        "backoff interval (≤ 600 s once the backoff is capped, about 1.5 h in). The DLQ changes "
        "lost into dead-lettered and nothing else; the other three consumers get every upload "
        "whatever the outage."
    )
    rec = []
    for d in sorted(rp["outage_s"].unique()):
        base = _get(rp, "delivered_fraction", variant="no-replay", outage_s=d,
                    sink=OUTAGE_RULE.function)  # fmt: skip
        after = _get(rp, "delivered_fraction", variant="replay-all-rules", outage_s=d,
                     sink=OUTAGE_RULE.function)  # fmt: skip
        rcv = _get(diff, "recovered_fraction_of_lost", variant="replay-all-rules", outage_s=d)
        dup_all = _get(rp, "healthy_duplicates_per_upload", variant="replay-all-rules",
                       outage_s=d)  # fmt: skip
        dup_thumb = _get(rp, "duplicates_per_upload", variant="replay-images-only", outage_s=d,
                         sink=OUTAGE_RULE.function)  # fmt: skip
        dup_ex = _get(rp, "healthy_duplicates_per_upload", variant="replay-images-only",
                      outage_s=d)  # fmt: skip
        if base is None or after is None or dup_all is None or dup_thumb is None:
            continue
        recovered = (f"recovers {_pct(rcv)} of the lost pairs" if rcv is not None
                     and not pd.isna(rcv["mean"]) else "has nothing to recover")  # fmt: skip
        rec.append(
            f"{_hours(d)} outage: delivered {_pct(base)} without replay, {_pct(after)} with; "
            f"the replay {recovered}, and to every rule it makes "
            f"{_num(dup_all['mean'] * 1000)} duplicates per 1,000 uploads at the healthy "
            f"consumers (closed form {_num(dup_all['theory'] * 1000)}) — "
            f"{_num(dup_ex['mean'] * 1000) if dup_ex is not None else 'n/a'} when they exclude "
            f"replays — plus {_num(dup_thumb['mean'] * 1000)} per 1,000 at the thumbnailer for "
            "pairs it had already processed"
        )
    rcost = _get(diff, "replay_cost_per_million_replayed_usd", variant="replay-all-rules")
    rcost_ex = _get(diff, "replay_cost_per_million_replayed_usd", variant="replay-images-only")
    lines.append(
        "- **Archive replay after the outage** (window [0, outage end), started 10 minutes "
        "after it): " + "; ".join(rec) + ". Archive plus replay cost "
        f"{_ci(rcost, 'USD')} per million replayed events when every rule takes the replay "
        f"(EventBridge bills replayed events as custom events, $1 per million, and each "
        f"re-delivery costs SQS requests and an invocation), {_ci(rcost_ex, 'USD')} when the "
        "healthy rules exclude replays with `\"replay-name\": [{\"exists\": false}]`. A replay "
        "cannot tell delivered from lost events: exclude replays on the rules whose targets "
        "were healthy, and keep the target that was down idempotent."
    )
    lines.append(
        "- **What changed in the cost with this version of evsim.** Lambda bills the INIT phase "
        "(a cold start) at the duration rate since 1 August 2025, a ReceiveMessage request "
        "carries at most 10 messages, and an event source's pollers make billed long polls "
        "(one per 20 s each, an assumption) while the queue is empty; evsim billed none of "
        "these before. In the routing study the cost per million uploads rose by about 1%. In "
        "the outage and replay studies it rose 4 to 14 times (7.59 to 39.0 USD per million "
        "uploads with a 10-minute outage, 6.77 to 95.3 with a 48-hour one): each run drains "
        "for at least a day after its hour of uploads, and every queue's pollers keep polling "
        "the empty queues all that time, as they would on AWS; those rows price the drain, "
        "not the uploads. evsim keeps 5 pollers per idle queue where AWS may go down to 2, so "
        "the idle part is an upper bound (up to 2.5 times AWS's)."
    )
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: every pair is resolved by the end of each run (largest mean in flight: "
        f"{_num(flight)}; runs drain ≥ outage + 24 h). Not modelled: S3 storage, archive "
        "storage, the invocations quota (far from reached)."
    )
    return "\n".join(line for line in lines) + "\n"


def _s3_duplicate_check(rt: pd.DataFrame) -> str:
    """S3's duplicated events, pooled over the fan-out's replications, against a Poisson count.

    In the fan-out every S3 duplicate becomes one duplicate at each of the four consumers (no
    other source of duplicates there), so the pooled count of S3 duplicates is exact.
    """
    dup = _get(rt, "duplicates_per_million_uploads", variant="s3-sns-fanout", sink="*")
    up = _get(rt, "uploads", variant="s3-sns-fanout", sink="*")
    if dup is None or up is None:
        return ""
    total = float(up["mean"] * up["n"])
    events = round(float(dup["mean"]) * total / 1e6 / len(RULES))
    expected = total * DUP_S3
    p = min(1.0, 2 * min(float(poisson.cdf(events, expected)),
                         float(poisson.sf(events - 1, expected))))  # fmt: skip
    return (f"Pooled over the replications S3 duplicated {events} of {_num(total)} events "
            f"(expected {expected:.1f}; two-sided Poisson probability of a count at least this "
            f"far off: {p:.2g}); both variants share these S3 draws (common random numbers), "
            "so they sit on the same side of their closed forms.")


def _hours(seconds: float) -> str:
    h = seconds / HOUR
    if h < 1:
        return f"{seconds / 60:.3g} min"
    return f"{h:.3g} h"
