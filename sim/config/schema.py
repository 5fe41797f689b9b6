"""The JSON Schema of scenario files: for editors, and the source of the generated reference.

:func:`json_schema` is pydantic's ``model_json_schema`` of :class:`Scenario` (JSON Schema draft 7,
definitions under ``definitions``), reshaped to accept what a scenario file may hold and to
carry what the reference needs:

* a duration accepts the forms a file uses, a number of seconds or a one-key mapping naming its
  family (``{exponential: {mean: 0.2}}``), besides the tagged form a loaded scenario prints
  (``definitions/Duration``); defaults of durations are shown in the short form;
* ``oneOf`` becomes ``anyOf`` (a number is both a constant attribute and a constant duration);
* a default made by a factory (``retry``, ``errors``, ...) is written out;
* fields read from a file when the scenario is loaded (:data:`~sim.config.problems.FROM_FILE`)
  are not required;
* every field carries ``x-evsim-source`` (``AWS``, ``assumption`` or ``scenario``, see
  :class:`~sim.config.problems.Source`), ``x-evsim-why`` (why its bounds hold, where the spec
  says) and a ``description`` made of them.

:func:`field_source` says where a field's default comes from, from its metadata.
``python -m sim.config.reference`` (or ``evsim schema --markdown``) renders the schema as
``docs/scenario-reference.md``; ``evsim schema`` prints it as JSON.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sim.config.fields import Distribution, Spec
from sim.config.problems import AWS, AWS_RANGE, FROM_FILE, Source, Why, unwrap
from sim.config.scenario import Scenario

__all__ = [
    "DRAFT",
    "field_meta",
    "field_source",
    "file_data",
    "json_schema",
    "plain_doc",
    "short_dist",
    "spec_classes",
]

DRAFT = "http://json-schema.org/draft-07/schema#"
_DEFS = "definitions"
#: Discriminator fields: they select a model and have no source of their own.
_TAGS = ("type", "family")


def spec_classes(root: type[BaseModel] = Scenario) -> list[type[BaseModel]]:
    """``root`` and every model its fields can hold, depth first in field order, each once."""
    found: list[type[BaseModel]] = []

    def models_in(tp: object) -> Iterator[type[BaseModel]]:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            yield tp
        for arg in typing.get_args(tp):
            yield from models_in(arg)

    def visit(cls: type[BaseModel]) -> None:
        if cls not in found:
            found.append(cls)
            for info in cls.model_fields.values():
                for model in models_in(info.annotation):
                    visit(model)

    visit(root)
    return found


def field_meta(info: FieldInfo) -> list[Any]:
    """Every metadata object of a field: its own and those inside ``Annotated``/``Optional``."""
    meta = list(info.metadata)
    _, inner = unwrap(info.annotation)
    meta += inner
    meta += [m for x in inner if isinstance(x, FieldInfo) for m in x.metadata]
    return meta


def field_source(cls: type[BaseModel], name: str) -> Source | None:
    """Where the default of ``cls``'s field ``name`` comes from (None for ``type``/``family``).

    A :class:`Source` in the field's metadata wins; else :data:`AWS_RANGE` means AWS; else the
    class's ``fields_source``.
    """
    if name in _TAGS:
        return None
    meta = field_meta(cls.model_fields[name])
    for m in meta:
        if isinstance(m, Source):
            return m
    if AWS_RANGE in meta:
        return AWS
    source = getattr(cls, "fields_source", None)
    return source if isinstance(source, Source) else None


def short_dist(value: Any) -> Any:
    """``value`` with every distribution in the form a file uses: a number or ``{family: {..}}``.

    ``value`` is plain data (``model_dump(mode="json")`` output), searched at any depth.
    """
    if isinstance(value, list):
        return [short_dist(v) for v in value]
    if not isinstance(value, dict):
        return value
    if isinstance(value.get("family"), str):
        params = {k: short_dist(v) for k, v in value.items() if k != "family"}
        return params["value"] if value["family"] == "constant" else {value["family"]: params}
    return {k: short_dist(v) for k, v in value.items()}


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_doc(text: str) -> str:
    """A docstring for readers of JSON or Markdown: ``code`` as `code`, roles as their name."""
    text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return text.replace("``", "`")


def _dist_classes() -> list[type[Spec]]:
    return [c for c in typing.get_args(Distribution) if issubclass(c, Spec)]


def _duration_schema(defs: dict[str, Any]) -> dict[str, Any]:
    """Every form of a duration, from the definitions of the distribution models."""
    forms: list[dict[str, Any]] = [
        {"type": "number", "minimum": 0, "description": "A constant, in seconds."}
    ]
    for cls in _dist_classes():
        d = defs[cls.__name__]
        family = cls.model_fields["family"].default
        params = {k: v for k, v in d["properties"].items() if k != "family"}
        required = [r for r in d.get("required", []) if r != "family"]
        if family == "constant":
            inner: dict[str, Any] = params["value"]
        else:
            inner = {"type": "object", "properties": params, "required": required,
                     "additionalProperties": False}  # fmt: skip
        forms.append({
            "type": "object", "properties": {family: inner}, "required": [family],
            "additionalProperties": False, "description": d.get("description", ""),
        })  # fmt: skip
        tagged = dict(d)
        tagged["required"] = ["family", *required]
        forms.append({"$ref": f"#/{_DEFS}/{cls.__name__}"})
        defs[cls.__name__] = tagged
    return {
        "title": "Duration",
        "description": "A duration in seconds: a number (a constant) or a one-key mapping naming "
        "the family: exponential {mean}, lognormal {median, sigma}, uniform {low, high}, "
        "gamma {mean, cv}, empirical {file}.",
        "anyOf": forms,
    }


def _is_dist_union(node: dict[str, Any]) -> bool:
    disc = node.get("discriminator")
    return isinstance(disc, dict) and disc.get("propertyName") == "family"


def _rewrite(node: Any) -> Any:
    """Durations to ``$ref: Duration``, ``oneOf`` to ``anyOf``, no OpenAPI discriminators."""
    if isinstance(node, list):
        return [_rewrite(x) for x in node]
    if not isinstance(node, dict):
        return node
    if _is_dist_union(node):
        node = {k: v for k, v in node.items() if k not in ("oneOf", "discriminator")}
        node["$ref"] = f"#/{_DEFS}/Duration"
    out = {}
    for k, v in node.items():
        if k == "discriminator":
            continue
        if k == "description" and isinstance(v, str):
            v = plain_doc(v)
        out["anyOf" if k == "oneOf" else k] = _rewrite(v)
    if "$ref" in out and len(out) > 1:  # draft 7 ignores the siblings of a $ref
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _describe(source: Source | None, why: list[str], from_file: bool) -> str:
    parts = []
    if from_file:
        parts.append("Read from the file when the scenario is loaded; not written by hand.")
    if why:
        parts.append(f"Bounds: {why[0]}.")
    if source is not None:
        note = f" ({source.note})" if source.note else ""
        parts.append(f"Source: {source.kind}{note}.")
    return " ".join(parts)


def _enrich(cls: type[BaseModel], d: dict[str, Any]) -> None:
    """Sources, reasons, defaults and requirements of ``cls``'s fields in its definition ``d``."""
    props = d.get("properties", {})
    for name, info in cls.model_fields.items():
        key = info.alias or name
        prop = props[key]
        prop.pop("title", None)
        meta = field_meta(info)
        source = field_source(cls, name)
        why = [m.text.format(field=key) for m in meta if isinstance(m, Why)]
        from_file = FROM_FILE in meta
        if source is not None:
            prop["x-evsim-source"] = source.kind
            if source.note:
                prop["x-evsim-source-note"] = source.note
        if why:
            prop["x-evsim-why"] = why[0]
        if from_file:
            d["required"] = [r for r in d.get("required", []) if r != key]
            if not d["required"]:
                del d["required"]
        if info.default_factory is not None:
            default = info.get_default(call_default_factory=True)
            prop["default"] = (
                default.model_dump(mode="json", by_alias=True)
                if isinstance(default, BaseModel)
                else default
            )
        if "default" in prop:
            prop["default"] = short_dist(prop["default"])
        text = _describe(source, why, from_file)
        if text:
            prop["description"] = text


def file_data(scenario: Scenario) -> dict[str, Any]:
    """``scenario`` as the plain data of a file: every default filled in, in field order.

    Durations are in their short form and what was read from files (trace times, empirical
    values, rate series rows) is left out, so the data loads again (from the scenario's folder)
    into an equal scenario.
    """
    data = scenario.model_dump(mode="json", by_alias=True)
    _drop_from_file(scenario, data)
    out = short_dist(data)
    assert isinstance(out, dict)
    return out


def _drop_from_file(value: Any, data: Any) -> None:
    if isinstance(value, BaseModel) and isinstance(data, dict):
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            if FROM_FILE in field_meta(info):
                data.pop(key, None)
            elif key in data:
                _drop_from_file(getattr(value, name), data[key])
    elif isinstance(value, list | tuple) and isinstance(data, list):
        for v, d in zip(value, data, strict=True):
            _drop_from_file(v, d)
    elif isinstance(value, dict) and isinstance(data, dict):
        for k, v in value.items():
            _drop_from_file(v, data.get(k))


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 7) of a scenario file; see the module docstring."""
    raw = Scenario.model_json_schema(by_alias=True, ref_template=f"#/{_DEFS}/{{model}}")
    defs = raw.pop("$defs")
    for cls in spec_classes():
        _enrich(cls, raw if cls is Scenario else defs[cls.__name__])
    duration = _duration_schema(defs)
    defs = {k: _rewrite(v) for k, v in defs.items()}
    defs["Duration"] = duration
    body = _rewrite(raw)
    body.pop("title", None)
    return {
        "$schema": DRAFT,
        "title": "evsim scenario",
        **body,
        "description": "An evsim scenario file: its components, how they are wired, their "
        "failure rates, latencies and outages, and how long to simulate. Reference: "
        "docs/scenario.md.",
        _DEFS: dict(sorted(defs.items())),
    }
