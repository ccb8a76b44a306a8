"""The newest window of a long series (models/newest_first.py), against index arithmetic done
by hand."""

from __future__ import annotations

import numpy as np

from models.newest_first import newest_rows
from models.series import SeriesData

MIN = 60_000


def _minutes(n: int) -> SeriesData:
    t = 1_700_000_000_000 + MIN * np.arange(n, dtype=np.int64)
    return SeriesData(t, {"close": np.arange(n, dtype=np.float64)})


def test_the_window_reaches_one_view_width_before_the_view() -> None:
    data = _minutes(100_000)
    end = int(data.time[-1])
    start = end - 10_000 * MIN  # a view of 10,000 minutes
    head = newest_rows(data, start, end, min_rows=1_000, max_rows=50_000)
    # one view width before the view's start: row 100,000 - 1 - 20,000
    assert head.time[0] == data.time[100_000 - 1 - 20_000]
    assert head.time[-1] == data.time[-1] and len(head) == 20_001
    assert np.shares_memory(head["close"], data["close"])  # a view, not a copy


def test_at_least_min_rows_and_at_most_max_rows() -> None:
    data = _minutes(100_000)
    end = int(data.time[-1])
    narrow = newest_rows(data, end - 10 * MIN, end, min_rows=5_000, max_rows=50_000)
    assert len(narrow) == 5_000
    wide = newest_rows(data, int(data.time[0]), end, min_rows=5_000, max_rows=50_000)
    assert len(wide) == 50_000 and wide.time[-1] == data.time[-1]
    unknown = newest_rows(data, None, None, min_rows=5_000, max_rows=50_000)
    assert len(unknown) == 5_000


def test_a_short_series_is_returned_whole() -> None:
    data = _minutes(3_000)
    assert newest_rows(data, None, None, min_rows=5_000) is data
