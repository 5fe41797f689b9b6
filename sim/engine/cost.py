"""Prices and the cost of a run.

Services count billable requests as they happen (``ctx.cost.add(item, n)``); the cost of a run
is the sum of each count times its list price. Prices are us-east-1 list prices (see
``docs/assumptions.md``); a scenario's ``prices`` mapping overrides any of them by name.

Modelled:
    * SQS requests (standard and FIFO priced separately), one request per 64 KB chunk of payload;
      a receive of B messages is ⌈B/10⌉ ReceiveMessage requests (at most 10 messages each); the
      idle long polls of an event source mapping's pollers (:mod:`sim.services.lambda_esm`).
    * Lambda requests and duration (GB-seconds at 1 ms granularity), the cold start (INIT
      phase) included.
    * SNS publishes and deliveries (HTTP/S, email); EventBridge custom and replayed events (per
      64 KB chunk; AWS-service events on the bus are free) and archived GB; API Gateway REST
      requests (not the throttled ones); S3 PUTs.
    * DynamoDB: on-demand read and write request units of successful requests; provisioned
      read and write capacity-unit hours over the counted period (prorated).

Not modelled:
    * Free tiers and volume tiers (a run is priced at the first-tier list price).
    * Data transfer and storage charges (S3 storage, EventBridge archive storage).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sim.config.prices import DEFAULT_PRICES

__all__ = [
    "COST_SERVICES", "SQS_CHUNK_BYTES", "SQS_RECEIVE_MAX", "CostMeter", "sqs_chunks",
    "sqs_receive_requests",
]  # fmt: skip

#: How each counted item maps onto a price: item -> (price name, units per priced unit).
_ITEM_PRICE: dict[str, tuple[str, float]] = {
    "sqs_standard_requests": ("sqs_standard_per_million", 1e6),
    "sqs_fifo_requests": ("sqs_fifo_per_million", 1e6),
    "lambda_requests": ("lambda_requests_per_million", 1e6),
    "lambda_gb_s": ("lambda_gb_s", 1.0),
    "sns_publishes": ("sns_publish_per_million", 1e6),
    "sns_http_deliveries": ("sns_http_deliveries_per_million", 1e6),
    "sns_email_deliveries": ("sns_email_per_100k", 1e5),
    "eventbridge_events": ("eventbridge_events_per_million", 1e6),
    "eventbridge_archive_gb": ("eventbridge_archive_per_gb", 1.0),
    "apigateway_requests": ("apigateway_rest_per_million", 1e6),
    "s3_puts": ("s3_put_per_thousand", 1e3),
    "dynamodb_read_request_units": ("dynamodb_read_per_million", 1e6),
    "dynamodb_write_request_units": ("dynamodb_write_per_million", 1e6),
    "dynamodb_rcu_hours": ("dynamodb_rcu_hour", 1.0),
    "dynamodb_wcu_hours": ("dynamodb_wcu_hour", 1.0),
}

#: The AWS services a cost is attributed to (``cost_usd_<service>``), in display order; an
#: item belongs to the service its name starts with.
COST_SERVICES = ("sqs", "lambda", "sns", "eventbridge", "s3", "apigateway", "dynamodb")
assert all(item.split("_", 1)[0] in COST_SERVICES for item in _ITEM_PRICE)

#: SQS bills one request per started 64 KB chunk of payload.
SQS_CHUNK_BYTES: Final = 64 * 1024


#: A ReceiveMessage returns at most 10 messages (MaxNumberOfMessages 1–10).
SQS_RECEIVE_MAX: Final = 10


def sqs_chunks(size_bytes: int) -> int:
    """Billable SQS requests for one message of ``size_bytes`` (at least one)."""
    return max(1, -(-size_bytes // SQS_CHUNK_BYTES))


def sqs_receive_requests(sizes: list[int]) -> int:
    """Billable SQS requests to receive messages of ``sizes`` bytes (in receive order).

    A ReceiveMessage returns at most 10 messages, so a batch of B messages takes ⌈B/10⌉
    requests, each billed one request per started 64 KB chunk of the payload it returns.
    """
    return sum(
        sqs_chunks(sum(sizes[i : i + SQS_RECEIVE_MAX]))
        for i in range(0, len(sizes), SQS_RECEIVE_MAX)
    )


class CostMeter:
    """Counts billable items of one run, per component.

    A service asks once for a counter (``counter(component, item)``, a one-element list) and
    adds to it on the hot path (``bill[0] += n``). The builder calls :meth:`reset` at
    ``warmup_s`` so that cost covers the same messages as the other metrics.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], list[float]] = {}
        #: units accrued but billed only at the end of the run (an event source's idle long
        #: polls), shown here by their component while the run goes on; they count in the
        #: costs, not in :attr:`counts`
        self._pending: dict[tuple[str, str], float] = {}

    def counter(self, component: str, item: str) -> list[float]:
        """The counter of ``item`` billed to ``component`` (created at 0 on first use)."""
        if item not in _ITEM_PRICE:
            raise KeyError(f"unknown billable item {item!r}")
        c = self._counters.get((component, item))
        if c is None:
            c = self._counters[(component, item)] = [0.0]
        return c

    def add(self, component: str, item: str, n: float = 1.0) -> None:
        """Count ``n`` billable units of ``item`` made by ``component``."""
        self.counter(component, item)[0] += n

    def set_pending(self, component: str, item: str, n: float) -> None:
        """``n`` units of ``item`` accrued by ``component`` so far, not yet counted (0: none)."""
        if item not in _ITEM_PRICE:
            raise KeyError(f"unknown billable item {item!r}")
        if n:
            self._pending[(component, item)] = n
        else:
            self._pending.pop((component, item), None)

    def reset(self) -> None:
        """Forget everything counted so far (at the end of the warm-up)."""
        for c in self._counters.values():
            c[0] = 0.0
        self._pending.clear()

    def _units(self) -> list[tuple[tuple[str, str], float]]:
        """Units per (component, item): the counted ones, then the pending ones."""
        out = [(k, c[0]) for k, c in self._counters.items()]
        out += self._pending.items()
        return out

    @property
    def counts(self) -> dict[tuple[str, str], float]:
        """Units counted per (component, item)."""
        return {k: c[0] for k, c in self._counters.items()}

    def cost_by_component(self, prices: Mapping[str, float] | None = None) -> dict[str, float]:
        """USD per component at the given prices (defaults where not overridden)."""
        table = {**DEFAULT_PRICES, **(prices or {})}
        out: dict[str, float] = {}
        for (component, item), n in self._units():
            price_name, unit = _ITEM_PRICE[item]
            out[component] = out.get(component, 0.0) + n * table[price_name] / unit
        return out

    def cost_by_service(self, prices: Mapping[str, float] | None = None) -> dict[str, float]:
        """USD per AWS service of :data:`COST_SERVICES` (0 for a service not used)."""
        table = {**DEFAULT_PRICES, **(prices or {})}
        out = dict.fromkeys(COST_SERVICES, 0.0)
        for (_, item), n in self._units():
            price_name, unit = _ITEM_PRICE[item]
            out[item.split("_", 1)[0]] += n * table[price_name] / unit
        return out

    def total(self, prices: Mapping[str, float] | None = None) -> float:
        """USD for the whole run."""
        return sum(self.cost_by_component(prices).values())
