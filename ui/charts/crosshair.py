"""A crosshair shared by a stack of x-linked plots: one vertical line per plot, one readout.

Mouse moves are rate-limited to 60 Hz (pyqtgraph `SignalProxy`) so a fast mouse never queues
more readout work than the screen can show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt, Signal

from ui import theme


class Crosshair(QObject):
    """Emits `moved(x)` (x in data coordinates) or `left()` when the mouse leaves the plots."""

    moved = Signal(float)
    left = Signal()

    def __init__(self, scene: pg.GraphicsScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._plots: list[pg.PlotItem] = []
        self._vlines: list[pg.InfiniteLine] = []
        self._hline = pg.InfiniteLine(angle=0, movable=False,
                                      pen=theme.pen(theme.MUTED, style=Qt.PenStyle.DashLine))
        self._hline_plot: pg.PlotItem | None = None
        self._proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60, slot=self._on_mouse)

    def set_plots(self, plots: Sequence[pg.PlotItem]) -> None:
        for plot, line in zip(self._plots, self._vlines, strict=False):
            plot.removeItem(line)
        if self._hline_plot is not None:
            self._hline_plot.removeItem(self._hline)
            self._hline_plot = None
        self._plots = list(plots)
        self._vlines = []
        for plot in self._plots:
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=theme.pen(theme.MUTED, style=Qt.PenStyle.DashLine))
            line.setVisible(False)
            line.setZValue(50)
            plot.addItem(line, ignoreBounds=True)
            self._vlines.append(line)

    def _on_mouse(self, event: tuple[QPointF]) -> None:
        pos = event[0]
        for plot in self._plots:
            if plot.sceneBoundingRect().contains(pos) and plot.vb.sceneBoundingRect().contains(pos):
                point = plot.vb.mapSceneToView(pos)
                self._show(point.x(), point.y(), plot)
                return
        self._hide()

    def _show(self, x: float, y: float, plot: pg.PlotItem) -> None:
        for line in self._vlines:
            line.setPos(x)
            line.setVisible(True)
        if self._hline_plot is not plot:
            if self._hline_plot is not None:
                self._hline_plot.removeItem(self._hline)
            plot.addItem(self._hline, ignoreBounds=True)
            self._hline_plot = plot
        self._hline.setPos(y)
        self._hline.setVisible(True)
        self.moved.emit(x)

    def _hide(self) -> None:
        for line in self._vlines:
            line.setVisible(False)
        self._hline.setVisible(False)
        self.left.emit()


def format_price(value: float) -> str:
    if value != value:  # NaN
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.2f}"
    return f"{value:.4g}"


Formatter = Callable[[float], str]
