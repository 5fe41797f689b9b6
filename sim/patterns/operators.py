"""What event patterns and filter policies share: operator tables, limits and dialects.

EventBridge event patterns and SNS filter policies are two dialects of one language; the
tables here serve both matching (:mod:`sim.patterns.match`) and validation
(:mod:`sim.patterns.validate`).
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "EVENTBRIDGE_OPERATORS",
    "MAX_PATTERN_CHARS",
    "MAX_POLICY_BYTES",
    "MAX_POLICY_COMBINATIONS",
    "MAX_POLICY_KEYS",
    "SNS_OPERATORS",
    "Predicate",
]

EVENTBRIDGE_OPERATORS: frozenset[str] = frozenset(
    {
        "prefix",
        "suffix",
        "equals-ignore-case",
        "anything-but",
        "numeric",
        "exists",
        "cidr",
        "wildcard",
    }
)
SNS_OPERATORS: frozenset[str] = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}
)
#: Maximum length of an EventBridge event pattern (characters, compact JSON).
MAX_PATTERN_CHARS = 2048
#: Maximum number of keys (leaf paths) in an SNS filter policy.
MAX_POLICY_KEYS = 5
#: Maximum product of the number of values per key in an SNS filter policy.
MAX_POLICY_COMBINATIONS = 150
#: Maximum size of an SNS filter policy (bytes of UTF-8 JSON).
MAX_POLICY_BYTES = 256 * 1024
SNS_NUMBER_LIMIT = 1e9
SNS_DECIMALS = 5

NUMERIC_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
STRING_OPS = frozenset({"prefix", "suffix", "equals-ignore-case", "wildcard"})

Predicate = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Dialect:
    """What one matching language accepts (for validation and match-time checks)."""

    what: str
    operators: frozenset[str]
    anything_but_forms: frozenset[str]
    ignore_case_affix: bool
    sns_numbers: bool
    anything_but_affix_lists: bool


EVENTBRIDGE = Dialect(
    "event pattern",
    EVENTBRIDGE_OPERATORS,
    frozenset({"prefix", "suffix", "equals-ignore-case", "wildcard"}),
    ignore_case_affix=True,
    sns_numbers=False,
    anything_but_affix_lists=True,
)
SNS = Dialect(
    "filter policy",
    SNS_OPERATORS,
    frozenset({"prefix", "suffix"}),
    ignore_case_affix=False,
    sns_numbers=True,
    anything_but_affix_lists=False,
)


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def operand_text(operand: Any) -> str:
    if not isinstance(operand, str):
        raise ValueError(f"expected a string operand, got {operand!r}")
    return operand


@lru_cache(maxsize=256)
def parse_network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse `address/bits` (AWS requires the prefix length; host bits may be set)."""
    _, slash, bits = cidr.partition("/")
    if not slash or not bits.isdigit():
        raise ValueError(f"{cidr!r} is not in address/bits form")
    return ipaddress.ip_network(cidr, strict=False)
