"""The window's keyboard: one table of keys (`SHORTCUTS`), the actions they trigger, their
tooltips, and Help → Keyboard shortcuts (issue 13).

Single keys (1…7, H, D, L, C, X) are window shortcuts: a spin box or other text field with the
focus keeps its digits and letters (Qt lets a widget that takes text override a shortcut).
Screenshots are grabbed on the GUI thread and written by a worker (`Scheduler.run`): the GUI
thread does no file I/O (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QCursor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.charts.crosshair import Crosshair
from ui.panels.prices import RANGES_DAYS

if TYPE_CHECKING:
    from ui.main_window import MainWindow

# The price chart's ranges, keys 1… in the order of its buttons.
RANGE_KEYS = tuple(RANGES_DAYS)
INTERVAL_KEYS = {"1h": "H", "1d": "D"}


@dataclass(frozen=True)
class Shortcut:
    name: str  # the action's object name
    keys: tuple[str, ...]  # QKeySequence texts, the first one shown in tooltips
    text: str  # what it does, for the menu and the help table


SHORTCUTS: tuple[Shortcut, ...] = (
    *(Shortcut(f"range{key}", (str(n),), f"Price chart: show the last {key}")
      for n, key in enumerate(RANGE_KEYS, start=1)),
    *(Shortcut(f"interval{value}", (key,), f"Price chart: {value} bars")
      for value, key in INTERVAL_KEYS.items()),
    Shortcut("toggleLog", ("L",), "Price chart: log scale on/off"),
    Shortcut("toggleCompare", ("C",), "Price chart: compare (rebased to 100) / stacked"),
    Shortcut("toggleCrosshair", ("X",), "Crosshair and time cursor (every dock)"),
    Shortcut("resetView", ("Home",), "Reset the chart under the mouse (or double-click it)"),
    Shortcut("nextDock", ("F6",), "Next dock (brings a tabbed dock forward)"),
    Shortcut("previousDock", ("Shift+F6",), "Previous dock"),
    Shortcut("refreshAction", ("F5",), "Refresh every source now"),
    Shortcut("settingsAction", ("Ctrl+,",), "Settings: time zone, cadences, venues, data"),
    Shortcut("saveScreenshot", ("Ctrl+S",), "Save a screenshot of the window…"),
    Shortcut("saveDockScreenshot", ("Ctrl+Shift+S",), "Save a screenshot of the dock under "
                                                      "the mouse…"),
    Shortcut("cancelDrawing", ("Esc",), "Cancel the drawing being placed or dragged (a "
                                        "drawing, a price level) and put the drawing tool away"),
    Shortcut("showShortcuts", ("F1",), "This list of keyboard shortcuts"),
    # Workspaces (ui/workspaces.py): the n-th of the Workspaces menu's list, the next, the last.
    *(Shortcut(f"workspace{n}", (f"Ctrl+Alt+{n}",), f"Workspace {n} of the Workspaces menu")
      for n in range(1, 10)),
    Shortcut("nextWorkspace", ("Ctrl+Alt+PgDown",), "Next workspace"),
    Shortcut("previousWorkspace", ("Ctrl+Alt+PgUp",), "Previous workspace"),
    Shortcut("saveWorkspace", ("Ctrl+Alt+S",), "Save the current workspace"),
    Shortcut("copyChartImage", ("Ctrl+Shift+C",), "Copy the dock under the mouse (or the "
                                                  "window) to the clipboard as an image"),
    Shortcut("undoDrawing", ("Ctrl+Z",), "Undo the last change to the drawings"),
    Shortcut("redoDrawing", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo a change to the drawings"),
    Shortcut("deleteDrawing", ("Delete",), "Delete the selected drawing"),
    Shortcut("addSymbol", ("Ctrl+K",), "Add a symbol (a Binance pair or a Yahoo ticker)…"),
    # Replay (ui/replay.py): the keys below the first work while replaying.
    Shortcut("replayToggle", ("Ctrl+R",), "Replay: show every dock as of the time cursor (or a "
                                          "day before the data's end) / back to live"),
    Shortcut("replayPlay", ("Space",), "Replay: play / pause"),
    Shortcut("replaySpeed", ("S",), "Replay: next speed (1×, 60×, 3600×)"),
    Shortcut("replayNextEvent", ("]",), "Replay: next event (regime change, alert firing)"),
    Shortcut("replayPreviousEvent", ("[",), "Replay: previous event"),
    Shortcut("replayForward", (".",), "Replay: one hour later"),
    Shortcut("replayBack", (",",), "Replay: one hour earlier"),
)
BY_NAME = {s.name: s for s in SHORTCUTS}


def with_key(tooltip: str, name: str) -> str:
    """A tooltip that names its key: "Bar interval (key H)"."""
    keys = " / ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                      for k in BY_NAME[name].keys)
    return f"{tooltip} ({keys})" if tooltip else keys


class Shortcuts(QObject):
    """The window's keyboard actions; `actions[name]` by the names in `SHORTCUTS`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions: dict[str, QAction] = {}
        self._dock_index = -1
        link = window.time_link
        # The price panel is looked up at each key press: a theme switch or Go live replaces it.
        for key in RANGE_KEYS:
            self._add(f"range{key}",
                      lambda k=key: self._on_prices(lambda p: self._click(p.range_buttons.get(k))))
        for value in INTERVAL_KEYS:
            self._add(f"interval{value}",
                      lambda v=value: self._on_prices(lambda p: p.interval_box.setCurrentText(v)))
        self._add("toggleLog", lambda: self._on_prices(lambda p: p.log_box.toggle()))
        self._add("toggleCompare", lambda: self._on_prices(lambda p: self._click(
            p.mode_buttons.get("stacked" if p.mode == "compare" else "compare"))))
        crosshair = self._add("toggleCrosshair", lambda: None, menu=window.view_menu,
                              checkable=True)
        crosshair.setChecked(link.cursor_enabled)
        crosshair.toggled.connect(link.set_cursor_enabled)
        self._add("resetView", self.reset_view, menu=window.view_menu)
        self._add("nextDock", lambda: self.cycle_dock(+1), menu=window.view_menu)
        self._add("previousDock", lambda: self.cycle_dock(-1), menu=window.view_menu)
        file_menu = window.file_menu
        first = file_menu.actions()[0] if file_menu.actions() else None
        for name, slot in (("saveScreenshot", self.save_window_screenshot),
                           ("saveDockScreenshot", self.save_dock_screenshot)):
            action = self._add(name, slot)
            file_menu.insertAction(first, action)
        file_menu.insertSeparator(first)
        self._add("cancelDrawing", self.cancel_drawing)
        self._add("showShortcuts", self.show_help, menu=window.help_menu)
        self._add_replay_actions()
        self._add_drawing_actions()
        for name in ("refreshAction", "settingsAction"):  # actions the File menu made itself
            action = window.findChild(QAction, name)
            if action is not None:
                action.setToolTip(with_key(BY_NAME[name].text, name))
        self._annotate_prices(window.panels.get("prices"))
        window.panelBuilt.connect(  # a rebuilt price panel names its keys too
            lambda key: self._annotate_prices(window.panels.get(key)) if key == "prices" else None)
        link.attached.connect(self._watch_double_click)
        for crosshair_item in link.crosshairs():
            self._watch_double_click(crosshair_item)

    def _add(self, name: str, slot: Callable[[], object], menu=None,
             checkable: bool = False) -> QAction:
        spec = BY_NAME[name]
        action = QAction(spec.text, self.window)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(with_key(spec.text, name))
        action.setCheckable(checkable)
        if not checkable:
            action.triggered.connect(lambda _=False: slot())
        if menu is not None:
            menu.addAction(action)
        self.window.addAction(action)  # active without a menu too
        self.actions[name] = action
        return action

    def _add_replay_actions(self) -> None:
        """Ctrl+R in the View menu; the others only while replaying (Space, S, [ ] , . are
        left to the widgets otherwise)."""
        window = self.window
        window.view_menu.addSeparator()
        toggle = self._add("replayToggle", lambda: window.replay.toggle(),
                           menu=window.view_menu)
        toggle.setText("&Replay (every dock as of a moment)")
        while_replaying = [
            self._add("replayPlay", lambda: window.replay.toggle_play()),
            self._add("replaySpeed", lambda: window.replay.cycle_speed()),
            self._add("replayNextEvent", lambda: window.replay.step_event(+1)),
            self._add("replayPreviousEvent", lambda: window.replay.step_event(-1)),
            self._add("replayForward", lambda: window.replay.nudge(+1)),
            self._add("replayBack", lambda: window.replay.nudge(-1)),
        ]

        def on_time(t_ms: object) -> None:
            for action in while_replaying:
                action.setEnabled(t_ms is not None)
            toggle.setText("Leave &replay (back to live)" if t_ms is not None
                           else "&Replay (every dock as of a moment)")

        on_time(None)
        window.replay.timeChanged.connect(on_time)

    def _on_prices(self, act: Callable[[Any], object]) -> None:
        prices = self.window.panels.get("prices")
        if prices is not None:
            act(prices)

    @staticmethod
    def _click(button: QAbstractButton | None) -> None:
        if button is not None:
            button.click()

    def _annotate_prices(self, prices) -> None:
        """The price chart's controls name their keys in their tooltips."""
        if prices is None:
            return
        for key, button in prices.range_buttons.items():
            button.setToolTip(with_key(f"Show the last {key}", f"range{key}"))
        box = prices.interval_box
        box.setToolTip(f"{box.toolTip() or 'Bar interval'} (keys "
                       + ", ".join(f"{k}: {v}" for v, k in INTERVAL_KEYS.items()) + ")")
        prices.log_box.setToolTip(with_key(prices.log_box.toolTip() or "Log scale",
                                           "toggleLog"))
        for button in prices.mode_buttons.values():
            button.setToolTip(with_key(button.toolTip(), "toggleCompare"))

    # -- reset the view ----------------------------------------------------------------------
    def _watch_double_click(self, crosshair: Crosshair) -> None:
        crosshair.doubleClicked.connect(self._reset_plot)

    def reset_view(self) -> None:
        """Home: auto-range the chart under the mouse, else the focused dock's, else prices'."""
        plot = self.window.time_link.hovered_plot()
        if plot is None:
            panel = self._dock_panel(self._focused_dock())
            crosshair = getattr(panel, "crosshair", None)
            if crosshair is None:
                crosshair = getattr(self.window.panels.get("prices"), "crosshair", None)
            plots = crosshair.plots if isinstance(crosshair, Crosshair) else []
            plot = plots[0] if plots else None
        if plot is not None:
            self._reset_plot(plot)

    def _reset_plot(self, plot: pg.PlotItem) -> None:
        plot.vb.autoRange()
        self.window.time_link.publish_plot(plot)

    # -- docks --------------------------------------------------------------------------------
    def _shown_docks(self) -> list[QDockWidget]:
        return [d for d in self.window.docks.values() if not d.isHidden()]

    def _focused_dock(self) -> QDockWidget | None:
        focus = QApplication.focusWidget()
        for dock in self.window.docks.values():
            if focus is not None and (dock is focus or dock.isAncestorOf(focus)):
                return dock
        return None

    def _dock_panel(self, dock: QDockWidget | None) -> QWidget | None:
        return dock.widget() if dock is not None else None

    def cycle_dock(self, step: int) -> QDockWidget | None:
        """F6 / Shift+F6: the next shown dock gets the focus; a tabbed one comes forward."""
        docks = self._shown_docks()
        if not docks:
            return None
        current = self._focused_dock()
        index = docks.index(current) if current in docks else self._dock_index
        index = (index + step) % len(docks)
        self._dock_index = index
        dock = docks[index]
        dock.raise_()
        self.window.build_panel(dock.objectName().removeprefix("dock_"))
        target = dock.widget()
        target.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        self.window.status.showMessage(f"Dock: {dock.windowTitle()}", 2000)
        return dock

    def dock_under_mouse(self) -> QDockWidget | None:
        """The dock under the mouse pointer, else the one whose chart the cursor is in, else the
        focused one."""
        pointer = QCursor.pos()
        widget = QApplication.widgetAt(pointer)
        while widget is not None:
            if isinstance(widget, QDockWidget) and widget in self.window.docks.values():
                return widget
            widget = widget.parentWidget()
        # No window system answer (e.g. offscreen): the shown dock whose rectangle holds it,
        # floating ones first (they lie above the window).
        shown = [d for d in self._shown_docks() if not d.visibleRegion().isEmpty()]
        for dock in sorted(shown, key=lambda d: not d.isFloating()):
            if dock.rect().contains(dock.mapFromGlobal(pointer)):
                return dock
        crosshair = self.window.time_link.hovered_crosshair()
        if crosshair is not None:
            for dock in self.window.docks.values():
                if dock.isAncestorOf(crosshair.parent()):
                    return dock
        return self._focused_dock()

    # -- screenshots --------------------------------------------------------------------------
    def save_window_screenshot(self) -> None:
        self._save_screenshot(self.window, "window")

    def save_dock_screenshot(self) -> None:
        dock = self.dock_under_mouse()  # before the dialog takes the mouse
        if dock is None:
            self.window.status.showMessage("No dock under the mouse to save", 5000)
            return
        self._save_screenshot(dock, dock.objectName().removeprefix("dock_"))

    def _save_screenshot(self, widget: QWidget, what: str) -> None:
        """The same PNG export as File → Export (ui/export_actions.py), at its 1×/2× choice."""
        self.window.exports.save_png(widget, what)

    # -- drawing ------------------------------------------------------------------------------
    def cancel_drawing(self) -> bool:
        """Esc: a drawing being dragged goes back where it was, one being placed is dropped
        and the tool put away; a level line being dragged goes back (as pyqtgraph's right-click
        does, but without reporting a move)."""
        layer = getattr(self.window.panels.get("prices"), "drawing_layer", None)
        cancelled = layer.cancel() if layer is not None else False
        for panel in self.window.panels.values():
            for view in panel.findChildren(pg.GraphicsView):
                for item in view.scene().items():
                    if isinstance(item, pg.InfiniteLine) and item.moving:
                        item.moving = False
                        item.setPos(item.startPosition)
                        cancelled = True
        return cancelled

    def _add_drawing_actions(self) -> None:
        """Undo, redo and delete act on the window's drawings (every asset's, one history)."""
        book = self.window.drawings
        menu = self.window.edit_menu
        self._add("undoDrawing", book.undo, menu=menu)
        self._add("redoDrawing", book.redo, menu=menu)
        menu.addSeparator()
        self._add("deleteDrawing", lambda: book.delete(book.selected)
                  if book.get(book.selected) else None, menu=menu)

        def update() -> None:
            for name, able, what in (("undoDrawing", book.can_undo, book.undo_name()),
                                     ("redoDrawing", book.can_redo, book.redo_name())):
                action = self.actions[name]
                action.setEnabled(able)
                verb = "Undo" if name == "undoDrawing" else "Redo"
                action.setText(f"{verb} {what}" if what else BY_NAME[name].text)
            self.actions["deleteDrawing"].setEnabled(book.get(book.selected) is not None)

        book.add_listener(update)
        book.add_selection_listener(update)
        update()

    # -- help ---------------------------------------------------------------------------------
    def show_help(self) -> QDialog:
        dialog = ShortcutsDialog(self.window)
        dialog.show()
        return dialog


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: every key of `SHORTCUTS` in a table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.table = QTableWidget(len(SHORTCUTS), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, spec in enumerate(SHORTCUTS):
            keys = " or ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText)
                               for k in spec.keys)
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(spec.text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 640)
