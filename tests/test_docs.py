"""The documentation keeps up with the code: the scenario reference covers the schema.

* Every field of every spec class reachable from :class:`sim.config.Scenario` (walked through
  ``model_fields``, recursively) is named in ``docs/scenario.md`` as inline code, by its alias
  where it has one (``async``).
* The complete example of ``docs/scenario.md`` is a valid scenario.
* Relative links in ``README.md`` and ``docs/*.md`` point at files that exist.
* The user-facing files (README, docs, notebooks, examples) cite the project's own docs, never
  internal design notes.

* Every metric name (run, sink, queue and time-series metrics) is defined in
  ``docs/metrics.md``.

Only :class:`sim.config.Scenario` and the analysis layer's lists of metric names are imported
from ``sim``. Nothing here runs a simulation.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from sim.config import Scenario

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCENARIO_MD = DOCS / "scenario.md"
FORBIDDEN = ("DESIGN §", "DESIGN.md", "../shared")


def spec_classes(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every pydantic model its fields can hold, depth first, each once."""
    found: list[type[BaseModel]] = []

    def models_in(annotation: object) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]

    def visit(cls: type[BaseModel]) -> None:
        if cls in found:
            return
        found.append(cls)
        for field in cls.model_fields.values():
            for model in models_in(field.annotation):
                visit(model)

    visit(root)
    return found


def field_names() -> list[tuple[str, str]]:
    """``(class name, field name or alias)`` of every field of the scenario schema."""
    return [
        (cls.__name__, field.alias or name)
        for cls in spec_classes(Scenario)
        for name, field in cls.model_fields.items()
    ]


def test_the_walk_reaches_every_component_type() -> None:
    types = {
        value
        for cls in spec_classes(Scenario)
        if "type" in cls.model_fields
        for value in typing.get_args(cls.model_fields["type"].annotation)
    }
    assert types >= {
        "producer", "sqs_queue", "lambda_function", "sns_topic", "endpoint", "event_bus",
        "s3_bucket", "api_gateway", "cloudtrail",
    }  # fmt: skip
    names = {name for _, name in field_names()}
    assert {"async", "max_receive_count", "backoff_function", "median", "factor"} <= names


def test_every_scenario_field_is_in_the_reference() -> None:
    text = SCENARIO_MD.read_text(encoding="utf-8")
    missing = sorted({f"{cls}.{name}" for cls, name in field_names() if f"`{name}`" not in text})
    assert not missing, f"docs/scenario.md does not mention: {', '.join(missing)}"


def test_the_reference_example_is_a_valid_scenario() -> None:
    text = SCENARIO_MD.read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", example, re.DOTALL)
    assert block is not None, "docs/scenario.md: no yaml block after '## Example'"
    scenario = Scenario.model_validate(yaml.safe_load(block.group(1)))
    assert scenario.components


MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


@pytest.mark.parametrize("path", MARKDOWN, ids=[p.name for p in MARKDOWN])
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for match in LINK.finditer(path.read_text(encoding="utf-8")):
        target = (match.group(1) or match.group(2)).split("#", 1)[0]
        if not target or re.match(r"[a-z]+:", target):
            continue  # an anchor in the same page, or a URL
        if not (path.parent / target).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


def user_facing_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in ("docs", "notebooks", "examples"):
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.is_file())
    return files


def test_no_citation_of_internal_design_notes() -> None:
    offending = []
    for path in user_facing_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        offending += [f"{path.relative_to(ROOT)}: {s!r}" for s in FORBIDDEN if s in text]
    assert not offending, "cite docs/ instead:\n" + "\n".join(offending)


def test_every_metric_is_defined_in_the_metrics_reference() -> None:
    from sim.analysis.metrics import METRICS, QUEUE_METRICS, SINK_METRICS
    from sim.analysis.timeseries import TIMESERIES_METRICS

    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    names = {*METRICS, *SINK_METRICS, *QUEUE_METRICS, *TIMESERIES_METRICS}
    missing = sorted(name for name in names if f"`{name}`" not in text)
    assert not missing, f"docs/metrics.md does not define: {', '.join(missing)}"
