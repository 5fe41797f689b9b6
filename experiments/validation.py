"""Validation: does evsim agree with queueing theory (DESIGN §7)?

Runs every theory check of :mod:`sim.study.validation` (M/M/1, M/M/c with Erlang C, Little's
law, P(dead-lettered) = p^k, mean attempts, sequential fan-out, SDK retries) on all cores and
writes

* ``results/validation/validation.csv``: one row per case (case, theory, sim_mean, ci_low,
  ci_high, inside_ci, replications, level, unit);
* ``results/validation/validation.png``: simulation ÷ theory with the 99% CIs;
* ``results/validation/findings.md``: a few sentences of findings, computed from the CSV;
* ``results/README.md``: the index of every experiment's findings (``results/*/findings.md``).

Same seed ⇒ same files, byte for byte (the results do not depend on the number of workers, and
the PNG carries no version metadata). ``--quick`` runs shorter, fewer replications.

Usage: ``python experiments/validation.py [--quick] [--out DIR] [--seed S] [--workers N]
[--replications R] [--replot] [--case TEXT ...]``
or ``evsim experiments validation [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from sim.analysis.plots import new_figure, save_png, validation_chart
from sim.study import Design, Options, Report, Study, StudyUsageError, run_study
from sim.study.validation import DEFAULT_SEED, cases
from sim.study.validation import designs as check_designs

LEVEL = 0.99


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--case", action="append", default=None, metavar="TEXT",
        help="only the cases whose name contains TEXT (repeatable)",
    )  # fmt: skip


def designs(o: Options) -> list[Design[int]]:
    """Every theory check (or those ``--case`` selects), one design per shared scenario."""
    selected = cases(o.quick)
    if o.args.case:
        selected = [c for c in selected if any(t in c.name for t in o.args.case)]
        if not selected:
            raise StudyUsageError(f"no case matches {o.args.case}")
    return check_designs(selected, LEVEL)


def _number(value: Any, unit: Any) -> str:
    text = f"{value:.4g}"
    return f"{text} s" if unit == "s" else text


def findings(table: pd.DataFrame, out_name: str, quick: bool, seed: int) -> str:
    """The findings section (markdown) for ``results/README.md``, from the CSV's table."""
    n = len(table)
    inside = int(table["inside_ci"].astype(bool).sum())
    reps = "/".join(str(r) for r in sorted(set(table["replications"])))
    level = "/".join(f"{lv:.0%}" for lv in sorted(set(table["level"])))
    ratio = table["sim_mean"] / table["theory"]
    err = (ratio - 1).abs()
    at: Any = err.idxmax() if n else None
    worst: Any = table.loc[at] if n else None
    half_width = (table["ci_high"] - table["ci_low"]) / 2 / table["theory"].abs()
    lines = [
        "## Validation: evsim against queueing theory",
        "",
        f"Script `experiments/validation.py`{' (`--quick`)' if quick else ''}, root seed {seed}; "
        f"files in [`{out_name}/`]({out_name}/): "
        f"[`validation.csv`]({out_name}/validation.csv), "
        f"[`validation.png`]({out_name}/validation.png).",
        "",
        f"![simulation ÷ theory per case, with {level} confidence intervals]"
        f"({out_name}/validation.png)",
        "",
        "Each case is an idealised scenario (AWS overheads zeroed: queue latency, poll delay and "
        "cold start 0, batch size 1) whose answer is known in closed form; it passes when the "
        f"theoretical value lies inside the {level} t-interval of {reps} seeded replications.",
        "",
        f"- **{inside} of {n}** theoretical values lie inside the simulation's {level} CI "
        f"(with {n} checks at {level}, about {n * (1 - table['level'].mean()):.1f} misses are "
        "expected by chance alone).",
    ]
    missed = table[~table["inside_ci"].astype(bool)]
    for row in missed.itertuples(index=False):
        lines.append(
            f"  - outside: {row.case}: theory {_number(row.theory, row.unit)}, simulation "
            f"{_number(row.sim_mean, row.unit)} (CI {_number(row.ci_low, row.unit)} – "
            f"{_number(row.ci_high, row.unit)})."
        )
    if n:
        lines.append(
            f"- The median relative difference between simulation and theory is "
            f"{err.median():.2%}; the largest is {err.max():.2%} ({worst['case']}: "
            f"{_number(worst['sim_mean'], worst['unit'])} vs "
            f"{_number(worst['theory'], worst['unit'])}), where the CI half-width is "
            f"±{half_width[at]:.1%} of theory."
        )
    for key, what in (
        ("M/M/1 mean sojourn, rho=0.9", "Heavy traffic, M/M/1 at ρ = 0.9"),
        ("M/M/4 mean sojourn (Erlang C), rho=0.9", "Erlang C, M/M/4 at ρ = 0.9"),
        ("P(dead-lettered)=p^k, p=0.5, k=10", "A rare event, P(dead-lettered) = 0.5^10"),
    ):
        hit = table[table["case"] == key]
        if len(hit):
            r = hit.iloc[0]
            lines.append(
                f"- {what}: theory {_number(r['theory'], r['unit'])}, simulation "
                f"{_number(r['sim_mean'], r['unit'])} ({r['sim_mean'] / r['theory'] - 1:+.1%}; "
                f"{level} CI {_number(r['ci_low'], r['unit'])} – "
                f"{_number(r['ci_high'], r['unit'])})."
            )
    lines += _what_changed(table)
    little = table[table["case"].str.startswith("Little's law")]
    if len(little):
        ok = int(little["inside_ci"].astype(bool).sum())
        lines.append(
            f"- Little's law: the time-average number of messages in the system, measured from "
            f"the integral of the in-flight count rather than from latencies, matches λ·W of "
            f"theory in {ok} of {len(little)} cases."
        )
    return "\n".join(lines) + "\n"


#: Published before this version of evsim (commit a5136fe; the event source's level only grew,
#: failures did not back it off): case -> simulated mean. That table had 27 cases.
PREVIOUS = {
    "M/M/8 mean sojourn (Erlang C), rho=0.3": 1.0029442273273144,
    "P(dead-lettered)=p^k, p=0.5, k=4": 0.06232441708141676,
}
PREVIOUS_CASES = 27


def _what_changed(table: pd.DataFrame) -> list[str]:
    """What the event source's back-off and scale-down did to the checks (before/after)."""
    parts = []
    for case, before in PREVIOUS.items():
        hit = table[table["case"] == case]
        if len(hit):
            r = hit.iloc[0]
            unit = " s" if r["unit"] == "s" else ""
            parts.append(f"{case}: {before:.6g}{unit} before, {r['sim_mean']:.6g}{unit} now "
                         f"(theory {r['theory']:.6g}{unit})")  # fmt: skip
    if not parts:
        return []
    return [
        "- **What changed with this version of evsim**: the SQS event source now backs off on "
        "throttles and function errors and scales down a level left unused for 60 s. No case "
        "throttles, and with `max_concurrency` ≤ 5 the level never moves, so the M/M/c cases "
        "still match Erlang C; only M/M/8 (c above the initial 5) can see the scale-down, and "
        "the DLQ cases' failures back the event source off, which moves their timing, not "
        f"their answer: {'; '.join(parts)}. The previous table had {PREVIOUS_CASES} cases; "
        "the others (tandem stages, the database, DynamoDB) were added by earlier versions "
        "and are published here for the first time."
    ]


def report(rep: Report) -> str:
    """The chart and the findings from ``validation.csv``; the table also goes to stdout."""
    table = rep.tables["validation"]
    table["unit"] = table["unit"].fillna("")
    fig, ax = new_figure(10.0, 1.2 + 0.42 * len(table))
    validation_chart(table, ax)
    save_png(fig, rep.out / "validation.png")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(table[["case", "theory", "sim_mean", "ci_low", "ci_high", "inside_ci"]]
              .to_string(index=False))  # fmt: skip
    # A miss is reported in the files, not as a failure: at 99% about one case in a hundred
    # misses by chance. The slow tests in tests/validation/ are the gate.
    return findings(table, rep.out.name, rep.quick, rep.seed)


STUDY = Study(
    "validation",
    "Check evsim against queueing theory and write results/validation/.",
    DEFAULT_SEED,
    designs,
    report,
    read_csv={"keep_default_na": False, "na_values": [""]},
    quick_help="shorter runs, fewer replications",
    replications_help="replications per case (default: 20, --quick 10)",
    add_options=_options,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the theory checks (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
