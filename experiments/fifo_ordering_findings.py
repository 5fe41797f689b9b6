"""The FIFO study's findings text, from its tidy tables (see :mod:`experiments.fifo_ordering`)."""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from experiments.fifo_ordering_design import FIFO_CALLS_PER_S, NO_REORDER, Setup, error_label


def _get(df: pd.DataFrame, metric: str, **where: Any) -> pd.Series:
    """The one row of ``metric`` whose columns equal ``where`` (KeyError unless exactly one)."""
    sel = df["metric"] == metric
    for k, v in where.items():
        sel &= df[k] == v
    hit = df[sel]
    if len(hit) != 1:
        raise KeyError(f"{metric} {where}: {len(hit)} rows")
    return hit.iloc[0]


def _num(v: float, pct: bool = False) -> str:
    """A number for prose: percentages, thousands separators, 3 significant digits."""
    if pct:
        return f"{v:.1%}"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _ci(row: pd.Series, pct: bool = False) -> str:
    """``mean (95% CI low – high)`` of a summary row (just the mean without a CI)."""
    mean = _num(row["mean"], pct)
    if pd.isna(row["ci_low"]) or row["ci_low"] == row["ci_high"]:
        return mean
    return f"{mean} (95% CI {_num(row['ci_low'], pct)} – {_num(row['ci_high'], pct)})"


def _at(o: pd.DataFrame, metric: str, queue: str, err: float = 0.0) -> pd.Series:
    """Study 1's row of ``metric`` for a queue and a function error rate."""
    return _get(o, metric, queue=queue, function_error_rate=err)


def _ordering_findings(o: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    get = functools.partial(_at, o)
    lines = [
        "## 1. Ordering violations and duplicates, standard vs FIFO",
        "",
        f"![violations, duplicates and p99 latency]({name}/ordering.png)",
        "",
        f"Setup: {setup.ordering_rate_per_s:g} msg/s in 10 message groups for "
        f"{setup.ordering_duration_s:g} s, batch size 10, up to 10 concurrent batches, partial "
        "batch responses, 0.1 s per invocation; the producer re-sends 0.1% of its messages 1 s "
        "later with the same deduplication id; the standard queue has `duplicate_rate` 0.001 "
        f"and `reorder_rate` 0.01. {setup.ordering_reps} replications per variant.",
        "",
    ]
    for err in setup.error_rates:
        f_b = get("backlog_fraction", "FIFO", err)
        backlog = (
            f"; the FIFO queue still held {_num(f_b['mean'], True)} of the messages at the end "
            "of the run: its groups cannot keep up"
            if f_b["mean"] > 0.01 else ""
        )
        lines.append(
            f"- **{error_label(err) if err else 'No function errors'}.** Ordering violations "
            "per 10,000 messages: "
            f"standard {_ci(get('ordering_violations_per_10k', 'standard', err))}, FIFO "
            f"{_ci(get('ordering_violations_per_10k', 'FIFO', err))}. Duplicates per 10,000: "
            f"standard {_ci(get('duplicates_per_10k', 'standard', err))}, FIFO "
            f"{_ci(get('duplicates_per_10k', 'FIFO', err))}. p99 latency: standard "
            f"{_ci(get('latency_p99_s', 'standard', err))} s, FIFO "
            f"{_ci(get('latency_p99_s', 'FIFO', err))} s{backlog}."
        )
    ctrl = get("ordering_violations_per_10k", NO_REORDER, 0.0)
    std = get("ordering_violations_per_10k", "standard", 0.0)
    lines += [
        f"- Where the standard queue's violations come from: with `reorder_rate` 0 it still has "
        f"{_ci(ctrl)} per 10,000 messages, so `reorder_rate` 0.01 adds only "
        f"{_num(std['mean'] - ctrl['mean'])} of the {_num(std['mean'])} (the queue reorders a "
        "message only while it waits behind the next one, and here the pollers take almost "
        "every message at once). Concurrent batches of the same group cause the rest. Its "
        "duplicates match the two sources configured (≈ 10 per 10,000 from `duplicate_rate`, "
        "≈ 10 from re-sends); FIFO deduplication drops the re-sends and the queue adds none.",
        "- What FIFO order costs when messages fail: a failed message blocks its whole group "
        "for the visibility timeout (30 s), and again if a message fails during the catch-up; "
        "the standard queue delays only the failed message itself (with "
        f"{error_label(max(setup.error_rates))} that is just enough to lift its p99 to "
        f"{_num(get('latency_p99_s', 'standard', max(setup.error_rates))['mean'])} s: about 1% "
        "of its messages wait the 30-s visibility timeout).",
        "",
    ]
    return lines


def _groups_findings(gr: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    groups = sorted(set(gr["groups"]))
    lines = [
        "## 2. Throughput and p99 latency against the number of message groups",
        "",
        f"![throughput, p99 latency and violations against groups]({name}/groups.png)",
        "",
        f"Setup: {setup.groups_rate_per_s:g} msg/s for {setup.groups_duration_s:g} s, batch "
        "size 1, 0.1 s per invocation (gamma, cv 0.5): FIFO keeps at most one batch of a group "
        "in flight, so a group carries at most ~10 msg/s and FIFO concurrency ≤ active groups. "
        "Throughput = messages delivered by the end of the arrival window ÷ its length; p99 "
        "over delivered messages (a lower bound when a backlog remains). "
        f"{setup.groups_reps} replications per point.",
        "",
    ]
    fifo = functools.partial(_get, gr, queue="FIFO")
    std = functools.partial(_get, gr, queue="standard")
    for g in groups:
        b = fifo("backlog_fraction", groups=g)
        lines.append(
            f"- FIFO, {g:,} group{'s' if g > 1 else ''}: "
            f"{_ci(fifo('throughput_per_s', groups=g))} msg/s delivered, p99 "
            f"{_ci(fifo('latency_p99_s', groups=g))} s, "
            f"{_num(b['mean'], True)} of the messages still queued at the end."
        )
    sv = [std("ordering_violations_per_10k", groups=g) for g in groups]
    lines += [
        "- Standard queue (the reference; groups only label its messages): "
        f"{_ci(std('throughput_per_s', groups=groups[-1]))} msg/s, p99 "
        f"{_ci(std('latency_p99_s', groups=groups[-1]))} s, but "
        f"{_num(sv[0]['mean'])} ordering violations per 10,000 messages with {groups[0]} group, "
        f"falling to {_num(sv[-1]['mean'])} with {groups[-1]:,} groups; FIFO has none.",
        "",
    ]
    return lines


def _hol_findings(hol: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    lines = [
        "## 3. Head-of-line blocking by one poison message",
        "",
        f"![latency around the poison message and stall vs theory]({name}/head_of_line.png)",
        "",
        f"Setup: {setup.hol_groups} groups, each sending one message every "
        f"{setup.hol_period_s:g} s for {setup.hol_duration_s:g} s, batch size 10. Exactly one "
        "message of each run is poison: poison is decided per message by its workload draw "
        "(`poison_u < poison_rate`), so the script reads the producers' poison streams before "
        "the run and sets the function's `poison_rate` halfway between the smallest and second "
        "smallest draw; each group is its own producer sending at a fixed phase, so the trace's "
        "send times tell every message's group. Replications where the poison message would "
        "come too early or too late to observe its whole stall are skipped; the trace is "
        "checked to show failures of that one message only. Stall = time from the poison "
        "message's creation to its leaving the queue (dead-lettered or expired). Retention is "
        "shortened to 600 s (AWS minimum 60 s, default 4 days) to keep the run short. "
        f"{setup.hol_reps} replications per variant, the same poison message in every variant.",
        "",
    ]
    for variant in dict.fromkeys(hol["variant"]):
        get = functools.partial(_get, hol, variant=variant)
        stall = get("stall_s")
        lines.append(
            f"- {variant}: the group stalls {_ci(stall)} s (theory "
            f"{_num(stall['theory_stall_s'])} s; the poison message was received "
            f"{_num(get('poison_receives')['mean'])} times). The next message of the group "
            f"waits {_ci(get('next_message_latency_s'))} s, "
            f"{_num(get('blocked_messages')['mean'])} messages pile up behind the poison, and "
            f"the group is back to normal {_num(get('group_recovery_s')['mean'])} s after the "
            "poison message arrived. Other groups meanwhile: p99 latency "
            f"{_ci(get('other_groups_latency_p99_s'))} s. Messages dead-lettered per run: "
            f"{_num(get('messages_dead_lettered')['mean'])}."
        )
    over_ms = 1000 * max(
        float(row["ci_high"]) - float(row["theory_stall_s"])
        for row in (_get(hol, "stall_s", variant=v) for v in dict.fromkeys(hol["variant"]))
    )
    lines += [
        "- Blocking is per group: the other groups' latency does not change. With no DLQ and "
        "the default retention of 4 days (345,600 s) the group would stall for 4 days.",
        "- What changed with this version of evsim: each failed invocation of the poison "
        "message now lowers the event source's concurrency by one batch (AWS: the event source "
        "backs off on function errors), so a redelivery of the poison message sometimes waits "
        "for a slot behind the other groups' batches: the stalls are no longer exactly "
        f"maxReceiveCount × visibility timeout but up to {_num(over_ms)} ms longer (upper 95% "
        "bound; before: exactly the theory in every replication).",
        "",
    ]
    return lines


def _limit_findings(lim: pd.DataFrame, setup: Setup, name: str) -> list[str]:
    lines = [
        f"## 4. The FIFO throughput limit ({FIFO_CALLS_PER_S:g} SendMessage calls/s)",
        "",
        f"![accepted and throttled sends, loss and producer time]({name}/throughput_limit.png)",
        "",
        "Setup: one producer, 100 groups, one message per SendMessage call (batched sends are "
        "not modelled), the SDK's standard retry (3 attempts, full-jitter backoff); "
        f"{setup.limit_duration_s - setup.limit_warmup_s:g} s measured after a "
        f"{setup.limit_warmup_s:g}-s warm-up; accepted and throttled calls are counted in the "
        "trace during that window. "
        f"{setup.limit_reps} replications per load.",
        "",
    ]
    for load in sorted(set(lim["offered_per_s"])):
        get = functools.partial(_get, lim, offered_per_s=load)
        lines.append(
            f"- Offered {load:,g} msg/s: {_ci(get('accepted_sends_per_s'))} sends/s accepted, "
            f"{_ci(get('throttled_sends_per_s'))} throttled; "
            f"{get('send_attempts_per_message')['mean']:.2f} send attempts per message; "
            f"{_ci(get('lost_fraction'), True)} of the messages lost after the retries; "
            f"producer time {_ci(get('producer_latency_mean_s'))} s per message."
        )
    top = max(lim["offered_per_s"])
    get = functools.partial(_get, lim, offered_per_s=top)
    lines += [
        f"- Above {FIFO_CALLS_PER_S:g} sends/s the queue accepts exactly its limit and the "
        "excess is lost after the retries (close to 1 − 300 ÷ load); retries add producer "
        "time and throttled calls but no throughput. Beyond 300 msg/s FIFO needs "
        "SendMessageBatch (up to 3,000 msg/s) or high-throughput mode.",
        "- What changed with this version of evsim: the SDK's retry quota (500 tokens, 5 per "
        "retry, 1 back per first-attempt success). Under a lasting overload the producer's "
        "bucket empties and most throttled sends are no longer retried. At "
        f"{top:,g} msg/s: {PREVIOUS_LIMIT['attempts']:.2f} → "
        f"{get('send_attempts_per_message')['mean']:.2f} send attempts per message, "
        f"{_num(PREVIOUS_LIMIT['throttled'])} → {_num(get('throttled_sends_per_s')['mean'])} "
        f"throttled sends/s, {PREVIOUS_LIMIT['lost']:.1%} → "
        f"{_num(get('lost_fraction')['mean'], True)} of the messages lost, producer time "
        f"{PREVIOUS_LIMIT['producer_s']:g} s → {_num(get('producer_latency_mean_s')['mean'])} "
        "s per message: the retries had saved almost nothing, and cost much client time.",
        "",
    ]
    return lines


#: The FIFO limit study at 1,000 msg/s as published before evsim modelled the SDK's retry
#: quota (commit a5136fe).
PREVIOUS_LIMIT = {"attempts": 2.68, "throttled": 2388.0, "lost": 0.690, "producer_s": 1.23}


def _headlines(
    o: pd.DataFrame, gr: pd.DataFrame, hol: pd.DataFrame, lim: pd.DataFrame, setup: Setup
) -> list[str]:
    errs = [e for e in setup.error_rates if e > 0]
    low = min(errs) if errs else 0.0
    groups = sorted(set(gr["groups"]))
    loads = sorted(set(lim["offered_per_s"]))
    stalls = [(v, _get(hol, "stall_s", variant=v)) for v in dict.fromkeys(hol["variant"])]
    stall_text = "; ".join(f"{_num(r['mean'])} s with {v}" for v, r in stalls)
    others = max(_get(hol, "other_groups_latency_p99_s", variant=v)["mean"] for v, _ in stalls)

    def order(metric: str, queue: str, err: float = 0.0) -> str:
        return _num(_at(o, metric, queue, err)["mean"])

    lim_get = functools.partial(_get, lim, offered_per_s=loads[-1])
    fifo = functools.partial(_get, gr, queue="FIFO")

    return [
        "## Headlines",
        "",
        f"- **Order and duplicates.** FIFO: {order('ordering_violations_per_10k', 'FIFO')} "
        f"ordering violations and {order('duplicates_per_10k', 'FIFO')} duplicates per 10,000 "
        f"messages; standard queue with 10 concurrent batches: "
        f"{order('ordering_violations_per_10k', 'standard')} and "
        f"{order('duplicates_per_10k', 'standard')}.",
        f"- **Order costs concurrency.** FIFO runs at most one batch per group: with "
        f"{groups[0]} group it delivers "
        f"{_num(fifo('throughput_per_s', groups=groups[0])['mean'])} of "
        f"{setup.groups_rate_per_s:g} msg/s offered; with {groups[-1]:,} groups "
        f"{_num(fifo('throughput_per_s', groups=groups[-1])['mean'])} msg/s "
        f"at p99 {_num(fifo('latency_p99_s', groups=groups[-1])['mean'])} s, "
        "like the standard queue.",
        f"- **Order costs latency when messages fail.** With {low:.1%} transient function "
        f"errors, p99 latency is {order('latency_p99_s', 'FIFO', low)} s on FIFO vs "
        f"{order('latency_p99_s', 'standard', low)} s on standard: a failure blocks its group "
        "for the visibility timeout.",
        f"- **One poison message stalls its group** for maxReceiveCount × visibility timeout "
        f"with a DLQ, or until retention without one: {stall_text}. Other groups are "
        f"unaffected (p99 ≤ {_num(others)} s).",
        f"- **The FIFO send limit.** At {loads[-1]:,g} msg/s offered the queue accepts "
        f"{_num(lim_get('accepted_sends_per_s')['mean'])} sends/s; "
        f"{_num(lim_get('lost_fraction')['mean'], True)} of the messages are lost after 3 "
        f"attempts, and the producer spends "
        f"{_num(lim_get('producer_latency_mean_s')['mean'])} s per message on sends and retries.",
        "",
    ]


def findings(
    tables: dict[str, pd.DataFrame], setup: Setup, name: str, quick: bool, seed: int
) -> str:
    """The findings section (markdown) for ``results/README.md``, from the CSVs' tables."""
    o, gr, hol, lim = (tables[k] for k in ("ordering", "groups", "head_of_line",
                                            "throughput_limit"))  # fmt: skip
    files = ", ".join(
        f"[`{t}.csv`]({name}/{t}.csv)"
        for t in ("ordering", "groups", "head_of_line", "head_of_line_timeline",
                  "throughput_limit")
    )  # fmt: skip
    lines = [
        "# FIFO ordering: what strict per-group order costs (SQS standard vs FIFO → Lambda)",
        "",
        f"Script `experiments/fifo_ordering.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}; files in [`{name}/`]({name}/): {files} and four PNG charts. Every number "
        "below is read from those CSVs: the mean over replications with its 95% t-interval "
        "(a lower bound below 0 only means that few replications saw the event). The "
        "variants of each study ran with common random numbers (the same messages).",
        "",
        *_headlines(o, gr, hol, lim, setup),
        *_ordering_findings(o, setup, name),
        *_groups_findings(gr, setup, name),
        *_hol_findings(hol, setup, name),
        *_limit_findings(lim, setup, name),
    ]
    return "\n".join(lines)
