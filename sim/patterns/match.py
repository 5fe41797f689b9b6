r"""EventBridge event patterns and SNS subscription filter policies, as pure functions.

Both languages describe a JSON object that lists only the fields used for matching; every other
field of the event (or message) is ignored. Fields listed together must all match (AND); each
leaf is a JSON array of alternatives, at least one of which must match (OR); `$or` lists
alternative sub-patterns at any object level. An alternative is either a literal (string, number,
`true`, `false`, `null`) compared exactly, or an object holding one operator.

Semantics (aws-semantics.md §6.3 and §7.1):

- Exact matching is type-aware: `"5"` does not match `5`, `true` does not match `1`, and
  numbers compare by value (`300` matches `300.0`). `null` and `""` are distinct values.
- An array in the event matches when any of its elements matches (pattern ∩ event non-empty).
  A nested sub-pattern applied to an array of objects matches when one element matches it as a
  whole (array consistency).
- `prefix`, `suffix` (both also with `{"equals-ignore-case": ...}`), `equals-ignore-case` and
  `wildcard` (`*` is zero or more characters, `\*` a literal star) apply to strings only and
  never match numbers. `numeric` applies to numbers only (`=`, `<`, `<=`, `>`, `>=`, conditions
  ANDed). `cidr` (`address/bits`) matches IPv4 and IPv6 address strings.
- `anything-but` (a value, a list, or `prefix`/`suffix`/`equals-ignore-case`/`wildcard`, each of
  these with one string or, on event buses, a list of strings) matches any value that is not
  excluded, including `null`, but never a missing field.
- `exists` is a leaf test: a field exists when it holds at least one leaf value (`null`
  counts; an empty array, an empty object or an object-valued field do not). `exists: false`
  therefore matches when a parent object is absent.
- `$or` takes at least two branches, and no key inside a branch may be an operator name.
- Dotted keys: a nested path `{"a": {"b": ...}}` also matches an event key literally named
  `"a.b"`, and a pattern key `"a.b"` matches the nested path.
- SNS filter policies use the same engine with SNS's operator set. Their scope is the message
  attributes when given (flat, no nesting; a String.Array is a Python list and matches when any
  element matches; numbers are Number attributes; `exists` means the attribute is present),
  else the parsed JSON body (nested keys and dotted keys as for EventBridge).

Modelled:
    All EventBridge event-bus comparison operators, SNS attribute- and payload-scope filtering,
    and the documented pattern and policy limits (validation only): 2,048 characters per event
    pattern; 5 keys, 150 value combinations, 256 KB and numbers within ±1e9 with at most 5
    decimals per SNS policy.

Not modelled:
    The 15-minute propagation delay of SNS policy changes; SNS's double escaping of special
    characters in attribute values; Binary and numeric-in-String.Array SNS attributes; EventBridge
    Pipes' smaller operator set; the exact text of AWS validation errors; EventBridge's numeric
    precision limits (numbers compare as Python ints/floats); Java's exact case-folding rules
    (Python's `str.casefold` is used); the event size limit; AWS's key-count rules for `$or`
    (here: distinct leaf paths over all branches).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, TypeGuard

from sim.patterns.operators import (
    EVENTBRIDGE,
    NUMERIC_OPS,
    SNS,
    STRING_OPS,
    Dialect,
    Predicate,
    is_number,
    operand_text,
    parse_network,
)

__all__ = ["filter_policy_matches", "matches"]


# --------------------------------------------------------------------------- matching


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Tell whether an EventBridge event pattern matches an event.

    Args:
        pattern: The event pattern as parsed JSON (a non-empty object).
        event: The event as parsed JSON.

    Returns:
        True when every field of the pattern matches the event.

    Raises:
        ValueError: If the part of the pattern that had to be evaluated is malformed (an unknown
            operator, a leaf that is not an array, ...); `validate_pattern` lists all problems.
    """
    return _match_object(pattern, event, EVENTBRIDGE)


def filter_policy_matches(
    policy: Mapping[str, Any],
    attributes: Mapping[str, str | float | int | list[str]] | None = None,
    body: Any = None,
) -> bool:
    """Tell whether an SNS subscription filter policy accepts a message.

    Args:
        policy: The filter policy as parsed JSON; an empty policy accepts every message.
        attributes: Message attributes (name -> String value, Number value, or String.Array as a
            list of strings). When given, the policy's scope is the attributes.
        body: The parsed JSON message body, the scope when `attributes` is None. A None body has
            no properties (only absence-tolerant policies match); any other non-object body
            matches only the empty policy.

    Returns:
        True when every key of the policy matches.

    Raises:
        ValueError: If the evaluated part of the policy is malformed (an unknown operator, a
            nested key in attribute scope, ...); `validate_filter_policy` lists all problems.
    """
    if attributes is not None:
        return _match_attributes(policy, attributes)
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        return not policy
    return _match_object(policy, body, SNS)


def _match_object(pattern: Mapping[str, Any], obj: Mapping[str, Any], dialect: Dialect) -> bool:
    for key, sub in pattern.items():
        if key == "$or":
            if not any(_match_object(alt, obj, dialect) for alt in _or_branches(sub)):
                return False
            continue
        head, dot, rest = key.partition(".")
        if dot:  # "a.b" is the nested path {"a": {"b": ...}}
            key, sub = head, {rest: sub}
        if _is_mapping(sub):
            if not any(_match_object(sub, ctx, dialect) for ctx in _contexts(obj, key)):
                return False
        else:
            values: list[Any] = []
            if key in obj:
                _leaves(obj[key], values)
            if not _match_leaf(sub, key, values, bool(values), dialect):
                return False
    return True


def _match_attributes(policy: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    for key, sub in policy.items():
        if key == "$or":
            if not any(_match_attributes(alt, attributes) for alt in _or_branches(sub)):
                return False
            continue
        if isinstance(sub, Mapping):
            raise ValueError(f"filter policy key {key!r}: attribute scope allows no nesting")
        values: list[Any] = []
        if key in attributes:
            _leaves(attributes[key], values)
        if not _match_leaf(sub, key, values, key in attributes, SNS):
            return False
    return True


def _or_branches(sub: Any) -> list[Mapping[str, Any]]:
    if not isinstance(sub, list) or not all(isinstance(b, Mapping) for b in sub):
        raise ValueError("$or must be an array of objects")
    return sub


_NOT_MAPPINGS = frozenset({list, tuple, str, int, float, bool, type(None)})


def _is_mapping(x: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(x, Mapping)``, quick for the JSON types (the ABC check is slow)."""
    t = type(x)
    return t is dict or (t not in _NOT_MAPPINGS and isinstance(x, Mapping))


def _has_dotted_keys(obj: Mapping[str, Any]) -> bool:
    try:
        return "." in "".join(obj)
    except TypeError:  # a key that is not a string
        return True


def _contexts(obj: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """Return the objects a nested sub-pattern under `key` is matched against."""
    value = obj.get(key)
    if _is_mapping(value) and not _has_dotted_keys(obj):
        return [value]  # the common case: a nested object and no dotted keys beside it
    prefix = key + "."
    dotted = {
        k[len(prefix) :]: v for k, v in obj.items() if isinstance(k, str) and k.startswith(prefix)
    }
    direct: list[Mapping[str, Any]] = []
    if _is_mapping(value):
        direct.append(value)
    elif isinstance(value, list):
        direct.extend(v for v in value if _is_mapping(v))
    if not direct:
        return [dotted]  # possibly empty: absent fields (exists: false) can still match
    return [{**d, **dotted} for d in direct] if dotted else direct


def _leaves(value: Any, out: list[Any]) -> None:
    """Append the leaf values of `value` to `out` (arrays flattened, objects skipped)."""
    if isinstance(value, list | tuple):
        for item in value:
            _leaves(item, out)
    elif not _is_mapping(value):
        out.append(value)


def _match_leaf(alts: Any, key: str, values: list[Any], present: bool, dialect: Dialect) -> bool:
    if not isinstance(alts, list):
        raise ValueError(f"{dialect.what} field {key!r} must be an array or an object")
    for alt in alts:
        if _is_mapping(alt):
            if len(alt) != 1:
                raise ValueError(f"{key!r}: an operator object must have exactly one key")
            ((name, operand),) = alt.items()
            if name not in dialect.operators:
                raise ValueError(f"{key!r}: unknown {dialect.what} operator {name!r}")
            if name == "exists":
                if operand is present:
                    return True
            elif values:
                test = _value_test(name, operand)
                if any(test(v) for v in values):
                    return True
        elif any(_equal(alt, v) for v in values):
            return True
    return False


def _equal(expected: Any, actual: Any) -> bool:
    """Type-aware JSON equality (numbers by value, booleans and strings by identity of type)."""
    if expected is None or isinstance(expected, bool):
        return actual is expected
    if is_number(expected):
        return is_number(actual) and bool(actual == expected)
    return isinstance(expected, str) and isinstance(actual, str) and actual == expected


def _value_test(name: str, operand: Any) -> Predicate:
    """Build the per-value predicate of one operator (every operator except `exists`)."""
    if name in STRING_OPS:
        return _string_test(name, operand)
    if name == "numeric":
        conditions = _numeric_conditions(operand)
        return lambda v: is_number(v) and all(op(v, bound) for op, bound in conditions)
    if name == "cidr":
        network = parse_network(operand_text(operand))
        return lambda v: _in_network(v, network)
    if name == "anything-but":
        excluded = _exclusion(operand)
        return lambda v: not excluded(v)
    raise ValueError(f"unknown operator {name!r}")


def _string_test(name: str, operand: Any) -> Predicate:
    if name in ("prefix", "suffix") and isinstance(operand, Mapping):
        if set(operand) != {"equals-ignore-case"}:
            raise ValueError(f"{name} takes a string or {{'equals-ignore-case': string}}")
        folded = operand_text(operand["equals-ignore-case"]).casefold()
        if name == "prefix":
            return lambda v: isinstance(v, str) and v.casefold().startswith(folded)
        return lambda v: isinstance(v, str) and v.casefold().endswith(folded)
    if name == "prefix":
        text = operand_text(operand)
        return lambda v: isinstance(v, str) and v.startswith(text)
    if name == "suffix":
        text = operand_text(operand)
        return lambda v: isinstance(v, str) and v.endswith(text)
    texts = [operand_text(t) for t in (operand if isinstance(operand, list) else [operand])]
    if name == "equals-ignore-case":
        folded_set = {t.casefold() for t in texts}
        return lambda v: isinstance(v, str) and v.casefold() in folded_set
    regexes = [_wildcard_regex(t) for t in texts]
    return lambda v: isinstance(v, str) and any(r.fullmatch(v) for r in regexes)


@lru_cache(maxsize=1024)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Compile a wildcard (`*` any run of characters, backslash escapes the next one)."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _numeric_conditions(operand: Any) -> list[tuple[Callable[[Any, Any], bool], Any]]:
    if not isinstance(operand, list) or not operand or len(operand) % 2:
        raise ValueError(f"numeric takes [operator, number, ...], got {operand!r}")
    conditions = []
    for op, bound in zip(operand[::2], operand[1::2], strict=True):
        if op not in NUMERIC_OPS or not is_number(bound):
            raise ValueError(f"numeric: bad condition {op!r} {bound!r}")
        conditions.append((NUMERIC_OPS[op], bound))
    return conditions


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _exclusion(operand: Any) -> Predicate:
    """Return the predicate of the values an `anything-but` operand excludes."""
    if isinstance(operand, Mapping):
        if len(operand) != 1:
            raise ValueError("anything-but takes one nested operator")
        ((name, inner),) = operand.items()
        if name not in STRING_OPS:
            raise ValueError(f"anything-but: unsupported form {name!r}")
        if name in ("prefix", "suffix"):
            affixes = inner if isinstance(inner, list) else [inner]
            if not affixes or not all(isinstance(a, str) for a in affixes):
                raise ValueError(f"anything-but/{name} takes a string or a list of strings")
            tests = [_string_test(name, a) for a in affixes]
            return lambda v: any(test(v) for test in tests)
        return _string_test(name, inner)
    if isinstance(operand, list):
        return lambda v: any(_equal(x, v) for x in operand)
    return lambda v: _equal(operand, v)
