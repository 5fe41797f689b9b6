"""EventBridge event patterns and SNS filter policies (sim/patterns.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.patterns import (
    filter_policy_matches,
    matches,
    validate_filter_policy,
    validate_pattern,
)

EVENT: dict[str, Any] = {
    "source": "aws.s3",
    "detail-type": "Object Created",
    "resources": [],
    "detail": {
        "bucket": {"name": "uploads"},
        "object": {"key": "img/cat.PNG", "size": 300, "etag": "abc"},
        "reason": "PutObject",
        "ip": "10.0.0.7",
        "ip6": "2001:db8::1",
        "tags": ["red", "blue"],
        "flag": True,
        "note": None,
        "empty": "",
        "count": "5",
        "star": "a*b",
        "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}],
    },
}


def d(**fields: Any) -> dict[str, Any]:
    """A pattern on the event's `detail`."""
    return {"detail": fields}


EB_CASES = [
    # exact, AND/OR, nesting
    ({"source": ["aws.s3"]}, True, "exact"),
    ({"source": ["aws.ec2"]}, False, "exact-miss"),
    ({"source": ["aws.ec2", "aws.s3"]}, True, "or-values"),
    ({"source": ["aws.s3"], "detail-type": ["Object Deleted"]}, False, "and-fields"),
    ({"bucket": {"name": ["uploads"]}}, False, "same-nesting-required"),
    (d(missing=["x"]), False, "missing-field"),
    ({"source": ["AWS.S3"]}, False, "case-sensitive"),
    # type awareness
    (d(object={"size": ["300"]}), False, "string-vs-number"),
    (d(count=[5]), False, "number-vs-string"),
    (d(count=["5"]), True, "string-number-text"),
    (d(flag=[1]), False, "one-vs-true"),
    (d(flag=["true"]), False, "string-true-vs-true"),
    (d(flag=[True]), True, "true"),
    (d(object={"size": [300.0]}), True, "number-by-value"),
    # null and empty string
    (d(note=[None]), True, "null"),
    (d(empty=[None]), False, "null-vs-empty"),
    (d(empty=[""]), True, "empty-string"),
    (d(note=[""]), False, "empty-vs-null"),
    # arrays
    (d(tags=["blue", "green"]), True, "array-intersection"),
    (d(tags=["green"]), False, "array-disjoint"),
    # prefix / suffix / equals-ignore-case
    (d(object={"key": [{"prefix": "img/"}]}), True, "prefix"),
    (d(object={"key": [{"prefix": "IMG/"}]}), False, "prefix-case"),
    (d(object={"size": [{"prefix": "3"}]}), False, "prefix-number"),
    (d(object={"key": [{"prefix": {"equals-ignore-case": "IMG/"}}]}), True, "prefix-ic"),
    (d(object={"key": [{"prefix": {"equals-ignore-case": "doc/"}}]}), False, "prefix-ic-miss"),
    (d(object={"key": [{"suffix": ".PNG"}]}), True, "suffix"),
    (d(object={"key": [{"suffix": ".png"}]}), False, "suffix-case"),
    (d(object={"size": [{"suffix": "00"}]}), False, "suffix-number"),
    (d(object={"key": [{"suffix": {"equals-ignore-case": ".png"}}]}), True, "suffix-ic"),
    (d(object={"key": [{"suffix": {"equals-ignore-case": ".jpg"}}]}), False, "suffix-ic-miss"),
    (d(reason=[{"equals-ignore-case": "putOBJECT"}]), True, "equals-ic"),
    (d(reason=[{"equals-ignore-case": "deleteobject"}]), False, "equals-ic-miss"),
    (d(object={"size": [{"equals-ignore-case": "300"}]}), False, "equals-ic-number"),
    # anything-but
    (d(reason=[{"anything-but": "DeleteObject"}]), True, "ab-value"),
    (d(reason=[{"anything-but": "PutObject"}]), False, "ab-value-excluded"),
    (d(reason=[{"anything-but": ["A", "PutObject"]}]), False, "ab-list-excluded"),
    (d(reason=[{"anything-but": ["A", "B"]}]), True, "ab-list"),
    (d(object={"size": [{"anything-but": [300.0]}]}), False, "ab-number-excluded"),
    (d(object={"size": [{"anything-but": 301}]}), True, "ab-number"),
    (d(object={"size": [{"anything-but": "300"}]}), True, "ab-string-vs-number"),
    (d(reason=[{"anything-but": {"prefix": "Put"}}]), False, "ab-prefix-excluded"),
    (d(reason=[{"anything-but": {"prefix": "Del"}}]), True, "ab-prefix"),
    (d(reason=[{"anything-but": {"suffix": "Object"}}]), False, "ab-suffix-excluded"),
    (d(reason=[{"anything-but": {"suffix": "Bucket"}}]), True, "ab-suffix"),
    (d(reason=[{"anything-but": {"equals-ignore-case": "putobject"}}]), False, "ab-ic-excluded"),
    (d(reason=[{"anything-but": {"equals-ignore-case": ["x", "y"]}}]), True, "ab-ic-list"),
    (d(reason=[{"anything-but": {"wildcard": "Put*"}}]), False, "ab-wildcard-excluded"),
    (d(reason=[{"anything-but": {"wildcard": "*Delete*"}}]), True, "ab-wildcard"),
    (d(tags=[{"anything-but": "red"}]), True, "ab-array-some-not-excluded"),
    (d(tags=[{"anything-but": ["red", "blue"]}]), False, "ab-array-all-excluded"),
    # numeric
    (d(object={"size": [{"numeric": ["=", 300]}]}), True, "num-eq"),
    (d(object={"size": [{"numeric": ["=", 301]}]}), False, "num-eq-miss"),
    (d(object={"size": [{"numeric": [">", 0, "<=", 300]}]}), True, "num-range"),
    (d(object={"size": [{"numeric": [">", 0, "<", 300]}]}), False, "num-range-open"),
    (d(object={"size": [{"numeric": [">", 300]}]}), False, "num-gt"),
    (d(object={"size": [{"numeric": [">=", 300]}]}), True, "num-ge"),
    (d(object={"size": [{"numeric": ["<", 300]}]}), False, "num-lt"),
    (d(object={"size": [{"numeric": ["<=", 300.0]}]}), True, "num-le"),
    (d(count=[{"numeric": ["=", 5]}]), False, "num-on-string"),
    (d(flag=[{"numeric": ["=", 1]}]), False, "num-on-bool"),
    # cidr
    (d(ip=[{"cidr": "10.0.0.0/24"}]), True, "cidr-v4"),
    (d(ip=[{"cidr": "10.0.1.0/24"}]), False, "cidr-v4-miss"),
    (d(ip6=[{"cidr": "2001:db8::/32"}]), True, "cidr-v6"),
    (d(ip6=[{"cidr": "2001:db9::/32"}]), False, "cidr-v6-miss"),
    (d(ip6=[{"cidr": "0.0.0.0/0"}]), False, "cidr-version-mismatch"),
    (d(reason=[{"cidr": "0.0.0.0/0"}]), False, "cidr-not-an-ip"),
    # wildcard
    (d(object={"key": [{"wildcard": "img/*.PNG"}]}), True, "wildcard"),
    (d(object={"key": [{"wildcard": "img/*.png"}]}), False, "wildcard-miss"),
    (d(empty=[{"wildcard": "*"}]), True, "wildcard-zero-chars"),
    (d(star=[{"wildcard": "a\\*b"}]), True, "wildcard-literal-star"),
    (d(reason=[{"wildcard": "Put\\*"}]), False, "wildcard-escaped-star-is-literal"),
    (d(object={"size": [{"wildcard": "*"}]}), False, "wildcard-number"),
    # $or
    ({"$or": [{"source": ["aws.ec2"]}, {"detail-type": ["Object Created"]}]}, True, "or"),
    ({"$or": [{"source": ["aws.ec2"]}, {"detail-type": ["X"]}]}, False, "or-miss"),
    ({"source": ["aws.ec2"], "$or": [{"source": ["aws.s3"]}]}, False, "or-and-field"),
    (
        d(object={"$or": [{"size": [{"numeric": [">", 1000]}]}, {"key": [{"prefix": "img"}]}]}),
        True,
        "or-nested",
    ),
    (
        d(object={"$or": [{"size": [{"numeric": [">", 1000]}]}, {"etag": ["x"]}]}),
        False,
        "or-nested-miss",
    ),
    ({"$or": [d(reason=["X"]), {"$or": [{"source": ["Y"]}, d(note=[None])]}]}, True, "or-in-or"),
    # array of objects: one element must match the whole sub-pattern
    (d(items={"sku": ["a"], "qty": [1]}), True, "array-objects-same-element"),
    (d(items={"sku": ["a"], "qty": [2]}), False, "array-objects-across-elements"),
    # dotted keys
    ({"detail.object.key": ["img/cat.PNG"]}, True, "dotted-pattern-key"),
    ({"detail.object": {"size": [300]}}, True, "dotted-pattern-mixed"),
    ({"detail.object.key": ["x"]}, False, "dotted-pattern-miss"),
]


@pytest.mark.parametrize(
    ("pattern", "expected"), [c[:2] for c in EB_CASES], ids=[c[2] for c in EB_CASES]
)
def test_matches(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


EXISTS_CASES = [
    ({"a": [{"exists": True}]}, {"a": 1}, True),
    ({"a": [{"exists": True}]}, {"b": 1}, False),
    ({"a": [{"exists": False}]}, {"b": 1}, True),
    ({"a": [{"exists": False}]}, {"a": ""}, False),
    ({"p": {"a": [{"exists": False}]}}, {"b": 1}, True),  # parent absent
    ({"p": {"a": [{"exists": True}]}}, {"b": 1}, False),
    ({"a": [{"exists": True}]}, {"a": []}, False),  # empty array does not exist
    ({"a": [{"exists": False}]}, {"a": []}, True),
    ({"a": [{"exists": True}]}, {"a": {"b": 1}}, False),  # object-valued: not a leaf
    ({"a": [{"exists": False}]}, {"a": {"b": 1}}, True),
    ({"a": [{"exists": True}]}, {"a": None}, True),  # null is a value
    ({"a": [{"exists": True}]}, {"a": [None, 2]}, True),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), EXISTS_CASES)
def test_exists_edges(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


ANYTHING_BUT_FORMS = [
    "x",
    ["x", "y"],
    5,
    {"prefix": "x"},
    {"suffix": "x"},
    {"equals-ignore-case": "x"},
    {"wildcard": "x*"},
]


@pytest.mark.parametrize("operand", ANYTHING_BUT_FORMS)
def test_anything_but_matches_null_but_not_missing(operand: Any) -> None:
    pattern = {"a": [{"anything-but": operand}]}
    assert matches(pattern, {"a": None})
    assert not matches(pattern, {"b": None})
    if not isinstance(operand, dict) or set(operand) <= {"prefix", "suffix"}:  # SNS forms
        assert filter_policy_matches(pattern, body={"a": None})
        assert not filter_policy_matches(pattern, body={"b": "z"})


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": {"b": [1]}}, {"a.b": 1}, True),  # nested pattern, literal dotted event key
        ({"a": {"b": [1]}}, {"a.b": 2}, False),
        ({"a": {"b": {"c": [1]}}}, {"a.b.c": 1}, True),
        ({"a.b": {"c": [1]}}, {"a": {"b.c": 1}}, True),
        ({"a.b": [1]}, {"a.b": 1}, True),
        ({"a": {"b": [1], "c": [2]}}, {"a": {"c": 2}, "a.b": 1}, True),
        ({"a": {"b": [{"exists": False}]}}, {"a.b": 1}, False),
    ],
)
def test_dotted_keys(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


def test_numbers_compare_by_value_in_event_arrays() -> None:
    assert matches({"v": [2.0]}, {"v": [1, 2]})
    assert not matches({"v": ["2"]}, {"v": [1, 2]})


@pytest.mark.parametrize(
    "pattern",
    [
        {"a": [{"between": [1, 2]}]},
        {"a": "x"},
        {"a": [{"prefix": "x", "suffix": "y"}]},
        {"$or": {"a": ["x"]}},
    ],
)
def test_matches_rejects_malformed_pattern(pattern: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        matches(pattern, {"a": "x"})


# --------------------------------------------------------------------------- SNS

ATTRS: dict[str, str | float | int | list[str]] = {
    "store": "example_corp",
    "event": "order_placed",
    "price": 120.5,
    "qty": 3,
    "code": "5",
    "interests": ["rugby", "tennis"],
    "ip": "192.168.1.7",
}

SNS_CASES = [
    ({"store": ["example_corp"]}, True, "exact"),
    ({"store": ["other_corp"]}, False, "exact-miss"),
    ({"store": ["other_corp", "example_corp"]}, True, "or-values"),
    ({"store": ["example_corp"], "event": ["order_cancelled"]}, False, "and-keys"),
    ({"store": ["Example_Corp"]}, False, "case-sensitive"),
    ({"price": [120.5]}, True, "number-exact"),
    ({"qty": [3.0]}, True, "number-by-value"),
    ({"price": ["120.5"]}, False, "string-vs-number"),
    ({"code": [5]}, False, "number-vs-string"),
    ({"event": [{"prefix": "order_"}]}, True, "prefix"),
    ({"event": [{"prefix": "ship_"}]}, False, "prefix-miss"),
    ({"qty": [{"prefix": "3"}]}, False, "prefix-number"),
    ({"event": [{"suffix": "_placed"}]}, True, "suffix"),
    ({"event": [{"suffix": "_shipped"}]}, False, "suffix-miss"),
    ({"store": [{"equals-ignore-case": "EXAMPLE_CORP"}]}, True, "equals-ic"),
    ({"store": [{"equals-ignore-case": "other"}]}, False, "equals-ic-miss"),
    ({"event": [{"anything-but": "order_cancelled"}]}, True, "ab"),
    ({"event": [{"anything-but": ["order_placed", "x"]}]}, False, "ab-list-excluded"),
    ({"qty": [{"anything-but": [3]}]}, False, "ab-number-excluded"),
    ({"qty": [{"anything-but": [4, 5]}]}, True, "ab-number"),
    ({"event": [{"anything-but": {"prefix": "order"}}]}, False, "ab-prefix-excluded"),
    ({"event": [{"anything-but": {"prefix": "ship"}}]}, True, "ab-prefix"),
    ({"event": [{"anything-but": {"suffix": "placed"}}]}, False, "ab-suffix-excluded"),
    ({"event": [{"anything-but": {"suffix": "shipped"}}]}, True, "ab-suffix"),
    ({"price": [{"numeric": ["=", 120.5]}]}, True, "num-eq"),
    ({"price": [{"numeric": ["=", 120]}]}, False, "num-eq-miss"),
    ({"price": [{"numeric": [">", 100, "<=", 200]}]}, True, "num-range"),
    ({"price": [{"numeric": [">=", 0, "<", 100]}]}, False, "num-range-miss"),
    ({"code": [{"numeric": ["=", 5]}]}, False, "num-on-string-attribute"),
    ({"store": [{"exists": True}]}, True, "exists-true"),
    ({"absent": [{"exists": True}]}, False, "exists-true-missing"),
    ({"absent": [{"exists": False}]}, True, "exists-false"),
    ({"store": [{"exists": False}]}, False, "exists-false-present"),
    ({"ip": [{"cidr": "192.168.0.0/16"}]}, True, "cidr"),
    ({"ip": [{"cidr": "10.0.0.0/8"}]}, False, "cidr-miss"),
    ({"interests": ["rugby"]}, True, "array-exact"),
    ({"interests": ["baseball"]}, False, "array-exact-miss"),
    ({"interests": [{"prefix": "ten"}]}, True, "array-prefix"),
    ({"interests": [{"anything-but": "rugby"}]}, True, "array-ab-some-not-excluded"),
    ({"interests": [{"anything-but": ["rugby", "tennis"]}]}, False, "array-ab-all-excluded"),
    ({"$or": [{"store": ["x"]}, {"qty": [3]}]}, True, "or"),
    ({"$or": [{"store": ["x"]}, {"qty": [4]}]}, False, "or-miss"),
    (
        {"event": ["order_placed"], "$or": [{"store": ["x"]}, {"interests": ["tennis"]}]},
        True,
        "or-and",
    ),
    ({}, True, "empty-policy"),
]


@pytest.mark.parametrize(
    ("policy", "expected"), [c[:2] for c in SNS_CASES], ids=[c[2] for c in SNS_CASES]
)
def test_filter_policy_attributes(policy: dict[str, Any], expected: bool) -> None:
    assert filter_policy_matches(policy, attributes=ATTRS) is expected


def test_attribute_keys_not_in_policy_are_ignored() -> None:
    assert filter_policy_matches({"store": ["example_corp"]}, {**ATTRS, "extra": "x"})


def test_attribute_names_with_dots_are_literal() -> None:
    assert filter_policy_matches({"a.b": ["x"]}, {"a.b": "x"})
    assert not filter_policy_matches({"a": {"b": ["x"]}}, body={"a": "x"})


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"a": [{"exists": False}]}, True),
        ({"a": [{"exists": False}], "b": [{"exists": False}]}, True),
        ({"a": [{"exists": False}], "b": ["x"]}, False),
        ({"a": [{"anything-but": "x"}]}, False),
    ],
)
def test_no_attributes_matches_only_absence(policy: dict[str, Any], expected: bool) -> None:
    assert filter_policy_matches(policy, attributes={}) is expected
    assert filter_policy_matches(policy) is expected  # no body either


def test_attribute_scope_rejects_nesting_and_unknown_operators() -> None:
    with pytest.raises(ValueError, match="nesting"):
        filter_policy_matches({"a": {"b": ["x"]}}, attributes={"a": "x"})
    with pytest.raises(ValueError, match="wildcard"):
        filter_policy_matches({"a": [{"wildcard": "x*"}]}, attributes={"a": "x"})


BODY = {
    "order": {"id": 7, "status": "paid", "total": 42.0, "lines": [{"sku": "a"}]},
    "region": "eu-west-1",
    "tags": ["vip", "new"],
}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"order": {"status": ["paid"]}}, True),
        ({"order": {"status": ["refunded"]}}, False),
        ({"order": {"total": [{"numeric": [">", 40]}]}, "region": [{"prefix": "eu-"}]}, True),
        ({"order": {"total": [{"numeric": [">", 40]}]}, "region": [{"prefix": "us-"}]}, False),
        ({"order.status": ["paid"]}, True),
        ({"order": {"lines": {"sku": ["a"]}}}, True),
        ({"tags": ["new"]}, True),
        ({"order": {"$or": [{"id": [8]}, {"status": [{"suffix": "id"}]}]}}, True),
        ({"order": {"$or": [{"id": [8]}, {"status": [{"suffix": "x"}]}]}}, False),
        ({"order": {"coupon": [{"exists": False}]}}, True),
        ({"status": ["paid"]}, False),  # same nesting required
    ],
)
def test_filter_policy_body(policy: dict[str, Any], expected: bool) -> None:
    assert filter_policy_matches(policy, body=BODY) is expected


def test_non_object_body_matches_only_empty_policy() -> None:
    assert filter_policy_matches({}, body="plain text")
    assert not filter_policy_matches({"a": [{"exists": False}]}, body="plain text")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "img/"}]}}},
        {"a": [{"prefix": {"equals-ignore-case": "x"}}, {"suffix": {"equals-ignore-case": "y"}}]},
        {"a": [{"numeric": [">", 0, "<=", 5]}, {"numeric": ["=", 5]}, {"cidr": "2001:db8::/32"}]},
        {"a": [{"anything-but": {"wildcard": ["*x", "y*"]}}, {"wildcard": "a\\**"}, None, True]},
        {"$or": [{"a": ["x"]}, {"b": {"c": [{"exists": False}]}}]},
    ],
)
def test_validate_pattern_accepts_valid(pattern: dict[str, Any]) -> None:
    assert validate_pattern(pattern) == []


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ({"a": [{"between": [1, 2]}]}, "unknown operator 'between'"),
        ({"detail": {"a": "x"}}, "detail.a: value must be an array"),
        ({"a": []}, "must not be empty"),
        ({"a": [["x"]]}, "nested arrays"),
        ({"a": [{"prefix": 5}]}, "prefix takes a string"),
        ({"a": [{"exists": "yes"}]}, "exists takes true or false"),
        ({"a": [{"cidr": "10.0.0.300/8"}]}, "not an IPv4 or IPv6 CIDR"),
        ({"a": [{"numeric": [">", 0, "<"]}]}, "numeric takes"),
        ({"a": [{"numeric": ["!=", 0]}]}, "unknown comparison '!='"),
        ({"a": [{"numeric": [">", "0"]}]}, "is not a number"),
        ({"a": [{"numeric": [">", 5, "<", 1]}]}, "a range is a lower bound"),
        ({"a": [{"numeric": ["<", 5, ">", 1]}]}, "a range is a lower bound"),
        ({"a": [{"anything-but": ["x", 1]}]}, "all strings or all numbers"),
        ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "anything-but takes"),
        ({"a": [{"wildcard": "a**b"}]}, "consecutive wildcard"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "exactly one key"),
        ({"a": {}}, "nested object must not be empty"),
        ({"$or": {"a": ["x"]}}, "$or: must be an array of at least two objects"),
        ({}, "must not be empty"),
        ({"a": ["x" * 2100]}, "characters long (max 2048)"),
    ],
)
def test_validate_pattern_reports(pattern: dict[str, Any], fragment: str) -> None:
    problems = validate_pattern(pattern)
    assert any(fragment in p for p in problems), problems


def test_validate_pattern_rejects_non_object() -> None:
    assert validate_pattern(["a"]) == ["event pattern must be a JSON object, got list"]


@pytest.mark.parametrize(
    ("policy", "scope"),
    [
        ({"store": ["a", "b"], "price": [{"numeric": [">=", 0.5, "<", 1e9]}]}, "MessageAttributes"),
        (
            {"event": [{"anything-but": {"suffix": "x"}}], "ip": [{"cidr": "10.0.0.0/8"}]},
            "MessageAttributes",
        ),
        (
            {"order": {"status": ["paid"]}, "$or": [{"a": ["x"]}, {"b": [{"exists": True}]}]},
            "MessageBody",
        ),
    ],
)
def test_validate_filter_policy_accepts_valid(policy: dict[str, Any], scope: Any) -> None:
    assert validate_filter_policy(policy, scope=scope) == []


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ({k: ["x"] for k in "abcdef"}, "6 keys (max 5)"),
        ({"a": list(range(13)), "b": list(range(12))}, "156 value combinations (max 150)"),
        ({"a": [{"wildcard": "x*"}]}, "unknown operator 'wildcard'"),
        ({"a": [{"anything-but": {"equals-ignore-case": "x"}}]}, "anything-but takes"),
        ({"a": [{"prefix": {"equals-ignore-case": "x"}}]}, "prefix takes a string"),
        ({"a": {"b": ["x"]}}, "nested keys are not allowed in attribute scope"),
        ({"a": [2e9]}, "outside -1e9..1e9"),
        ({"a": [{"numeric": [">", 0.123456]}]}, "more than 5 decimal places"),
        ({"a": [{"numeric": [">", 5, "<=", 5]}]}, "a range is a lower bound"),
        ({"a": "x"}, "a: value must be an array"),
    ],
)
def test_validate_filter_policy_reports(policy: dict[str, Any], fragment: str) -> None:
    problems = validate_filter_policy(policy)
    assert any(fragment in p for p in problems), problems


def test_validate_filter_policy_nesting_depends_on_scope() -> None:
    policy = {"order": {"status": ["paid"]}}
    assert validate_filter_policy(policy, scope="MessageBody") == []
    assert validate_filter_policy(policy) != []


# --------------------------------------------------------------------------- properties

_KEYS = st.sampled_from(["a", "b", "c"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "x", "xy", "Xz", "10.1.2.3"]),
)
_OPERATORS = st.sampled_from(
    [
        {"prefix": "x"},
        {"suffix": "y"},
        {"equals-ignore-case": "XZ"},
        {"wildcard": "x*"},
        {"exists": True},
        {"exists": False},
        {"numeric": [">", 0, "<=", 2]},
        {"anything-but": "x"},
        {"anything-but": {"prefix": "x"}},
        {"cidr": "10.0.0.0/8"},
    ]
)
_PATTERNS = st.dictionaries(
    _KEYS,
    st.recursive(
        st.lists(st.one_of(_SCALARS, _OPERATORS), min_size=1, max_size=4),
        lambda inner: st.dictionaries(_KEYS, inner, min_size=1, max_size=2),
        max_leaves=4,
    ),
    min_size=1,
    max_size=2,
)
_EXTRAS = st.dictionaries(
    st.sampled_from(["x_extra", "y_extra"]),
    st.one_of(_SCALARS, st.dictionaries(_KEYS, _SCALARS, max_size=2)),
    min_size=1,
    max_size=2,
)


def _event_near(draw: st.DrawFn, pattern: dict[str, Any]) -> dict[str, Any]:
    """Draw an event shaped like `pattern`, often with values its alternatives accept."""
    event: dict[str, Any] = {}
    for key, sub in pattern.items():
        kind = draw(st.sampled_from(["one", "many", "one", "absent"]))
        if kind == "absent":
            continue
        if isinstance(sub, dict):
            objects = [_event_near(draw, sub) for _ in range(1 if kind == "one" else 2)]
            event[key] = objects[0] if kind == "one" else objects
            continue
        literals = [alt for alt in sub if not isinstance(alt, dict)]
        value = st.one_of(_SCALARS, st.sampled_from(literals)) if literals else _SCALARS
        event[key] = draw(value) if kind == "one" else draw(st.lists(value, max_size=3))
    return event


@st.composite
def _pattern_and_event(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    pattern = draw(_PATTERNS)
    return pattern, _event_near(draw, pattern)


def _with_extras(value: Any, extras: dict[str, Any]) -> Any:
    """Add the extra fields to every object of `value` (recursively, also inside arrays)."""
    if isinstance(value, dict):
        return {**{k: _with_extras(v, extras) for k, v in value.items()}, **extras}
    if isinstance(value, list):
        return [_with_extras(v, extras) for v in value]
    return value


@settings(max_examples=100, deadline=None)
@given(case=_pattern_and_event(), extras=_EXTRAS)
def test_irrelevant_fields_do_not_change_the_match(
    case: tuple[dict[str, Any], dict[str, Any]], extras: dict[str, Any]
) -> None:
    pattern, event = case
    augmented = _with_extras(copy.deepcopy(event), extras)
    assert matches(pattern, augmented) == matches(pattern, event)
    if "wildcard" in json.dumps(pattern):  # not an SNS operator
        return
    assert filter_policy_matches(pattern, body=augmented) == filter_policy_matches(
        pattern, body=event
    )
