"""Validation of EventBridge event patterns and SNS filter policies (readable problems).

:func:`validate_pattern` and :func:`validate_filter_policy` return one human-readable line
per problem (unknown operator, wrong operand type, a leaf that is not an array, malformed
numeric ranges, CIDR blocks and wildcards, `$or` with fewer than two branches, AWS's size
limits), so the scenario loader can reject a policy before anything runs. The rules follow
AWS's rule compiler (aws/event-ruler); the matching itself is :mod:`sim.patterns`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from sim.patterns.operators import (
    EVENTBRIDGE,
    EVENTBRIDGE_OPERATORS,
    MAX_PATTERN_CHARS,
    MAX_POLICY_BYTES,
    MAX_POLICY_COMBINATIONS,
    MAX_POLICY_KEYS,
    NUMERIC_OPS,
    SNS,
    SNS_DECIMALS,
    SNS_NUMBER_LIMIT,
    Dialect,
    is_number,
    operand_text,
    parse_network,
)

__all__ = ["validate_filter_policy", "validate_pattern"]

#: Keys AWS refuses inside a `$or` branch (operator names and numeric comparisons).
_RESERVED_IN_OR = EVENTBRIDGE_OPERATORS | {"equals", *NUMERIC_OPS}


def validate_pattern(pattern: Any) -> list[str]:
    """List the problems of an EventBridge event pattern.

    Args:
        pattern: The event pattern as parsed JSON.

    Returns:
        Human-readable problems naming the field path; empty when the pattern is valid.
    """
    if not isinstance(pattern, Mapping):
        return [f"event pattern must be a JSON object, got {type(pattern).__name__}"]
    problems: list[str] = []
    if not pattern:
        problems.append("event pattern must not be empty")
    _check_object(pattern, "", EVENTBRIDGE, True, problems)
    size = _json_size(pattern, problems, "event pattern")
    if size is not None and size > MAX_PATTERN_CHARS:
        problems.append(f"event pattern is {size} characters long (max {MAX_PATTERN_CHARS})")
    return problems


def validate_filter_policy(
    policy: Any, *, scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
) -> list[str]:
    """List the problems of an SNS subscription filter policy.

    Args:
        policy: The filter policy as parsed JSON.
        scope: The subscription's FilterPolicyScope; attribute scope forbids nesting.

    Returns:
        Human-readable problems naming the key path; empty when the policy is valid.
    """
    if not isinstance(policy, Mapping):
        return [f"filter policy must be a JSON object, got {type(policy).__name__}"]
    problems: list[str] = []
    _check_object(policy, "", SNS, scope == "MessageBody", problems)
    keys: set[str] = set()
    _leaf_paths(policy, "", keys)
    if len(keys) > MAX_POLICY_KEYS:
        problems.append(f"filter policy has {len(keys)} keys (max {MAX_POLICY_KEYS})")
    combinations = _combinations(policy)
    if combinations > MAX_POLICY_COMBINATIONS:
        problems.append(
            f"filter policy has {combinations} value combinations (max {MAX_POLICY_COMBINATIONS})"
        )
    size = _json_size(policy, problems, "filter policy", ascii_only=False)
    if size is not None and size > MAX_POLICY_BYTES:
        problems.append(f"filter policy is {size} bytes (max {MAX_POLICY_BYTES})")
    return problems


def _json_size(
    doc: Mapping[str, Any], problems: list[str], what: str, ascii_only: bool = True
) -> int | None:
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"{what} is not valid JSON: {exc}")
        return None
    return len(text) if ascii_only else len(text.encode("utf-8"))


def _check_object(
    obj: Mapping[str, Any],
    path: str,
    dialect: Dialect,
    nesting: bool,
    problems: list[str],
    in_or: bool = False,
) -> None:
    for key, sub in obj.items():
        where = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str):
            problems.append(f"{where}: keys must be strings")
        elif key == "$or":
            if not isinstance(sub, list) or len(sub) < 2:
                problems.append(f"{where}: must be an array of at least two objects, got {sub!r}")
                if not isinstance(sub, list):
                    continue
            for i, branch in enumerate(sub):
                if not isinstance(branch, Mapping) or not branch:
                    problems.append(f"{where}[{i}]: must be a non-empty object, got {branch!r}")
                else:
                    _check_object(branch, path, dialect, nesting, problems, in_or=True)
        elif in_or and key in _RESERVED_IN_OR:
            problems.append(f"{where}: {key!r} is an operator name and cannot be a key inside $or")
        elif isinstance(sub, Mapping):
            if not nesting:
                problems.append(f"{where}: nested keys are not allowed in attribute scope")
            elif not sub:
                problems.append(f"{where}: nested object must not be empty")
            else:
                _check_object(sub, where, dialect, nesting, problems, in_or)
        elif isinstance(sub, list):
            _check_leaf(sub, where, dialect, problems)
        else:
            problems.append(
                f"{where}: value must be an array of alternatives, got {type(sub).__name__} {sub!r}"
            )


def _check_leaf(alts: Sequence[Any], where: str, dialect: Dialect, problems: list[str]) -> None:
    if not alts:
        problems.append(f"{where}: array of alternatives must not be empty")
    for alt in alts:
        if isinstance(alt, Mapping):
            _check_operator(alt, where, dialect, problems)
        elif isinstance(alt, list | tuple):
            problems.append(f"{where}: nested arrays are not allowed ({alt!r})")
        elif not (alt is None or isinstance(alt, str | bool) or is_number(alt)):
            problems.append(f"{where}: {alt!r} is not a JSON scalar")
        elif dialect.sns_numbers and is_number(alt):
            _check_sns_number(alt, where, problems)


def _check_operator(
    alt: Mapping[str, Any], where: str, dialect: Dialect, problems: list[str]
) -> None:
    if len(alt) != 1:
        problems.append(f"{where}: an operator object must have exactly one key, got {list(alt)}")
        return
    ((name, operand),) = alt.items()
    if name not in dialect.operators:
        allowed = ", ".join(sorted(dialect.operators))
        problems.append(f"{where}: unknown operator {name!r} (allowed: {allowed})")
        return
    at = f"{where}: {name}"
    if name == "exists":
        if not isinstance(operand, bool):
            problems.append(f"{at} takes true or false, got {operand!r}")
    elif name in ("prefix", "suffix"):
        if isinstance(operand, Mapping) and dialect.ignore_case_affix:
            if set(operand) != {"equals-ignore-case"} or not isinstance(
                operand["equals-ignore-case"], str
            ):
                problems.append(f'{at} takes a string or {{"equals-ignore-case": string}}')
        elif not isinstance(operand, str):
            problems.append(f"{at} takes a string, got {operand!r}")
    elif name in ("equals-ignore-case", "wildcard"):
        _check_strings(operand, at, name == "wildcard", False, problems)
    elif name == "cidr":
        try:
            parse_network(operand_text(operand))
        except ValueError:
            problems.append(f"{at}: {operand!r} is not an IPv4 or IPv6 CIDR block (address/bits)")
    elif name == "numeric":
        _check_numeric(operand, at, dialect, problems)
    else:
        _check_anything_but(operand, at, dialect, problems)


def _check_strings(
    operand: Any,
    at: str,
    wildcard: bool,
    list_ok: bool,
    problems: list[str],
    non_empty: bool = False,
) -> None:
    texts = operand if list_ok and isinstance(operand, list) and operand else [operand]
    for text in texts:
        if not isinstance(text, str):
            problems.append(
                f"{at} takes a string{' or a list of strings' if list_ok else ''}, got {operand!r}"
            )
            return
        if non_empty and not text:
            problems.append(f"{at}: the string must not be empty")
        if wildcard:
            problem = _wildcard_problem(text)
            if problem:
                problems.append(f"{at}: {problem} in {text!r}")


def _wildcard_problem(text: str) -> str | None:
    """Say what is wrong with a wildcard (AWS: no `**`; a backslash escapes only `*` or itself)."""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*" and text[i + 1 : i + 2] == "*":
            return f"consecutive wildcard characters at position {i}"
        if char == "\\":
            if text[i + 1 : i + 2] not in ("*", "\\"):
                return f"invalid escape at position {i} (a backslash escapes only * and \\)"
            i += 1
        i += 1
    return None


def _check_numeric(operand: Any, at: str, dialect: Dialect, problems: list[str]) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        problems.append(f"{at} takes [op, number] or [op, number, op, number], got {operand!r}")
        return
    pairs = list(zip(operand[::2], operand[1::2], strict=True))
    for op, bound in pairs:
        if op not in NUMERIC_OPS:
            problems.append(f"{at}: unknown comparison {op!r} (allowed: {', '.join(NUMERIC_OPS)})")
            return
        if not is_number(bound):
            problems.append(f"{at}: {bound!r} after {op!r} is not a number")
            return
        if dialect.sns_numbers:
            _check_sns_number(bound, at, problems)
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or not low < high:
            problems.append(
                f"{at}: a range is a lower bound (> or >=) followed by a higher "
                f"upper bound (< or <=), got {operand!r}"
            )


def _check_sns_number(value: Any, at: str, problems: list[str]) -> None:
    if abs(value) > SNS_NUMBER_LIMIT:
        problems.append(f"{at}: {value!r} is outside -1e9..1e9")
    exponent = Decimal(repr(value)).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SNS_DECIMALS:
        problems.append(f"{at}: {value!r} has more than {SNS_DECIMALS} decimal places")


def _check_anything_but(operand: Any, at: str, dialect: Dialect, problems: list[str]) -> None:
    if isinstance(operand, Mapping):
        if len(operand) != 1 or next(iter(operand)) not in dialect.anything_but_forms:
            forms = ", ".join(sorted(dialect.anything_but_forms))
            problems.append(f"{at} takes a value, a list, or one of {{{forms}}}, got {operand!r}")
            return
        ((name, inner),) = operand.items()
        affix = name in ("prefix", "suffix")
        list_ok = not affix or dialect.anything_but_affix_lists
        _check_strings(inner, f"{at}/{name}", name == "wildcard", list_ok, problems, affix)
        return
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        problems.append(f"{at}: the list of excluded values must not be empty")
    elif not (all(isinstance(v, str) for v in values) or all(is_number(v) for v in values)):
        problems.append(
            f"{at}: excluded values must be all strings or all numbers, got {operand!r}"
        )
    elif dialect.sns_numbers:
        for v in values:
            if is_number(v):
                _check_sns_number(v, at, problems)


def _leaf_paths(obj: Mapping[str, Any], path: str, out: set[str]) -> None:
    for key, sub in obj.items():
        if key == "$or" and isinstance(sub, list):
            for branch in sub:
                if isinstance(branch, Mapping):
                    _leaf_paths(branch, path, out)
            continue
        where = f"{path}.{key}" if path else str(key)
        if isinstance(sub, Mapping):
            _leaf_paths(sub, where, out)
        else:
            out.add(where)


def _combinations(obj: Mapping[str, Any]) -> int:
    total = 1
    for key, sub in obj.items():
        if key == "$or" and isinstance(sub, list):
            total *= max(1, sum(_combinations(b) for b in sub if isinstance(b, Mapping)))
        elif isinstance(sub, Mapping):
            total *= _combinations(sub)
        elif isinstance(sub, list):
            total *= max(1, len(sub))
    return total
