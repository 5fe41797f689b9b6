r"""EventBridge event patterns against AWS's documented examples, operator by operator.

The documented cases come from the EventBridge User Guide (paraphrased, with AWS's outcome):

- Event pattern syntax: the EC2 "EC2 Instance State-change Notification" event with
  `detail.state = "terminated"` is selected by `source`, `detail-type` and
  `detail.state: ["terminated"]`; several values in one array are alternatives
  (`"source": ["aws.ec2", "aws.fargate"]`).
- Arrays: a pattern array of three EC2 ARNs matches an event whose `resources` array holds an
  Auto Scaling ARN and the first of those EC2 ARNs (the intersection is non-empty).
- Null values and empty strings: with `detail.eventVersion = ""` and
  `detail.responseElements = null`, `[""]` matches the first and `[null]` the second; the two
  are not interchangeable.
- Content filtering: prefix `time` "2017-10-02"; anything-but a string, a number, a list of
  strings, a list of numbers, a prefix; numeric `c-count [">", 0, "<=", 5]`,
  `d-count ["<", 10]`, `x-limit ["=", 3.018e2]`; `cidr` "10.0.0.0/24" (IPv6 works too);
  `exists: false` on `detail.c-count` matches an event without it and one where `c-count` is
  an object (exists works on leaves only); a complex example combining them.
- Comparison operators table: And (Location/Day), Anything-but (state), anything-but prefix
  "us-", suffix ".png", equals-ignore-case "initializing", wildcard "*/lib/*"; begins with
  "us-", begins with (ignore case) "eventb"; empty LastName; equals Name "Alice" and
  equals-ignore-case "alice"; ends with ".png" and (ignore case) "tBridge"; ProductName exists
  / does not exist; Weather anything-but ["Raining"]; UserID null; Price = 100 and
  10 < Price <= 20; PaymentType Credit or Debit; `$or` Location "New York" or Day "Monday";
  wildcard "dir/*.png".
- Wildcards: `*` is zero or more characters; `\*` is a literal star and `\\` a literal
  backslash; consecutive `*` and other escapes are rejected (aws/event-ruler README).
- `$or` (aws/event-ruler README, the engine behind EventBridge): "normal", "parallel",
  "Or with an And inside" and "nested Or and And" examples; the rule compiler requires at least
  two objects in a `$or` array and refuses operator names as keys inside it.
- AWS User Notifications docs: `{"detail": {"$or": [{"state": ["running"]}, ...]}}`.

Behaviour the docs leave open follows aws-semantics.md §7.1 (recorded TestEventPattern answers):
numbers compare by value, anything-but matches `null` but never a missing field, `exists`
counts `null` as a value but not an empty array.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sim.patterns import matches, validate_filter_policy, validate_pattern


def case(case_id: str, pattern: Any, event: Any, expected: bool) -> Any:
    """One table row: `pattern` applied to `event` gives `expected`."""
    return pytest.param(pattern, event, expected, id=case_id)


# --------------------------------------------------------------------------- documented events

EC2_TERMINATED: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}
EC2_RUNNING: dict[str, Any] = {
    **EC2_TERMINATED,
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "running"},
}
EC2_STATE_PATTERN: dict[str, Any] = {
    "source": ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
    "detail": {"state": ["terminated"]},
}

#: The sample event of the aws/event-ruler README (numeric, cidr and complex examples).
RULER_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "012345679012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}
COMPLEX_PATTERN: dict[str, Any] = {
    "time": [{"prefix": "2017-10-02"}],
    "detail": {
        "state": [{"anything-but": "initializing"}],
        "c-count": [{"numeric": [">", 0, "<=", 5]}],
        "d-count": [{"numeric": ["<", 10]}],
        "x-limit": [{"anything-but": [100, 200, 300]}],
        "source-ip": [{"cidr": "10.0.0.0/8"}],
    },
}

ARRAY_PATTERN: dict[str, Any] = {
    "resources": [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
        "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
    ]
}
ASG_ARN = (
    "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:"
    "eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate"
)

NULL_EMPTY_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
    "detail-type": "EC2 Instance Launch Successful",
    "source": "aws.autoscaling",
    "account": "123456789012",
    "time": "2015-11-11T21:31:47Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"eventVersion": "", "responseElements": None},
}

EXISTS_FALSE_PATTERN: dict[str, Any] = {"detail": {"c-count": [{"exists": False}]}}
EXISTS_DOC_EVENT: dict[str, Any] = {
    "detail-type": ["EC2 Instance State-change Notification"],
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],
    "detail": {"state": ["initializing", "running"]},
}
EXISTS_DOC_EVENT_OBJECT: dict[str, Any] = {
    **EXISTS_DOC_EVENT,
    "detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}},
}

CW_EVENT: dict[str, Any] = {
    "source": "aws.cloudwatch",
    "metricName": "NetworkIn",
    "namespace": "AWS/EC2",
    "metricType": "MetricType",
    "scope": "Account",
    "detail": {"source": "custom", "detail-type": "CloudWatch Alarm State Change"},
}
OR_NORMAL: dict[str, Any] = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"namespace": ["AWS/EC2", "AWS/ES"]},
    ],
}
OR_PARALLEL: dict[str, Any] = {
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"namespace": ["AWS/EC2", "AWS/ES"]},
    ],
    "detail": {
        "$or": [
            {"source": ["aws.cloudwatch"]},
            {"detail-type": ["CloudWatch Alarm State Change"]},
        ]
    },
}
OR_WITH_AND: dict[str, Any] = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2", "AWS/ES"]},
        {"scope": ["Service"]},
    ],
}
OR_NESTED: dict[str, Any] = {
    "source": ["aws.cloudwatch"],
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {
            "metricType": ["MetricType"],
            "namespace": ["AWS/EC2", "AWS/ES"],
            "$or": [{"metricId": [1234]}, {"spaceId": [1000]}],
        },
        {"scope": ["Service"]},
    ],
}


def _with_detail(base: dict[str, Any], **detail: Any) -> dict[str, Any]:
    return {**base, "detail": {**base["detail"], **detail}}


DOC_CASES = [
    # Event pattern syntax (EC2 instance state-change)
    case("doc-ec2-terminated-matches", EC2_STATE_PATTERN, EC2_TERMINATED, True),
    case("doc-ec2-terminated-pattern-vs-running", EC2_STATE_PATTERN, EC2_RUNNING, False),
    case(
        "doc-ec2-running-pattern-vs-running",
        {**EC2_STATE_PATTERN, "detail": {"state": ["running"]}},
        EC2_RUNNING,
        True,
    ),
    case(
        "doc-ec2-running-pattern-vs-terminated",
        {"detail": {"state": ["running"]}},
        EC2_TERMINATED,
        False,
    ),
    case("doc-source-ec2-or-fargate", {"source": ["aws.ec2", "aws.fargate"]}, EC2_RUNNING, True),
    case("doc-source-fargate-only-no-match", {"source": ["aws.fargate"]}, EC2_RUNNING, False),
    case(
        "doc-fields-need-same-nesting",
        {"state": ["terminated"]},  # top level, but the event has it under detail
        EC2_TERMINATED,
        False,
    ),
    # Arrays
    case(
        "doc-arrays-intersection-non-empty",
        ARRAY_PATTERN,
        {"resources": [ASG_ARN, ARRAY_PATTERN["resources"][0]]},
        True,
    ),
    case("doc-arrays-intersection-empty", ARRAY_PATTERN, {"resources": [ASG_ARN]}, False),
    case("doc-arrays-empty-event-array", ARRAY_PATTERN, {"resources": []}, False),
    # Null values and empty strings
    case(
        "doc-empty-string-matches-empty",
        {"detail": {"eventVersion": [""]}},
        NULL_EMPTY_EVENT,
        True,
    ),
    case("doc-null-matches-null", {"detail": {"responseElements": [None]}}, NULL_EMPTY_EVENT, True),
    case(
        "doc-null-does-not-match-empty-string",
        {"detail": {"eventVersion": [None]}},
        NULL_EMPTY_EVENT,
        False,
    ),
    case(
        "doc-empty-string-does-not-match-null",
        {"detail": {"responseElements": [""]}},
        NULL_EMPTY_EVENT,
        False,
    ),
    # Content filtering: prefix, numeric, cidr, exists, complex
    case("doc-prefix-time", {"time": [{"prefix": "2017-10-02"}]}, RULER_EVENT, True),
    case("doc-prefix-time-other-day", {"time": [{"prefix": "2017-10-03"}]}, RULER_EVENT, False),
    case("doc-suffix-source-ec2", {"source": [{"suffix": "ec2"}]}, RULER_EVENT, True),
    case(
        "doc-simple-matching-resources-type-state",
        {
            "detail-type": ["EC2 Instance State-change Notification"],
            "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
            "detail": {"state": ["initializing", "running"]},
        },
        RULER_EVENT,
        True,
    ),
    case(
        "doc-numeric-three-fields",
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 3.018e2]}],
            }
        },
        RULER_EVENT,
        True,
    ),
    case(
        "doc-numeric-c-count-6-out-of-range",
        {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}},
        _with_detail(RULER_EVENT, **{"c-count": 6}),
        False,
    ),
    case(
        "doc-numeric-x-limit-equals-3.018e2-vs-301.9",
        {"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}},
        _with_detail(RULER_EVENT, **{"x-limit": 301.9}),
        False,
    ),
    case(
        "doc-cidr-10.0.0.0/24-contains-10.0.0.33",
        {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-cidr-10.0.0.0/24-excludes-10.0.1.33",
        {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}},
        _with_detail(RULER_EVENT, **{"source-ip": "10.0.1.33"}),
        False,
    ),
    case("doc-exists-false-field-absent", EXISTS_FALSE_PATTERN, EXISTS_DOC_EVENT, True),
    case(
        "doc-exists-false-field-is-object-not-leaf",
        EXISTS_FALSE_PATTERN,
        EXISTS_DOC_EVENT_OBJECT,
        True,
    ),
    case("doc-exists-false-field-present", EXISTS_FALSE_PATTERN, RULER_EVENT, False),
    case(
        "doc-exists-true-field-present",
        {"detail": {"c-count": [{"exists": True}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-exists-true-field-absent",
        {"detail": {"c-count": [{"exists": True}]}},
        EXISTS_DOC_EVENT,
        False,
    ),
    case("doc-complex-example-matches", COMPLEX_PATTERN, RULER_EVENT, True),
    case(
        "doc-complex-example-state-initializing",
        COMPLEX_PATTERN,
        _with_detail(RULER_EVENT, state="initializing"),
        False,
    ),
    case(
        "doc-complex-example-x-limit-200-excluded",
        COMPLEX_PATTERN,
        _with_detail(RULER_EVENT, **{"x-limit": 200}),
        False,
    ),
    case(
        "doc-complex-example-source-ip-outside-10/8",
        COMPLEX_PATTERN,
        _with_detail(RULER_EVENT, **{"source-ip": "11.0.0.33"}),
        False,
    ),
    # Anything-but (content filtering page)
    case(
        "doc-anything-but-string",
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-anything-but-string-excluded",
        {"detail": {"state": [{"anything-but": "running"}]}},
        RULER_EVENT,
        False,
    ),
    case(
        "doc-anything-but-number-123",
        {"detail": {"x-limit": [{"anything-but": 123}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-anything-but-number-123-excluded",
        {"detail": {"x-limit": [{"anything-but": 123}]}},
        _with_detail(RULER_EVENT, **{"x-limit": 123}),
        False,
    ),
    case(
        "doc-anything-but-list-stopped-overloaded",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-anything-but-list-stopped-overloaded-excluded",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        _with_detail(RULER_EVENT, state="overloaded"),
        False,
    ),
    case(
        "doc-anything-but-number-list",
        {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-anything-but-number-list-excluded",
        {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
        _with_detail(RULER_EVENT, **{"x-limit": 300.0}),
        False,
    ),
    case(
        "doc-anything-but-prefix-init",
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
        RULER_EVENT,
        True,
    ),
    case(
        "doc-anything-but-prefix-init-excluded",
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
        _with_detail(RULER_EVENT, state="initializing"),
        False,
    ),
    # Comparison operators table
    case(
        "doc-table-and",
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        True,
    ),
    case(
        "doc-table-and-one-field-differs",
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Tuesday"},
        False,
    ),
    case(
        "doc-table-anything-but-region-prefix-us",
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {"Region": "eu-west-1"},
        True,
    ),
    case(
        "doc-table-anything-but-region-prefix-us-excluded",
        {"Region": [{"anything-but": {"prefix": "us-"}}]},
        {"Region": "us-east-1"},
        False,
    ),
    case(
        "doc-table-anything-but-suffix-png",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "photo.jpg"},
        True,
    ),
    case(
        "doc-table-anything-but-suffix-png-excluded",
        {"FileName": [{"anything-but": {"suffix": ".png"}}]},
        {"FileName": "photo.png"},
        False,
    ),
    case(
        "doc-table-anything-but-ignore-case-INITIALIZING-excluded",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "INITIALIZING"},
        False,
    ),
    case(
        "doc-table-anything-but-ignore-case-running",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        True,
    ),
    case(
        "doc-table-anything-but-wildcard-lib-excluded",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/lib/libc.so"},
        False,
    ),
    case(
        "doc-table-anything-but-wildcard-bin",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/env"},
        True,
    ),
    case(
        "doc-table-begins-with-us",
        {"Region": [{"prefix": "us-"}]},
        {"Region": "us-west-2"},
        True,
    ),
    case(
        "doc-table-begins-with-us-vs-eu",
        {"Region": [{"prefix": "us-"}]},
        {"Region": "eu-west-2"},
        False,
    ),
    case(
        "doc-table-begins-with-ignore-case-eventb",
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "EventBridge"},
        True,
    ),
    case(
        "doc-table-begins-with-ignore-case-eventb-vs-sns",
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "SNS"},
        False,
    ),
    case("doc-table-empty-lastname", {"LastName": [""]}, {"LastName": ""}, True),
    case("doc-table-empty-lastname-vs-smith", {"LastName": [""]}, {"LastName": "Smith"}, False),
    case("doc-table-equals-alice", {"Name": ["Alice"]}, {"Name": "Alice"}, True),
    case("doc-table-equals-alice-case-sensitive", {"Name": ["Alice"]}, {"Name": "alice"}, False),
    case(
        "doc-table-equals-ignore-case-alice",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "ALICE"},
        True,
    ),
    case(
        "doc-table-equals-ignore-case-alice-vs-bob",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "Bob"},
        False,
    ),
    case(
        "doc-table-ends-with-png",
        {"FileName": [{"suffix": ".png"}]},
        {"FileName": "a.png"},
        True,
    ),
    case(
        "doc-table-ends-with-png-case-sensitive",
        {"FileName": [{"suffix": ".png"}]},
        {"FileName": "a.PNG"},
        False,
    ),
    case(
        "doc-table-ends-with-ignore-case-tBridge",
        {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
        {"service": "EVENTBRIDGE"},
        True,
    ),
    case(
        "doc-table-ends-with-ignore-case-tBridge-vs-bridges",
        {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
        {"service": "EventBridges"},
        False,
    ),
    case(
        "doc-table-exists-productname",
        {"ProductName": [{"exists": True}]},
        {"ProductName": "Widget"},
        True,
    ),
    case(
        "doc-table-exists-productname-absent",
        {"ProductName": [{"exists": True}]},
        {"Price": 1},
        False,
    ),
    case(
        "doc-table-does-not-exist-productname",
        {"ProductName": [{"exists": False}]},
        {"Price": 1},
        True,
    ),
    case(
        "doc-table-does-not-exist-productname-present",
        {"ProductName": [{"exists": False}]},
        {"ProductName": "Widget"},
        False,
    ),
    case(
        "doc-table-not-raining",
        {"Weather": [{"anything-but": ["Raining"]}]},
        {"Weather": "Sunny"},
        True,
    ),
    case(
        "doc-table-not-raining-excluded",
        {"Weather": [{"anything-but": ["Raining"]}]},
        {"Weather": "Raining"},
        False,
    ),
    case("doc-table-null-userid", {"UserID": [None]}, {"UserID": None}, True),
    case("doc-table-null-userid-vs-value", {"UserID": [None]}, {"UserID": "u-1"}, False),
    case("doc-table-null-userid-vs-missing", {"UserID": [None]}, {}, False),
    case(
        "doc-table-numeric-price-100",
        {"Price": [{"numeric": ["=", 100]}]},
        {"Price": 100},
        True,
    ),
    case(
        "doc-table-numeric-price-100-vs-101",
        {"Price": [{"numeric": ["=", 100]}]},
        {"Price": 101},
        False,
    ),
    case(
        "doc-table-numeric-range-price-20",
        {"Price": [{"numeric": [">", 10, "<=", 20]}]},
        {"Price": 20},
        True,
    ),
    case(
        "doc-table-numeric-range-price-10-excluded",
        {"Price": [{"numeric": [">", 10, "<=", 20]}]},
        {"Price": 10},
        False,
    ),
    case(
        "doc-table-or-credit-debit",
        {"PaymentType": ["Credit", "Debit"]},
        {"PaymentType": "Debit"},
        True,
    ),
    case(
        "doc-table-or-credit-debit-vs-cash",
        {"PaymentType": ["Credit", "Debit"]},
        {"PaymentType": "Cash"},
        False,
    ),
    case(
        "doc-table-$or-location-or-day-by-location",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "New York", "Day": "Friday"},
        True,
    ),
    case(
        "doc-table-$or-location-or-day-by-day",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Monday"},
        True,
    ),
    case(
        "doc-table-$or-location-or-day-neither",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Friday"},
        False,
    ),
    case(
        "doc-table-wildcard-dir-png",
        {"FileName": [{"wildcard": "dir/*.png"}]},
        {"FileName": "dir/cat.png"},
        True,
    ),
    case(
        "doc-table-wildcard-dir-png-vs-jpg",
        {"FileName": [{"wildcard": "dir/*.png"}]},
        {"FileName": "dir/cat.jpg"},
        False,
    ),
    case(
        "doc-table-wildcard-dir-png-other-folder",
        {"FileName": [{"wildcard": "dir/*.png"}]},
        {"FileName": "img/cat.png"},
        False,
    ),
    # $or (aws/event-ruler README) and User Notifications
    case("doc-or-normal-by-namespace", OR_NORMAL, CW_EVENT, True),
    case(
        "doc-or-normal-neither-branch",
        OR_NORMAL,
        {**CW_EVENT, "namespace": "AWS/Lambda"},
        False,
    ),
    case(
        "doc-or-normal-source-still-required",
        OR_NORMAL,
        {**CW_EVENT, "source": "aws.ec2"},
        False,
    ),
    case("doc-or-parallel-both-ors-hold", OR_PARALLEL, CW_EVENT, True),
    case(
        "doc-or-parallel-second-or-fails",
        OR_PARALLEL,
        {**CW_EVENT, "detail": {"source": "custom", "detail-type": "Other"}},
        False,
    ),
    case("doc-or-with-and-inside", OR_WITH_AND, CW_EVENT, True),
    case(
        "doc-or-with-and-inside-and-half-fails",
        OR_WITH_AND,
        {**CW_EVENT, "metricType": "Other"},
        False,
    ),
    case("doc-or-nested-inner-or-by-spaceid", OR_NESTED, {**CW_EVENT, "spaceId": 1000}, True),
    case("doc-or-nested-inner-or-fails", OR_NESTED, {**CW_EVENT, "spaceId": 1001}, False),
    case(
        "doc-or-nested-outer-branch-scope",
        OR_NESTED,
        {**CW_EVENT, "scope": "Service"},
        True,
    ),
    case(
        "doc-notifications-detail-or-running",
        {"detail": {"$or": [{"state": ["running"]}, {"state": ["terminated"]}]}},
        EC2_RUNNING,
        True,
    ),
    case(
        "doc-notifications-detail-or-stopped",
        {"detail": {"$or": [{"state": ["running"]}, {"state": ["terminated"]}]}},
        _with_detail(EC2_RUNNING, state="stopped"),
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), DOC_CASES)
def test_documented_examples(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(("pattern", "event", "expected"), DOC_CASES)
def test_documented_patterns_are_valid(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert validate_pattern(pattern) == []


# --------------------------------------------------------------------------- operator by operator

OPERATOR_CASES = [
    # exact values, nesting, missing fields
    case("exact-string", {"a": ["x"]}, {"a": "x"}, True),
    case("exact-string-other", {"a": ["x"]}, {"a": "y"}, False),
    case("exact-string-case-sensitive", {"a": ["x"]}, {"a": "X"}, False),
    case("exact-string-no-substring", {"a": ["x"]}, {"a": "xx"}, False),
    case("exact-number", {"a": [5]}, {"a": 5}, True),
    case("exact-number-other", {"a": [5]}, {"a": 6}, False),
    case("exact-negative-float", {"a": [-2.5]}, {"a": -2.5}, True),
    case("exact-true", {"a": [True]}, {"a": True}, True),
    case("exact-true-vs-false", {"a": [True]}, {"a": False}, False),
    case("exact-false", {"a": [False]}, {"a": False}, True),
    case("exact-alternatives-second", {"a": ["x", 5, None]}, {"a": 5}, True),
    case("exact-alternatives-none", {"a": ["x", 5, None]}, {"a": "5"}, False),
    case("nested-field", {"d": {"b": {"c": ["x"]}}}, {"d": {"b": {"c": "x"}}}, True),
    case("nested-field-other-value", {"d": {"b": {"c": ["x"]}}}, {"d": {"b": {"c": "y"}}}, False),
    case("nested-missing-intermediate", {"d": {"b": {"c": ["x"]}}}, {"d": {"c": "x"}}, False),
    case("nested-parent-is-scalar", {"d": {"b": ["x"]}}, {"d": "x"}, False),
    case("nested-pattern-vs-flat-event", {"d": {"b": ["x"]}}, {"b": "x"}, False),
    case("missing-field", {"a": ["x"]}, {"b": "x"}, False),
    case("missing-one-of-two-fields", {"a": ["x"], "b": ["y"]}, {"a": "x"}, False),
    case("extra-event-fields-ignored", {"a": ["x"]}, {"a": "x", "b": 1, "c": {"d": 2}}, True),
    case("object-valued-field-vs-literal", {"a": ["x"]}, {"a": {"x": 1}}, False),
    # arrays in the event
    case("array-any-element", {"a": ["x"]}, {"a": ["w", "x"]}, True),
    case("array-no-element", {"a": ["x"]}, {"a": ["w", "y"]}, False),
    case("array-empty", {"a": ["x"]}, {"a": []}, False),
    case("array-of-numbers", {"a": [2]}, {"a": [1, 2.0, 3]}, True),
    case("array-nested-arrays-flattened", {"a": ["x"]}, {"a": [["w"], ["x"]]}, True),
    case("array-prefix-any-element", {"a": [{"prefix": "ab"}]}, {"a": ["xy", "abc"]}, True),
    case("array-numeric-any-element", {"a": [{"numeric": [">", 5]}]}, {"a": [1, 10]}, True),
    case("array-numeric-no-element", {"a": [{"numeric": [">", 5]}]}, {"a": [1, 5]}, False),
    case(
        "array-of-objects-one-element-matches",
        {"a": {"k": ["x"], "v": [1]}},
        {"a": [{"k": "y", "v": 1}, {"k": "x", "v": 1}]},
        True,
    ),
    case(
        "array-of-objects-fields-from-different-elements",
        {"a": {"k": ["x"], "v": [1]}},
        {"a": [{"k": "x", "v": 2}, {"k": "y", "v": 1}]},
        False,
    ),
    # prefix
    case("prefix", {"a": [{"prefix": "ab"}]}, {"a": "abc"}, True),
    case("prefix-whole-string", {"a": [{"prefix": "abc"}]}, {"a": "abc"}, True),
    case("prefix-not-at-start", {"a": [{"prefix": "bc"}]}, {"a": "abc"}, False),
    case("prefix-case-sensitive", {"a": [{"prefix": "AB"}]}, {"a": "abc"}, False),
    case("prefix-longer-than-value", {"a": [{"prefix": "abcd"}]}, {"a": "abc"}, False),
    case("prefix-on-number", {"a": [{"prefix": "1"}]}, {"a": 12}, False),
    case("prefix-on-null", {"a": [{"prefix": ""}]}, {"a": None}, False),
    case("prefix-missing-field", {"a": [{"prefix": "ab"}]}, {}, False),
    case(
        "prefix-ignore-case",
        {"a": [{"prefix": {"equals-ignore-case": "AB"}}]},
        {"a": "abc"},
        True,
    ),
    case(
        "prefix-ignore-case-not-at-start",
        {"a": [{"prefix": {"equals-ignore-case": "BC"}}]},
        {"a": "abc"},
        False,
    ),
    case(
        "prefix-ignore-case-on-number",
        {"a": [{"prefix": {"equals-ignore-case": "1"}}]},
        {"a": 12},
        False,
    ),
    # suffix
    case("suffix", {"a": [{"suffix": "bc"}]}, {"a": "abc"}, True),
    case("suffix-not-at-end", {"a": [{"suffix": "ab"}]}, {"a": "abc"}, False),
    case("suffix-case-sensitive", {"a": [{"suffix": "BC"}]}, {"a": "abc"}, False),
    case("suffix-on-number", {"a": [{"suffix": "2"}]}, {"a": 12}, False),
    case(
        "suffix-ignore-case",
        {"a": [{"suffix": {"equals-ignore-case": "BC"}}]},
        {"a": "aBc"},
        True,
    ),
    case(
        "suffix-ignore-case-not-at-end",
        {"a": [{"suffix": {"equals-ignore-case": "AB"}}]},
        {"a": "abc"},
        False,
    ),
    # equals-ignore-case
    case("equals-ignore-case", {"a": [{"equals-ignore-case": "HeLLo"}]}, {"a": "hello"}, True),
    case(
        "equals-ignore-case-not-substring",
        {"a": [{"equals-ignore-case": "hell"}]},
        {"a": "hello"},
        False,
    ),
    case("equals-ignore-case-on-bool", {"a": [{"equals-ignore-case": "true"}]}, {"a": True}, False),
    case("equals-ignore-case-on-number", {"a": [{"equals-ignore-case": "5"}]}, {"a": 5}, False),
    # wildcard
    case("wildcard-trailing", {"a": [{"wildcard": "ab*"}]}, {"a": "abcdef"}, True),
    case("wildcard-leading", {"a": [{"wildcard": "*ef"}]}, {"a": "abcdef"}, True),
    case("wildcard-middle", {"a": [{"wildcard": "a*f"}]}, {"a": "abcdef"}, True),
    case("wildcard-several", {"a": [{"wildcard": "*b*d*"}]}, {"a": "abcdef"}, True),
    case("wildcard-zero-characters", {"a": [{"wildcard": "ab*cdef"}]}, {"a": "abcdef"}, True),
    case("wildcard-star-alone-empty-string", {"a": [{"wildcard": "*"}]}, {"a": ""}, True),
    case("wildcard-anchored-at-end", {"a": [{"wildcard": "a*e"}]}, {"a": "abcdef"}, False),
    case("wildcard-case-sensitive", {"a": [{"wildcard": "A*"}]}, {"a": "abc"}, False),
    case("wildcard-no-star-is-exact", {"a": [{"wildcard": "abc"}]}, {"a": "abcd"}, False),
    case("wildcard-escaped-star-literal", {"a": [{"wildcard": "a\\*c"}]}, {"a": "a*c"}, True),
    case("wildcard-escaped-star-not-wild", {"a": [{"wildcard": "a\\*c"}]}, {"a": "abc"}, False),
    case(
        "wildcard-escaped-backslash-literal", {"a": [{"wildcard": "a\\\\c"}]}, {"a": "a\\c"}, True
    ),
    case(
        "wildcard-escaped-backslash-then-star",
        {"a": [{"wildcard": "a\\\\*"}]},
        {"a": "a\\xyz"},
        True,
    ),
    case("wildcard-regex-chars-literal", {"a": [{"wildcard": "a.c*"}]}, {"a": "abcd"}, False),
    case("wildcard-on-number", {"a": [{"wildcard": "*"}]}, {"a": 1}, False),
    case("wildcard-on-null", {"a": [{"wildcard": "*"}]}, {"a": None}, False),
    case("wildcard-missing-field", {"a": [{"wildcard": "*"}]}, {}, False),
    # anything-but: values
    case("anything-but-string", {"a": [{"anything-but": "x"}]}, {"a": "y"}, True),
    case("anything-but-string-excluded", {"a": [{"anything-but": "x"}]}, {"a": "x"}, False),
    case("anything-but-string-case-sensitive", {"a": [{"anything-but": "x"}]}, {"a": "X"}, True),
    case("anything-but-number", {"a": [{"anything-but": 5}]}, {"a": 6}, True),
    case("anything-but-number-excluded-by-value", {"a": [{"anything-but": 5}]}, {"a": 5.0}, False),
    case("anything-but-string-list", {"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
    case(
        "anything-but-string-list-excluded",
        {"a": [{"anything-but": ["x", "y"]}]},
        {"a": "y"},
        False,
    ),
    case("anything-but-number-list", {"a": [{"anything-but": [1, 2]}]}, {"a": 3}, True),
    case("anything-but-number-list-excluded", {"a": [{"anything-but": [1, 2]}]}, {"a": 2}, False),
    case("anything-but-string-vs-number-value", {"a": [{"anything-but": "5"}]}, {"a": 5}, True),
    case("anything-but-number-vs-string-value", {"a": [{"anything-but": 5}]}, {"a": "5"}, True),
    case("anything-but-bool-value", {"a": [{"anything-but": "true"}]}, {"a": True}, True),
    case(
        "anything-but-array-some-element-not-excluded",
        {"a": [{"anything-but": "x"}]},
        {"a": ["x", "y"]},
        True,
    ),
    case(
        "anything-but-array-all-excluded",
        {"a": [{"anything-but": ["x", "y"]}]},
        {"a": ["x", "y"]},
        False,
    ),
    # anything-but: prefix / suffix (one string or a list)
    case("anything-but-prefix", {"a": [{"anything-but": {"prefix": "ab"}}]}, {"a": "xab"}, True),
    case(
        "anything-but-prefix-excluded",
        {"a": [{"anything-but": {"prefix": "ab"}}]},
        {"a": "abc"},
        False,
    ),
    case(
        "anything-but-prefix-on-number",
        {"a": [{"anything-but": {"prefix": "1"}}]},
        {"a": 12},
        True,
    ),
    case(
        "anything-but-prefix-list",
        {"a": [{"anything-but": {"prefix": ["init", "stop"]}}]},
        {"a": "running"},
        True,
    ),
    case(
        "anything-but-prefix-list-first-excluded",
        {"a": [{"anything-but": {"prefix": ["init", "stop"]}}]},
        {"a": "initializing"},
        False,
    ),
    case(
        "anything-but-prefix-list-second-excluded",
        {"a": [{"anything-but": {"prefix": ["init", "stop"]}}]},
        {"a": "stopped"},
        False,
    ),
    case(
        "anything-but-suffix", {"a": [{"anything-but": {"suffix": ".png"}}]}, {"a": "a.gif"}, True
    ),
    case(
        "anything-but-suffix-excluded",
        {"a": [{"anything-but": {"suffix": ".png"}}]},
        {"a": "a.png"},
        False,
    ),
    case(
        "anything-but-suffix-list",
        {"a": [{"anything-but": {"suffix": [".txt", ".zip"]}}]},
        {"a": "a.png"},
        True,
    ),
    case(
        "anything-but-suffix-list-excluded",
        {"a": [{"anything-but": {"suffix": [".txt", ".zip"]}}]},
        {"a": "a.zip"},
        False,
    ),
    # anything-but: equals-ignore-case / wildcard (one string or a list)
    case(
        "anything-but-ignore-case",
        {"a": [{"anything-but": {"equals-ignore-case": "stopped"}}]},
        {"a": "running"},
        True,
    ),
    case(
        "anything-but-ignore-case-excluded",
        {"a": [{"anything-but": {"equals-ignore-case": "stopped"}}]},
        {"a": "StOpPeD"},
        False,
    ),
    case(
        "anything-but-ignore-case-list",
        {"a": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]},
        {"a": "running"},
        True,
    ),
    case(
        "anything-but-ignore-case-list-excluded",
        {"a": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]},
        {"a": "OVERLOADED"},
        False,
    ),
    case(
        "anything-but-wildcard-list",
        {"a": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]},
        {"a": "/etc/hosts"},
        True,
    ),
    case(
        "anything-but-wildcard-list-excluded",
        {"a": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]},
        {"a": "/usr/bin/env"},
        False,
    ),
    # numeric
    case("numeric-eq", {"a": [{"numeric": ["=", 5]}]}, {"a": 5}, True),
    case("numeric-eq-float-int", {"a": [{"numeric": ["=", 5]}]}, {"a": 5.0}, True),
    case("numeric-eq-other", {"a": [{"numeric": ["=", 5]}]}, {"a": 5.5}, False),
    case("numeric-lt", {"a": [{"numeric": ["<", 5]}]}, {"a": 4.99}, True),
    case("numeric-lt-boundary", {"a": [{"numeric": ["<", 5]}]}, {"a": 5}, False),
    case("numeric-le-boundary", {"a": [{"numeric": ["<=", 5]}]}, {"a": 5}, True),
    case("numeric-le-above", {"a": [{"numeric": ["<=", 5]}]}, {"a": 6}, False),
    case("numeric-gt", {"a": [{"numeric": [">", 5]}]}, {"a": 6}, True),
    case("numeric-gt-boundary", {"a": [{"numeric": [">", 5]}]}, {"a": 5}, False),
    case("numeric-ge-boundary", {"a": [{"numeric": [">=", 5]}]}, {"a": 5}, True),
    case("numeric-ge-below", {"a": [{"numeric": [">=", 5]}]}, {"a": 4}, False),
    case("numeric-negative", {"a": [{"numeric": ["<", 0]}]}, {"a": -1e-3}, True),
    case("numeric-range-0-5-at-0", {"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 0}, False),
    case(
        "numeric-range-0-5-just-above-0", {"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 1e-6}, True
    ),
    case("numeric-range-0-5-at-5", {"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5}, True),
    case("numeric-range-0-5-above-5", {"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5.001}, False),
    case("numeric-range-0-5-negative", {"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": -1}, False),
    case("numeric-range-closed-low", {"a": [{"numeric": [">=", 0, "<", 5]}]}, {"a": 0}, True),
    case("numeric-range-open-high", {"a": [{"numeric": [">=", 0, "<", 5]}]}, {"a": 5}, False),
    case("numeric-on-numeric-string", {"a": [{"numeric": ["=", 5]}]}, {"a": "5"}, False),
    case("numeric-on-true", {"a": [{"numeric": ["=", 1]}]}, {"a": True}, False),
    case("numeric-on-null", {"a": [{"numeric": [">=", 0]}]}, {"a": None}, False),
    case("numeric-missing-field", {"a": [{"numeric": [">=", 0]}]}, {}, False),
    case(
        "numeric-two-ranges-or",
        {"a": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]},
        {"a": 11},
        True,
    ),
    case(
        "numeric-two-ranges-gap",
        {"a": [{"numeric": ["<", 0]}, {"numeric": [">", 10]}]},
        {"a": 5},
        False,
    ),
    # exists
    case("exists-true-string", {"a": [{"exists": True}]}, {"a": "x"}, True),
    case("exists-true-empty-string", {"a": [{"exists": True}]}, {"a": ""}, True),
    case("exists-true-false-value", {"a": [{"exists": True}]}, {"a": False}, True),
    case("exists-true-missing", {"a": [{"exists": True}]}, {"b": 1}, False),
    case("exists-true-empty-array", {"a": [{"exists": True}]}, {"a": []}, False),
    case("exists-true-object-not-leaf", {"a": [{"exists": True}]}, {"a": {"b": 1}}, False),
    case("exists-false-missing", {"a": [{"exists": False}]}, {"b": 1}, True),
    case("exists-false-present", {"a": [{"exists": False}]}, {"a": "x"}, False),
    case("exists-false-present-zero", {"a": [{"exists": False}]}, {"a": 0}, False),
    case(
        "exists-false-missing-parent",
        {"p": {"a": [{"exists": False}]}},
        {"q": {"a": 1}},
        True,
    ),
    case(
        "exists-false-missing-grandparent",
        {"g": {"p": {"a": [{"exists": False}]}}},
        {},
        True,
    ),
    case("exists-false-parent-null", {"p": {"a": [{"exists": False}]}}, {"p": None}, True),
    case("exists-false-parent-scalar", {"p": {"a": [{"exists": False}]}}, {"p": "x"}, True),
    case(
        "exists-false-parent-present-field-present",
        {"p": {"a": [{"exists": False}]}},
        {"p": {"a": 1}},
        False,
    ),
    case("exists-true-missing-parent", {"p": {"a": [{"exists": True}]}}, {}, False),
    case(
        "exists-false-and-other-field",
        {"a": [{"exists": False}], "b": ["x"]},
        {"b": "x"},
        True,
    ),
    # cidr
    case("cidr-v4-inside", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.33"}, True),
    case("cidr-v4-network-address", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.0"}, True),
    case("cidr-v4-last-address", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.255"}, True),
    case("cidr-v4-next-network", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.0"}, False),
    case("cidr-v4-below", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "9.255.255.255"}, False),
    case("cidr-v4-not-an-address", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.256"}, False),
    case("cidr-v4-hostname", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "example.com"}, False),
    case("cidr-v4-number", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": 167772161}, False),
    case("cidr-v4-slash-0-all", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "203.0.113.9"}, True),
    case(
        "cidr-v6-inside",
        {"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]},
        {"ip": "2001:db8:1234:1a00::1"},
        True,
    ),
    case(
        "cidr-v6-last-address",
        {"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]},
        {"ip": "2001:db8:1234:1a00:ffff:ffff:ffff:ffff"},
        True,
    ),
    case(
        "cidr-v6-expanded-uppercase-form",
        {"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]},
        {"ip": "2001:0DB8:1234:1A00:0000:0000:0000:0001"},
        True,
    ),
    case(
        "cidr-v6-next-network",
        {"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]},
        {"ip": "2001:db8:1234:1a01::"},
        False,
    ),
    case(
        "cidr-v6-pattern-v4-address",
        {"ip": [{"cidr": "2001:db8::/32"}]},
        {"ip": "10.0.0.1"},
        False,
    ),
    case("cidr-v4-pattern-v6-address", {"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": "::1"}, False),
    case(
        "cidr-array-any-address",
        {"ip": [{"cidr": "10.0.0.0/24"}]},
        {"ip": ["192.168.0.1", "10.0.0.9"]},
        True,
    ),
    # $or
    case("or-first-branch", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": "x"}, True),
    case("or-second-branch", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"b": "y"}, True),
    case("or-no-branch", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {"a": "y", "b": "x"}, False),
    case("or-empty-event", {"$or": [{"a": ["x"]}, {"b": ["y"]}]}, {}, False),
    case(
        "or-and-sibling-field-required",
        {"c": ["z"], "$or": [{"a": ["x"]}, {"b": ["y"]}]},
        {"a": "x"},
        False,
    ),
    case(
        "or-branch-with-exists-false",
        {"$or": [{"a": ["x"]}, {"b": [{"exists": False}]}]},
        {"a": "q"},
        True,
    ),
    case(
        "or-branch-with-operators",
        {"$or": [{"a": [{"numeric": [">", 10]}]}, {"b": [{"prefix": "p"}]}]},
        {"a": 3, "b": "pq"},
        True,
    ),
    case(
        "or-inside-nested-object",
        {"d": {"$or": [{"a": ["x"]}, {"b": ["y"]}]}},
        {"d": {"b": "y"}},
        True,
    ),
    case(
        "or-inside-nested-object-wrong-level",
        {"d": {"$or": [{"a": ["x"]}, {"b": ["y"]}]}},
        {"b": "y", "d": {}},
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), OPERATOR_CASES)
def test_operators(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(("pattern", "event", "expected"), OPERATOR_CASES)
def test_operator_patterns_are_valid(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert validate_pattern(pattern) == []


# --------------------------------------------------------------------------- JSON types

TYPE_CASES = [
    case("type-number-5-vs-string-5", {"a": [5]}, {"a": "5"}, False),
    case("type-string-5-vs-number-5", {"a": ["5"]}, {"a": 5}, False),
    case("type-true-vs-1", {"a": [True]}, {"a": 1}, False),
    case("type-1-vs-true", {"a": [1]}, {"a": True}, False),
    case("type-false-vs-0", {"a": [False]}, {"a": 0}, False),
    case("type-0-vs-false", {"a": [0]}, {"a": False}, False),
    case("type-true-vs-string-true", {"a": [True]}, {"a": "true"}, False),
    case("type-string-true-vs-true", {"a": ["true"]}, {"a": True}, False),
    case("type-300-vs-300.0", {"a": [300]}, {"a": 300.0}, True),
    case("type-300.0-vs-300", {"a": [300.0]}, {"a": 300}, True),
    case("type-1e2-vs-100", {"a": [1e2]}, {"a": 100}, True),
    case("type-300-vs-string-300.0", {"a": [300]}, {"a": "300.0"}, False),
    case("type-null-vs-null", {"a": [None]}, {"a": None}, True),
    case("type-null-vs-empty-string", {"a": [None]}, {"a": ""}, False),
    case("type-null-vs-missing", {"a": [None]}, {}, False),
    case("type-null-vs-string-null", {"a": [None]}, {"a": "null"}, False),
    case("type-null-vs-false", {"a": [None]}, {"a": False}, False),
    case("type-empty-vs-empty", {"a": [""]}, {"a": ""}, True),
    case("type-empty-vs-null", {"a": [""]}, {"a": None}, False),
    case("type-empty-vs-missing", {"a": [""]}, {}, False),
    case("type-empty-vs-empty-array", {"a": [""]}, {"a": []}, False),
    case("type-exists-true-null", {"a": [{"exists": True}]}, {"a": None}, True),
    case("type-exists-true-empty", {"a": [{"exists": True}]}, {"a": ""}, True),
    case("type-exists-true-missing", {"a": [{"exists": True}]}, {}, False),
    case("type-exists-false-null", {"a": [{"exists": False}]}, {"a": None}, False),
    case("type-exists-false-empty", {"a": [{"exists": False}]}, {"a": ""}, False),
    case("type-exists-false-missing", {"a": [{"exists": False}]}, {}, True),
    case("type-prefix-on-number", {"a": [{"prefix": "30"}]}, {"a": 300}, False),
    case("type-suffix-on-bool", {"a": [{"suffix": "ue"}]}, {"a": True}, False),
    case("type-cidr-on-null", {"a": [{"cidr": "0.0.0.0/0"}]}, {"a": None}, False),
    case("type-numeric-on-bool-false", {"a": [{"numeric": ["=", 0]}]}, {"a": False}, False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), TYPE_CASES)
def test_json_types(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


ANYTHING_BUT_OPERANDS = [
    pytest.param("x", id="value"),
    pytest.param(7, id="number"),
    pytest.param(["x", "y"], id="string-list"),
    pytest.param([1, 2], id="number-list"),
    pytest.param({"prefix": "x"}, id="prefix"),
    pytest.param({"prefix": ["x", "y"]}, id="prefix-list"),
    pytest.param({"suffix": "x"}, id="suffix"),
    pytest.param({"suffix": ["x", "y"]}, id="suffix-list"),
    pytest.param({"equals-ignore-case": "x"}, id="equals-ignore-case"),
    pytest.param({"equals-ignore-case": ["x", "y"]}, id="equals-ignore-case-list"),
    pytest.param({"wildcard": "x*"}, id="wildcard"),
    pytest.param({"wildcard": ["x*", "*y"]}, id="wildcard-list"),
]


@pytest.mark.parametrize("operand", ANYTHING_BUT_OPERANDS)
def test_anything_but_matches_null_value_but_not_missing_field(operand: Any) -> None:
    pattern = {"detail": {"a": [{"anything-but": operand}]}}
    assert validate_pattern(pattern) == []
    assert matches(pattern, {"detail": {"a": None}}), "null is a value anything-but accepts"
    assert not matches(pattern, {"detail": {"b": "z"}}), "a missing field never matches"
    assert not matches(pattern, {"other": 1}), "nor does a missing parent"
    assert matches(pattern, {"detail": {"a": "z"}}), "a value that is not excluded matches"


# --------------------------------------------------------------------------- invalid patterns


def _pattern_of_length(n: int) -> dict[str, Any]:
    """A pattern whose compact JSON is exactly `n` characters long."""
    pattern = {"a": ["x" * (n - len('{"a":[""]}'))]}
    assert len(json.dumps(pattern, separators=(",", ":"))) == n
    return pattern


def bad(case_id: str, pattern: Any, fragment: str) -> Any:
    """One invalid pattern and a fragment its problem list must contain."""
    return pytest.param(pattern, fragment, id=case_id)


INVALID_CASES = [
    # shape
    bad("empty-pattern", {}, "event pattern must not be empty"),
    bad("pattern-not-object", ["source"], "event pattern must be a JSON object, got list"),
    bad("pattern-string", "aws.ec2", "event pattern must be a JSON object, got str"),
    bad("leaf-string", {"source": "aws.ec2"}, "source: value must be an array of alternatives"),
    bad("leaf-number", {"detail": {"n": 5}}, "detail.n: value must be an array of alternatives"),
    bad("leaf-null", {"detail": {"n": None}}, "detail.n: value must be an array"),
    bad("leaf-bool", {"n": True}, "n: value must be an array"),
    bad("leaf-empty-array", {"detail": {"n": []}}, "detail.n: array of alternatives must not be"),
    bad("leaf-nested-array", {"n": [["x"]]}, "n: nested arrays are not allowed"),
    bad("nested-empty-object", {"detail": {}}, "detail: nested object must not be empty"),
    bad("too-long-2049", _pattern_of_length(2049), "2049 characters long (max 2048)"),
    # operators
    bad("unknown-operator", {"detail": {"s": [{"contains": "x"}]}}, "detail.s: unknown operator"),
    bad("unknown-operator-named", {"s": [{"regex": "x.*"}]}, "unknown operator 'regex'"),
    bad("operator-two-keys", {"s": [{"prefix": "a", "suffix": "b"}]}, "exactly one key"),
    bad("operator-no-key", {"s": [{}]}, "s: an operator object must have exactly one key"),
    # prefix / suffix / equals-ignore-case / wildcard operands
    bad("prefix-number", {"detail": {"s": [{"prefix": 5}]}}, "detail.s: prefix takes a string"),
    bad("prefix-list", {"s": [{"prefix": ["a", "b"]}]}, "s: prefix takes a string"),
    bad("suffix-null", {"s": [{"suffix": None}]}, "s: suffix takes a string, got None"),
    bad(
        "prefix-ignore-case-number",
        {"s": [{"prefix": {"equals-ignore-case": 5}}]},
        'prefix takes a string or {"equals-ignore-case": string}',
    ),
    bad(
        "suffix-unknown-nested",
        {"s": [{"suffix": {"wildcard": "x"}}]},
        'suffix takes a string or {"equals-ignore-case": string}',
    ),
    bad("equals-ignore-case-number", {"s": [{"equals-ignore-case": 1}]}, "takes a string, got 1"),
    bad("equals-ignore-case-list", {"s": [{"equals-ignore-case": ["a"]}]}, "takes a string"),
    bad("wildcard-number", {"s": [{"wildcard": 1}]}, "s: wildcard takes a string, got 1"),
    bad("wildcard-list", {"s": [{"wildcard": ["a*"]}]}, "s: wildcard takes a string"),
    bad("wildcard-consecutive-stars", {"s": [{"wildcard": "a**b"}]}, "consecutive wildcard"),
    bad(
        "wildcard-literal-backslash-then-two-stars",
        {"s": [{"wildcard": "a\\\\**"}]},
        "consecutive wildcard",
    ),
    bad("wildcard-bad-escape", {"s": [{"wildcard": "a\\b"}]}, "invalid escape at position 1"),
    bad("wildcard-trailing-backslash", {"s": [{"wildcard": "ab\\"}]}, "invalid escape"),
    # numeric
    bad("numeric-string-bound", {"n": [{"numeric": [">", "0"]}]}, "n: numeric: '0' after '>' is"),
    bad("numeric-bool-bound", {"n": [{"numeric": ["=", True]}]}, "True after '=' is not a number"),
    bad("numeric-null-bound", {"n": [{"numeric": ["<", None]}]}, "is not a number"),
    bad("numeric-unknown-op", {"n": [{"numeric": ["!=", 0]}]}, "unknown comparison '!='"),
    bad("numeric-not-list", {"n": [{"numeric": 5}]}, "numeric takes [op, number]"),
    bad("numeric-empty", {"n": [{"numeric": []}]}, "numeric takes [op, number]"),
    bad("numeric-odd-length", {"n": [{"numeric": [">", 0, "<"]}]}, "numeric takes [op, number]"),
    bad("numeric-three-pairs", {"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]}, "numeric takes"),
    bad("numeric-range-reversed", {"n": [{"numeric": [">", 5, "<", 1]}]}, "a range is a lower"),
    bad("numeric-range-empty", {"n": [{"numeric": [">", 5, "<=", 5]}]}, "a range is a lower"),
    bad("numeric-range-upper-first", {"n": [{"numeric": ["<", 5, ">", 1]}]}, "a range is a"),
    bad("numeric-range-with-equals", {"n": [{"numeric": ["=", 1, "<", 5]}]}, "a range is a"),
    # cidr
    bad("cidr-bad-octet", {"ip": [{"cidr": "10.0.0.300/8"}]}, "ip: cidr: '10.0.0.300/8' is not"),
    bad("cidr-v4-mask-33", {"ip": [{"cidr": "10.0.0.0/33"}]}, "not an IPv4 or IPv6 CIDR block"),
    bad("cidr-v6-mask-129", {"ip": [{"cidr": "2001:db8::/129"}]}, "not an IPv4 or IPv6 CIDR"),
    bad("cidr-not-an-address", {"ip": [{"cidr": "example.com/8"}]}, "not an IPv4 or IPv6 CIDR"),
    bad("cidr-no-prefix-length", {"ip": [{"cidr": "10.0.0.1"}]}, "CIDR block (address/bits)"),
    bad("cidr-mask-not-integer", {"ip": [{"cidr": "10.0.0.0/x"}]}, "not an IPv4 or IPv6 CIDR"),
    bad("cidr-number", {"ip": [{"cidr": 10}]}, "ip: cidr: 10 is not an IPv4 or IPv6 CIDR"),
    # exists
    bad("exists-string", {"f": [{"exists": "true"}]}, "f: exists takes true or false, got 'true'"),
    bad("exists-number", {"f": [{"exists": 1}]}, "f: exists takes true or false, got 1"),
    bad("exists-null", {"f": [{"exists": None}]}, "exists takes true or false, got None"),
    # anything-but
    bad("anything-but-mixed-list", {"s": [{"anything-but": ["x", 1]}]}, "all strings or all"),
    bad("anything-but-empty-list", {"s": [{"anything-but": []}]}, "must not be empty"),
    bad("anything-but-null", {"s": [{"anything-but": None}]}, "all strings or all numbers"),
    bad("anything-but-bool", {"s": [{"anything-but": True}]}, "all strings or all numbers"),
    bad("anything-but-list-with-null", {"s": [{"anything-but": ["x", None]}]}, "all strings"),
    bad(
        "anything-but-numeric-form",
        {"s": [{"anything-but": {"numeric": [">", 1]}}]},
        "s: anything-but takes a value, a list, or one of",
    ),
    bad(
        "anything-but-two-forms",
        {"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
        "anything-but takes a value, a list, or one of",
    ),
    bad("anything-but-empty-prefix", {"s": [{"anything-but": {"prefix": ""}}]}, "must not be"),
    bad("anything-but-empty-suffix", {"s": [{"anything-but": {"suffix": [""]}}]}, "must not be"),
    bad(
        "anything-but-prefix-number",
        {"s": [{"anything-but": {"prefix": 1}}]},
        "s: anything-but/prefix takes a string or a list of strings, got 1",
    ),
    bad(
        "anything-but-prefix-list-with-number",
        {"s": [{"anything-but": {"prefix": ["a", 1]}}]},
        "anything-but/prefix takes a string or a list of strings",
    ),
    bad(
        "anything-but-ignore-case-number",
        {"s": [{"anything-but": {"equals-ignore-case": 1}}]},
        "anything-but/equals-ignore-case takes a string or a list of strings",
    ),
    bad(
        "anything-but-wildcard-stars",
        {"s": [{"anything-but": {"wildcard": ["ok*", "a**"]}}]},
        "anything-but/wildcard: consecutive wildcard",
    ),
    bad(
        "anything-but-prefix-ignore-case",
        {"s": [{"anything-but": {"prefix": {"equals-ignore-case": "a"}}}]},
        "anything-but/prefix takes a string or a list of strings",
    ),
    # $or
    bad("or-one-branch", {"$or": [{"a": ["x"]}]}, "$or: must be an array of at least two"),
    bad("or-empty", {"$or": []}, "$or: must be an array of at least two objects"),
    bad("or-object", {"$or": {"a": ["x"]}}, "$or: must be an array of at least two objects"),
    bad("or-non-object-branch", {"$or": [{"a": ["x"]}, ["b"]]}, "$or[1]: must be a non-empty"),
    bad("or-empty-branch", {"$or": [{"a": ["x"]}, {}]}, "$or[1]: must be a non-empty object"),
    bad(
        "or-nested-one-branch",
        {"detail": {"$or": [{"a": ["x"]}]}},
        "detail.$or: must be an array of at least two objects",
    ),
    bad(
        "or-bad-leaf-in-branch",
        {"$or": [{"a": ["x"]}, {"detail": {"b": "y"}}]},
        "detail.b: value must be an array",
    ),
    bad(
        "or-operator-name-as-key",
        {"$or": [{"prefix": ["x"]}, {"b": ["y"]}]},
        "prefix: 'prefix' is an operator name and cannot be a key inside $or",
    ),
    bad(
        "or-numeric-comparison-as-key",
        {"$or": [{"a": {">": [1]}}, {"b": ["y"]}]},
        "a.>: '>' is an operator name",
    ),
]


@pytest.mark.parametrize(("pattern", "fragment"), INVALID_CASES)
def test_invalid_pattern_is_reported(pattern: Any, fragment: str) -> None:
    problems = validate_pattern(pattern)
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(_pattern_of_length(2048), id="exactly-2048-characters"),
        pytest.param({"s": [{"wildcard": "a\\**"}]}, id="wildcard-escaped-star-then-star"),
        pytest.param({"s": [{"wildcard": "\\\\"}]}, id="wildcard-escaped-backslash"),
        pytest.param({"s": [{"wildcard": "*a*b*"}]}, id="wildcard-separated-stars"),
        pytest.param({"s": [{"prefix": ""}]}, id="prefix-empty-string"),
        pytest.param({"s": [{"anything-but": {"wildcard": "*"}}]}, id="anything-but-wildcard-star"),
        pytest.param({"n": [{"numeric": [">=", -1e9, "<=", 1e9]}]}, id="numeric-wide-range"),
        pytest.param({"ip": [{"cidr": "10.0.0.5/24"}]}, id="cidr-host-bits-set"),
        pytest.param({"ip": [{"cidr": "::/0"}]}, id="cidr-v6-all"),
        pytest.param({"a": [None, "", 0, False, {"exists": True}]}, id="mixed-alternatives"),
        pytest.param(
            {"$or": [{"a": ["x"]}, {"b": {"$or": [{"c": [1]}, {"d": [2]}]}}]}, id="or-nested"
        ),
        pytest.param({"$or": [{"state": ["x"]}, {"b": ["y"]}]}, id="or-ordinary-key-names"),
    ],
)
def test_valid_edge_patterns(pattern: dict[str, Any]) -> None:
    assert validate_pattern(pattern) == []


def test_every_problem_names_its_place() -> None:
    problems = validate_pattern(
        {
            "detail": {"state": [{"prefix": 5}], "n": [{"numeric": [">", "x"]}]},
            "$or": [{"ip": [{"cidr": "nope"}]}, {"f": [{"exists": "no"}]}],
        }
    )
    assert len(problems) == 4, problems
    assert [p.split(":")[0] for p in problems] == ["detail.state", "detail.n", "ip", "f"]


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param({"a": [{"between": [1, 2]}]}, id="unknown-operator"),
        pytest.param({"a": "x"}, id="leaf-not-array"),
        pytest.param({"a": [{"numeric": [">", "0"]}]}, id="numeric-string-bound"),
        pytest.param({"a": [{"cidr": "10.0.0.1"}]}, id="cidr-without-prefix-length"),
        pytest.param({"a": [{"anything-but": {"numeric": [">", 0]}}]}, id="anything-but-numeric"),
    ],
)
def test_matches_refuses_malformed_parts_it_evaluates(pattern: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        matches(pattern, {"a": "x"})


def test_sns_policies_keep_single_string_anything_but_affixes() -> None:
    """SNS documents anything-but prefix/suffix with one string; lists are EventBridge's."""
    policy = {"a": [{"anything-but": {"prefix": ["x", "y"]}}]}
    assert validate_pattern(policy) == []
    assert any("takes a string, got" in p for p in validate_filter_policy(policy))
