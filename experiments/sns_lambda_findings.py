"""The SNS → Lambda study's findings text, every number read from the CSV tables."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from experiments.sns_lambda_charts import age_label, one
from experiments.sns_lambda_design import (
    BACKGROUND_ERROR_RATE,
    BURST_SPREAD_S,
    CAPACITY_PER_S,
    DEFAULT_AGE_S,
    OUTAGE_LENGTH_S,
    RESERVED_CONCURRENCY,
    exact_interval,
)
from sim.analysis.theory import async_lambda_loss

#: The counts behind each share (for the exact interval on pooled counts).
COUNTS = {"lost_fraction": ("lost",), "expired_fraction": ("expired",),
          "dead_lettered_fraction": ("dead_lettered",),
          "failed_fraction": ("lost", "expired", "dead_lettered")}  # fmt: skip


def share_text(mean: float, lo: float | None = None, hi: float | None = None) -> str:
    """A share (and its interval) in one unit: per million below 0.1%, else percent."""
    vals = [v for v in (mean, lo, hi) if v is not None and not pd.isna(v)]
    top = max(abs(v) for v in vals)
    if top == 0:
        return "0"
    f: Callable[[float], str]
    if top < 1e-3:
        f, unit = (lambda v: f"{v * 1e6:,.3g}"), " per million"
    else:
        f, unit = (lambda v: f"{v * 100:.3g}"), "%"
    if lo is None or hi is None or pd.isna(lo) or lo == hi:
        return f"{f(mean)}{unit}"
    return f"{f(mean)}{unit} [{f(lo)}, {f(hi)}]"


def _secs(v: float) -> str:
    return f"{v:,.0f} s" if abs(v) >= 100 else f"{v:.3g} s"


def _ci(row: pd.Series, kind: str = "s") -> str:
    """Mean [95% t-interval] of a summary row: seconds (``s``) or a plain number (``n``)."""
    f = _secs if kind == "s" else (lambda v: f"{v:.3g}")
    lo, hi = row["ci_low"], row["ci_high"]
    if pd.isna(lo) or lo == hi:
        return f(row["mean"])
    return f"{f(row['mean'])} [{f(lo)}, {f(hi)}]"


def _share(df: pd.DataFrame, metric: str, **eq: object) -> str:
    """A share with its 95% interval: exact binomial on pooled counts below 1%, else t."""
    row = one(df, metric, **eq)
    if metric in COUNTS and row["mean"] < 0.01:
        n = int(row["n"])
        count = round(sum(one(df, c, **eq)["mean"] for c in COUNTS[metric]) * n)
        pairs = round(one(df, "messages", **eq)["mean"] * n)
        lo, hi = exact_interval(count, pairs)
        return share_text(count / pairs, lo, hi)
    return share_text(row["mean"], row["ci_low"], row["ci_high"])


def _pooled(te: pd.DataFrame, p: float, r: int) -> str:
    """Pooled lost share of the errors study at the default age, exact interval, theory."""
    row = te[(te["error_rate"] == p) & (te["max_retries"] == r) & ~te["on_failure"]
             & (te["max_event_age_s"] == DEFAULT_AGE_S) & (te["quantity"] == "lost_fraction")]
    if len(row) != 1:
        raise KeyError((p, r, len(row)))
    x = row.iloc[0]
    return (f"{share_text(x['count'] / x['pairs'], x['exact_low'], x['exact_high'])} "
            f"(theory {share_text(x['theory'])})")  # fmt: skip


def _errors(err: pd.DataFrame, th: pd.DataFrame) -> list[str]:
    """The errors study: p^(r+1), the maximum age that disables retries, tail latency."""
    ps = sorted(err["error_rate"].unique())
    rs = sorted(err["max_retries"].unique())
    r0, r_hi = min(rs), max(rs)
    p_mid = ps[len(ps) // 2] if len(ps) > 2 else ps[0]
    p_hi = max(ps)
    te = th[(th["study"] == "errors")]
    inside = int(te["inside"].astype(bool).sum())
    worst = float(te["p_value"].min())
    pooled = {(p, r): _pooled(te, p, r) for p in (p_mid, p_hi) for r in (r0, r_hi)}
    lines = [
        f"- **Function errors follow p^(r+1).** At p = {p_mid:.0%} per attempt, "
        f"max_retries {r0} loses {pooled[(p_mid, r0)]} of events and max_retries {r_hi} "
        f"{pooled[(p_mid, r_hi)]}; at p = {p_hi:.0%}, {pooled[(p_hi, r0)]} and "
        f"{pooled[(p_hi, r_hi)]}. The pooled counts agree with the theory in {inside} of "
        f"{len(te)} comparisons (lost, expired and dead-lettered shares of every configuration, "
        f"exact 95% intervals; smallest binomial p-value {worst:.2g}). With an "
        "on-failure SQS queue exactly the same events are dead-lettered instead of lost "
        "(identical runs, checked replication by replication)."
    ]
    ages_e = sorted(err["max_event_age_s"].unique())
    a_lo = ages_e[0]
    at_hi = {"error_rate": p_hi, "max_retries": r_hi, "on_failure": False}
    txt = (f"- **A maximum event age of {age_label(a_lo)} disables the retries**: the first "
           f"retry comes 1 minute after a failure, past the age limit, so at p = {p_hi:.0%} "
           f"with max_retries {r_hi}, "
           f"{_share(err, 'expired_fraction', max_event_age_s=a_lo, **at_hi)} "
           f"of events expire (theory {p_hi:.0%}) against "
           f"{_share(err, 'failed_fraction', max_event_age_s=DEFAULT_AGE_S, **at_hi)} failed at "
           f"{age_label(DEFAULT_AGE_S)}.")  # fmt: skip
    if 120.0 in ages_e:
        txt += (f" At 2 minutes one retry fits "
                f"({_share(err, 'failed_fraction', max_event_age_s=120.0, **at_hi)} failed, "
                f"theory {share_text(p_hi**2)}); from about 3 minutes on both do, so 10 "
                "minutes, 1 hour and 6 hours give identical runs (checked for 10 minutes).")
    lines.append(txt)
    at_mid = {"error_rate": p_mid, "max_event_age_s": DEFAULT_AGE_S, "on_failure": False}
    lat = {r: one(err, "latency_p99_s", max_retries=r, **at_mid) for r in (r0, r_hi)}
    p50 = one(err, "latency_p50_s", max_retries=r_hi, **at_mid)
    lines.append(
        f"- **Retries cost latency only in the tail**: at p = {p_mid:.0%} the p99 latency of "
        f"delivered events is {_ci(lat[r0])} with max_retries {r0} and {_ci(lat[r_hi])} with "
        f"{r_hi} (a retried event waits 1 minute, a twice-retried one 3; the p99 sits on that "
        f"step, hence the wide interval); the median stays {_ci(p50)}."
    )
    return lines


#: What the throttling study published with evsim's previous asynchronous-invocation model
#: (per-event retry timers; commit a5136fe), full run: expired share at each maximum age
#: (60 s, 10 min, 1 h, 6 h; max_retries 2), p99 and median latency at 6 h, throttles per event.
PREVIOUS_EXPIRED = {60.0: 0.637, 600.0: 0.444, 3600.0: 0.0547, 21600.0: 0.0}
PREVIOUS_P99_S, PREVIOUS_P50_S, PREVIOUS_THROTTLES = 4417.0, 254.0, 8.56


def _throttling(thr: pd.DataFrame, burst: int) -> list[str]:
    """The throttling study: expiry under a burst, and what changed with the internal queue."""
    ages_t = sorted(thr["max_event_age_s"].unique())
    rt = max(thr["max_retries"].unique())
    at = {"max_retries": rt, "on_failure": False}
    longest = {"max_event_age_s": ages_t[-1], **at}
    p99 = one(thr, "latency_p99_s", **longest)
    p50 = one(thr, "latency_p50_s", **longest)
    per = one(thr, "throttles_per_message", **longest)
    drain = burst / CAPACITY_PER_S
    fits = 60.0 * CAPACITY_PER_S
    before = ", ".join(f"{share_text(PREVIOUS_EXPIRED[a])} at {age_label(a)}"
                       for a in ages_t if a in PREVIOUS_EXPIRED)  # fmt: skip
    now = ", ".join(f"{share_text(one(thr, 'expired_fraction', max_event_age_s=a, **at)['mean'])}"
                    f" at {age_label(a)}" for a in ages_t)  # fmt: skip
    return [
        f"- **Throttling: a burst of {burst:,} events in {BURST_SPREAD_S:g} s against reserved "
        f"concurrency {RESERVED_CONCURRENCY} (≈{CAPACITY_PER_S:.1f} events/s)** loses no event "
        f"to throttling as such; the burst waits in Lambda's internal queue, which drains at "
        f"full capacity. With max_retries {rt}, "
        + ", ".join(f"{_share(thr, 'expired_fraction', max_event_age_s=a, **at)} expire at "
                    f"{age_label(a)}" for a in ages_t)
        + " (delivered: "
        + ", ".join(f"{_share(thr, 'delivered_fraction', max_event_age_s=a, **at)}"
                    for a in ages_t)
        + f"). Only a maximum age shorter than the queue's drain time loses events: in "
        f"{age_label(ages_t[0])} the function can serve about {fits:,.0f} of them. At "
        f"{age_label(ages_t[-1])} the p99 latency is {_ci(p99)} (median {_ci(p50)}), against "
        f"{drain:.0f} s for the burst at full capacity (the p99 adds the function errors' "
        f"1-minute retries); the queue's reader costs {_ci(per, 'n')} throttles per event (a "
        "handful per burst: its retry interval doubles from 1 s to 5 minutes while freed "
        "concurrency goes straight to the waiting events). An on-failure queue receives "
        "exactly the expired and lost events.",
        "- **What changed, and why.** evsim used to give every throttled event its own retry "
        "timer (1, 2, 4, … s up to 5 minutes, no jitter) and let concurrency freed between "
        "timers go unused: the events of the burst retried in lockstep waves, each wave "
        f"finding the function's {RESERVED_CONCURRENCY} slots taken, and the function idled "
        f"between waves. It published {before} expired, a p99 latency of "
        f"{PREVIOUS_P99_S:,.0f} s (median {PREVIOUS_P50_S:,.0f} s) at 6 h and "
        f"{PREVIOUS_THROTTLES:g} throttles per event. AWS documents the retry interval (1 s "
        "growing to 5 minutes) and that Lambda reads a long queue more slowly, not capacity "
        "idling while events wait. evsim now keeps a function's events in one queue, oldest "
        "first, invokes the oldest waiting event with any concurrency that frees up, and lets "
        "only the queue's reader back off (one reader per function, its interval reset when it "
        f"gets concurrency: an assumption). Now: {now} expired, p99 {_secs(p99['mean'])} and "
        f"{per['mean']:.2g} throttles per event (panel d: deliveries at capacity until the "
        "queue is empty).",
    ]


def _outage(outage: pd.DataFrame, th: pd.DataFrame, horizon_s: float) -> list[str]:
    """The outage study: a failing function loses the outage, an unavailable one delays it."""
    ages_o = sorted(outage["max_event_age_s"].unique())
    a_def = ages_o[-1]
    ro = max(outage["max_retries"].unique())
    r_lo = min(outage["max_retries"].unique())
    tho = th[(th["study"] == "outage")]

    def approx(mode: str, r: int, age: float) -> str:
        sel = tho[(tho["outage_mode"] == mode) & (tho["max_retries"] == r)
                  & (tho["max_event_age_s"] == age)]  # fmt: skip
        return share_text(float(sel["theory"].iloc[0]))

    def fail(mode: str, r: int, age: float, dest: bool = False) -> str:
        metric = "dead_lettered_fraction" if dest else "failed_fraction"
        return _share(outage, metric, outage_mode=mode, max_retries=r, max_event_age_s=age,
                      on_failure=dest)  # fmt: skip

    share = OUTAGE_LENGTH_S / horizon_s
    p99u = one(outage, "latency_p99_s", outage_mode="unavailable", max_retries=ro,
               max_event_age_s=a_def, on_failure=False)  # fmt: skip
    a_mid = ages_o[1] if len(ages_o) > 2 else ages_o[0]
    return [
        f"- **A {OUTAGE_LENGTH_S / 60:g}-minute outage during which the function fails** "
        f"(every run times out) loses {fail('failing', r_lo, a_def)} of an hour's events with "
        f"max_retries {r_lo} and {fail('failing', ro, a_def)} with {ro} (approximation "
        f"{approx('failing', ro, a_def)}; {share:.0%} of the events arrive during the outage): "
        "the retries cover only its last 3 minutes. An on-failure SQS queue keeps all of them "
        f"({fail('failing', ro, a_def, dest=True)} dead-lettered, ready to be replayed).",
        f"- **When Lambda is unavailable instead** (invokes rejected), SNS keeps retrying the "
        f"hand-over and delivers after the outage: with max_retries {ro}, "
        f"{fail('unavailable', ro, a_def)} of events fail (the function errors' p^(r+1) = "
        f"{share_text(async_lambda_loss(BACKGROUND_ERROR_RATE, ro))}), at the price of a p99 "
        f"latency of {_ci(p99u)}. Only events that were waiting in Lambda's queue for a retry "
        f"when the outage began wait for its end, and expire if their maximum age is shorter: "
        f"at {age_label(a_mid)}, {fail('unavailable', ro, a_mid)} fail (approximation "
        f"{approx('unavailable', ro, a_mid)}).",
    ]


def findings(err: pd.DataFrame, thr: pd.DataFrame, outage: pd.DataFrame, th: pd.DataFrame,
             quick: bool, seed: int, burst: int, horizon_s: float) -> str:  # fmt: skip
    """``findings.md``, every number read from the tables."""
    reps = {k: int(df["n"].max()) for k, df in (("e", err), ("t", thr), ("o", outage))}
    inflight = max(float(df.loc[df["metric"] == "in_flight", "mean"].max())
                   for df in (err, thr, outage))  # fmt: skip
    lines = [
        "# SNS → Lambda: loss, expiry and latency of asynchronous invocation under errors, "
        "throttling and outages",
        "",
        f"`experiments/sns_lambda.py`{' --quick' if quick else ''} (seed {seed}; "
        f"{reps['e']}/{reps['t']}/{reps['o']} replications for the errors/throttling/outage "
        "studies, common random numbers within each). A producer publishes to a standard SNS "
        "topic subscribed by a Lambda function (asynchronous invocation); shares are of events "
        "(message, function pairs). Brackets: 95% intervals, t-based over replications, or "
        "exact binomial on counts pooled over replications for shares below 1%.",
        "",
        "![errors](sns_lambda/errors.png)",
        "![throttling](sns_lambda/throttling.png)",
        "![outage](sns_lambda/outage.png)",
        "",
        *_errors(err, th),
        *_throttling(thr, burst),
        *_outage(outage, th, horizon_s),
        "- **What changed in the cost with this version of evsim.** Lambda bills the INIT "
        "phase (a cold start) at the duration rate since 1 August 2025; evsim did not bill it "
        "before. The cost per million events of the error study rose by 0.1%.",
        f"- Accounting: the largest mean number of events still in flight at the end of a run "
        f"is {inflight:g}. Latencies run from the publish to the end of the first successful "
        "run and cover delivered events only, so a short maximum age makes latency look "
        "better by discarding the slow events.",
    ]
    return "\n".join(lines) + "\n"
