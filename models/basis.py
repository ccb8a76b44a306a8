"""Basis: the perpetual premium (mark against index) and dated futures' annualised basis.

Conventions (docs/streams.md): premium_pct = (mark − index) / index × 100, per venue, with the
venue's own index (Hyperliquid: its oracle price). basis_pct = (future − index) / index × 100 and
apr_pct = basis_pct × 365 / days_to_expiry (simple annualisation, actual/365).
"""

from __future__ import annotations

import math


def premium_pct(mark: float, index: float) -> float:
    """The perpetual's premium over its index, in percent; NaN without a positive index."""
    if not (math.isfinite(mark) and math.isfinite(index)) or index <= 0:
        return math.nan
    return (mark - index) / index * 100.0
