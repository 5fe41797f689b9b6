"""Every scenario file in ``examples/`` is valid and runs to a balanced ledger.

The README points users at these files; a change to the schema or a service that broke one
would otherwise go unnoticed. One replication each, with nothing left in flight (their drain
periods cover the retry policies they use).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.build import run_once
from sim.config import load_scenario

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


def test_the_examples_of_the_readme_exist() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"dlq.yaml", "sns_fanout.yaml", "s3_eventbridge.yaml", "audit_alerts.yaml",
            "api_uploads.yaml"} <= names  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_every_pair_ends_in_one_fate(path: Path) -> None:
    r = run_once(load_scenario(path), rep=0)
    m = r.metrics
    fates = ("delivered", "dead_lettered", "expired", "lost", "in_flight")
    assert sum(m[f] for f in fates) == m["deliveries_expected"] > 0
    assert m["in_flight"] == 0
    for sink, s in r.sinks.items():
        assert sum(s[f] for f in fates) == s["deliveries_expected"], sink
