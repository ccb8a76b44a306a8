"""What a prepared price series holds (models/price_view.py, models/lod.py): no second copy of
its bar times, no candle pyramid until candles are drawn, and bounded room for live bars
(docs/performance.md, issue 16)."""

from __future__ import annotations

import numpy as np

from models.lod import MinMaxPyramid
from models.price_view import (
    candles_caught_up,
    extend_prepared,
    prepare_prices,
    with_candles,
    without_candles,
)
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


def _owned_bytes(prepared) -> int:
    """Bytes of the distinct buffers a prepared series holds that are not the store's columns."""
    arrays = [*prepared.line._rows.buf.values(), prepared.t_raw, prepared.close_raw]
    if prepared.ohlc is not None:
        arrays += prepared.ohlc._rows.buf.values()
    store = [prepared.source.time, *prepared.source.columns.values()]
    buffers = {}
    for a in arrays:
        base = a if a.base is None else a.base
        if not any(np.may_share_memory(base, s) for s in store):
            buffers[id(base)] = base.nbytes
    return sum(buffers.values())


def test_a_series_drawn_as_a_line_holds_two_columns_not_seven() -> None:
    n = 200_000
    data = _bars(n)
    line_only = prepare_prices(data, MIN, candles=False)
    assert line_only.ohlc is None
    assert np.shares_memory(line_only.t_raw, line_only.line.x)  # no gap row: its x are the times
    assert np.array_equal(line_only.t_raw, data.time / 1e3)
    cap = len(line_only.line._rows.buf["x"])
    assert n < cap <= n + 4_096 + 65_536 + 1_024
    assert _owned_bytes(line_only) == 2 * 8 * cap  # x and close, with room for live bars
    both = prepare_prices(data, MIN)
    assert _owned_bytes(both) == 7 * 8 * cap  # and x, open, high, low, close of the candles
    assert _owned_bytes(both) - _owned_bytes(line_only) == 5 * 8 * cap  # 8 MB here, 190 at 4.9M


def test_candles_added_later_are_those_of_a_full_prepare() -> None:
    data = _bars(3_000)
    line_only = prepare_prices(data, MIN, candles=False)
    later = with_candles(line_only, MIN)
    assert later.line is line_only.line and later.source is data
    assert with_candles(later, MIN) is later  # built once
    full = prepare_prices(data, MIN)
    for name in "xohlc":
        assert np.array_equal(later.ohlc.column(name), full.ohlc.column(name))
    assert later.ohlc.bar_width == full.ohlc.bar_width == 60.0
    assert np.shares_memory(later.t_raw, later.ohlc.column("x"))
    assert np.array_equal(later.t_raw, data.time / 1e3)
    dropped = without_candles(later)  # drawn as a line again
    assert dropped.ohlc is None and dropped.line is later.line
    assert np.shares_memory(dropped.t_raw, dropped.line.x)  # not the candles' x
    assert np.array_equal(dropped.t_raw, data.time / 1e3)


def test_a_series_with_gaps_keeps_its_own_bar_times() -> None:
    data = _bars(1_000)
    t = data.time.copy()
    t[500:] += 3 * 3_600_000  # three closed hours: the line gets a NaN row there
    gapped = SeriesData(t, data.columns)
    p = prepare_prices(gapped, MIN, candles=False)
    assert len(p.line) == 1_001 and len(p.t_raw) == 1_000
    assert np.array_equal(p.t_raw, t / 1e3)


def _extended(data: SeriesData, k: int, candles: bool):
    head = SeriesData(data.time[:k], {c: v[:k] for c, v in data.columns.items()})
    prev = prepare_prices(head, MIN, candles=candles)
    cols = {c: v.copy() for c, v in data.columns.items()}
    cols["close"][k - 1] += 0.5  # the forming bar moved
    moved = SeriesData(data.time, cols)
    return prev, extend_prepared(prev, moved, MIN, tail_from=k - 1), moved


def test_live_bars_extend_a_line_only_series_as_a_rebuild_would() -> None:
    data = _bars(2_000)
    t = data.time.copy()
    t[1_800:] += 2 * 3_600_000  # the new bars come after a gap
    data = SeriesData(t, data.columns)
    prev, after, moved = _extended(data, 1_500, candles=False)
    assert after is not None and after.line is prev.line and after.ohlc is None
    rebuilt = prepare_prices(moved, MIN, candles=False)
    assert np.array_equal(after.line.x, rebuilt.line.x)
    assert np.array_equal(after.line.y, rebuilt.line.y, equal_nan=True)
    assert np.array_equal(after.t_raw, t / 1e3)  # the gap row is not a bar
    assert len(prev.t_raw) == 1_500  # the earlier view does not grow


def test_live_bars_extend_the_candles_too_when_they_are_built() -> None:
    prev, after, moved = _extended(_bars(2_000), 1_500, candles=True)
    assert after is not None and after.ohlc is prev.ohlc
    rebuilt = prepare_prices(moved, MIN)
    for name in "xohlc":
        assert np.array_equal(after.ohlc.column(name), rebuilt.ohlc.column(name))
    assert np.shares_memory(after.t_raw, after.ohlc.column("x"))
    assert np.array_equal(after.t_raw, moved.time / 1e3)


def test_a_quick_prepare_reads_the_store_until_a_live_bar_comes() -> None:
    data = _bars(3_000)
    kept = {c: v.copy() for c, v in data.columns.items()}
    p = prepare_prices(data, MIN, room=False)
    assert np.shares_memory(p.line.y, data["close"])  # no copy on the GUI thread
    assert np.shares_memory(p.ohlc.column("h"), data["high"])
    cols = {c: np.append(v, v[-1]) for c, v in data.columns.items()}
    cols["close"][-2] += 1.0  # the forming bar moved, and a new one opened
    cols["high"][-2] += 2.0
    newer = SeriesData(np.append(data.time, data.time[-1] + MIN), cols)
    after = extend_prepared(p, newer, MIN, tail_from=len(data) - 1)
    assert after is not None and after.line is p.line and after.ohlc is p.ohlc
    for c, v in kept.items():  # the store's arrays were not written to
        assert np.array_equal(data[c], v)
    rebuilt = prepare_prices(newer, MIN)
    assert np.array_equal(after.line.y, rebuilt.line.y)
    for name in "xohlc":
        assert np.array_equal(after.ohlc.column(name), rebuilt.ohlc.column(name))


def test_candles_built_for_older_bars_catch_up_with_the_live_ones() -> None:
    data = _bars(2_000)
    prev = prepare_prices(data, MIN, candles=False)
    built = with_candles(prev, MIN)  # on a worker, while live bars arrive:
    current = prev
    for extra in (1, 3):  # the forming bar moves, new bars open, twice
        n = len(current.source)
        cols = {c: np.append(v, np.full(extra, v[-1])) for c, v in current.source.columns.items()}
        cols["close"][n - 1] += 0.25
        cols["high"][n - 1] += 0.5
        newer = SeriesData(np.append(current.source.time,
                                     current.source.time[-1] + MIN * np.arange(1, extra + 1)), cols)
        current = extend_prepared(current, newer, MIN, tail_from=n - 1)
    assert current is not None and current.line is prev.line and current.ohlc is None
    caught = candles_caught_up(built, current)
    assert caught is not None and caught.source is current.source and caught.line is prev.line
    rebuilt = prepare_prices(current.source, MIN)
    for name in "xohlc":
        assert np.array_equal(caught.ohlc.column(name), rebuilt.ohlc.column(name))
    assert np.array_equal(caught.t_raw, current.source.time / 1e3)
    # a rebuilt line (history scrolled back in) is no extension: build the candles again
    assert candles_caught_up(built, prepare_prices(current.source, MIN, candles=False)) is None
