"""Axes shared by the charts."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtGui


class UtcDateAxisItem(pg.DateAxisItem):
    """pyqtgraph's date axis, in UTC, whose tick values can be asked for before it has painted.

    DateAxisItem learns its font metrics only while painting and raises AttributeError from
    `tickValues` until then; the grid asks earlier (a hidden axis never paints), and an
    exception inside a paint override is where PySide6 crashes.
    """

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation, utcOffset=0)
        self.fontMetrics = QtGui.QFontMetrics(self.style["tickFont"] or QtGui.QFont())
