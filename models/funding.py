"""Funding-rate normalisation: venues settle every 8h, 4h or 1h; traders compare annualised %.

apr_pct = rate × periods per year × 100, with 365 × 24 / interval_hours periods a year (perpetuals
settle every day of the year). 0.0001 per 8h and 0.0000125 per 1h are both 10.95 % APR.
"""

from __future__ import annotations

import numpy as np

HOURS_PER_YEAR = 365 * 24


def periods_per_year(interval_hours: float | np.ndarray) -> float | np.ndarray:
    return HOURS_PER_YEAR / np.asarray(interval_hours, dtype=np.float64) \
        if isinstance(interval_hours, np.ndarray) else HOURS_PER_YEAR / float(interval_hours)


def annualize_funding(rate: float | np.ndarray,
                      interval_hours: float | np.ndarray) -> float | np.ndarray:
    """The raw per-interval rate as an annualised percentage (APR, not compounded)."""
    return rate * periods_per_year(interval_hours) * 100.0


def per_8h(rate: float | np.ndarray, interval_hours: float | np.ndarray) -> float | np.ndarray:
    """The raw per-interval rate expressed per 8 hours, the unit most venues quote."""
    return rate * 8.0 / interval_hours
