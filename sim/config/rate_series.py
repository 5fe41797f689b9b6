"""A producer's rate series: arrival rates replayed from a CSV of measurements.

A CloudWatch export of ``NumberOfMessagesSent`` (statistic ``Sum``, one row per period) is the
typical file: a timestamp column and a count column. :func:`read_series` reads it once, at
validation, relative to the scenario file's directory (``base_dir`` of the validation
context), and :class:`RateSeriesSpec` stores the rows on the spec, so a validated scenario never
reads the file again. Every problem names the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, model_validator

from sim.config.fields import NonNegFloat, PosFloat, Spec, resolve_path
from sim.config.problems import CHOICE, FROM_FILE, MISSING, Source, invalid_error, show

__all__ = ["RateSeriesSpec", "read_series"]


def _fail(why: str, file: Any) -> Exception:
    return invalid_error(why, ("file",), file)


def _timestamp(cell: str) -> float | datetime | None:
    """Epoch seconds (a number) or an ISO 8601 date and time; None if it is neither."""
    try:
        x = float(cell)
    except ValueError:
        pass
    else:
        return x if math.isfinite(x) else None
    try:
        return datetime.fromisoformat(cell)
    except ValueError:
        return None


def read_series(
    file: Any, time_column: Any, value_column: Any, info: ValidationInfo
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(times, values)`` from two columns of a CSV file with a header row, sorted by time.

    Times are seconds from the earliest timestamp; timestamps are epoch seconds or ISO 8601
    (all with a time zone or all without). Values are numbers ≥ 0.
    """
    if not isinstance(file, str) or not file:
        raise _fail("must be a file path (a non-empty string)", file)
    path = resolve_path(file, info)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _fail(f"file not found: {path} (relative paths are resolved against the "
                    "scenario file's directory)", file) from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read {path}: {exc}", file) from None
    reader = csv.reader(io.StringIO(text))
    rows = [
        (reader.line_num, [c.strip() for c in row])
        for row in reader
        if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise _fail(f"{path} is empty; it needs a header row and one row per interval", file)
    header_line, header = rows[0]
    cols = []
    for column, what in ((time_column, "time_column"), (value_column, "value_column")):
        if not isinstance(column, str) or column not in header:
            raise _fail(f"{path} line {header_line}: no column {column!r} (the header has "
                        f"{', '.join(map(repr, header))}); name it with {what}", file)  # fmt: skip
        cols.append(header.index(column))
    t_col, v_col = cols
    stamps: list[tuple[float | datetime, float, int]] = []
    for line, row in rows[1:]:
        t_cell = row[t_col] if t_col < len(row) else ""
        v_cell = row[v_col] if v_col < len(row) else ""
        where = f"{path} line {line}"
        t = _timestamp(t_cell)
        if t is None:
            why = (f"{where}, column {time_column!r}: {t_cell!r} is not a timestamp (ISO 8601, "
                   "e.g. 2024-05-01T10:00:00Z, or epoch seconds)")
            raise _fail(why, file)
        try:
            v = float(v_cell)
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or v < 0:
            raise _fail(f"{where}, column {value_column!r}: {v_cell!r} is not a number ≥ 0", file)
        stamps.append((t, v, line))
    if not stamps:
        raise _fail(f"{path} has a header row but no data rows", file)
    kinds = {type(t) is datetime and t.tzinfo is not None for t, _, _ in stamps}
    numeric = {isinstance(t, float) for t, _, _ in stamps}
    if len(numeric) > 1 or len(kinds) > 1:
        raise _fail(f"{path}, column {time_column!r}: mixes timestamp forms (epoch seconds, ISO "
                    "with and without a time zone); use one", file)  # fmt: skip
    stamps.sort(key=lambda s: s[0])
    t0 = stamps[0][0]
    times = [_seconds(t, t0) for t, _, _ in stamps]
    for (a, (_, _, la)), (b, (_, _, lb)) in pairwise(zip(times, stamps, strict=True)):
        if b == a:
            raise _fail(f"{path} lines {la} and {lb}, column {time_column!r}: the same "
                        "timestamp twice", file)  # fmt: skip
    return tuple(times), tuple(v for _, v, _ in stamps)


def _seconds(t: float | datetime, t0: float | datetime) -> float:
    if isinstance(t, datetime) and isinstance(t0, datetime):
        return (t - t0).total_seconds()
    assert isinstance(t, float) and isinstance(t0, float)
    return t - t0


class RateSeriesSpec(Spec):
    """Poisson arrivals at rates replayed from a CSV of measurements, interval by interval.

    Each row of ``file`` (with a header row) has a timestamp in ``time_column`` (ISO 8601 or
    epoch seconds; the earliest is t = 0) and a value in ``value_column``: with ``per: count``
    the number of messages sent in the ``interval_s`` seconds from the timestamp (a CloudWatch
    ``Sum`` per period), with ``per: rate`` messages per second. Within each interval arrivals
    are Poisson at ``count / interval_s × scale`` (or ``rate × scale``) per second. Intervals
    without a row (CloudWatch leaves out periods without data) and the time after the last
    interval have rate 0. ``interval_s`` defaults to the smallest gap between consecutive
    timestamps. ``times`` (seconds from the earliest timestamp) and ``values`` are read from the
    file at validation.
    """

    fields_source: ClassVar[Source] = CHOICE

    file: str
    time_column: str = "timestamp"
    value_column: str = "value"
    per: Literal["count", "rate"] = "count"
    interval_s: PosFloat | None = None
    scale: PosFloat = 1.0
    times: Annotated[tuple[NonNegFloat, ...], Field(min_length=1), FROM_FILE]
    values: Annotated[tuple[NonNegFloat, ...], Field(min_length=1), FROM_FILE]

    @model_validator(mode="before")
    @classmethod
    def _load(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "times" not in data and "values" not in data:
            t_col = data.get("time_column", "timestamp")
            v_col = data.get("value_column", "value")
            times, values = read_series(data.get("file"), t_col, v_col, info)
            return {**data, "times": times, "values": values}
        return data

    @model_validator(mode="after")
    def _check(self) -> RateSeriesSpec:
        if len(self.times) != len(self.values):
            why = f"must have one value per time ({len(self.times)})"
            raise invalid_error(why, ("values",), len(self.values))
        gaps = [b - a for a, b in pairwise(self.times)]
        if self.interval_s is None and not gaps:
            why = "required when the file has one row (it is inferred from consecutive timestamps)"
            raise invalid_error(why, ("interval_s",), MISSING)
        if self.interval_s is not None:
            for a, gap in zip(self.times, gaps, strict=False):
                if gap < self.interval_s:
                    why = (f"longer than the {show(gap)} s between the rows at t = {show(a)} s "
                           f"and {show(a + gap)} s of {self.file}: intervals would overlap")
                    raise invalid_error(why, ("interval_s",), self.interval_s)
        return self

    @property
    def interval(self) -> float:
        """The length of each row's interval (seconds): ``interval_s`` or the smallest gap."""
        if self.interval_s is not None:
            return self.interval_s
        return min(b - a for a, b in pairwise(self.times))

    def steps(self) -> list[tuple[float, float]]:
        """The arrival rate as ``(start_s, rate_per_s)`` steps, each lasting until the next."""
        width = self.interval
        out: list[tuple[float, float]] = []
        for i, (t, v) in enumerate(zip(self.times, self.values, strict=True)):
            rate = (v / width if self.per == "count" else v) * self.scale
            out.append((t, rate))
            end = t + width
            if i + 1 == len(self.times) or self.times[i + 1] > end:
                out.append((end, 0.0))
        return out

    def expected_count(self, start_s: float, end_s: float) -> float:
        """Expected arrivals in ``[start_s, end_s)`` (seconds of simulated time)."""
        steps = self.steps()
        total = 0.0
        for (t, rate), (t_next, _) in zip(steps, [*steps[1:], (math.inf, 0.0)], strict=True):
            total += rate * max(0.0, min(t_next, end_s) - max(t, start_s))
        return total
