"""The JSON Schema of scenario files, the generated reference, and the source of every field.

* Every field of every spec says where its default comes from (AWS, assumption, scenario).
* ``docs/scenario.schema.json`` and ``docs/scenario-reference.md`` are what the code generates
  now (regenerate with the commands in the failure message).
* The schema is a valid draft-7 schema that accepts every example file, what ``evsim check``
  prints, and the forms a file may use, and rejects what evsim rejects (a few cases).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.config import Scenario, load_scenario
from sim.config.problems import Source
from sim.config.reference import markdown
from sim.config.schema import field_source, file_data, json_schema, spec_classes

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
REGENERATE = (
    "regenerate with: python -m sim.config.reference > docs/scenario-reference.md && "
    "python -m sim.config.reference --json > docs/scenario.schema.json"
)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_every_field_has_a_source() -> None:
    missing = [
        f"{cls.__name__}.{name}"
        for cls in spec_classes(Scenario)
        for name in cls.model_fields
        if name not in ("type", "family") and field_source(cls, name) is None
    ]
    assert not missing, f"fields without a Source (AWS, ASSUMPTION or CHOICE): {missing}"


def test_sources_follow_the_metadata() -> None:
    from sim.config import ProducerSpec, RetrySpec, SqsQueueSpec

    assert field_source(SqsQueueSpec, "visibility_timeout_s") == Source("AWS")  # AWS_RANGE
    assert field_source(SqsQueueSpec, "duplicate_rate") == Source("assumption")
    assert field_source(RetrySpec, "base_s") == Source("assumption")  # beats the class's AWS
    assert field_source(RetrySpec, "max_attempts") == Source("AWS")  # the class default
    size = field_source(ProducerSpec, "size_bytes")  # an explicit Source beats AWS_RANGE
    assert size is not None and size.kind == "assumption" and "AWS" in size.note
    assert field_source(ProducerSpec, "type") is None


def test_committed_reference_and_schema_are_current(schema: dict[str, Any]) -> None:
    reference = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert reference == markdown(schema), f"docs/scenario-reference.md is stale; {REGENERATE}"
    committed = (ROOT / "docs" / "scenario.schema.json").read_text(encoding="utf-8")
    current = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    assert committed == current, f"docs/scenario.schema.json is stale; {REGENERATE}"


def test_reference_lists_every_field_with_its_source() -> None:
    text = markdown()
    for cls in spec_classes(Scenario):
        if cls is not Scenario:
            assert f"\n### {cls.__name__}\n" in text, cls.__name__
    assert "| `visibility_timeout_s` | number | 30 | ≥ 0, ≤ 43,200 (AWS range for " in text
    assert "| `duplicate_rate` | number | 0 | ≥ 0, ≤ 1 (a probability) | assumption |" in text
    assert "| `latency_s` | duration | 0 |  | assumption |" in text
    assert "| `times` | list of number | read from the file |" in text


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_and_its_check_output_validates(validator: Any, path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert not list(validator.iter_errors(data))
    loaded = file_data(load_scenario(path))
    assert not [e.message for e in validator.iter_errors(loaded)]


def test_the_docs_example_validates(validator: Any) -> None:
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8").split("## Example", 1)[1]
    data = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert not list(validator.iter_errors(data))


MINIMAL: dict[str, Any] = {
    "duration_s": 60,
    "components": {
        "app": {"type": "producer", "rate_per_s": 1, "send_to": "q"},  # one name, no list
        "q": {"type": "sqs_queue"},
        "f": {"type": "lambda_function", "trigger": {"source": "q"}},
    },
}

GOOD = [
    {},
    {"components.f.duration_s": 0.2},
    {"components.f.duration_s": {"exponential": {"mean": 0.2}}},
    {"components.f.duration_s": {"family": "gamma", "mean": 1, "cv": 0.5}},
    {"components.f.duration_s": {"constant": 3}},
    {"components.app.attributes": {"kind": {"choice": {"values": ["a", "b"]}}, "n": 3,
                                   "size": {"uniform": {"low": 1, "high": 2}}}},
    {"components.app.arrivals": {"rate_series": {"file": "sent.csv", "scale": 2}},
     "components.app.rate_per_s": None},
]  # fmt: skip

BAD = [
    {"components.q.visibility_timout_s": 3},  # a typo
    {"components.f.duration_s": {"weibull": {"shape": 2}}},
    {"components.f.duration_s": {"exponential": {"mean": -1}}},
    {"components.f.duration_s": {"mean": 1}},  # the tagged form needs its family
    {"components.app.rate_per_s": "fast"},
    {"components.app.rate_per_s": True},
    {"components.q.fifo": 1},
    {"components.q.type": "sqs"},
    {"components.q.visibility_timeout_s": 50_000},
    {"duration_s": None},
]


def _variant(updates: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(MINIMAL))
    for dotted, value in updates.items():
        node = data
        *parents, last = dotted.split(".")
        for seg in parents:
            node = node[seg]
        node[last] = value
    return data


@pytest.mark.parametrize("updates", GOOD, ids=[str(i) for i in range(len(GOOD))])
def test_the_schema_accepts_the_forms_a_file_uses(validator: Any, updates: dict[str, Any]) -> None:
    errors = [e.message for e in validator.iter_errors(_variant(updates))]
    assert not errors


@pytest.mark.parametrize("updates", BAD, ids=[next(iter(u)) for u in BAD])
def test_the_schema_rejects_what_evsim_rejects(validator: Any, updates: dict[str, Any]) -> None:
    assert list(validator.iter_errors(_variant(updates)))
