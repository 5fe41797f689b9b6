"""Number formats of the findings text: plain numbers, percentages and intervals.

The interval formats differ a little between the studies; two keywords keep each study's
text as it was:

* ``constant``: how a row whose replications all agree (``std == 0``) reads: with its
  (degenerate) interval (``"ci"``), as the mean alone (``"mean"``) or as ``"<mean> in every
  replication"`` (``"every"``).
* ``nan_mean``: a row whose mean is NaN reads ``n/a`` (otherwise the NaN goes through the
  number format, unit included).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import pandas as pd

__all__ = ["Constant", "mean_ci", "number", "percent", "percent_ci", "points_ci"]

#: How an interval reads when every replication gave the same value (see the module doc).
Constant = Literal["ci", "mean", "every"]


def number(x: float | None, digits: int = 3) -> str:
    """A number for prose: ``digits`` significant digits, whole with separators from 1000."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def percent(x: float) -> str:
    """A fraction as a percentage with 3 significant digits (clipped to [0, 100%])."""
    v = min(max(float(x), 0.0), 1.0) * 100.0
    if v in (0.0, 100.0):
        return f"{v:g}%"
    return f"{v:.3g}%" if v < 99.0 else f"{v:.4g}%"


def _interval(row: pd.Series | None, fmt: Callable[[float], str], suffix: str, to: str,
              constant: Constant, nan_mean: bool) -> str:  # fmt: skip
    if row is None or (nan_mean and pd.isna(row["mean"])):
        return "n/a"
    text = f"{fmt(row['mean'])}{suffix}"
    if pd.isna(row["ci_low"]):
        return text
    if constant != "ci" and row["std"] == 0:
        return text if constant == "mean" else f"{text} in every replication"
    return f"{text} (95% CI {fmt(row['ci_low'])} {to} {fmt(row['ci_high'])})"


def mean_ci(row: pd.Series | None, unit: str = "", scale: float = 1.0, *,
            constant: Constant = "ci", nan_mean: bool = False) -> str:  # fmt: skip
    """``mean unit (95% CI low – high)`` of a summary row (values times ``scale``), or n/a.

    Args:
        row: a summary row, or None (reads ``n/a``).
        unit: the unit after the mean, if any.
        scale: the factor applied to the mean and the bounds.
        constant: how a row with ``std == 0`` reads (see the module doc).
        nan_mean: a NaN mean reads ``n/a`` (see the module doc).

    Returns:
        The text.
    """
    return _interval(row, lambda v: number(v * scale), f" {unit}" if unit else "", "–",
                     constant, nan_mean)  # fmt: skip


def percent_ci(row: pd.Series | None, *, constant: Constant = "ci",
               nan_mean: bool = False) -> str:  # fmt: skip
    """A fraction with its 95% CI, as percentages (bounds clipped to [0, 100%]), or n/a.

    ``row``, ``constant`` and ``nan_mean`` as in :func:`mean_ci`.
    """
    return _interval(row, percent, "", "–", constant, nan_mean)


def points_ci(row: pd.Series | None, *, constant: Constant = "ci",
              nan_mean: bool = False) -> str:  # fmt: skip
    """A difference of fractions in percentage points, with its 95% CI (not clipped), or n/a.

    ``row``, ``constant`` and ``nan_mean`` as in :func:`mean_ci`.
    """
    return _interval(row, lambda v: f"{v * 100:+.3g}", " percentage points", "to", constant,
                     nan_mean)  # fmt: skip
