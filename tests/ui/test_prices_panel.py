"""The cross-asset price panel fed through the data store (no network involved)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
import pytest

from models.ids import funding_id
from models.levels import GAMMA_FLIP, Level
from models.price_view import prepare_prices
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from tests.ui.prices_helpers import candles, shown_prices_panel
from ui.charts.bands import BandsItem
from ui.charts.candles import CandlestickItem
from ui.charts.lod_item import LodCurveItem
from ui.panels.prices import PricesPanel

MON_2026_02_02 = 1_769_990_400_000  # 2026-02-02 00:00 UTC, a Monday


@pytest.fixture
def panel(qtbot, settings):
    p = shown_prices_panel(qtbot, settings, 1200, 800)
    yield p
    p.shutdown()


def feed(panel, series_id, data, tail_from=None):
    panel.ctx.store.set_series(series_id, data, tail_from)


def test_weekend_gap_breaks_the_daily_line(panel):
    days = [MON_2026_02_02 + d * MS_PER_DAY for d in (0, 1, 2, 3, 4, 7, 8)]  # Mon..Fri, Mon, Tue
    panel.choose("interval", "1d")
    feed(panel, "spx.1d", candles(days, [100, 101, 102, 103, 104, 105, 106]))
    x, y = panel._curves["spx"].getData()
    assert np.isnan(y).sum() == 1
    gap = int(np.flatnonzero(np.isnan(y))[0])
    assert x[gap - 1] == days[4] / 1e3  # the break sits right after Friday
    assert y[gap + 1] == 105


def test_compare_mode_rebases_every_asset_to_100_at_the_left_edge(panel, qtbot):
    hours = MON_2026_02_02 + np.arange(48) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, np.linspace(60000, 66000, 48)))
    feed(panel, "spx.1h", candles(hours, np.linspace(6000, 6030, 48)))
    panel.choose("mode", "compare")
    plot = panel._plots["btc"]
    plot.setXRange(hours[10] / 1e3, hours[40] / 1e3, padding=0)
    panel._on_compare_range()
    def drawn(stem):  # the curve's vertices as the view shows them (rebasing is a y scale)
        curve = panel._curves[stem]
        x, y = curve.getData()
        return x, y * curve.transform().m22()

    for stem in ("btc", "spx"):
        x, y = drawn(stem)
        i = int(np.searchsorted(x, hours[10] / 1e3))
        assert y[i] == pytest.approx(100.0)
    x_btc, y_btc = drawn("btc")
    closes = np.linspace(60000, 66000, 48)
    # the line runs to the view's right edge (interpolated there between rows 40 and 41)
    assert x_btc[-1] >= hours[40] / 1e3
    expected = np.interp(x_btc[-1], hours / 1e3, closes) / closes[10] * 100
    assert y_btc[-1] == pytest.approx(expected)


def test_compare_view_rebases_a_series_that_arrives_after_the_range_was_set(panel):
    # A panel opened in compare view (a workspace, a restart): the range is applied with the
    # first series; those after it must be rebased too, with no pan in between.
    hours = MON_2026_02_02 + np.arange(48) * MS_PER_HOUR
    panel.choose("mode", "compare")
    feed(panel, "btc.1h", candles(hours, np.linspace(60000, 66000, 48)))
    assert panel._range_applied
    spx = np.linspace(6000, 6030, 48)
    feed(panel, "spx.1h", candles(hours, spx))
    x0 = next(iter(panel._plots.values())).vb.viewRange()[0][0]
    base = spx[max(int(np.searchsorted(hours / 1e3, x0, side="right")) - 1, 0)]
    assert panel._curves["spx"].transform().m22() == pytest.approx(100.0 / base)
    assert panel._curves["spx"].transform().m22() != 1.0


def test_levels_are_drawn_shared_and_removable(panel, qtbot):
    """The gamma levels are lines of the overlay; the trader's levels are level drawings
    (their persistence: tests/ui/test_drawings.py), shown by every price panel of the book."""
    hours = MON_2026_02_02 + np.arange(24) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, np.full(24, 66800.0)))
    chain = SimpleNamespace(levels=lambda: [Level(73000.0, "gamma flip 73,000", GAMMA_FLIP)],
                            time_ms=int(hours[0]), convention="long calls, short puts")
    panel.ctx.feeds.publish("chain", chain, asset="btc")
    panel._on_add_level()  # at the last price, rounded to 1,000
    book = panel.ctx.drawings
    assert book.levels("btc") == [67000.0]
    lines = [i for _p, i in panel._overlay_items if isinstance(i, pg.InfiniteLine)]
    assert [line.value() for line in lines] == [73000.0]
    [item] = panel.drawing_layer.items.values()
    assert item.plot is panel._plots["btc"] and item.drawing.points[0][1] == 67000.0
    again = PricesPanel(panel.ctx)
    qtbot.addWidget(again)
    assert [i.drawing for i in again.drawing_layer.items.values()] == [item.drawing]
    book.delete(item.drawing.id)
    assert book.levels("btc") == [] and panel.drawing_layer.items == {}
    assert again.drawing_layer.items == {}
    again.shutdown()


def test_negative_funding_periods_are_shaded_from_the_funding_feed(panel, qtbot):
    """The shading comes from the funding analysis the window keeps for BTC, not from the
    funding dock (which this test never builds)."""
    hours = MON_2026_02_02 + np.arange(48) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, np.full(48, 60000.0)))
    # An hourly venue paying -10.95 % APR for the six hours [03:00, 09:00), +10.95 % otherwise.
    rate = np.where((np.arange(48) >= 3) & (np.arange(48) < 9), -0.0000125, 0.0000125)
    settle = hours + MS_PER_HOUR  # a settlement at t pays for the hour before it
    feed(panel, funding_id("hyperliquid", "btc"), SeriesData(settle, {
        "rate": rate, "interval_hours": np.ones(48), "apr_pct": rate * 24 * 365 * 100}))
    qtbot.waitUntil(lambda: any(isinstance(i, BandsItem) for _p, i in panel._overlay_items),
                    timeout=5000)
    shadings = [i for _p, i in panel._overlay_items if isinstance(i, BandsItem)]
    assert len(shadings) == len(set(panel._plots.values()))  # one item per plot, not per period
    rects = shadings[0].visibleRects()
    assert [(r.left(), r.right()) for r in rects] == [(hours[3] / 1e3, hours[9] / 1e3)]
    panel.shade_action.setChecked(False)
    assert not [i for _p, i in panel._overlay_items if isinstance(i, BandsItem)]


def test_crosshair_readout_names_the_utc_time_and_values(panel):
    hours = MON_2026_02_02 + np.arange(5) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, [100, 110, 120, 130, 140]))
    panel._on_crosshair(hours[2] / 1e3 + 600)
    text = panel.readout.text()
    assert "2026-02-02 02:00 UTC" in text
    assert "120" in text and "+9.09%" in text


def test_candles_style_draws_the_bars_ohlc_and_survives_a_restart(panel, settings):
    hours = MON_2026_02_02 + np.arange(30) * MS_PER_HOUR
    close = np.linspace(60000, 63000, 30)
    data = SeriesData(hours, {"open": close - 50, "high": close + 200, "low": close - 300,
                              "close": close, "volume": np.ones(30)})
    feed(panel, "btc.1h", data)
    panel.style_box.setCurrentText("candles")
    item = panel._curves["btc"]
    assert isinstance(item, CandlestickItem)
    assert item.bar_at(hours[5] / 1e3 + 60) == pytest.approx(
        (hours[5] / 1e3, close[5] - 50, close[5] + 200, close[5] - 300, close[5]))
    assert settings.value("prices/style") == "candles"
    panel.choose("mode", "compare")  # rebased candles of eight assets would overlap: lines there
    assert isinstance(panel._curves["btc"], LodCurveItem)


def test_live_bars_are_appended_to_the_pyramids_not_rebuilt(panel):
    hours = MON_2026_02_02 + np.arange(50) * MS_PER_HOUR
    close = np.linspace(60000, 65000, 50)
    feed(panel, "btc.1h", candles(hours[:40], close[:40]))
    before = panel._prepared["btc.1h"]
    line = before.line
    assert before.ohlc is None  # drawn as a line: no candle pyramid (models/price_view.py)
    # the forming bar moved, and ten new bars (with a gap of two hours) arrived
    moved = close.copy()
    moved[39] += 123.0
    later = np.concatenate([hours[:40], hours[40:45], hours[47:]])
    values = np.concatenate([moved[:40], moved[40:45], moved[47:]])
    feed(panel, "btc.1h", candles(later, values), tail_from=39)  # as a refresh reports it
    after = panel._prepared["btc.1h"]
    assert after.line is line and after.ohlc is None  # updated in place
    rebuilt = prepare_prices(panel.ctx.store.series("btc.1h"), MS_PER_HOUR)
    assert np.array_equal(line.x, rebuilt.line.x)
    assert np.array_equal(line.y, rebuilt.line.y, equal_nan=True)  # the gap breaks the line
    assert panel._curves["btc"].pyramid() is line
    # history scrolled back in (an earlier first bar): not an extension, so a rebuild
    feed(panel, "btc.1h", candles(np.concatenate([[hours[0] - MS_PER_HOUR], later]),
                                  np.concatenate([[59000.0], values])))
    assert panel._prepared["btc.1h"].line is not line


def test_compare_rebases_at_the_last_value_at_or_before_a_weekend_edge(panel):
    """The left edge on a Saturday: BTC is based on Saturday's close, the S&P 500 on Friday's
    (its last close before the edge), not on Monday's, its first bar after it."""
    days = MON_2026_02_02 + np.arange(14) * MS_PER_DAY  # Mon 2 Feb .. Sun 15 Feb
    btc = 60000 + 100 * np.arange(14.0)
    weekdays = [d for d in range(14) if d % 7 < 5]
    spx_days = days[weekdays] + 14 * MS_PER_HOUR + 30 * 60_000  # stamped at the 14:30 open
    spx = 6000 + 10 * np.arange(len(weekdays), dtype=float)
    panel.choose("interval", "1d")
    feed(panel, "btc.1d", candles(days, btc))
    feed(panel, "spx.1d", candles(spx_days, spx))
    panel.choose("mode", "compare")
    saturday = days[5] / 1e3 + 6 * 3600
    panel._plots["btc"].setXRange(saturday, days[12] / 1e3, padding=0)
    panel._on_compare_range()
    assert panel._rebase_factors["btc"] == pytest.approx(100 / btc[5])
    assert panel._rebase_factors["spx"] == pytest.approx(100 / spx[4])  # Friday 6 Feb
    # By hand: the S&P from Friday's 6040 to Wednesday's 6070 is +0.50 %; based on Monday's
    # 6050 (the first bar after the edge, the old rule) it read +0.33 %.
    wednesday = weekdays.index(9)
    assert spx[wednesday] * panel._rebase_factors["spx"] - 100 == pytest.approx(
        (6070 / 6040 - 1) * 100)


def test_daily_bars_are_read_at_their_trading_date(panel):
    """At 12:00 UTC on Friday 6 Feb the readout shows BTC's and the S&P 500's 6 Feb bars,
    though the S&P's was stamped at its 14:30 UTC open (after the crosshair)."""
    days = MON_2026_02_02 + np.arange(5) * MS_PER_DAY
    panel.choose("interval", "1d")
    feed(panel, "btc.1d", candles(days, [60000, 61000, 62000, 63000, 64000]))
    feed(panel, "spx.1d", candles(days + 14 * MS_PER_HOUR + 30 * 60_000,
                                  [6000, 6010, 6020, 6030, 6040]))
    panel._on_crosshair(days[4] / 1e3 + 12 * 3600)
    text = panel.readout.text()
    assert "2026-02-06 (trading date)" in text
    assert "64,000" in text and "6,040" in text
    assert list(panel._prepared["spx.1d"].t_raw) == list(days / 1e3)  # at 00:00 UTC of the date
