"""A producer's ``arrivals.rate_series``: rates replayed from a CSV of measurements.

Config (reading the file, every error naming file, line and column) and the producer (Poisson
arrivals at ``count / interval_s × scale`` in each interval).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.analysis.metrics import ci_stats
from sim.build import run_once
from sim.config import ProducerSpec, Scenario, ScenarioError, load_scenario

#: A CloudWatch-style export: NumberOfMessagesSent, Sum per minute.
SENT = """\
timestamp,value
2024-05-01T10:00:00Z,60
2024-05-01T10:01:00Z,0
2024-05-01T10:02:00Z,120
"""


def write(tmp_path: Path, csv_text: str, series: dict[str, Any] | None = None,
          duration_s: float = 180) -> Path:  # fmt: skip
    (tmp_path / "sent.csv").write_text(csv_text, encoding="utf-8")
    data = {
        "duration_s": duration_s,
        "drain_s": 0,
        "components": {
            "app": {"type": "producer", "send_to": ["q"],
                    "arrivals": {"rate_series": {"file": "sent.csv", **(series or {})}}},
            "q": {"type": "sqs_queue"},
        },
    }  # fmt: skip
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def series_of(s: Scenario) -> Any:
    arrivals = s.of_type(ProducerSpec)["app"].arrivals
    assert arrivals is not None and arrivals.rate_series is not None
    return arrivals.rate_series


def test_counts_per_minute_become_rates_per_second(tmp_path: Path) -> None:
    rs = series_of(load_scenario(write(tmp_path, SENT)))
    assert rs.times == (0.0, 60.0, 120.0)
    assert rs.values == (60.0, 0.0, 120.0)
    assert rs.interval == 60.0  # inferred from consecutive timestamps
    assert rs.steps() == [(0.0, 1.0), (60.0, 0.0), (120.0, 2.0), (180.0, 0.0)]
    assert rs.expected_count(0, 180) == 180.0


def test_epoch_seconds_rates_scale_and_unordered_rows(tmp_path: Path) -> None:
    text = "t,sent\n1714557720,2\n1714557600,1\n"  # per: rate, descending (as CloudWatch can)
    rs = series_of(load_scenario(write(tmp_path, text, {
        "time_column": "t", "value_column": "sent", "per": "rate", "scale": 3, "interval_s": 60,
    })))  # fmt: skip
    assert rs.times == (0.0, 120.0) and rs.values == (1.0, 2.0)
    # a missing minute (no row: CloudWatch leaves out periods without data) has rate 0
    assert rs.steps() == [(0.0, 3.0), (60.0, 0.0), (120.0, 6.0), (180.0, 0.0)]


def test_arrivals_follow_the_series(tmp_path: Path) -> None:
    """60, 0, 120 messages per minute: about 1, 0 and 2 messages per second in each minute.

    Runs of 60, 120 and 180 s share their random streams, so a longer run repeats the shorter
    one's arrivals: the counts per minute are differences, exact for the empty minute.
    """
    base = load_scenario(write(tmp_path, SENT))
    per_minute: list[list[float]] = [[], [], []]
    for rep in range(40):
        totals = [
            run_once(base.with_updates({"duration_s": d}), rep).metrics["messages_produced"]
            for d in (60, 120, 180)
        ]
        per_minute[0].append(totals[0])
        per_minute[1].append(totals[1] - totals[0])
        per_minute[2].append(totals[2] - totals[1])
    assert per_minute[1] == [0] * 40  # nothing arrives in the minute counted 0
    for minute, expected in ((0, 60), (2, 120)):
        s = ci_stats(per_minute[minute], level=0.99)
        assert s["ci_low"] is not None and s["ci_high"] is not None
        assert s["ci_low"] <= expected <= s["ci_high"], (minute, s)
        # Poisson: the variance is the mean
        assert s["std"] is not None and math.isclose(s["std"] ** 2, expected, rel_tol=0.6)


def test_a_variant_with_a_new_scale_or_column_reloads(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, "timestamp,value,other\n0,60,6\n60,0,0\n"))
    doubled = s.with_updates({"components.app.arrivals.rate_series.scale": 2})
    assert series_of(doubled).steps()[0] == (0.0, 2.0)
    other = s.with_updates({"components.app.arrivals.rate_series.value_column": "other"})
    assert series_of(other).values == (6.0, 0.0)


BAD = [
    # (id, csv text, series fields, text the problem line must hold)
    ("missing-file", None, {"file": "nope.csv"}, "file not found"),
    ("no-column", SENT, {"value_column": "Sum"},
     "line 1: no column 'Sum' (the header has 'timestamp', 'value'); name it with value_column"),
    ("bad-timestamp", "timestamp,value\n2024-05-01T10:00:00Z,1\nyesterday,2\n", {},
     "sent.csv line 3, column 'timestamp': 'yesterday' is not a timestamp"),
    ("negative-value", "timestamp,value\n0,1\n60,-5\n", {},
     "sent.csv line 3, column 'value': '-5' is not a number ≥ 0"),
    ("not-a-number", "timestamp,value\n0,1\n60,lots\n", {},
     "sent.csv line 3, column 'value': 'lots' is not a number ≥ 0"),
    ("repeated-timestamp", "timestamp,value\n0,1\n60,2\n60,3\n", {},
     "sent.csv lines 3 and 4, column 'timestamp': the same timestamp twice"),
    ("mixed-forms", "timestamp,value\n0,1\n2024-05-01T10:00:00,2\n", {},
     "mixes timestamp forms"),
    ("header-only", "timestamp,value\n", {}, "has a header row but no data rows"),
    ("one-row-no-interval", "timestamp,value\n0,5\n", {},
     "interval_s: missing — required when the file has one row"),
    ("overlapping-intervals", SENT, {"interval_s": 90},
     "interval_s: 90 — longer than the 60 s between the rows at t = 0 s and 60 s"),
    ("bad-per", SENT, {"per": "minute"}, "per: 'minute' — must be one of 'count' or 'rate'"),
    ("zero-scale", SENT, {"scale": 0}, "scale: 0 — must be > 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fields", "expected"), [pytest.param(*c[1:], id=c[0]) for c in BAD]
)
def test_a_bad_series_names_the_file_line_and_column(
    tmp_path: Path, text: str | None, fields: dict[str, Any], expected: str
) -> None:
    path = write(tmp_path, text or SENT, fields)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: components.app.arrivals.rate_series."), message
    assert expected in message, message


def test_rate_series_excludes_profile_trace_and_rate(tmp_path: Path) -> None:
    path = write(tmp_path, SENT)
    with pytest.raises(ScenarioError, match=r"arrivals\.rate_series — not allowed with profile"):
        load_scenario(path, ["components.app.arrivals.profile=[{start_s: 0, rate_per_s: 1}]"])
    with pytest.raises(ScenarioError, match=r"arrivals\.rate_series — not allowed with rate_per_s"):
        load_scenario(path, ["components.app.rate_per_s=3"])
