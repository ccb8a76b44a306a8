"""The newest rows of a long series, drawn before the whole of it (docs/performance.md, issue 16).

Preparing BTC's 4.9M minutes for the price chart (two pyramids, `models/price_view.py`) takes
about a second on a worker: switching the dock to 1m would show nothing meanwhile. The chart
prepares the rows from a little before its visible window on, which takes milliseconds, draws
them at once, and swaps in the whole history when the worker is done.
"""

from __future__ import annotations

from models.series import SeriesData

#: series at least this long are shown from their newest rows first
NEWEST_FIRST_ROWS = 400_000
#: the newest window is at least this many rows (and the view's span twice over) ...
NEWEST_MIN_ROWS = 20_000
#: ... and at most this many (~30 ms to prepare): a view wider than that fills in from the right
NEWEST_MAX_ROWS = 200_000


def newest_rows(data: SeriesData, view_start_ms: int | None, view_end_ms: int | None,
                min_rows: int = NEWEST_MIN_ROWS, max_rows: int = NEWEST_MAX_ROWS) -> SeriesData:
    """The rows from one view-width before `view_start_ms` to the end: at least the last
    `min_rows` (all of them when there are no more), at most the last `max_rows`. Views of the
    arrays, no copy."""
    n = len(data)
    if n <= min_rows:
        return data
    start = n - min_rows
    if view_start_ms is not None and view_end_ms is not None and view_end_ms > view_start_ms:
        reach = view_start_ms - (view_end_ms - view_start_ms)
        start = min(start, int(data.time.searchsorted(reach, "left")))
    start = max(start, n - max_rows)
    return data if start <= 0 else data.between(int(data.time[start]), None)
