"""What a prepared price series holds (models/price_view.py, models/lod.py): no second copy of
its bar times, and bounded room for live bars (docs/performance.md, issue 16)."""

from __future__ import annotations

import numpy as np

from models.lod import MinMaxPyramid
from models.price_view import prepare_prices
from models.series import SeriesData

MIN = 60_000


def _bars(n: int) -> SeriesData:
    t = 1_700_000_000_000 + MIN * np.arange(n, dtype=np.int64)
    c = 100.0 + np.sin(np.arange(n) / 50.0)
    return SeriesData(t, {"open": c, "high": c + 1, "low": c - 1, "close": c,
                          "volume": np.ones(n)})


def test_bar_times_are_shared_with_the_candle_pyramid() -> None:
    data = _bars(5_000)
    p = prepare_prices(data, MIN)
    assert np.array_equal(p.t_raw, data.time / 1e3)
    assert np.shares_memory(p.t_raw, p.ohlc.column("x"))
    p.ohlc.append(np.array([p.t_raw[-1] + 60.0]), *(np.array([100.0]),) * 4)
    assert len(p.t_raw) == 5_000  # the live bar does not show through the shared times


def test_an_invalid_bar_keeps_its_own_times() -> None:
    data = _bars(1_000)
    cols = {k: np.array(v) for k, v in data.columns.items()}
    cols["open"][10] = np.nan  # dropped from the candles, still a bar of the series
    p = prepare_prices(SeriesData(data.time, cols), MIN)
    assert len(p.t_raw) == 1_000 and len(p.ohlc.column("x")) == 999
    assert np.array_equal(p.t_raw, data.time / 1e3)


def test_room_for_live_rows_is_bounded() -> None:
    n = 1_000_000
    x = np.arange(n, dtype=np.float64)
    pyramid = MinMaxPyramid.build(x, np.sin(x / 100.0))
    pyramid.reserve(10)
    room = len(pyramid._rows.buf["x"]) - n
    assert 10 <= room <= 65_536 + 1_024  # a quarter of 1M rows would be 250,000
    small = MinMaxPyramid.build(x[:4_000], x[:4_000])
    small.reserve(10)
    assert len(small._rows.buf["x"]) == 4_000 + 1_000 + 1_024  # a quarter more, as before
