"""The compressed time axis (models/gap_axis.py): real time <-> x both ways, the breaks, and the
readout's time equal to the bar's time across a weekend and a daylight-saving change.

Expected values are written out by hand from CME's and NYSE's published hours, or computed by a
plain Python loop over the windows (not the module's numpy look-ups)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models.gap_axis import (
    ASSET_CALENDARS,
    GapAxis,
    build_axis,
    compressed_axis,
    joined_windows,
    with_bars,
)
from models.price_view import index_at_or_before, prepare_prices
from models.series import SeriesData

H = 3_600_000
M = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def reference_x(windows: list[tuple[int, int]], t: int) -> float:
    """x by hand: the last window's start, minus the open time between t and it (a closed t
    counts from the next open); one-for-one outside the windows."""
    first, last = windows[0][0], windows[-1][0]
    if t < first:
        return reference_x(windows, first) - (first - t)
    if t >= windows[-1][1]:
        return last + (t - last)
    open_after = 0
    for start, end in windows:
        if end <= t:
            continue
        open_after += end - max(start, t)
    return last + (windows[-1][1] - last) - open_after


def bars_in(windows: list[tuple[int, int]], interval: int) -> np.ndarray:
    return np.concatenate([np.arange(s, e, interval, dtype=np.int64) for s, e in windows])


def series(times: np.ndarray) -> SeriesData:
    close = 100.0 + np.arange(len(times), dtype=np.float64)
    return SeriesData(times, {"open": close, "high": close + 1, "low": close - 1,
                              "close": close, "volume": np.ones(len(times))})


# -- windows -----------------------------------------------------------------------------------
def test_windows_join_overlaps_and_touching_ones_and_take_in_stored_bars():
    assert joined_windows([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)]) == [(0, 4), (5, 12)]
    # a bar at 14:00 that the calendar calls closed, and a run of three bars
    got = with_bars([(0, 10 * H)], np.array([14 * H, 20 * H, 21 * H, 22 * H]), H)
    assert got == [(0, 10 * H), (14 * H, 15 * H), (20 * H, 23 * H)]


# -- both ways --------------------------------------------------------------------------------
def test_x_is_real_time_with_the_closed_hours_taken_out():
    # Two sessions 09:30-16:00 (6.5 h) a day apart, then a third after a weekend
    w = [(ms("2026-02-05T14:30"), ms("2026-02-05T21:00")),
         (ms("2026-02-06T14:30"), ms("2026-02-06T21:00")),
         (ms("2026-02-09T14:30"), ms("2026-02-09T21:00"))]
    axis = GapAxis.from_windows(w)
    # anchored in the last window
    assert axis.to_x(ms("2026-02-09T15:00")) == ms("2026-02-09T15:00")
    # Friday's close and Monday's open are one x: the break
    assert axis.to_x(ms("2026-02-06T21:00")) == axis.to_x(ms("2026-02-09T14:30"))
    # a whole session is 6.5 h of x
    assert axis.to_x(ms("2026-02-06T14:30")) - axis.to_x(ms("2026-02-05T14:30")) == 6.5 * H
    # the weekend and a night squeezed out: 17.5 h + 65.5 h
    assert axis.closed_ms == (17.5 + 65.5) * H
    # anything closed sits at its break; a break reads as the open after it
    assert axis.to_x(ms("2026-02-07T12:00")) == axis.to_x(ms("2026-02-09T14:30"))
    assert axis.to_real(axis.to_x(ms("2026-02-08T03:00"))) == ms("2026-02-09T14:30")
    # outside the calendar: one-for-one
    assert axis.to_x(ms("2026-02-10T00:00")) - axis.to_x(ms("2026-02-09T21:00")) == 3 * H
    assert axis.to_x(ms("2026-02-05T12:30")) == axis.to_x(ms("2026-02-05T14:30")) - 2 * H
    xb, closes, opens = axis.breaks()
    assert list(closes) == [w[0][1], w[1][1]] and list(opens) == [w[1][0], w[2][0]]
    assert list(xb) == list(axis.to_x(opens))


def test_round_trip_and_the_loop_reference_on_random_instants():
    rng = np.random.default_rng(16)
    edges = np.cumsum(rng.integers(1, 50, 400)) * M
    w = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    axis = GapAxis.from_windows(w)
    t = rng.integers(w[0][0] - 100 * M, w[-1][1] + 100 * M, 2000)
    x = axis.to_x(t)
    assert np.array_equal(x, [reference_x(w, int(v)) for v in t])
    is_open = axis.is_open(t)
    assert np.array_equal(is_open, [any(s <= v < e for s, e in w) for v in t])
    outside = (t < w[0][0]) | (t >= w[-1][1])
    back = axis.to_real(x)
    assert np.array_equal(back[is_open | outside], t[is_open | outside])
    assert np.all(np.diff(axis.to_x(np.sort(t))) >= 0)  # monotone
    xs = rng.uniform(x.min(), x.max(), 2000)
    assert np.allclose(axis.to_x(axis.to_real(xs)), xs, rtol=0, atol=1e-6)


def test_an_empty_calendar_leaves_time_as_it_is():
    axis = compressed_axis([])
    t = np.array([0.0, 5.0 * H])
    assert np.array_equal(axis.to_x(t), t) and np.array_equal(axis.to_real(t), t)
    assert axis.is_open(t).all() and not len(axis.breaks()[0])


# -- the calendars ----------------------------------------------------------------------------
def test_cme_weekend_is_one_break_and_its_daily_halt_another():
    """ES on CME Globex (CMES): Friday 2026-02-06 closes 16:00 Chicago (22:00 UTC), Sunday
    2026-02-08 opens 17:00 Chicago (23:00 UTC); each weekday halts 16:00-17:00 Chicago."""
    axis = build_axis([ASSET_CALENDARS["es"]], ms("2026-02-04T00:00"), ms("2026-02-10T00:00"))
    assert not axis.is_open(ms("2026-02-07T12:00")) and axis.is_open(ms("2026-02-08T23:30"))
    assert not axis.is_open(ms("2026-02-05T22:30")) and axis.is_open(ms("2026-02-05T21:59"))
    assert axis.to_x(ms("2026-02-06T22:00")) == axis.to_x(ms("2026-02-08T23:00"))
    assert axis.to_x(ms("2026-02-08T23:00")) - axis.to_x(ms("2026-02-06T21:00")) == H
    assert axis.to_x(ms("2026-02-05T23:00")) - axis.to_x(ms("2026-02-05T21:00")) == H
    _, closes, opens = axis.breaks()
    weekend = list(closes).index(ms("2026-02-06T22:00"))
    assert opens[weekend] == ms("2026-02-08T23:00")


def test_nyse_and_comex_calendars_by_asset():
    start, end = ms("2026-02-02T00:00"), ms("2026-02-07T00:00")
    cash = build_axis([ASSET_CALENDARS["spx"]], start, end)
    assert [(int(s), int(e)) for s, e in zip(cash.starts, cash.ends, strict=True)] == [
        (ms(f"2026-02-0{d}T14:30"), ms(f"2026-02-0{d}T21:00")) for d in range(2, 7)]
    metals = build_axis([ASSET_CALENDARS["gold"]], start, end)
    assert metals.is_open(ms("2026-02-04T03:00")) and not metals.is_open(ms("2026-02-04T22:30"))


@pytest.mark.parametrize(("case", "first", "last"), [
    # a weekend (CME: Friday 22:00 UTC close, Sunday 23:00 UTC open), hourly bars
    ("weekend", "2026-02-05T00:00", "2026-02-10T00:00"),
    # the US switch to summer time on Sunday 2026-03-08: Friday closes 22:00 UTC (16:00 CST),
    # Sunday opens 22:00 UTC (17:00 CDT)
    ("dst", "2026-03-05T00:00", "2026-03-11T00:00"),
])
@pytest.mark.parametrize("interval", [H, 5 * M])
def test_readout_time_is_the_bar_time_across_a_weekend_and_a_dst_change(case, first, last,
                                                                        interval):
    """What the price dock does: bars drawn at compressed x; the crosshair anywhere on a bar's
    drawn span maps back to real time, and the readout's bar (the last at or before it) is
    that bar, whose time is the stamp shown."""
    start, end = ms(first), ms(last)
    from models.gap_axis import calendar_windows

    windows = calendar_windows("CMES", start, end)
    times = bars_in(windows, interval)
    axis = build_axis(["CMES"], start, end, [(times, interval)])
    if case == "dst":
        assert ms("2026-03-06T22:00") in set(axis.ends) and ms("2026-03-08T22:00") in set(
            axis.starts)
        assert ms("2026-03-05T22:00") in set(axis.ends)  # the daily halt, winter: 22-23 UTC
        assert ms("2026-03-09T21:00") in set(axis.ends)  # and summer: 21-22 UTC
    else:
        assert ms("2026-02-06T22:00") in set(axis.ends)
    prepared = prepare_prices(series(times), interval)
    x = axis.to_x(times)
    assert np.all(np.diff(x) == interval)  # contiguous: no hole at any break
    for i in range(len(times)):
        for frac in (0.0, 0.5, 0.999):
            real_s = axis.to_real(x[i] + frac * interval) / 1e3
            j = index_at_or_before(prepared, float(real_s))
            assert j == i and prepared.t_raw[j] * 1e3 == times[i]
    # the bar right after the weekend is an hour (a bar) of x after Friday's last bar
    monday_eve = ms("2026-02-08T23:00") if case == "weekend" else ms("2026-03-08T22:00")
    k = int(np.searchsorted(times, monday_eve))
    assert x[k] - x[k - 1] == interval and times[k] - times[k - 1] > 40 * H


def test_a_24_7_series_on_the_axis_keeps_only_its_open_hours():
    """BTC compared with ES: its weekend bars lie in closed time (the dock leaves them out of
    the compressed drawing; its readout still reads them by real time)."""
    windows = [(ms("2026-02-05T23:00"), ms("2026-02-06T22:00")),
               (ms("2026-02-08T23:00"), ms("2026-02-09T22:00"))]
    axis = compressed_axis(windows)
    btc = np.arange(ms("2026-02-06T00:00"), ms("2026-02-09T12:00"), H)
    kept = btc[axis.is_open(btc)]
    assert len(kept) == 22 + 13  # Friday 00-21 UTC, Sunday 23 to Monday 11
    assert np.all(np.diff(axis.to_x(kept)) == H)


# -- intraday views default to the index futures (models/assets.py) ---------------------------
def test_a_cash_index_shown_alone_becomes_its_future_intraday_and_back_on_daily_views():
    from models.assets import assets_for_interval

    daily = ["btc", "spx", "ndx", "gold"]
    assert assets_for_interval(daily, intraday=True) == ["btc", "es", "nq", "gold"]
    assert assets_for_interval(["btc", "es", "nq", "gold"], intraday=False) == daily
    # both shown: the trader chose both, nothing swaps; an unrelated list is left alone
    assert assets_for_interval(["spx", "es", "ndx"], intraday=True) == ["spx", "es", "nq"]
    assert assets_for_interval(["spx", "es"], intraday=False) == ["spx", "es"]
    assert assets_for_interval(["btc", "gold"], intraday=True) == ["btc", "gold"]


def test_a_calendar_the_package_lacks_leaves_the_bars_to_decide():
    bars = np.array([ms("2026-02-05T14:00"), ms("2026-02-05T15:00"), ms("2026-02-06T14:00")])
    axis = build_axis(["QQQQ"], ms("2026-02-05T00:00"), ms("2026-02-07T00:00"), [(bars, H)])
    assert [(int(s), int(e)) for s, e in zip(axis.starts, axis.ends, strict=True)] == [
        (ms("2026-02-05T14:00"), ms("2026-02-05T16:00")),
        (ms("2026-02-06T14:00"), ms("2026-02-06T15:00"))]


def test_the_dock_choice_default_is_the_intraday_view_of_the_daily_one():
    from models.assets import assets_for_interval
    from models.dock_choices import (
        DEFAULT_INTRADAY_PRICE_ASSETS,
        DEFAULT_PRICE_ASSETS,
        DOCK_DEFAULTS,
    )

    assert list(DEFAULT_INTRADAY_PRICE_ASSETS) == assets_for_interval(
        list(DEFAULT_PRICE_ASSETS), intraday=True)
    assert DOCK_DEFAULTS["prices"]["interval"] == "1h"  # intraday: the futures first
    assert DOCK_DEFAULTS["prices"]["assets"] == list(DEFAULT_INTRADAY_PRICE_ASSETS)
