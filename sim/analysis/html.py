"""The report of ``evsim run|compare|sweep --report FILE.html``: one self-contained page.

The page holds everything in itself: the charts of :mod:`sim.analysis.charts` as base64 PNG
``data:`` images, the summary tables (mean, 95% CI, std), the scenario as loaded (every
default filled in, as YAML) and the manifest (seeds, package versions, git commit). It has no
script, no stylesheet or font from elsewhere and no link, so it opens the same in any browser,
offline, and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from matplotlib.figure import Figure

from sim.analysis.metrics import METRICS, QUEUE_METRICS, SINK_METRICS
from sim.analysis.plots import png_bytes
from sim.analysis.report import HEADLINE, SWEEP_COLUMNS, fmt

__all__ = ["compare_page", "run_page", "sweep_page", "write_page"]

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
img { max-width: 100%; display: block; margin: 1em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(name: str, fig: Figure) -> str:
    data = base64.b64encode(png_bytes(fig)).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(name)}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ci(s: Mapping[str, Any]) -> str:
    if s.get("ci_low") is None:
        return "—"
    return f"[{fmt(s['ci_low'])}, {fmt(s['ci_high'])}]"


def _mean_ci(s: Mapping[str, Any]) -> str:
    if s.get("ci_low") is None:
        return fmt(s.get("mean"))
    return f"{fmt(s['mean'])} {_ci(s)}"


def _summary_tables(block: Mapping[str, Any]) -> str:
    """The tables of one ``summary_block``: run metrics, per sink, per queue, per dependency."""
    parts = ["<h3>Run metrics</h3>", _table(
        ["metric", "mean", "95% CI", "std"],
        [[m, fmt(block["metrics"][m]["mean"]), _ci(block["metrics"][m]),
          fmt(block["metrics"][m]["std"])] for m in METRICS if m in block["metrics"]],
    )]  # fmt: skip
    sinks = block.get("sinks") or {}
    if sinks:
        parts += ["<h3>Per sink (mean [95% CI])</h3>", _table(
            ["metric", *sinks],
            [[m, *(_mean_ci(sinks[s]["metrics"][m]) for s in sinks)] for m in SINK_METRICS],
        )]  # fmt: skip
    queues = block.get("queues") or {}
    if queues:
        parts += ["<h3>Per queue (mean [95% CI])</h3>", _table(
            ["queue", *QUEUE_METRICS],
            [[q, *(_mean_ci(queues[q]["metrics"][m]) for m in QUEUE_METRICS)] for q in queues],
        )]  # fmt: skip
    deps = block.get("dependencies") or {}
    if deps:
        names = list(dict.fromkeys(m for d in deps.values() for m in d["metrics"]))
        parts += ["<h3>Per dependency (mean [95% CI])</h3>", _table(
            ["metric", *deps],
            [[m, *(_mean_ci(deps[d]["metrics"][m]) if m in deps[d]["metrics"] else ""
                   for d in deps)] for m in names],
        )]  # fmt: skip
    return "\n".join(parts)


def _page(title: str, intro: str, sections: Sequence[tuple[str, str]]) -> str:
    body = "\n".join(f'<h2 id="{_e(k)}">{_e(k)}</h2>\n{v}' for k, v in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n<p class=\"note\">{intro}</p>\n{body}\n</body>\n</html>\n"
    )


def _charts(figures: Mapping[str, Figure]) -> str:
    return "\n".join(_img(name, fig) for name, fig in figures.items()) or "<p>no chart</p>"


def _pre(text: str) -> str:
    return f"<pre>{_e(text)}</pre>"


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _intro(what: str) -> str:
    return (f"{_e(what)} Means over replications with t-based 95% confidence intervals; a "
            "metric with nothing to measure is shown as null.")  # fmt: skip


def run_page(
    summary: Mapping[str, Any],
    figures: Mapping[str, Figure],
    scenario: Mapping[str, Any],
    manifest: Mapping[str, Any],
) -> str:
    """The page of ``evsim run``: charts, summary tables, scenario and manifest."""
    title = f"evsim run: {summary['scenario']}"
    what = (f"Scenario {summary['scenario']}, {summary['replications']} replications, "
            f"root seed {summary['seed']}.")  # fmt: skip
    return _page(title, _intro(what), [
        ("Charts", _charts(figures)),
        ("Summary", _summary_tables(summary)),
        ("Scenario as loaded", _pre(_yaml(scenario))),
        ("Manifest", _pre(json.dumps(manifest, indent=2, default=str))),
    ])  # fmt: skip


def compare_page(
    js: Mapping[str, Any],
    figures: Mapping[str, Figure],
    scenarios: Sequence[Mapping[str, Any]],
    manifest: Mapping[str, Any],
    replications: int,
) -> str:
    """The page of ``evsim compare``: charts, headline and difference tables, every variant."""
    names = list(js["variants"])
    what = (f"{len(names)} variants under common random numbers, {replications} replications "
            f"each, baseline {js['baseline']}, root seed {manifest.get('root_seed')}.")  # fmt: skip
    head = _table(
        ["metric", *names],
        [[m, *(_mean_ci(js["variants"][n]["metrics"][m]) for n in names)] for m in HEADLINE],
    )
    others = list(js["differences"])
    diffs = _table(
        ["metric", *(f"{o} − {js['baseline']}" for o in others)],
        [[m, *(_mean_ci(js["differences"][o][m]) for o in others)] for m in METRICS],
    ) if others else "<p>no variant besides the baseline</p>"  # fmt: skip
    sections = [
        ("Charts", _charts(figures)),
        ("Headline metrics (mean [95% CI])", head),
        ("Paired differences against the baseline (mean [95% CI])", diffs),
    ]
    sections += [(f"Variant {n}", _summary_tables(js["variants"][n])) for n in names]
    sections += [("Scenarios as loaded", _pre("".join(
        f"# --- variant {n}\n{_yaml(s)}" for n, s in zip(names, scenarios, strict=True))))]
    sections.append(("Manifest", _pre(json.dumps(manifest, indent=2, default=str))))
    return _page(f"evsim compare: {', '.join(names)}", _intro(what), sections)


def sweep_page(
    js: Mapping[str, Any],
    figures: Mapping[str, Figure],
    scenario: Mapping[str, Any],
    manifest: Mapping[str, Any],
    replications: int,
) -> str:
    """The page of ``evsim sweep``: charts, one row per grid point, base scenario, manifest."""
    rows = js["rows"]
    paths = list(rows[0]["params"]) if rows else []
    what = (
        f"A grid of {len(rows)} points over {', '.join(paths)}, {replications} replications "
        f"per point, common random numbers, root seed {manifest.get('root_seed')}."
    )
    cols = [*SWEEP_COLUMNS, *(m for m in HEADLINE if m not in SWEEP_COLUMNS)]
    table = _table(
        [*paths, *cols],
        [[*(str(r["params"][p]) for p in paths), *(_mean_ci(r["metrics"][m]) for m in cols)]
         for r in rows],
    )  # fmt: skip
    return _page(f"evsim sweep: {scenario.get('name', '')}", _intro(what), [
        ("Charts", _charts(figures)),
        ("Grid points (mean [95% CI])", table),
        ("Scenario as loaded (before the grid's values)", _pre(_yaml(scenario))),
        ("Manifest", _pre(json.dumps(manifest, indent=2, default=str))),
    ])  # fmt: skip


def write_page(text: str, path: Path) -> Path:
    """Write the page ``text`` to ``path`` (UTF-8), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
