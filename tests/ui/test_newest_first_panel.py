"""A long series on the price chart: its newest rows are drawn at once, all of them once a worker
has prepared them (models/newest_first.py, docs/performance.md)."""

from __future__ import annotations

import numpy as np

from models.ids import price_id
from models.newest_first import NEWEST_FIRST_ROWS, NEWEST_MAX_ROWS
from models.series import SeriesData
from tests.ui.prices_helpers import shown_prices_panel

HOUR = 3_600_000


def _hours(n: int, last_close: float = 100.0) -> SeriesData:
    t = 1_770_000_000_000 - HOUR * np.arange(n - 1, -1, -1, dtype=np.int64)
    close = np.linspace(50.0, last_close, n)
    return SeriesData(t, {"open": close, "high": close + 1, "low": close - 1, "close": close,
                          "volume": np.ones(n)})


def test_a_long_series_shows_its_newest_rows_first_then_all(qtbot, settings) -> None:
    panel = shown_prices_panel(qtbot, settings, 900, 600)
    sid = price_id("btc", panel.interval)
    n = NEWEST_FIRST_ROWS + 50_000
    data = _hours(n)
    panel.ctx.store.set_series(sid, data)
    shown = panel._prepared[sid]  # synchronously, before any worker result
    assert NEWEST_MAX_ROWS >= len(shown.t_raw) < n
    assert shown.t_raw[-1] == data.time[-1] / 1e3
    assert panel._curves["btc"].pyramid() is shown.line
    qtbot.waitUntil(lambda: len(panel._prepared[sid].t_raw) == n, timeout=30_000)
    assert panel._prepared[sid].source is data and not panel._newest_first
    assert panel._curves["btc"].pyramid() is panel._prepared[sid].line
    # newer data while the newest rows are shown: they are replaced, the old job's result dropped
    panel.ctx.store.set_series(sid, _hours(n, last_close=200.0))
    newer = panel.ctx.store.series(sid)
    assert panel._newest_first == {sid: newer}
    assert panel._prepared[sid].close_raw[-1] == 200.0
    qtbot.waitUntil(lambda: panel._prepared[sid].source is newer, timeout=30_000)
    assert len(panel._prepared[sid].t_raw) == n
    panel.shutdown()
