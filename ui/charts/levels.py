"""Labels of horizontal price levels that never print over each other.

The gamma flip often sits a strike or two from a wall or a round-number level: two labels a few
pixels apart are unreadable. Levels closer on screen than a label's height share one label
("call wall 75,000 · gamma flip 72,541"), written at the top line of the group, so it sits above
all of them. Regrouped whenever the view's y range or height changes.

`LevelLine` draws its label as a plain Qt text item that ignores the view's scaling and is moved
by one `setPos` when the x range changes: pyqtgraph's line label re-measured the line's ends,
its anchor and its transform on every pan (~6 % of a four-plot dock pan, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets
from PySide6.QtCore import QObject

from ui.charts.crosshair import ScreenLine

LABEL_HEIGHT_PX = 16.0  # one line of the 9-10 pt label font, with its padding
SEPARATOR = " · "
_MARGIN_PX = 4.0  # between a label and its line (what pyqtgraph's text item left)


def group_close(positions_px: Sequence[float], min_gap_px: float) -> list[list[int]]:
    """Indices of `positions_px` in groups, top (smallest y) first: a level joins the group
    above it when it is less than `min_gap_px` below that group's lowest level."""
    order = sorted(range(len(positions_px)), key=lambda i: positions_px[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and positions_px[i] - positions_px[groups[-1][-1]] < min_gap_px:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def merged_labels(labels: Sequence[str], positions_px: Sequence[float],
                  min_gap_px: float = LABEL_HEIGHT_PX) -> list[str]:
    """Each level's label text: a group's top level carries every label of the group, top
    first; the others carry none ("")."""
    out = [""] * len(labels)
    for group in group_close(positions_px, min_gap_px):
        out[group[0]] = SEPARATOR.join(labels[i] for i in group)
    return out


class _PinnedLabel(QtWidgets.QGraphicsSimpleTextItem):
    """A level line's label: upright at a fixed fraction of the view's width, its bottom on the
    line, anchored at its left ("left") or right ("right") end."""

    def __init__(self, line: pg.InfiniteLine, text: str, color: Any, side: str,
                 position: float) -> None:
        super().__init__(text, line)
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setBrush(pg.mkBrush(color))
        self._side = side
        self.position = position
        self._anchor()

    def _anchor(self) -> None:
        rect = self.boundingRect()
        dx = -rect.width() - _MARGIN_PX if self._side == "right" else _MARGIN_PX
        self.setTransform(QtGui.QTransform.fromTranslate(dx, -rect.height() - _MARGIN_PX))

    def setText(self, text: str) -> None:
        super().setText(text)
        self._anchor()

    def toPlainText(self) -> str:
        return self.text()


class LevelLine(ScreenLine):
    """A horizontal price level with its label at `position` (0..1) of the view's width."""

    def __init__(self, pos: float, text: str, color: Any, side: str = "left",
                 position: float = 0.02, **kwargs: Any) -> None:
        super().__init__(pos=pos, angle=0, **kwargs)
        self.label = _PinnedLabel(self, text, color, side, position)

    def viewRangeChanged(self) -> None:
        super().viewRangeChanged()
        self.place_label()

    def place_label(self) -> None:
        """Put the label at its fraction of the view's x range (on the line's y)."""
        vb = self.getViewBox()
        if not isinstance(vb, pg.ViewBox):  # not in a view yet (the scene's widget then)
            return
        (x0, x1), _ = vb.viewRange()
        self.label.setPos(x0 + self.label.position * (x1 - x0) - self.pos().x(), 0.0)


class LevelLabels(QObject):
    """Keeps the labels of one plot's level lines merged as the view moves.

    `show(plot, [(line, text, side), …])` takes the lines just added; lines labelled on
    different sides ("left", "right") are grouped separately: they cannot collide.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._plot: pg.PlotItem | None = None
        self._lines: list[tuple[pg.InfiniteLine, str, str]] = []

    def show(self, plot: pg.PlotItem | None,
             lines: Sequence[tuple[pg.InfiniteLine, str, str]]) -> None:
        if plot is not self._plot:
            if self._plot is not None:
                self._disconnect(self._plot)
            if plot is not None:
                plot.vb.sigYRangeChanged.connect(self.relabel)
                plot.vb.sigResized.connect(self.relabel)
            self._plot = plot
        self._lines = list(lines)
        self.relabel()

    def _disconnect(self, plot: pg.PlotItem) -> None:
        for signal in (plot.vb.sigYRangeChanged, plot.vb.sigResized):
            try:
                signal.disconnect(self.relabel)
            except (RuntimeError, TypeError):  # the plot is already gone
                pass

    def pixel_rows(self) -> list[float]:
        """Each line's y in the view's pixels (0 at the top)."""
        plot = self._plot
        if plot is None:
            return []
        y0, y1 = plot.vb.viewRange()[1]
        height = plot.vb.height() or 1.0
        span = (y1 - y0) or 1.0
        return [(y1 - float(line.value())) / span * height for line, _t, _s in self._lines]

    def relabel(self, *_args: object) -> None:
        for line, _t, _s in self._lines:
            if isinstance(line, LevelLine):
                line.place_label()
        rows = self.pixel_rows()
        for side in {side for _l, _t, side in self._lines}:
            picked = [i for i, (_l, _t, s) in enumerate(self._lines) if s == side]
            texts = merged_labels([self._lines[i][1] for i in picked], [rows[i] for i in picked])
            for i, text in zip(picked, texts, strict=True):
                label = self._lines[i][0].label
                if label is None:
                    continue
                if isinstance(label, _PinnedLabel):
                    if label.text() != text:
                        label.setText(text)
                    continue
                escaped = text.replace("{", "{{").replace("}", "}}")  # a format string
                if label.format != escaped:
                    label.setFormat(escaped)

    def texts(self) -> list[str]:
        """What each line's label reads now (tests, screenshots)."""
        return [line.label.toPlainText() if line.label is not None else ""
                for line, _t, _s in self._lines]
