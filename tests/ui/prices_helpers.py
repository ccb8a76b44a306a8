"""What the price-chart tests share: flat candles and a bare price panel (no window)."""

from __future__ import annotations

import numpy as np

from models.series import SeriesData
from ui.derived_feeds import DerivedFeeds
from ui.panels.base import UiContext
from ui.panels.prices import PricesPanel
from ui.scheduler import Scheduler
from ui.store import DataStore


def candles(times, close) -> SeriesData:
    """Bars whose open, high, low and close are all `close`."""
    close = np.asarray(close, dtype=float)
    return SeriesData(np.asarray(times, dtype=np.int64),
                      {"open": close, "high": close, "low": close, "close": close,
                       "volume": np.ones(len(close))})


def shown_prices_panel(qtbot, settings, width: int, height: int) -> PricesPanel:
    """A price panel on its own store and feeds, shown at width × height, showing the cash
    indices unless the settings say otherwise (a first start at 1h would show their futures:
    models/assets.py, assets_for_interval)."""
    from models.dock_choices import DEFAULT_PRICE_ASSETS

    if not settings.contains("prices/assets"):
        settings.setValue("prices/assets", list(DEFAULT_PRICE_ASSETS))
    store = DataStore()
    scheduler = Scheduler()
    ctx = UiContext(store, scheduler, settings, DerivedFeeds(store, scheduler, settings,
                                                             held=False))
    panel = PricesPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    return panel
