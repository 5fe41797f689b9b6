"""Throughput of the event-routing architectures (EventBridge, S3, API Gateway, CloudTrail).

Each pipeline processes the same Poisson workload (``--messages`` messages at 50/s, generous
concurrency, AWS overheads zeroed where evsim has defaults: notification and CloudTrail delays
0, cold starts 0), and is timed with ``sim.build.run_once`` (build + run + metrics, after the
scenario is validated). Messages per second of wall time are reported with the ratio to the
plain SQS → Lambda pipeline measured in the same run (machines are noisy; ratios are not):

* ``sqs``: producer → SQS → Lambda (the reference);
* ``eventbridge``: producer → bus with 3 rules (one matching) → SQS → Lambda;
* ``s3_direct``: producer → API Gateway → S3 PutObject → notification → SQS → Lambda;
* ``s3_eventbridge``: producer → S3 → bus (3 rules, numeric/prefix/metadata) → SQS → Lambda;
* ``cloudtrail_sns``: producer → CloudTrail → bus → SNS → 5 HTTPS endpoints (5 sinks each;
  HTTPS rather than email, whose 10/s quota would cap the rate).

Run: ``.venv/bin/python benchmarks/event_routing.py [--messages N] [--repeats R]`` (also part
of ``make bench``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from sim.build import run_once
from sim.config import scenario_from_dict

RATE_PER_S = 50.0
FN: dict[str, Any] = {"duration_s": 0.05, "cold_start": {"duration_s": 0}}


def _consumer(source: str) -> dict[str, Any]:
    return {"type": "lambda_function", "trigger": {"source": source, "batch_size": 10}, **FN}


def _rules() -> list[dict[str, Any]]:
    return [
        {"name": "big", "pattern": {"detail": {"object": {"size": [{"numeric": [">", 1e9]}]}}},
         "targets": [{"target": "q_other"}]},
        {"name": "docs", "pattern": {"detail": {"object": {"key": [{"prefix": "docs/"}]}}},
         "targets": [{"target": "q_other"}]},
        {"name": "all", "pattern": {"detail": {"object": {"metadata": {"team": ["a"]}}}},
         "targets": [{"target": "q"}]},
    ]  # fmt: skip


def pipelines(messages: int) -> dict[str, dict[str, Any]]:
    """The scenarios, by name."""
    attrs = {"key": "img/{id}.jpg", "size_bytes": 1000, "team": "a"}
    base = {"duration_s": messages / RATE_PER_S, "drain_s": 60, "seed": 1}
    prod = {"type": "producer", "rate_per_s": RATE_PER_S, "attributes": attrs}
    queues = {"q": {"type": "sqs_queue"}, "f": _consumer("q"),
              "q_other": {"type": "sqs_queue"}, "g": _consumer("q_other")}  # fmt: skip
    custom_rules = [{"name": "r", "pattern": {"source": ["p"], "team": ["b"]},
                     "targets": [{"target": "q_other"}]},
                    {"name": "s", "pattern": {"detail-type": [{"prefix": "X"}]},
                     "targets": [{"target": "q_other"}]},
                    {"name": "t", "pattern": {"detail": {"team": ["a"]}},
                     "targets": [{"target": "q"}]}]  # fmt: skip
    s3 = {"type": "s3_bucket", "notification_delay_s": 0}
    return {
        "sqs": {**base, "components": {"p": {**prod, "send_to": ["q"]}, **queues}},
        "eventbridge": {**base, "components": {
            "p": {**prod, "send_to": ["bus"]}, **queues,
            "bus": {"type": "event_bus", "rules": custom_rules}}},
        "s3_direct": {**base, "components": {
            "p": {**prod, "send_to": ["api"]}, **queues,
            "api": {"type": "api_gateway", "integration": "b"},
            "b": {**s3, "notifications": [{"target": "q", "prefix": "img/"}]}}},
        "s3_eventbridge": {**base, "components": {
            "p": {**prod, "send_to": ["b"]}, **queues, "b": {**s3, "eventbridge": "bus"},
            "bus": {"type": "event_bus", "rules": _rules()}}},
        "cloudtrail_sns": {**base, "components": {
            "p": {**prod, "send_to": ["ct"],
                  "attributes": {"eventSource": "dynamodb.amazonaws.com",
                                 "eventName": "DeleteTable"}},
            "ct": {"type": "cloudtrail", "bus": "bus", "delivery_delay_s": 0},
            "bus": {"type": "event_bus", "rules": [
                {"name": "d", "pattern": {"detail": {"eventName": ["DeleteTable"]}},
                 "targets": [{"target": "t"}]}]},
            "t": {"type": "sns_topic",
                  "subscriptions": [{"target": f"m{i}"} for i in range(5)]},
            **{f"m{i}": {"type": "endpoint", "protocol": "https"} for i in range(5)}}},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Time every pipeline ``--repeats`` times (interleaved) and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    scenarios = {k: scenario_from_dict(v) for k, v in pipelines(args.messages).items()}
    rates: dict[str, list[float]] = {k: [] for k in scenarios}
    for r in range(args.repeats):
        names = list(scenarios)
        names = names[r % len(names):] + names[: r % len(names)]
        for name in names:
            t0 = time.perf_counter()
            res = run_once(scenarios[name])
            wall = time.perf_counter() - t0
            m = res.metrics
            assert m["in_flight"] == 0 and m["delivered"] == m["deliveries_expected"], name
            rates[name].append(m["messages_produced"] / wall)
    ref = statistics.median(rates["sqs"])
    print(f"Event routing throughput: {args.messages:,} messages at {RATE_PER_S:g}/s, median of "
          f"{args.repeats} interleaved repeat(s)")  # fmt: skip
    print(f"{'pipeline':<18} {'msgs/s':>10} {'vs sqs':>7}")
    for name, values in rates.items():
        med = statistics.median(values)
        print(f"{name:<18} {med:>10,.0f} {med / ref:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
