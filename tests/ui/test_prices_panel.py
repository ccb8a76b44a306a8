"""The cross-asset price panel fed through the data store (no network involved)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from models.levels import GAMMA_FLIP, Level
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from ui.panels.base import UiContext
from ui.panels.prices import BTC_LEVELS_KEY, FUNDING_NEGATIVE_KEY, PricesPanel
from ui.scheduler import Scheduler
from ui.store import DataStore

MON_2026_02_02 = 1_769_990_400_000  # 2026-02-02 00:00 UTC, a Monday


def candles(times, close):
    close = np.asarray(close, dtype=float)
    return SeriesData(np.asarray(times, dtype=np.int64),
                      {"open": close, "high": close, "low": close, "close": close,
                       "volume": np.ones(len(close))})


@pytest.fixture
def panel(qtbot, settings):
    store = DataStore()
    scheduler = Scheduler()
    ctx = UiContext(store, scheduler, settings)
    p = PricesPanel(ctx)
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    yield p
    p.shutdown()


def feed(panel, series_id, data):
    panel.ctx.store.set_series(series_id, data)


def test_weekend_gap_breaks_the_daily_line(panel):
    days = [MON_2026_02_02 + d * MS_PER_DAY for d in (0, 1, 2, 3, 4, 7, 8)]  # Mon..Fri, Mon, Tue
    panel._on_interval("1d")
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
    panel._on_mode("compare")
    plot = panel._plots["btc"]
    plot.setXRange(hours[10] / 1e3, hours[40] / 1e3, padding=0)
    panel._on_compare_range()
    for stem in ("btc", "spx"):
        x, y = panel._curves[stem].getData()
        i = int(np.searchsorted(x, hours[10] / 1e3))
        assert y[i] == pytest.approx(100.0)
    _x, y_btc = panel._curves["btc"].getData()
    assert y_btc[-1] == pytest.approx(66000 / np.linspace(60000, 66000, 48)[10] * 100)


def test_levels_are_drawn_persisted_and_removable(panel, settings, qtbot):
    hours = MON_2026_02_02 + np.arange(24) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, np.full(24, 66800.0)))
    panel.ctx.store.set_derived(BTC_LEVELS_KEY, [Level(73000.0, "gamma flip 73,000", GAMMA_FLIP)])
    panel._on_add_level()  # at the last price, rounded to 1,000
    assert panel.user_levels == [67000.0]
    lines = [i for _p, i in panel._overlay_items if isinstance(i, pg.InfiniteLine)]
    assert sorted(line.value() for line in lines) == [67000.0, 73000.0]
    assert settings.value("levels/btc") == ["67000.00"]
    again = PricesPanel(panel.ctx)
    qtbot.addWidget(again)
    assert again.user_levels == [67000.0]
    panel.remove_level(67000.0)
    assert panel.user_levels == []
    again.shutdown()


def test_negative_funding_periods_are_shaded(panel):
    hours = MON_2026_02_02 + np.arange(48) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, np.full(48, 60000.0)))
    panel.ctx.store.set_derived(FUNDING_NEGATIVE_KEY, [(int(hours[3]), int(hours[9]))])
    regions = [i for _p, i in panel._overlay_items if isinstance(i, pg.LinearRegionItem)]
    assert len(regions) == len(set(panel._plots.values()))
    assert regions[0].getRegion() == (hours[3] / 1e3, hours[9] / 1e3)
    panel.shade_action.setChecked(False)
    assert not [i for _p, i in panel._overlay_items if isinstance(i, pg.LinearRegionItem)]


def test_crosshair_readout_names_the_utc_time_and_values(panel):
    hours = MON_2026_02_02 + np.arange(5) * MS_PER_HOUR
    feed(panel, "btc.1h", candles(hours, [100, 110, 120, 130, 140]))
    panel._on_crosshair(hours[2] / 1e3 + 600)
    text = panel.readout.text()
    assert "2026-02-02 02:00 UTC" in text
    assert "120" in text and "+9.09%" in text
