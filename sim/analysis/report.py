"""Text tables for the terminal: a run's summary, a comparison, a sweep (no SimPy here)."""

from __future__ import annotations

import math
from typing import Any

from sim.analysis.metrics import METRICS

__all__ = ["HEADLINE", "SWEEP_COLUMNS", "compare_table", "fmt", "summary_table", "sweep_table"]

#: Metrics shown in comparison and sweep tables.
HEADLINE: tuple[str, ...] = (
    "delivered_fraction",
    "dead_lettered",
    "expired",
    "lost",
    "duplicates",
    "ordering_violations",
    "invocations",
    "latency_mean_s",
    "latency_p99_s",
    "cost_per_million_usd",
)


def fmt(v: float | None) -> str:
    """A number for a table: thousands separators, 4 significant digits, ``null`` for None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "null"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return f"{v:.4g}"
    if float(v).is_integer() and a < 1e6:
        return f"{v:,.0f}"
    return f"{v:.4g}" if a < 1 else f"{v:,.4g}" if a < 1000 else f"{v:,.1f}"


def summary_table(js: dict[str, Any]) -> str:
    """The ``evsim run`` table: every metric (mean, 95% CI, std), then per sink and dependency."""
    lines = [
        f"scenario: {js['scenario']}   replications: {js['replications']}   seed: {js['seed']}",
        "",
        f"{'metric':<26} {'mean':>12} {'95% CI':>27} {'std':>11}",
        "-" * 79,
    ]
    for name in METRICS:
        s = js["metrics"][name]
        ci = (
            f"[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"
            if s["ci_low"] is not None
            else "—"
        )
        lines.append(f"{name:<26} {fmt(s['mean']):>12} {ci:>27} {fmt(s['std']):>11}")
    sinks = js["sinks"]
    if sinks:
        cols = [
            "delivered", "dead_lettered", "expired", "lost", "in_flight", "duplicates",
            "latency_p50_s", "latency_p99_s",
        ]  # fmt: skip
        lines += ["", "per sink (means over replications):"]
        header = f"{'sink':<16}" + "".join(f"{c:>14}" for c in cols)
        lines += [header, "-" * len(header)]
        for sink, block in sinks.items():
            m = block["metrics"]
            lines.append(f"{sink:<16}" + "".join(f"{fmt(m[c]['mean']):>14}" for c in cols))
    dependencies = js.get("dependencies") or {}
    if dependencies:
        cols = [
            "calls", "throttled", "timeouts", "wasted_s", "utilization_mean", "utilization_max",
        ]  # fmt: skip
        lines += ["", "per dependency (means over replications):"]
        header = f"{'dependency':<16}" + "".join(f"{c:>17}" for c in cols)
        lines += [header, "-" * len(header)]
        for name, block in dependencies.items():
            m = block["metrics"]
            lines.append(f"{name:<16}" + "".join(f"{fmt(m[c]['mean']):>17}" for c in cols))
    return "\n".join(lines)




def _param(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return v if isinstance(v, str) else fmt(v)


def _ci(s: dict[str, Any]) -> str:
    if s.get("ci_low") is None:
        return fmt(s.get("mean"))
    return f"{fmt(s['mean'])} [{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def compare_table(js: dict[str, Any], seed: int, replications: int) -> str:
    """Headline metrics per variant (mean [95% CI]), then differences against the baseline."""
    names = list(js["variants"])
    width = max(34, *(len(n) + 2 for n in names))
    lines = [
        f"baseline: {js['baseline']}   replications: {replications}   seed: {seed}"
        "   (common random numbers)",
        "",
        f"{'metric':<24}" + "".join(f"{n:>{width}}" for n in names),
        "-" * (24 + width * len(names)),
    ]
    for m in HEADLINE:
        lines.append(
            f"{m:<24}"
            + "".join(f"{_ci(js['variants'][n]['metrics'][m]):>{width}}" for n in names)
        )
    if js["differences"]:
        others = list(js["differences"])
        lines += ["", "paired differences, variant − baseline (mean [95% CI]):", ""]
        lines.append(f"{'metric':<24}" + "".join(f"{n:>{width}}" for n in others))
        lines.append("-" * (24 + width * len(others)))
        for m in HEADLINE:
            lines.append(
                f"{m:<24}" + "".join(f"{_ci(js['differences'][n][m]):>{width}}" for n in others)
            )
    return "\n".join(lines)


#: Metrics shown in the sweep table.
SWEEP_COLUMNS: tuple[str, ...] = (
    "delivered_fraction",
    "dead_lettered",
    "lost",
    "duplicates",
    "latency_p99_s",
    "cost_per_million_usd",
)


def sweep_table(js: dict[str, Any], seed: int, replications: int) -> str:
    """One line per grid point: one column per swept path, then headline metrics, mean [95% CI]."""
    rows = js["rows"]
    if not rows:
        return "empty grid"
    params = list(rows[0]["params"])
    cols = SWEEP_COLUMNS
    pw = [max(len(p), *(len(_param(r["params"][p])) for r in rows)) + 2 for p in params]
    cells = [[_ci(r["metrics"][c]) for c in cols] for r in rows]
    cw = [max(len(c), *(len(line[i]) for line in cells)) + 3 for i, c in enumerate(cols)]
    lines = [
        f"sweep   replications per point: {replications}   seed: {seed}   (common random numbers;"
        " mean [95% CI])",
        "",
        "".join(f"{p:>{w}}" for p, w in zip(params, pw, strict=True))
        + "".join(f"{c:>{w}}" for c, w in zip(cols, cw, strict=True)),
    ]
    lines.append("-" * len(lines[-1]))
    for r, line in zip(rows, cells, strict=True):
        values = [_param(r["params"][p]) for p in params]
        lines.append(
            "".join(f"{c:>{w}}" for c, w in zip(values, pw, strict=True))
            + "".join(f"{c:>{w}}" for c, w in zip(line, cw, strict=True))
        )
    return "\n".join(lines)
