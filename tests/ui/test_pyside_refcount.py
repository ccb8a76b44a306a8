"""Regression guard for PySide6 6.12.0: every void QPainter call dropped a reference to None.

A pyqtgraph chart makes dozens of void QPainter calls (setPen, drawPath, …) per paint, so on the
broken release `sys.getrefcount(None)` falls by far more than one per paint until CPython aborts
with `Fatal Python error: none_dealloc` (pyproject.toml excludes 6.12.0 for this). Here a chart
with a LodCurveItem and a PlotDataItem is painted a few thousand times and None's reference count
must not fall by as much as the number of paints. It is checked every few paints so a broken
binding fails the test long before None's count could reach zero.
"""

from __future__ import annotations

import sys

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtGui

import ui  # noqa: F401  (pins the Qt binding; tests/conftest.py does too)
from models.lod import MinMaxPyramid
from ui.charts.lod_item import LodCurveItem

PAINTS = 2000
GRABS = 100  # full widget paints (GraphicsView.paintEvent); the rest render the scene directly


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="None is immortal from Python 3.12: its count cannot fall")
def test_painting_does_not_leak_references_to_none(qtbot) -> None:
    w = pg.PlotWidget(background="k")
    w.resize(320, 200)
    qtbot.addWidget(w)
    rng = np.random.default_rng(0)
    x = np.arange(20_000, dtype=np.float64)
    y = np.cumsum(rng.standard_normal(len(x)))
    w.addItem(LodCurveItem(MinMaxPyramid.build(x, y), pen=pg.mkPen("y"), name="lod"))
    w.addItem(pg.PlotDataItem(x[::50], y[::50] + 5, pen=pg.mkPen("c"), symbol="o",
                              symbolSize=4))
    w.show()
    qtbot.waitExposed(w)
    vb = w.getViewBox()
    img = QtGui.QImage(320, 200, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    scene = w.scene()
    for _ in range(5):  # warm caches (fonts, pixmaps, path caches) before the baseline
        w.grab()

    start = sys.getrefcount(None)
    for i in range(1, PAINTS + 1):
        if i <= GRABS:
            vb.setXRange(i * 10.0, i * 10.0 + 5000.0, padding=0)  # the item rebuilds its path
            w.grab()
        else:
            painter = QtGui.QPainter(img)
            scene.render(painter)
            painter.end()
        if i % 10 == 0:
            fall = start - sys.getrefcount(None)
            assert fall < i, f"None lost {fall} references in {i} paints: broken PySide6 binding"
    fall = start - sys.getrefcount(None)
    assert fall < PAINTS // 10, f"None lost {fall} references in {PAINTS} paints"
