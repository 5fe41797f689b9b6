"""EventBridge event patterns and SNS filter policies: matching and validation, pure functions.

* :func:`matches` (EventBridge semantics) and :func:`filter_policy_matches` (SNS semantics:
  attribute scope when ``attributes`` is given, else the parsed JSON body) live in
  :mod:`sim.patterns.match`, whose docstring states the semantics;
* :func:`validate_pattern` and :func:`validate_filter_policy` list readable problems
  (:mod:`sim.patterns.validate`), so a scenario is rejected before it runs;
* both use the operator tables, limits and dialects of :mod:`sim.patterns.operators`.
"""

from __future__ import annotations

from sim.patterns.match import filter_policy_matches, matches
from sim.patterns.operators import (
    EVENTBRIDGE_OPERATORS,
    MAX_PATTERN_CHARS,
    MAX_POLICY_BYTES,
    MAX_POLICY_COMBINATIONS,
    MAX_POLICY_KEYS,
    SNS_OPERATORS,
)
from sim.patterns.validate import validate_filter_policy, validate_pattern

__all__ = [
    "EVENTBRIDGE_OPERATORS",
    "MAX_PATTERN_CHARS",
    "MAX_POLICY_BYTES",
    "MAX_POLICY_COMBINATIONS",
    "MAX_POLICY_KEYS",
    "SNS_OPERATORS",
    "filter_policy_matches",
    "matches",
    "validate_filter_policy",
    "validate_pattern",
]
