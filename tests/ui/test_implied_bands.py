"""The price dock's implied-move bands (docs/implied-move.md): the toggle persists, the bands
drawn are the DVOL known at the last bar's end around its close, the y range holds them, the
convention is on the chart."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from tests.ui.prices_helpers import candles, shown_prices_panel

JAN_01_2026 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
HOURS = 24 * 10


def dvol(times, values) -> SeriesData:
    values = np.asarray(values, dtype=float)
    return SeriesData(np.asarray(times, dtype=np.int64),
                      {"open": values, "high": values, "low": values, "close": values})


@pytest.fixture
def panel(qtbot, settings):
    settings.setValue("prices/implied", True)
    p = shown_prices_panel(qtbot, settings, 1000, 700)
    yield p
    p.shutdown()


def _feed(panel, last_iv: float = 73.0) -> None:
    hours = JAN_01_2026 + np.arange(HOURS) * MS_PER_HOUR
    close = np.full(HOURS, 50_000.0)
    close[-1] = 60_000.0
    iv = np.full(HOURS, 36.5)
    iv[-1] = last_iv  # the 23:00 bar of the last day: known when the last price bar ends
    panel.ctx.store.set_series("btc.1h", candles(hours, close))
    # a print stamped at the last bar's end is known an hour later: not used
    panel.ctx.store.set_series("dvol.btc", dvol(np.append(hours, hours[-1] + MS_PER_HOUR),
                                                np.append(iv, 400.0)))


def test_bands_ahead_of_the_last_bar_and_the_convention_on_the_chart(panel, qtbot):
    _feed(panel)
    item = panel.implied.items["btc"]
    qtbot.waitUntil(lambda: item.view is not None and bool(item.view.forward), timeout=5000)
    day, week = item.view.forward
    end_ms = JAN_01_2026 + HOURS * MS_PER_HOUR
    assert day.start_ms == end_ms and week.end_ms == end_ms + 7 * MS_PER_DAY
    # 0.73 / √365 = 0.0382099; 0.73 · √(7/365) = 0.1010940
    assert (day.centre, day.iv) == (60_000.0, 73.0)
    assert day.edges(1) == pytest.approx((57_707.40, 62_292.60), abs=0.01)
    assert week.edges(2) == pytest.approx((47_868.72, 72_131.28), abs=0.01)
    assert "DVOL 73.0" in item.text and "close·(1 ± kσ)" in item.text
    assert "day ±3.82 %" in item.text and "week ±10.11 %" in item.text
    # the day bands of the past days: the close and the IV known at each midnight
    assert list(item.view.daily.centre) == [50_000.0] * 9
    # the view makes room for the week ahead, and the y range holds its ±2σ lines
    plot = panel._plots["btc"]
    x1 = plot.vb.viewRange()[0][1]
    assert x1 >= week.end_ms / 1e3
    qtbot.waitUntil(lambda: plot.vb.viewRange()[1][0] <= 47_868.72, timeout=3000)
    assert plot.vb.viewRange()[1][1] >= 72_131.28
    panel.grab()  # paints the bands and the labels


def test_the_toggle_persists_and_compare_or_log_follow(panel, qtbot, settings):
    _feed(panel)
    assert set(panel.implied.items) == {"btc"}  # the S&P 500, Nasdaq and gold have no DVOL
    panel.log_box.setChecked(True)
    item = panel.implied.items["btc"]
    qtbot.waitUntil(lambda: item.view is not None, timeout=5000)
    lo, hi = item.dataBounds(1, orthoRange=(0, math.inf))
    assert (10 ** lo, 10 ** hi) == pytest.approx(item.view.forward[1].edges(2))
    panel.grab()
    panel.implied_action.setChecked(False)
    assert settings.value("prices/implied") in (False, "false")
    assert panel.implied.items == {}
    assert not [i for _p, i in panel._overlay_items if type(i).__name__ == "ImpliedBandsItem"]
    panel.implied_action.setChecked(True)
    panel.choose("mode", "compare")  # rebased lines: no price bands
    assert panel.implied.items == {}


def test_the_zoomed_out_outline_holds_every_days_band(qapp):
    """Below 3 px a day the past bands are one outline of groups of days: each step spans its
    group's days, from the lowest −1σ to the highest +1σ among them."""
    from models.implied_move import DailyBands, ImpliedView
    from ui.charts.implied_bands import ImpliedBandsItem

    starts = JAN_01_2026 + np.arange(5) * MS_PER_DAY
    centre = np.array([100.0, 200.0, 150.0, 120.0, 180.0])
    sigma = np.full(5, 0.1)
    item = ImpliedBandsItem()
    item.set_view(ImpliedView([], DailyBands(starts, centre, np.full(5, 50.0), sigma), []))
    points = [(p.x(), p.y()) for p in item._outline_for(2)]
    day = 86400.0
    t0 = JAN_01_2026 / 1e3
    # groups: days 0-1, 2-3, 4; upper edges left to right, then lower edges right to left
    np.testing.assert_allclose(points, [
        (t0, 220.0), (t0 + 2 * day, 220.0), (t0 + 2 * day, 165.0), (t0 + 4 * day, 165.0),
        (t0 + 4 * day, 198.0), (t0 + 5 * day, 198.0),
        (t0 + 5 * day, 162.0), (t0 + 4 * day, 162.0), (t0 + 4 * day, 108.0),
        (t0 + 2 * day, 108.0), (t0 + 2 * day, 90.0), (t0, 90.0)], rtol=1e-12)
