"""The default list prices (USD, us-east-1) that a scenario's ``prices`` may override."""

from __future__ import annotations

__all__ = ["DEFAULT_PRICES"]

#: Default list prices in USD (us-east-1). Keys are the names a scenario's ``prices`` may override.
DEFAULT_PRICES: dict[str, float] = {
    "sqs_standard_per_million": 0.40,
    "sqs_fifo_per_million": 0.50,
    "lambda_requests_per_million": 0.20,
    "lambda_gb_s": 0.0000166667,
    "sns_publish_per_million": 0.50,
    "sns_http_deliveries_per_million": 0.60,
    "sns_email_per_100k": 2.00,
    "eventbridge_events_per_million": 1.00,
    "eventbridge_archive_per_gb": 0.10,
    "apigateway_rest_per_million": 3.50,
    "s3_put_per_thousand": 0.005,
    # DynamoDB, Standard table class (Amazon DynamoDB pricing pages, "Pricing for On-Demand
    # Capacity" and "Pricing for Provisioned Capacity", us-east-1): on-demand request units at
    # the prices in force since AWS halved them on 1 November 2024; provisioned capacity per
    # unit-hour. Read in December 2026 from copies of those pages; verify before publishing.
    "dynamodb_read_per_million": 0.125,
    "dynamodb_write_per_million": 0.625,
    "dynamodb_rcu_hour": 0.00013,
    "dynamodb_wcu_hour": 0.00065,
}
