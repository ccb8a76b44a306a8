"""A crosshair shared by a stack of x-linked plots: one vertical line per plot, one readout.

Mouse moves are rate-limited to 60 Hz (pyqtgraph `SignalProxy`) so a fast mouse never queues
more readout work than the screen can show. The window's time link (`ui/time_link.py`) shows
another dock's cursor here with `show_at`, which emits nothing (no feedback between docks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal

from ui import theme


class ScreenLine(pg.InfiniteLine):
    """pyqtgraph's infinite line whose bounds, when it is horizontal or vertical and sits in a
    view box, come from the view's range and size in a few arithmetic steps: pyqtgraph mapped
    the view's rect into the line and measured a pixel through the device transform on every
    range change (~5 % of a four-plot dock pan for the crosshair and level lines,
    docs/performance.md). Same rect as pyqtgraph's (tests/ui/test_chart_items.py)."""

    def _computeBoundingRect(self) -> QRectF:
        vb = self.getViewBox()
        angle = self.angle % 180
        if not isinstance(vb, pg.ViewBox) or angle not in (0, 90) \
                or self.parentItem() is not vb.childGroup or not self.transform().isIdentity():
            return super()._computeBoundingRect()
        width, height = vb.width(), vb.height()
        if not (width > 0 and height > 0):
            return super()._computeBoundingRect()
        (x0, x1), (y0, y1) = vb.viewRange()
        pos = self.pos()
        if angle == 0:  # local x = view x - pos.x; local y = view y - pos.y
            a, b = x0 - pos.x(), x1 - pos.x()
            c, d = y0 - pos.y(), y1 - pos.y()
            px = (y1 - y0) / height
        else:  # rotated by 90 degrees: local x = view y - pos.y; local y = pos.x - view x
            a, b = y0 - pos.y(), y1 - pos.y()
            c, d = pos.x() - x1, pos.x() - x0
            px = (x1 - x0) / width
        pw = max(self.pen.width() / 2, self.hoverPen.width() / 2)
        w = (self._maxMarkerSize + pw + 1) * px
        length = b - a
        left, right = a + length * self.span[0], a + length * self.span[1]
        br = QRectF(left, -w, right - left, 2 * w).normalized()
        size = vb.size()
        if self._bounds != br or self._lastViewSize != size:
            self._bounds = br
            self._lastViewSize = size
            self.prepareGeometryChange()
        self._endPoints = (left, right)
        self._lastViewRect = QRectF(a, c, b - a, d - c)
        return self._bounds


class Crosshair(QObject):
    """Emits `moved(x)` (x in data coordinates) or `left()` when the mouse leaves the plots."""

    moved = Signal(float)
    left = Signal()
    #: a double-click on one of the plots (the window resets its view: ui/shortcuts.py)
    doubleClicked = Signal(object)

    def __init__(self, scene: pg.GraphicsScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._plots: list[pg.PlotItem] = []
        self._vlines: list[pg.InfiniteLine] = []
        self._hline = ScreenLine(angle=0, movable=False,
                                      pen=theme.pen(theme.MUTED, style=Qt.PenStyle.DashLine))
        self._hline_plot: pg.PlotItem | None = None
        self._shown = False
        self.enabled = True
        self._proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60, slot=self._on_mouse)
        # Leaving the chart for a button or another dock hides the cursor (no scene move says so).
        for view in scene.views():
            view.viewport().installEventFilter(self)

    @property
    def plots(self) -> list[pg.PlotItem]:
        return list(self._plots)

    @property
    def plot_under_mouse(self) -> pg.PlotItem | None:
        """The plot the mouse is over (this chart's own cursor), else None."""
        return self._hline_plot if self._shown else None

    @property
    def x(self) -> float | None:
        """Where the vertical lines stand, or None when they are hidden."""
        if not self._vlines or not self._vlines[0].isVisible():
            return None
        return float(self._vlines[0].value())

    def set_enabled(self, on: bool) -> None:
        """Off: the mouse draws no cursor here (the crosshair toggle)."""
        self.enabled = on
        if not on:
            self._hide()

    def show_at(self, x: float) -> None:
        """Another dock's cursor: the vertical lines at `x`, no horizontal line, no signal."""
        if not self.enabled:
            return
        for line in self._vlines:
            line.setPos(x)
            line.setVisible(True)
        self._hline.setVisible(False)
        self._shown = False  # not this chart's own cursor: leaving it is not ours to report

    def hide_lines(self) -> None:
        """Another dock's cursor left: hide the lines, emit nothing."""
        for line in self._vlines:
            line.setVisible(False)
        self._hline.setVisible(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and self._shown:
            self._hide()
        elif event.type() == QEvent.Type.MouseButtonDblClick:
            view = watched.parent()
            pos = view.mapToScene(event.position().toPoint())
            for plot in self._plots:
                if plot.vb.sceneBoundingRect().contains(pos):
                    self.doubleClicked.emit(plot)
                    break
        return False

    def set_plots(self, plots: Sequence[pg.PlotItem]) -> None:
        for plot, line in zip(self._plots, self._vlines, strict=False):
            plot.removeItem(line)
        if self._hline_plot is not None:
            self._hline_plot.removeItem(self._hline)
            self._hline_plot = None
        self._plots = list(plots)
        # The lines are reused: a dock that clears and redraws its plots calls this with every
        # result, and a new InfiniteLine keeps references to None under PySide 6.11.
        spare, self._vlines = self._vlines, []
        for plot in self._plots:
            line = spare.pop(0) if spare else ScreenLine(
                angle=90, movable=False, pen=theme.pen(theme.MUTED, style=Qt.PenStyle.DashLine))
            line.setVisible(False)
            line.setZValue(50)
            plot.addItem(line, ignoreBounds=True)
            self._vlines.append(line)

    def _on_mouse(self, event: tuple[QPointF]) -> None:
        if not self.enabled:
            return
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
        self._shown = True
        self.moved.emit(x)

    def _hide(self) -> None:
        self.hide_lines()
        if self._shown:  # once per leave, not with every move over an axis
            self._shown = False
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
