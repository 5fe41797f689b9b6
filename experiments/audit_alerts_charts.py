"""The audit-alerts study's charts, from its tidy tables (see :mod:`experiments.audit_alerts`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.audit_alerts_design import (
    ATTEMPTS,
    CDF_P,
    CT_MEDIAN_S,
    CT_SIGMA,
    EMAIL_RATE_PER_S,
    LOSS_P,
    MAIL_ACCOUNTS,
    MAIL_AFFECTED,
    POLICY_SPAN_S,
    QUANTILES,
    SNS_ACCOUNTS,
    SNS_OUTAGE_S,
    dkw_band,
    last_wait_s,
    mail_outage_loss,
)
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.analysis.theory import dead_letter_probability, mean_attempts
from sim.study import number as _num
from sim.study import select as _select

P_COLORS = {0.0: "tab:green", 0.01: "tab:blue", 0.1: "tab:orange", 0.5: "tab:red",
            0.9: "tab:purple"}  # fmt: skip
LOSS_COLORS = {0.0: "tab:blue", 0.001: "tab:orange", 0.01: "tab:red"}
SETUP = (f"DeleteTable calls at 1 per hour (1 in 4 DynamoDB management calls); CloudTrail "
         f"delay lognormal median {CT_MEDIAN_S:g} s, σ {CT_SIGMA:g}; SNS email "
         f"{EMAIL_RATE_PER_S:g}/s, {ATTEMPTS} attempts over {POLICY_SPAN_S / 3600:.2f} h")


def _scaled(df: pd.DataFrame, scale: float) -> pd.DataFrame:
    for col in ("mean", "ci_low", "ci_high", "theory"):
        df[col] = df[col] * scale
    return df


def _p_label(p: float) -> str:
    return f"p = {p:.0%}" if p else "p = 0"


def levels(em: pd.DataFrame) -> tuple[list[int], list[float]]:
    """The account counts N and the email failure probabilities p of the emails study."""
    return (sorted(int(n) for n in em["n_accounts"].unique()),
            sorted(float(p) for p in em["email_failure_p"].unique()))  # fmt: skip


def _closed_form_key(ax: Any, label: str) -> None:
    """A legend entry for the dotted closed-form lines of a panel."""
    ax.plot([], [], ":", color="0.3", label=label)


def _log_n_axis(ax: Any, ns: Sequence[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(ns), [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("N, accounts notified per alert (log scale)")


def chart_delivery(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Alerts reaching every account vs N (per p, per loss) and email attempts per notification."""
    em, lo = df[df["study"] == "emails"], df[df["study"] == "loss"]
    ns, ps = levels(em)
    grid_n = np.geomspace(min(ns), max(ns), 60)
    fig, (a, b, c) = new_panels(1, 3, 16.0, 5.4)
    labels = {p: _p_label(p) for p in ps}
    sel = _select(em, "all_delivered_fraction")
    for i, p in enumerate(ps):  # side by side: the lines of p ≤ 50% coincide at 1
        shift = {n: n * 1.05 ** (i - (len(ps) - 1) / 2) for n in ns}
        ci_lines(sel, a, "n_accounts", "email_failure_p", {p: labels[p]}, P_COLORS, shift)
    for p in ps:
        miss = dead_letter_probability(p, ATTEMPTS)
        a.plot(grid_n, (1 - miss) ** grid_n, ":", color=P_COLORS.get(p), linewidth=1.3)
    _closed_form_key(a, f"closed form $(1-p^{{{ATTEMPTS}}})^N$")
    a.set_ylabel("alerts that reached every account (fraction)")
    a.set_ylim(-0.02, 1.05)
    a.set_title(f"(a) email failure p per attempt, no CloudTrail loss; {reps} replications\n"
                "of the same alerts for every N (points side by side)", fontsize=10)  # fmt: skip
    a.legend(fontsize=8, loc="lower left")
    losses = sorted(float(x) for x in lo["cloudtrail_loss"].unique())
    sel = pd.concat([_select(em, "all_delivered_fraction", email_failure_p=LOSS_P),
                     _select(lo, "all_delivered_fraction")])  # fmt: skip
    ci_lines(sel, b, "n_accounts", "cloudtrail_loss",
             {x: f"CloudTrail loss {x:.1%}" if x else "no CloudTrail loss" for x in [0.0, *losses]},
             LOSS_COLORS)  # fmt: skip
    for x in [0.0, *losses]:
        miss = dead_letter_probability(LOSS_P, ATTEMPTS)
        b.plot(grid_n, (1 - x) * (1 - miss) ** grid_n, ":", color=LOSS_COLORS.get(x), lw=1.3)
    _closed_form_key(b, f"closed form $(1-loss)(1-p^{{{ATTEMPTS}}})^N$")
    b.set_ylabel("alerts that reached every account (fraction)")
    per = float(_select(lo, "deliveries_expected")["mean"].mean()) if not lo.empty else math.nan
    b.set_title(f"(b) CloudTrail loss, p = {LOSS_P:.0%}; loss 0: the runs of (a)\n"
                f"~{_num(per)} notifications per replication (more alerts at small N)",
                fontsize=10)  # fmt: skip
    b.legend(fontsize=8, loc="lower left")
    ci_lines(_select(em, "attempts_per_notification"), c, "n_accounts", "email_failure_p",
             labels, P_COLORS)  # fmt: skip
    for p in ps:
        c.axhline(mean_attempts(p, ATTEMPTS), linestyle=":", color=P_COLORS.get(p), lw=1.3)
    _closed_form_key(c, r"closed form $(1-p^{A})/(1-p)$")
    c.set_yscale("log")
    c.set_ylabel("email attempts per notification (mean, log scale)")
    c.set_title("(c) SNS email attempts per notification", fontsize=10)
    c.legend(fontsize=8, loc="center right")
    for ax in (a, b, c):
        _log_n_axis(ax, ns)
    fig.suptitle("Audit alerts: CloudTrail DeleteTable → EventBridge → SNS email to N accounts; "
                 f"mean and 95% CI\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


Q_COLORS = {"latency_mean_s": "tab:gray", "latency_p50_s": "tab:blue",
            "latency_p90_s": "tab:orange", "latency_p99_s": "tab:red",
            "latency_max_s": "black"}  # fmt: skip


def chart_delay(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Delay quantiles vs N, p50/p99 vs p, and the pacing of the last account vs the first."""
    em = df[df["study"] == "emails"]
    ns, ps = levels(em)
    fig, (a, b, c) = new_panels(1, 3, 16.0, 5.4)
    sel = em[(em["email_failure_p"] == CDF_P) & em["metric"].isin(list(QUANTILES))]
    ci_lines(sel, a, "n_accounts", "metric", QUANTILES, Q_COLORS)
    for metric in QUANTILES:
        part = _select(sel, metric).sort_values("n_accounts")
        if part["theory"].notna().any():
            a.plot(part["n_accounts"], part["theory"], ":", color=Q_COLORS[metric], lw=1.3)
    _closed_form_key(a, "closed form (isolated alerts)")
    a.set_yscale("log")
    lo_y, hi_y = a.get_ylim()
    a.set_ylim(lo_y, hi_y * 6)
    a.set_ylabel("notification delay, API call → email accepted (s, log scale)")
    a.set_title(f"(a) delay per notification, p = {CDF_P:.0%}", fontsize=10)
    a.legend(fontsize=8, ncol=3, loc="upper center")
    _log_n_axis(a, ns)
    pos = {p: float(i) for i, p in enumerate(ps)}
    ends = (ns[0], ns[-1])
    for metric, ls in (("latency_p50_s", "-"), ("latency_p99_s", "--")):
        part = _select(em, metric)
        part = part[part["n_accounts"].isin(ends)]
        names = {n: f"{QUANTILES[metric]}, N = {n}" for n in ends}
        ci_lines(part, b, "email_failure_p", "n_accounts", names,
                 {ends[0]: "tab:blue", ends[-1]: "tab:red"}, pos, ls)  # fmt: skip
        for n in ends:
            th = part[part["n_accounts"] == n].sort_values("email_failure_p")
            b.plot([pos[p] for p in th["email_failure_p"]], th["theory"], ":",
                   color="tab:blue" if n == ends[0] else "tab:red", lw=1.3)  # fmt: skip
    _closed_form_key(b, "closed form")
    b.set_xticks(list(pos.values()), [f"{p:.0%}" for p in ps])
    b.set_xlabel("email failure probability p per attempt")
    b.set_yscale("log")
    b.set_ylabel("notification delay (s, log scale)")
    b.set_title("(b) retries: p50 and p99 of the delay", fontsize=10)
    b.legend(fontsize=8)
    sel = _select(em, "last_minus_first_latency_mean_s")
    ci_lines(sel, c, "n_accounts", "email_failure_p", {p: _p_label(p) for p in ps if p <= 0.1},
             P_COLORS)  # fmt: skip
    grid_n = np.arange(min(ns), max(ns) + 1)
    c.plot(grid_n, [last_wait_s(int(n)) for n in grid_n], ":", color="0.3", lw=1.3,
           label="closed form (N − 1)/10")  # fmt: skip
    c.set_ylabel("mean delay of the last account − the first (s)")
    c.set_title("(c) the 10 emails/s quota: the N-th account waits", fontsize=10)
    c.set_xlabel("N, accounts notified per alert")
    c.legend(fontsize=8)
    fig.suptitle(f"Audit alerts: notification delay; mean and 95% CI of {reps} replications "
                 f"(per-run quantiles over all notifications of the run)\n{SETUP}", fontsize=10)
    save_png(fig, out)


def chart_cdf(cdf: pd.DataFrame, out: Path) -> None:
    """The delay distribution of replication 0, one panel per N, against the closed form."""
    groups = list(cdf.groupby("n_accounts", sort=True))
    fig, axes = new_panels(1, len(groups), 5.2 * len(groups), 5.0)
    for ax, (n, g) in zip(axes, groups, strict=True):
        band = dkw_band(int(g["alerts"].min()))
        ax.fill_between(g["theory_s"], (g["prob"] - band).clip(0, 1),
                        (g["prob"] + band).clip(0, 1), color="tab:blue", alpha=0.15,
                        linewidth=0, label=f"95% DKW band (±{band:.3f})")  # fmt: skip
        ax.plot(g["theory_s"], g["prob"], "--", color="tab:blue", lw=1.3, label="closed form")
        ax.plot(g["delay_s"], g["prob"], "-", color="tab:red", lw=1.6,
                label=f"simulated: {int(g['alerts'].iloc[0])} alerts, "
                      f"{int(g['samples'].iloc[0]):,} emails")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("notification delay, API call → email accepted (s, log scale)")
        ax.set_ylabel("fraction of notifications delivered within the delay")
        ax.set_ylim(0, 1)
        ax.grid(color="0.88", linewidth=0.8)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"N = {n} accounts", fontsize=10)
    fig.suptitle(f"Notification delay distribution, p = {CDF_P:.0%} per email attempt, "
                 "replication 0\nCloudTrail delay (shared by the N emails of an alert) + SNS "
                 f"pacing at {EMAIL_RATE_PER_S:g}/s + retries\nband: the alerts as independent "
                 "draws (Dvoretzky–Kiefer–Wolfowitz)", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_outages(df: pd.DataFrame, out: Path, mail_reps: int, sns_reps: int) -> None:
    """Mail provider outage (delivered share and delay vs W) and SNS / bus outages."""
    ml, sn = df[df["study"] == "mail_outage"], df[df["study"] == "sns_outage"]
    fig, axes = new_panels(2, 2, 14.0, 10.0)
    a, b, c, d = axes
    sel = _select(ml, "affected_delivered_fraction")
    ci_lines(sel.assign(series="sim"), a, "outage_h", "series",
             {"sim": "simulated (accounts on the failing provider)"}, {"sim": "tab:blue"},
             linestyle="none")  # fmt: skip
    ws = np.linspace(0.25, max(14.0, float(sel["outage_h"].max()) + 1), 200)
    k0 = MAIL_ACCOUNTS - MAIL_AFFECTED
    th = [1 - np.mean([mail_outage_loss(w * 3600, k) for k in (k0, MAIL_ACCOUNTS - 1)])
          for w in ws]  # fmt: skip
    a.plot(ws, th, ":", color="0.3", lw=1.3, label="closed form 1 − E[(W − T − D)⁺]/W")
    a.axvline(POLICY_SPAN_S / 3600, color="tab:red", lw=1, ls="--",
              label=f"T = {POLICY_SPAN_S / 3600:.2f} h: the last of {ATTEMPTS} email attempts")
    a.set_xlabel("W, mail provider outage (h)")
    a.set_ylabel("notifications delivered to the affected accounts\n(fraction, alerts made "
                 "during the outage)")  # fmt: skip
    a.set_ylim(0, 1.05)
    a.legend(fontsize=8, loc="lower left")
    a.set_title(f"(a) {MAIL_AFFECTED} of {MAIL_ACCOUNTS} inboxes down for W hours", fontsize=10)
    lat = ml[ml["metric"].isin(["affected_latency_p50_s", "affected_latency_max_s",
                                "unaffected_latency_p50_s"])]  # fmt: skip
    lat = _scaled(lat, 1 / 3600)
    ci_lines(lat, b, "outage_h", "metric",
             {"affected_latency_p50_s": "affected accounts, p50",
              "affected_latency_max_s": "affected accounts, max",
              "unaffected_latency_p50_s": "other accounts, p50"},
             {"affected_latency_p50_s": "tab:blue", "affected_latency_max_s": "black",
              "unaffected_latency_p50_s": "tab:green"})  # fmt: skip
    b.plot(ws, np.minimum(ws, POLICY_SPAN_S / 3600) + 600 / 3600, ":", color="0.3", lw=1.3,
           label="bound: min(W, T) + 10 min (the last retry gap)")  # fmt: skip
    b.set_xlabel("W, mail provider outage (h)")
    b.set_ylabel("notification delay of the delivered (h)")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) delay: delivered at the first retry after the outage", fontsize=10)
    cases = {"none": "nothing down", "topic": "SNS topic down\n(EventBridge retries)",
             "bus": "event bus down\n(CloudTrail drops)"}  # fmt: skip
    frac = sn[sn["metric"].isin(["delivered_fraction"])]
    ci_bars(frac, c, "outage", "metric", cases, {"delivered_fraction": "simulated"},
            {"delivered_fraction": "tab:blue"})  # fmt: skip
    xs = list(range(len(cases)))
    c.plot(xs, [float(frac.loc[frac["outage"] == k, "theory"].iloc[0]) for k in cases], "D",
           color="tab:red", label="closed form")  # fmt: skip
    c.set_ylabel("notifications delivered (fraction)")
    c.set_ylim(0, 1.08)
    c.legend(fontsize=8)
    c.set_title(f"(c) a {SNS_OUTAGE_S / 60:g}-minute outage from t = 0, alerts made during it, "
                f"N = {SNS_ACCOUNTS}", fontsize=10)  # fmt: skip
    qs = {"latency_p50_s": "p50", "latency_p99_s": "p99", "latency_max_s": "max"}
    ci_bars(sn[sn["metric"].isin(list(qs))], d, "outage", "metric", cases, qs,
            {"latency_p50_s": "tab:blue", "latency_p99_s": "tab:red",
             "latency_max_s": "0.3"})  # fmt: skip
    d.axhline(SNS_OUTAGE_S, color="tab:red", lw=1, ls="--", label="end of the outage")
    d.set_yscale("log")
    d.set_ylabel("notification delay of the delivered (s, log scale)")
    d.legend(fontsize=8)
    d.set_title("(d) delay of what is delivered", fontsize=10)
    fig.suptitle(f"Audit alerts under outages (alerts at 12 per hour while it lasts, p = 0); "
                 f"mean and 95% CI of {mail_reps} (mail) and {sns_reps} (SNS, bus) "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)
