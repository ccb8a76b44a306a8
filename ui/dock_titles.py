"""Dock titles that fit their tabs: a tabbed dock shows its panel's short `tab_title`
("Options"), with the full title ("Options and dealer gamma") as the tab's tooltip; a dock alone
or floating shows the full title. Five full titles cut each other to "Funding …" and "Open in…"
in a half-width dock area."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar


class DockTitles(QObject):
    def __init__(self, window: QMainWindow, titles: Mapping[QDockWidget, tuple[str, str]]) -> None:
        """`titles`: each dock's (full title, tab title)."""
        super().__init__(window)
        self._window = window
        self._titles = dict(titles)
        self._full_by_short = {short: full for full, short in self._titles.values()}
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.update)
        for dock in self._titles:
            dock.dockLocationChanged.connect(self._soon.start)
            dock.topLevelChanged.connect(self._soon.start)
            dock.visibilityChanged.connect(self._soon.start)
        self.update()

    def update(self) -> None:
        window = self._window
        for dock, (full, short) in self._titles.items():
            tabbed = not dock.isFloating() and bool(window.tabifiedDockWidgets(dock))
            title = short if tabbed else full
            if dock.windowTitle() != title:
                dock.setWindowTitle(title)
        for bar in window.findChildren(QTabBar):
            if bar.parent() is not window:  # a panel's own tabs are not docks
                continue
            for i in range(bar.count()):
                full = self._full_by_short.get(bar.tabText(i))
                if full is not None and bar.tabToolTip(i) != full:
                    bar.setTabToolTip(i, full)
