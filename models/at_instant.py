"""A series' value at an instant, as the time cursor reads it (ui/time_link.py).

The value in force at t is the last row stamped at or before t: bars are stamped at their open
and snapshots (open interest, DVOL) at their time (docs/architecture.md, "Conventions"). Funding
settlements pay for the period before their stamp; their rate at t is `models.funding.settled_apr`.
"""

from __future__ import annotations

import numpy as np


def index_at_or_before(times: np.ndarray, t: float) -> int:
    """The last index whose time is ≤ t (-1 when the series starts later)."""
    return int(np.searchsorted(times, t, side="right")) - 1


def value_at_or_before(times: np.ndarray, values: np.ndarray, t: float,
                       max_age: float | None = None) -> float:
    """The value in force at t: the last row at or before t; NaN when there is none or, with
    `max_age`, when that row is older than t − max_age."""
    i = index_at_or_before(times, t)
    if i < 0 or (max_age is not None and t - times[i] >= max_age):
        return float("nan")
    return float(values[i])
