"""Scenario specs of the dependencies: defaults, and one clear message per invalid value."""

from __future__ import annotations

from typing import Any

import pytest

from sim.config import (
    ConstantDist,
    DatabaseSpec,
    DynamoDbTableSpec,
    HttpApiSpec,
    ScenarioError,
    scenario_from_dict,
)


def load(spec: dict[str, Any]) -> Any:
    return scenario_from_dict({"duration_s": 1, "components": {"d": spec}}).components["d"]


def test_defaults() -> None:
    db = load({"type": "database"})
    assert isinstance(db, DatabaseSpec)
    assert (db.max_connections, db.waiting) == (100, None)
    assert db.service_time_s == ConstantDist(value=0.01)
    assert (db.contention.sigma, db.contention.kappa) == (0.0, 0.0)
    assert db.latency_s == ConstantDist(value=0.0) and db.errors.rate == 0.0

    table = load({"type": "dynamodb_table"})
    assert isinstance(table, DynamoDbTableSpec)
    assert table.capacity_mode == "on_demand"
    assert (table.read_capacity_units, table.write_capacity_units) == (None, None)
    assert (table.burst_s, table.scale_delay_s) == (300.0, 1800.0)
    assert (table.max_read_request_units, table.max_write_request_units) == (40_000, 40_000)
    assert table.latency_s == ConstantDist(value=0.005)

    api = load({"type": "http_api"})
    assert isinstance(api, HttpApiSpec)
    assert (api.max_concurrency, api.rate_limit) == (None, None)
    assert api.latency_s == ConstantDist(value=0.1)


BAD = [
    ({"type": "database", "max_connections": 0}, "components.d.max_connections: 0 — must be ≥ 1 "
     "(a database needs at least one connection)"),
    ({"type": "database", "waiting": -1}, "components.d.waiting: -1 — must be ≥ 0"),
    ({"type": "database", "contention": {"sigma": 1.5}},
     "components.d.contention.sigma: 1.5 — must be ≥ 0 and ≤ 1"),
    ({"type": "database", "contention": {"kappa": -0.1}},
     "components.d.contention.kappa: -0.1 — must be ≥ 0"),
    ({"type": "database", "service_time_s": -1}, "components.d.service_time_s: -1 — must be ≥ 0"),
    ({"type": "database", "connections": 3}, "components.d.connections: 3 — unknown field"),
    ({"type": "dynamodb_table", "capacity_mode": "provisioned", "write_capacity_units": 5},
     "components.d.read_capacity_units: missing — required with capacity_mode: provisioned"),
    ({"type": "dynamodb_table", "capacity_mode": "provisioned", "read_capacity_units": 0,
      "write_capacity_units": 5}, "components.d.read_capacity_units: 0 — must be ≥ 1"),
    ({"type": "dynamodb_table", "write_capacity_units": 5},
     "components.d.write_capacity_units: 5 — only with capacity_mode: provisioned"),
    ({"type": "dynamodb_table", "capacity_mode": "reserved"},
     "components.d.capacity_mode: 'reserved' — must be one of 'on_demand' or 'provisioned'"),
    ({"type": "dynamodb_table", "burst_s": 0}, "components.d.burst_s: 0 — must be ≥ 1"),
    ({"type": "dynamodb_table", "scale_delay_s": -5},
     "components.d.scale_delay_s: -5 — must be ≥ 0"),
    ({"type": "http_api", "max_concurrency": 0}, "components.d.max_concurrency: 0 — must be ≥ 1"),
    ({"type": "http_api", "rate_limit": {"rate_per_s": 0, "burst": 1}},
     "components.d.rate_limit.rate_per_s: 0 — must be > 0"),
    ({"type": "http_api", "rate_limit": {"rate_per_s": 5}},
     "components.d.rate_limit.burst: missing — required"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "message"), BAD, ids=[m.split(":")[0] + str(i)
                                                        for i, (_, m) in enumerate(BAD)])
def test_an_invalid_value_gets_one_clear_line(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load(spec)
    assert message in str(err.value)


def test_a_dependency_may_have_outages_but_is_not_a_target() -> None:
    s = scenario_from_dict({"duration_s": 1, "components": {"db": {"type": "database"}},
                            "outages": [{"component": "db", "start_s": 0, "duration_s": 1}]})
    assert s.outages[0].component == "db"
    with pytest.raises(ScenarioError, match=r"subscriptions\.0\.target: 'api' — must name"):
        scenario_from_dict({"duration_s": 1, "components": {
            "t": {"type": "sns_topic", "subscriptions": [{"target": "api"}]},
            "api": {"type": "http_api"},
        }})  # fmt: skip
