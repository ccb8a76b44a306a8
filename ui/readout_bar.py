"""A line of changing rich text that does not lay its window out again on each change.

A QLabel in a layout asks the layout again on every `setText` (QWidget.updateGeometry): in the
price dock that re-arranged the controls' flow layouts and the chart's geometry on every
crosshair move, ~10 ms of CPU a move (docs/performance.md, issue 16). Here the label sits in a
holder no layout watches; the holder's own height changes, and so asks its layout, only when
the text needs another number of lines (it wraps rather than cuts).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ReadoutBar(QWidget):
    """Holds `label` at its full width and the height its text needs at that width."""

    def __init__(self, label: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        label.setParent(self)  # placed by hand (resizeEvent): no layout watches it
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(0)
        self.setFixedHeight(label.sizeHint().height())

    def set_text(self, text: str) -> None:
        if text == self.label.text():
            return
        self.label.setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = self.width()
        if width <= 0:
            return
        height = self.label.heightForWidth(width)  # a wrapped label's (~1 ms of text layout)
        if height != self.height():
            self.setFixedHeight(height)  # another number of lines: the one relayout
        self.label.setGeometry(0, 0, width, height)


class PlotLabel(pg.LabelItem):
    """A plot's corner label (its asset and the price under the cursor). pyqtgraph's `setText`
    asks for the label's geometry again (minimum size, three updateGeometry calls: ~0.7 ms) on
    every text; a price with as many digits keeps the size, and then only the text is set."""

    _quiet = False

    def setText(self, text: str, **args) -> None:
        size = self.itemRect().size() if hasattr(self, "item") else None
        self._quiet = True
        try:
            super().setText(text, **args)
        finally:
            self._quiet = False
        if self.itemRect().size() != size:
            self.updateMin()  # what the quiet call left out
            self.updateGeometry()

    def updateMin(self) -> None:
        if not self._quiet:
            super().updateMin()

    def updateGeometry(self) -> None:
        if not self._quiet:
            super().updateGeometry()
