"""The audit-alerts study's findings, from its tidy tables (see :mod:`experiments.audit_alerts`)."""

from __future__ import annotations

import math
from functools import partial

import pandas as pd

from experiments.audit_alerts_charts import levels
from experiments.audit_alerts_design import (
    ATTEMPTS,
    CDF_P,
    CT_MEDIAN_S,
    CT_SIGMA,
    DELETE_SHARE,
    DRAIN_S,
    EMAIL_RATE_PER_S,
    KEYS,
    MAIL_ACCOUNTS,
    MAIL_AFFECTED,
    POLICY_SPAN_S,
    QUANTILES,
    SNS_ACCOUNTS,
    SNS_OUTAGE_S,
    dkw_band,
    last_wait_s,
)
from sim.analysis.theory import dead_letter_probability, mean_attempts
from sim.study import mean_ci, percent_ci, summary_row, theory_table
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import select as _select

# The findings' intervals: a NaN mean reads n/a, a metric equal in every replication reads
# "... in every replication".
_ci = partial(mean_ci, constant="every", nan_mean=True)
_pct = partial(percent_ci, constant="every", nan_mean=True)

FRACTIONS = ("delivered_fraction", "all_delivered_fraction", "partial_fraction",
             "affected_delivered_fraction")  # fmt: skip


def _row(df: pd.DataFrame, metric: str, **eq: object) -> pd.Series:
    """The first row of ``df`` for ``metric`` with the columns ``eq`` (KeyError if none)."""
    row = summary_row(df, metric, **eq)
    if row is None:
        raise KeyError(f"no row {metric} {eq}")
    return row


def _total(row: pd.Series) -> float:
    """The total of a per-replication count over all replications (mean × n)."""
    return float(row["mean"] * row["n"])


def theory_checks(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of fractions with a closed form, each with a ``verdict``.

    ``inside``: the closed form is inside the 95% CI; ``no event``: every replication saw the
    same extreme value (a CI of zero width) and the closed form expects at most 3 of the other
    outcome in all replications together; ``miss`` otherwise. The count behind a fraction is
    the notifications where accounts miss alerts independently (``delivered_fraction`` of the
    emails study) and the alerts elsewhere (a CloudTrail loss or an outage hits whole alerts).
    """
    rows = theory_table(df[df["metric"].isin(FRACTIONS)])
    idx = list(KEYS)
    alerts = _select(df, "alerts").set_index(idx)
    pairs = _select(df, "deliveries_expected").set_index(idx)
    pooled = []
    for key, metric in zip(rows[idx].itertuples(index=False, name=None), rows["metric"],
                           strict=True):  # fmt: skip
        per_pair = metric == "delivered_fraction" and key[0] == "emails"
        src = pairs if per_pair else alerts
        pooled.append(_total(src.loc[key]))
    th = rows["theory"]
    rare = th.where(rows["metric"] == "partial_fraction", 1.0 - th) * pooled
    extreme = (rows["std"] == 0) & rows["mean"].isin([0.0, 1.0])
    rows["verdict"] = "miss"
    rows.loc[extreme & (rare <= 3.0), "verdict"] = "no event"
    rows.loc[rows["inside_ci"], "verdict"] = "inside"
    return rows


def _delay_checks(em: pd.DataFrame, metric: str) -> tuple[int, int]:
    """How many rows of ``metric`` with an interval have the closed form inside, of how many."""
    sel = theory_table(_select(em, metric))
    sel = sel[sel["ci_low"].notna()]
    return int(sel["inside_ci"].sum()), len(sel)


def findings(df: pd.DataFrame, cdf: pd.DataFrame, out_name: str, quick: bool, seed: int) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the CSV tables."""
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "audit_alerts.csv", "delay_cdf.csv", "delivery.png", "delay.png", "delay_cdf.png",
        "outages.png"))  # fmt: skip
    em, lo = df[df["study"] == "emails"], df[df["study"] == "loss"]
    ml, sn = df[df["study"] == "mail_outage"], df[df["study"] == "sns_outage"]
    ns, ps = levels(em)
    n0, n1 = ns[0], ns[-1]
    reps = int(em["n"].max())
    alerts = _select(em, "alerts")
    per_rep = float(alerts["mean"].mean())
    loss_pairs = float(_select(lo, "deliveries_expected")["mean"].mean()) if not lo.empty else 0
    lines = [
        "# Audit alerts: CloudTrail DeleteTable → EventBridge → SNS email to every account "
        "(notified fraction, delay, outages)",
        "",
        f"Script `experiments/audit_alerts.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, common random numbers; files: {files}.",
        "",
        "Setup (DESIGN A6): DynamoDB management calls (CreateTable, UpdateTable, DeleteTable, "
        "1:2:1) at 4 per hour go through CloudTrail (best effort, delay "
        f"lognormal median {CT_MEDIAN_S:g} s, σ {CT_SIGMA:g} — the simulator's unconfirmed "
        "default) to the default bus; the rule `{\"source\": [\"aws.dynamodb\"], \"detail-type\": "
        "[\"AWS API Call via CloudTrail\"], \"detail\": {\"eventSource\": "
        "[\"dynamodb.amazonaws.com\"], \"eventName\": [\"DeleteTable\"]}}` sends the one call "
        "in 4 that is a DeleteTable to an SNS topic (EventBridge retries 24 h / 185), which "
        f"emails N accounts at {EMAIL_RATE_PER_S:g} emails/s (0.1 s apart, no burst). Each "
        f"email attempt fails with probability p; SNS retries it for {POLICY_SPAN_S / 3600:.2f} "
        f"h ({ATTEMPTS} attempts, AWS's 2 + 10 + 38, the first attempt being the first of "
        "the 2). The delay runs from the API call to SNS's successful hand-over of the "
        "email (EventBridge, SNS and the mail servers add no latency of their own: AWS "
        f"publishes none). Emails study: {reps} replications of about {_num(per_rep)} alerts "
        f"each, the same alerts for every N and p; loss study: about {_num(loss_pairs)} "
        "notifications per replication (more alerts at small N, since a loss hits a whole "
        "alert).",
        "",
        "![alerts reaching every account](" + out_name + "/delivery.png)",
        "![notification delay](" + out_name + "/delay.png)",
        "![delay distribution](" + out_name + "/delay_cdf.png)",
        "![outages](" + out_name + "/outages.png)",
        "",
    ]
    # -- fractions
    at1 = {"n_accounts": n1}
    low_ps = [p for p in ps if p <= 0.5]
    worst_low = max((float(_select(em, m, email_failure_p=p)["mean"].min().__rsub__(1.0))
                     for p in low_ps for m in ("delivered_fraction", "all_delivered_fraction")),
                    default=math.nan)  # fmt: skip
    lines.append(
        f"- **Email failures up to p = {max(low_ps):.0%} per attempt never cost a "
        f"notification.** Every account got every alert in every configuration with p ≤ "
        f"{max(low_ps):.0%} (largest shortfall {_p(worst_low)}; closed form p^{ATTEMPTS} ≤ "
        f"{dead_letter_probability(max(low_ps), ATTEMPTS):.1e}): {ATTEMPTS} attempts over "
        f"{POLICY_SPAN_S / 3600:.1f} h absorb independent failures. They cost attempts "
        "instead (chart (c) of delivery.png): "
        + ", ".join(f"{_ci(_row(em, 'attempts_per_notification', email_failure_p=p, **at1))}"
                    f" per notification at p = {p:.0%} (closed form "
                    f"{mean_attempts(p, ATTEMPTS):.3g})" for p in ps if p > 0)
        + "."
    )
    if 0.9 in ps:
        d9 = {n: _row(em, "delivered_fraction", email_failure_p=0.9, n_accounts=n) for n in ns}
        a9 = {n: _row(em, "all_delivered_fraction", email_failure_p=0.9, n_accounts=n)
              for n in ns}  # fmt: skip
        med9 = _row(em, "latency_p50_s", email_failure_p=0.9, n_accounts=n1)
        p99_9 = _row(em, "latency_p99_s", email_failure_p=0.9, n_accounts=n1)
        miss50, miss51 = 0.9**ATTEMPTS, 0.9 ** (ATTEMPTS + 1)
        pairs = _row(em, "deliveries_expected", email_failure_p=0.9, n_accounts=n1)
        d = d9[n1]
        inside = [m for m in (miss50, miss51) if 1 - d["ci_high"] <= m <= 1 - d["ci_low"]]
        tell = ("; this run cannot tell the two apart" if len(inside) == 2
                else "" if inside == [miss50] else "; neither is inside the CI")  # fmt: skip
        lines.append(
            f"- **Where the email policy runs out: p = 90%.** At N = {n1} accounts missed "
            f"{_p(1 - d['mean'])} of {_num(_total(pairs))} notifications (95% CI "
            f"{_p(1 - d['ci_high'])} – {_p(1 - d['ci_low'])}; closed form p^{ATTEMPTS} = "
            f"{_p(miss50)}; AWS's \"50 attempts\" read as 50 retries after the first attempt "
            f"would give {_p(miss51)}{tell}). Misses are independent per account, so the chance "
            "that an alert reaches every account falls with N: "
            + ", ".join(f"N = {n}: {_pct(a9[n])} (closed form "
                        f"{_p(float(a9[n]['theory']))})" for n in ns)
            + f". The delay grows with the retries: median {_ci(med9, 's')}, p99 "
            f"{_ci(p99_9, 'h', 1 / 3600)} at N = {n1}."
        )
    if not lo.empty:
        losses = sorted(float(x) for x in lo["cloudtrail_loss"].unique())
        parts = []
        for x in losses:
            r = _row(lo, "all_delivered_fraction", cloudtrail_loss=x, n_accounts=n0)
            pr = _row(lo, "partial_fraction", cloudtrail_loss=x, n_accounts=n0)
            al = _row(lo, "alerts", cloudtrail_loss=x, n_accounts=n0)
            parts.append(f"loss {x:.1%}: {_pct(r)} of {_num(_total(al))} alerts "
                         f"reached all {n0} accounts (closed form {_p(float(r['theory']))}), "
                         f"{_p(pr['mean'])} reached only some")  # fmt: skip
        big = _row(lo, "all_delivered_fraction", cloudtrail_loss=losses[-1], n_accounts=n1)
        big_al = _row(lo, "alerts", cloudtrail_loss=losses[-1], n_accounts=n1)
        lines.append(
            "- **CloudTrail's best-effort loss is the only steady loss, and it is all or "
            "nothing**: a lost event reaches no account, so the notified fraction and the "
            "fraction of alerts reaching every account are both 1 − loss, whatever N. "
            + "; ".join(parts)
            + f". At N = {n1} the same estimate rests on {_num(_total(big_al))} "
            f"alerts: {_pct(big)} at loss {losses[-1]:.1%} (a loss rate this small needs "
            "thousands of alerts to measure; the simulator draws it per alert, so it does not "
            "depend on N)."
        )
    checks = theory_checks(df)
    misses = checks[checks["verdict"] == "miss"]
    miss_text = "; ".join(
        f"{r.study}, N = {r.n_accounts}, p = {r.email_failure_p:g}, loss = "
        f"{r.cloudtrail_loss:g}, {r.outage} {r.outage_h:g} h, {r.metric}: {r.mean:.4g} vs "
        f"{r.theory:.4g}" for r in misses.itertuples())
    lines.append(
        f"- **Against the closed forms**: of {len(checks)} fractions with a closed form, "
        f"{int((checks['verdict'] == 'inside').sum())} have it inside their 95% CI and "
        f"{int((checks['verdict'] == 'no event').sum())} saw no event at all where the closed "
        "form expects at most 3 in all replications together; "
        f"{len(misses)} miss" + (f" ({miss_text}); about 5% misses are expected by chance."
                                 if len(misses) else ".")
        + " The configurations are not independent checks: under common random numbers the "
        "studies share their alerts and every N shares its first accounts (the same inboxes, "
        "the same failure draws), so one unlucky stretch of acct001–acct050 moves the "
        "estimates at N = 50, 100, 250 and 500 together."
    )
    # -- delay
    cp = CDF_P if CDF_P in ps else ps[0]
    q = {(n, m): _row(em, m, email_failure_p=cp, n_accounts=n) for n in (n0, n1)
         for m in QUANTILES}  # fmt: skip
    lmf = _row(em, "last_minus_first_latency_mean_s", email_failure_p=ps[0], n_accounts=n1)
    (mean_in, mean_all), (p50_in, p50_all), (p99_in, p99_all) = (
        _delay_checks(em, m) for m in ("latency_mean_s", "latency_p50_s", "latency_p99_s"))
    lines.append(
        f"- **Delay grows with N through the email quota.** At p = {cp:.0%}: N = {n0}, "
        f"median {_ci(q[(n0, 'latency_p50_s')], 's')}, p90 {_ci(q[(n0, 'latency_p90_s')], 's')}, "
        f"p99 {_ci(q[(n0, 'latency_p99_s')], 's')}; N = {n1}, median "
        f"{_ci(q[(n1, 'latency_p50_s')], 's')} (closed form "
        f"{_num(float(q[(n1, 'latency_p50_s')]['theory']))} s), p90 "
        f"{_ci(q[(n1, 'latency_p90_s')], 's')}, p99 {_ci(q[(n1, 'latency_p99_s')], 's')} "
        f"(closed form {_num(float(q[(n1, 'latency_p99_s')]['theory']))} s), largest "
        f"{_ci(q[(n1, 'latency_max_s')], 's')}. With {_num(EMAIL_RATE_PER_S)} emails/s the "
        f"last of {n1} accounts always comes {last_wait_s(n1):g} s after the first: "
        f"measured {_ci(lmf, 's')} (p = {ps[0]:.0%}). The CloudTrail delay, shared by all "
        "emails of an alert, makes the tail: its assumed p99 alone is "
        f"{CT_MEDIAN_S * math.exp(2.3263 * CT_SIGMA):.0f} s. Closed forms inside the 95% CI: "
        f"mean {mean_in} of {mean_all}, median {p50_in} of {p50_all}, p99 {p99_in} of "
        f"{p99_all} configurations (a run's p99 rests on its few alerts with the longest "
        "CloudTrail delays; the closed forms ignore alerts that overlap in the quota)."
    )
    if not cdf.empty:
        gap = (cdf["theory_prob"] - cdf["prob"]).abs().groupby(cdf["n_accounts"]).max()
        n_alerts = int(cdf["alerts"].min())
        band = dkw_band(n_alerts)
        med = cdf[cdf["prob"] == 0.5].set_index("n_accounts")
        lines.append(
            f"- **Distribution** (delay_cdf.png, replication 0, p = {CDF_P:.0%}, "
            f"{n_alerts} alerts): the simulated and closed-form CDFs differ by at most "
            + ", ".join(f"{gap[n]:.3f} (N = {n})" for n in gap.index)
            + f" in probability, inside the 95% Dvoretzky–Kiefer–Wolfowitz band ±{band:.3f} "
            f"for {n_alerts} independent alerts (the emails of one alert share its CloudTrail "
            "delay, so alerts, not emails, are the independent draws). Medians: "
            + ", ".join(f"N = {n}: {med.loc[n, 'delay_s']:.1f} s vs {med.loc[n, 'theory_s']:.1f} s"
                        for n in med.index)
            + "."
        )
    # -- outages
    if not ml.empty:
        ws = sorted(float(w) for w in ml["outage_h"].unique())
        parts = []
        for w in ws:
            f = _row(ml, "affected_delivered_fraction", outage_h=w)
            mx = _row(ml, "affected_latency_max_s", outage_h=w)
            parts.append(f"{w:g} h: {_pct(f)} delivered (closed form "
                         f"{_p(float(f['theory']))}), the latest after "
                         f"{_ci(mx, 'h', 1 / 3600)}")  # fmt: skip
        un = _row(ml, "unaffected_delivered_fraction", outage_h=ws[-1])
        lines.append(
            f"- **Mail provider outage** ({MAIL_AFFECTED} of {MAIL_ACCOUNTS} inboxes "
            f"unavailable for W hours, alerts made during it): " + "; ".join(parts)
            + f". SNS's last email attempt comes {POLICY_SPAN_S / 3600:.2f} h after the first: "
            "an outage shorter than that only delays the emails (each arrives at the first "
            "retry after the provider is back, at most 10 minutes late), a longer one loses "
            "every alert of its first W − 6.83 h, with no DLQ to replay from (SNS email "
            "subscriptions are discarded when the policy ends). The other accounts are not "
            f"affected ({_pct(un)} delivered)."
        )
    if not sn.empty:
        top = {m: _row(sn, m, outage="topic") for m in ("delivered_fraction", "latency_p50_s",
                                                         "latency_max_s")}  # fmt: skip
        base = _row(sn, "latency_max_s", outage="none")
        bus = _row(sn, "delivered_fraction", outage="bus")
        lines.append(
            f"- **SNS topic down {SNS_OUTAGE_S / 60:g} minutes** (N = {SNS_ACCOUNTS}, alerts "
            f"made during it): EventBridge's retries deliver {_pct(top['delivered_fraction'])} "
            f"of notifications (closed form 100%), late: median {_ci(top['latency_p50_s'], 's')}"
            f", largest {_ci(top['latency_max_s'], 's')} (without the outage the largest is "
            f"{_ci(base, 's')}). The retries back off to gaps of up to 10 minutes, and the "
            f"alerts that waited reach SNS together and queue behind the {EMAIL_RATE_PER_S:g} "
            f"emails/s quota. **The event bus down instead**: CloudTrail does not retry, so "
            f"only {_pct(bus)} of those notifications are delivered (closed form "
            f"{_p(float(bus['theory']))}: the alerts whose CloudTrail delay outlasted the "
            "outage)."
        )
    unr = _row(em, "unrouted_fraction", email_failure_p=ps[0], n_accounts=n0)
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: the rule matched only DeleteTable calls ({_pct(unr)} of API calls "
        f"unrouted, closed form {_p(1 - DELETE_SHARE)}); every notification was resolved by "
        f"the end of each run, {DRAIN_S / 3600:g} h after the last call (largest mean in "
        f"flight: {_num(flight)}). Assumptions: the CloudTrail delay distribution and loss "
        "rates are not documented by AWS; SNS applies the 10/s email quota per topic (AWS: "
        "per account — the same with one topic) and only to first attempts (retries do not "
        "wait for it); SNS's retry jitter, subscription confirmation, bounces and the time "
        "from the mail server to the inbox are not modelled."
    )
    return "\n".join(lines) + "\n"
