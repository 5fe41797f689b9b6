"""Reading scenario files: YAML without duplicate keys, ``--set PATH=VALUE`` overrides, warnings.

See :mod:`sim.config` for the file format and what is checked.
"""


from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.config.fields import NonNegFloat as NonNegFloat
from sim.config.fields import PosFloat as PosFloat
from sim.config.fields import PosInt as PosInt
from sim.config.fields import Prob as Prob
from sim.config.lambda_ import (
    LambdaFunctionSpec,
)
from sim.config.pipeline_checks import handler_warnings
from sim.config.problems import NO_VALUE, EvsimWarning, ScenarioError
from sim.config.problems import Problem as Problem
from sim.config.producer import ProducerSpec
from sim.config.producer import Scalar as Scalar
from sim.config.scenario import Scenario, set_path, validate_scenario
from sim.config.sns import SnsTopicSpec
from sim.config.sqs import SqsQueueSpec


def scenario_warnings(s: Scenario) -> list[str]:
    """Settings accepted but unrealistic, one message per setting (``path: value — why``)."""
    out = []
    for name, f in s.of_type(LambdaFunctionSpec).items():
        mc = f.trigger.max_concurrency if f.trigger else None
        path = f"components.{name}.trigger.max_concurrency"
        if mc == 1:
            out.append(f"{path}: 1 — below AWS's minimum of 2; accepted as an idealised setting")
        if mc is not None and f.reserved_concurrency is not None and mc > f.reserved_concurrency:
            out.append(f"{path}: {mc} — above reserved_concurrency ({f.reserved_concurrency}); "
                       "AWS warns that the function will then be throttled")  # fmt: skip
    out.extend(handler_warnings(s.components))
    out.extend(_fifo_group_warnings(s))
    return out


def _fifo_group_warnings(s: Scenario) -> list[str]:
    """Producers sending to a FIFO queue or topic without saying how many message groups."""
    out = []
    for name, p in s.of_type(ProducerSpec).items():
        if "groups" in p.model_fields_set:
            continue
        for target in p.send_to:
            spec = s.components.get(target)
            if isinstance(spec, SqsQueueSpec | SnsTopicSpec) and spec.fifo:
                kind = "queue" if isinstance(spec, SqsQueueSpec) else "topic"
                out.append(
                    f"components.{name}.groups: unset — {name} sends to the FIFO {kind} "
                    f"{target!r}, and AWS requires a MessageGroupId on every FIFO send; evsim "
                    "puts every message in one group (strict order, one batch in flight at a "
                    "time), which is rarely what an application does; set groups (groups: 1 to "
                    "keep one group)"
                )
                break
    return out


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    """A safe YAML loader that rejects duplicate keys (a repeated component would vanish)."""


def _mapping_no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None,
                    f"duplicate key {key!r} (first given on line {seen[key] + 1})",
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = key_node.start_mark.line
        except TypeError:  # an unhashable key; pydantic reports it
            pass
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, override (``PATH=VALUE``), validate and return the scenario in a YAML file.

    The name defaults to the file's stem; relative file references resolve against the file's
    directory. Each :func:`scenario_warnings` message is emitted as an :class:`EvsimWarning`.

    Raises:
        ScenarioError: if the file is missing, is not valid YAML or is not a valid scenario.
    """
    file = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _whole_file(file, f"file not found: {p.absolute()}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _whole_file(file, f"cannot read the file: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise _whole_file(file, f"invalid YAML: {exc.problem}", where) from None
    except yaml.YAMLError as exc:
        raise _whole_file(file, f"invalid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise _not_a_mapping(file, data)
    data = apply_overrides(data, overrides, file)
    data.setdefault("name", p.stem)
    scenario = scenario_from_dict(data, file, p.absolute().parent)
    for message in scenario_warnings(scenario):
        warnings.warn(f"{file}: {message}", EvsimWarning, stacklevel=2)
    return scenario


def _whole_file(file: str, why: str, where: str = "") -> ScenarioError:
    """A problem with the file as a whole (no field path, no single offending value)."""
    return ScenarioError(file, [(where, NO_VALUE, why)])


def _not_a_mapping(file: str, data: Any) -> ScenarioError:
    what = "the file is empty" if data is None else f"got {type(data).__name__}"
    return _whole_file(file, f"a scenario must be a mapping of fields "
                             f"(name, duration_s, components, ...); {what}")  # fmt: skip


def scenario_from_dict(
    data: Mapping[str, Any], source: str = "<scenario>", base_dir: Path | None = None
) -> Scenario:
    """Validate a scenario given as plain data (e.g. parsed YAML or ``model_dump`` output).

    Args:
        data: The scenario's fields.
        source: Names the scenario in error messages (usually the file).
        base_dir: Directory that relative file references resolve against (default: cwd).

    Raises:
        ScenarioError: listing every problem found.
    """
    if not isinstance(data, Mapping):
        raise _not_a_mapping(source, data)
    return validate_scenario(data, source, base_dir)


def apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], source: str = "<scenario>"
) -> dict[str, Any]:
    """A copy of ``data`` with ``PATH=VALUE`` overrides applied (VALUE parsed as YAML).

    Missing intermediate mappings are created; numeric segments index lists.

    Raises:
        ScenarioError: for an override without ``=`` or a path that cannot be set.
    """
    out: dict[str, Any] = copy.deepcopy(dict(data))
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            why = "malformed override; expected PATH=VALUE, e.g. components.worker.errors.rate=0.1"
            raise ScenarioError(source, [("--set", item, why)])
        try:
            value = parse_value(text)
        except yaml.YAMLError as exc:
            why = f"invalid YAML value: {exc}"
            raise ScenarioError(source, [(f"--set {path}", text, why)]) from None
        set_path(out, path.strip(), value, source, "--set")
    return out


def parse_value(text: str) -> Any:
    """A command-line value parsed as YAML, with exponent notation read as a number.

    YAML 1.1 (PyYAML) reads ``1e-3`` as a string; users mean 0.001.

    Raises:
        yaml.YAMLError: for text that is not valid YAML.
    """
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "+inf",
                                                                 "infinity", "-infinity") else value
        except ValueError:
            return value
    return value
