"""The price dock builds a series' candle pyramid only while it draws candles: a line chart of
BTC's 4.9M minutes then holds two columns of its own, not seven (models/price_view.py,
docs/performance.md, issue 16)."""

from __future__ import annotations

import numpy as np

from models.ids import price_id
from models.price_view import PREPARE_ON_WORKER
from models.series import SeriesData
from tests.ui.prices_helpers import shown_prices_panel
from ui.charts.candles import CandlestickItem

HOUR = 3_600_000


def _hours(n: int) -> SeriesData:
    t = 1_770_000_000_000 - HOUR * np.arange(n - 1, -1, -1, dtype=np.int64)
    close = 100.0 + np.sin(np.arange(n) / 30.0)
    return SeriesData(t, {"open": close - 0.5, "high": close + 1, "low": close - 1,
                          "close": close, "volume": np.ones(n)})


def test_candles_of_a_long_series_are_built_on_a_worker_when_first_drawn(qtbot, settings):
    panel = shown_prices_panel(qtbot, settings, 900, 600)
    sid = price_id("btc", panel.interval)
    n = PREPARE_ON_WORKER + 20_000  # prepared on a worker
    data = _hours(n)
    panel.ctx.store.set_series(sid, data)
    qtbot.waitUntil(lambda: sid in panel._prepared, timeout=30_000)
    line = panel._prepared[sid].line
    assert panel._prepared[sid].ohlc is None  # drawn as a line
    panel.style_box.setCurrentText("candles")
    item = panel._curves["btc"]
    assert isinstance(item, CandlestickItem)
    assert panel._prepared[sid].ohlc is None  # not on the GUI thread: a worker's result comes
    qtbot.waitUntil(lambda: panel._prepared[sid].ohlc is not None, timeout=30_000)
    prepared = panel._prepared[sid]
    assert prepared.line is line and prepared.source is data
    assert item.pyramid() is prepared.ohlc
    i = n - 7
    assert item.bar_at(data.time[i] / 1e3 + 60) == (
        data.time[i] / 1e3, *(float(data[c][i]) for c in ("open", "high", "low", "close")))
    # drawn as a line again: the candles are dropped, and newer data is prepared without them
    panel.style_box.setCurrentText("line")
    assert panel._prepared[sid].ohlc is None and panel._prepared[sid].line is line
    assert np.array_equal(panel._prepared[sid].t_raw, data.time / 1e3)
    panel.ctx.store.set_series(sid, _hours(n + 5))
    newer = panel.ctx.store.series(sid)
    qtbot.waitUntil(lambda: panel._prepared[sid].source is newer, timeout=30_000)
    assert panel._prepared[sid].ohlc is None
    assert panel._curves["btc"].pyramid() is panel._prepared[sid].line
    panel.shutdown()
