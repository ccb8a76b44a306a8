"""The price chart's overlays follow the view: a new interval, style, log scale or mode moves
them at once (issue #13, item 3)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from models.series import MS_PER_DAY, MS_PER_HOUR
from tests.ui.prices_helpers import candles, shown_prices_panel

JAN_01_2026 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
DAYS = 40
SESSION_CLOSE_MS = 21 * MS_PER_HOUR  # 16:00 New York in winter


@pytest.fixture
def panel(qtbot, settings):
    p = shown_prices_panel(qtbot, settings, 1000, 700)
    yield p
    p.shutdown()


def marks(panel):
    import pyqtgraph as pg
    found = [i for _p, i in panel._overlay_items if isinstance(i, pg.ScatterPlotItem)]
    if not found:
        return [], []
    x, y = found[0].getData()
    return list(x), list(y)


def test_decoupling_marks_sit_on_the_shown_intervals_close(panel):
    """Daily closes 30,000 + 1,000·d; hourly bars only for the last three days, far above
    (100,000 + h). A flagged session on day 5 has no hourly bar: on 1h it is not drawn (it was
    drawn at the first hourly close); on 1d it sits on day 5's close, 35,000, at once."""
    days = JAN_01_2026 + np.arange(DAYS) * MS_PER_DAY
    daily_close = 30_000.0 + 1_000.0 * np.arange(DAYS)
    hours = days[-3] + np.arange(72) * MS_PER_HOUR
    hourly_close = 100_000.0 + np.arange(72)
    panel.ctx.store.set_series("btc.1d", candles(days, daily_close))
    panel.ctx.store.set_series("btc.1h", candles(hours, hourly_close))
    flagged = (5, DAYS - 2)  # day 5, and the day before the last
    sessions = tuple(int(days[d] + SESSION_CLOSE_MS) for d in flagged)
    panel.ctx.feeds.publish("rotation", SimpleNamespace(decoupling_ms=sessions))
    assert panel.interval == "1h"
    # On 1h: only the session with hourly bars, at the close of the 20:00 bar (it ends 21:00):
    # hour 24 + 20 of the three hourly days.
    assert marks(panel) == ([sessions[1] / 1e3], [100_000.0 + 44])

    panel.choose("interval", "1d")
    x, y = marks(panel)
    assert x == [s / 1e3 for s in sessions]
    assert y == [35_000.0, 30_000.0 + 1_000.0 * (DAYS - 2)]

    panel.log_box.setChecked(True)
    assert marks(panel)[1] == pytest.approx([np.log10(35_000.0),
                                             np.log10(30_000.0 + 1_000.0 * (DAYS - 2))])
    panel.style_box.setCurrentText("candles")
    assert marks(panel)[1] == pytest.approx([np.log10(35_000.0),
                                             np.log10(30_000.0 + 1_000.0 * (DAYS - 2))])


def test_decoupling_marks_move_when_the_shown_series_arrives_after_the_switch(panel):
    """The new interval's bars may come later (read from the cache, prepared on a worker):
    the marks move onto them when they arrive, not at the next toggle."""
    days = JAN_01_2026 + np.arange(DAYS) * MS_PER_DAY
    hours = days[-3] + np.arange(72) * MS_PER_HOUR
    panel.ctx.store.set_series("btc.1h", candles(hours, 100_000.0 + np.arange(72)))
    session = int(days[DAYS - 2] + SESSION_CLOSE_MS)
    panel.ctx.feeds.publish("rotation", SimpleNamespace(decoupling_ms=(session,)))
    panel.choose("interval", "1d")
    assert marks(panel) == ([], [])  # no daily bars yet: no marks, not the hourly ones
    panel.ctx.store.set_series("btc.1d", candles(days, 30_000.0 + 1_000.0 * np.arange(DAYS)))
    assert marks(panel) == ([session / 1e3], [30_000.0 + 1_000.0 * (DAYS - 2)])
