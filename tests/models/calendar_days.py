"""Calendar helpers the model tests share."""

from __future__ import annotations

from datetime import date, timedelta


def weekdays(start: date, end: date, skip: tuple[date, ...] = ()) -> list[date]:
    """Monday to Friday from start to end inclusive, less `skip` (holidays)."""
    out, d = [], start
    while d <= end:
        if d.weekday() < 5 and d not in skip:
            out.append(d)
        d += timedelta(days=1)
    return out
