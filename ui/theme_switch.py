"""Switching between the dark and the light theme at run time (View → Theme).

A panel takes its colours when it builds its items (pens, legends, tables' up/down colours, the
heat map's colour map, rich-text readouts), so a switch rebuilds every built panel in the new
theme rather than restyling each item in place: what a panel shows comes back from the store
and the derived feeds, its choices from the settings (`Panel.persisted`). What is not a setting,
the range a trader zoomed each chart to, is carried over. The window's style sheet and the status
bar's chips are redrawn; docks not built yet are built in the theme of the day.

The choice is kept in the settings under `ui/theme` and read back screened (`read_setting`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from ui import theme
from ui.settings_file import read_setting

if TYPE_CHECKING:
    from ui.main_window import MainWindow

THEME_SETTING = "ui/theme"
_LABELS = {theme.DARK_NAME: "&Dark", theme.LIGHT_NAME: "&Light"}

#: per view box: its x and y range, and per axis whether the view box sets it itself (auto range)
ViewState = tuple[list[list[float]], list[bool]]


def saved_theme(settings: QSettings) -> str:
    """The theme the settings name; anything else (hand-edited, a future name) is dark."""
    return read_setting(settings, THEME_SETTING, theme.DARK_NAME, list(theme.THEMES))


def apply_saved_theme(settings: QSettings) -> str:
    """Make the saved theme current (before the window builds anything); its name."""
    name = saved_theme(settings)
    theme.set_theme(name)
    return name


def view_boxes(widget: QWidget) -> list[pg.ViewBox]:
    """The widget's view boxes in a fixed order (views in child order, then each scene's item
    tree in stacking order), so a rebuilt panel's boxes pair with its predecessor's."""
    boxes: list[pg.ViewBox] = []

    def walk(item: Any) -> None:
        if isinstance(item, pg.ViewBox):
            boxes.append(item)
        for child in item.childItems():
            walk(child)

    for view in widget.findChildren(pg.GraphicsView):
        central = getattr(view, "centralWidget", None)
        if central is not None:
            walk(central)
    return boxes


def view_states(widget: QWidget) -> list[ViewState]:
    # a panel whose x is not real time (docs/sessions-gaps.md) keeps its x ranges in real time
    tm = getattr(widget, "time_map", None)
    return [([list(tm.real_range(*r[0])) if tm is not None else r[0], r[1]],
             [bool(a) for a in box.autoRangeEnabled()])
            for box in view_boxes(widget) for r in [box.viewRange()]]


def restore_view_states(widget: QWidget, states: list[ViewState]) -> None:
    """Give each view box the range its predecessor was zoomed to (an axis that was on auto
    range is left to find its own)."""
    tm = getattr(widget, "time_map", None)
    for box, (ranges, auto) in zip(view_boxes(widget), states, strict=False):
        if not auto[0]:
            box.setXRange(*(tm.x_range(*ranges[0]) if tm is not None else ranges[0]),
                          padding=0)
        if not auto[1]:
            box.setYRange(*ranges[1], padding=0)


def rebuild_panel(window: MainWindow, key: str) -> None:
    """Replace a built panel by a new one in the current theme, at the same view ranges."""
    old = window.panels.get(key)
    if old is None:
        return
    states = view_states(old)
    window.release_panel(key)
    new = window.build_panel(key)
    restore_view_states(new, states)
    if not new.first_paint_done:
        # Its data may arrive after this (a worker prepares it) and set the panel's default
        # range: the trader's range wins once it is drawn.
        def again() -> None:
            restore_view_states(new, states)
            new.firstDataPaint.disconnect(again)
        new.firstDataPaint.connect(again)


def switch_theme(window: MainWindow, name: str) -> bool:
    """Make `name` the theme of the window and of every chart in it, and save it. True if the
    theme changed. Raises ValueError for a name that is not a theme (nothing is stored)."""
    if name not in theme.THEMES:
        raise ValueError(f"no theme called {name!r} (themes: {', '.join(theme.THEMES)})")
    window.settings.setValue(THEME_SETTING, name)
    _check(window, name)
    if not theme.set_theme(name):
        return False
    window.setStyleSheet(theme.STYLESHEET)
    window.status.apply_theme()
    for key in list(window.panels):
        rebuild_panel(window, key)
    return True


def add_theme_menu(window: MainWindow, menu: QMenu) -> QMenu:
    """View → Theme → Dark / Light, the current one checked."""
    sub = menu.addMenu("&Theme")
    sub.setObjectName("themeMenu")
    group = QActionGroup(sub)
    group.setExclusive(True)
    for name in theme.THEMES:
        action = QAction(_LABELS.get(name, name.title()), sub, checkable=True)
        action.setObjectName(f"theme_{name}")
        action.setChecked(name == theme.current_theme())
        action.setToolTip(f"Show the window and every chart in the {name} theme")
        action.triggered.connect(lambda _on=False, n=name: switch_theme(window, n))
        group.addAction(action)
        sub.addAction(action)
    return sub


def _check(window: MainWindow, name: str) -> None:
    """Tick the menu's entry for `name` (also when the switch came from elsewhere)."""
    for action in window.findChildren(QAction):
        if action.objectName().startswith("theme_"):
            action.setChecked(action.objectName() == f"theme_{name}")
