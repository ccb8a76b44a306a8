"""The price dock's crosshair readout: a new text repaints the readout, it does not lay the
dock out again (ui/readout_bar.py, docs/performance.md, issue 16); it still wraps rather than
cuts when its text needs another line."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

from models.series import MS_PER_HOUR
from tests.ui.prices_helpers import candles, shown_prices_panel
from ui.charts.crosshair import format_price


class _LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_new_readout_text_does_not_lay_the_dock_out_again(qtbot, settings):
    panel = shown_prices_panel(qtbot, settings, 900, 600)
    hours = 1_769_990_400_000 + np.arange(200) * MS_PER_HOUR
    for stem in panel.visible:
        panel.ctx.store.set_series(panel._series_id(stem),
                                   candles(hours, 60_000 + 7.0 * np.arange(200)))
    qtbot.waitUntil(lambda: all(panel._series_id(s) in panel._prepared for s in panel.visible))
    panel._on_crosshair(hours[19] / 1e3 + 60)  # the cursor's first text
    requests = _LayoutRequests()
    panel.installEventFilter(requests)
    for _ in range(40):  # what the data's arrival left pending settles first (slow under load)
        requests.count = 0
        qtbot.wait(50)
        if requests.count == 0:
            break
    requests.count = 0
    texts = set()
    for i in range(20, 40):
        panel._on_crosshair(hours[i] / 1e3 + 60)
        QApplication.processEvents()
        texts.add(panel.readout.text())
    assert len(texts) == 20  # every move showed a new text ...
    assert requests.count == 0  # ... and none asked the dock's layout again
    panel.removeEventFilter(requests)
    label = panel._labels["btc"]  # the plot's corner label follows the cursor too
    assert label.text.endswith(format_price(60_000 + 7.0 * 39))
    narrow = label.itemRect().width()
    assert label.minimumWidth() == narrow
    label.setText("BTC 1,234,567,890.00", color="#ffffff")  # a longer text: its size follows
    assert label.minimumWidth() == label.itemRect().width() > narrow
    # a text needing more lines grows the readout (one relayout), and it shows all of it
    one_line = panel.readout.height()
    panel.resize(300, 600)
    qtbot.waitUntil(lambda: panel.readout.width() <= 300)
    panel._on_crosshair(hours[50] / 1e3 + 60)
    qtbot.waitUntil(lambda: panel.readout.height() > one_line)
    assert panel.readout.height() == panel.readout.heightForWidth(panel.readout.width())
    assert panel._readout_bar.height() == panel.readout.height()
    panel.shutdown()
