"""File → Export: the window or a dock as PNG (at screen or 2× resolution), a chart image on the
clipboard, and a dock's data as CSV (one file per plotted series, with provenance).

Images are rendered on the GUI thread (Qt paints there) and written by a worker; the CSV tables
are taken from the dock (`Panel.plotted_series()`, cheap: arrays the dock holds) and written by a
worker too (`services/export_view.py`). See docs/export.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QEvent,
    QIODevice,
    QObject,
    QSize,
    QStandardPaths,
    Qt,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QGuiApplication,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMenu,
    QMessageBox,
    QWidget,
)

from services.safe_files import write_file_atomically
from ui import theme
from ui.shortcuts import BY_NAME, with_key

if TYPE_CHECKING:
    from ui.main_window import MainWindow

SCALES = (1, 2)


def render_image(widget: QWidget, scale: int) -> QImage:
    """The widget as shown (1: at the screen's own pixel ratio, as a screenshot) or drawn
    afresh at `scale` × its size in logical pixels: Qt paints text, paths and pyqtgraph's
    items at that resolution (cosmetic pens scale with the pixel ratio), so 2× stays sharp
    rather than being a blown-up 1×."""
    if scale == 1:
        return widget.grab().toImage()
    size: QSize = widget.size() * scale
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(QColor(theme.BACKGROUND))
    widget.render(image)
    return image


def default_screenshot_path(what: str) -> str:
    """rotor-<what>-<UTC stamp>.png in the user's Pictures folder (home if there is none); a
    path only, nothing is read here."""
    folder = (QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
              or QStandardPaths.writableLocation(QStandardPaths.StandardLocation.HomeLocation))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return str(Path(folder) / f"rotor-{what}-{stamp}.png")


def write_png(image: QImage, path: str) -> str:
    """On a worker: the PNG encoded in memory, then written atomically (a full disk or a crash
    never leaves half a PNG under the name asked for)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError(f"could not encode the image for {path}")
    buffer.close()
    write_file_atomically(path, bytes(data.data()), ".rotor-png-")
    return path


def ask_png_path(parent: QWidget, default: str) -> str:
    """The file dialog (a seam for tests)."""
    path, _filter = QFileDialog.getSaveFileName(parent, "Export PNG", default,
                                                "PNG image (*.png)")
    return path


def ask_folder(parent: QWidget, title: str) -> str:
    """The folder dialog (a seam for tests)."""
    return QFileDialog.getExistingDirectory(parent, title)


def ask_dock(parent: QWidget, docks: list[QDockWidget], current: QDockWidget | None,
             title: str) -> QDockWidget | None:
    """Pick a dock from a list, the one under the mouse (or focused) first (a seam for tests)."""
    names = [d.windowTitle() for d in docks]
    start = docks.index(current) if current in docks else 0
    name, ok = QInputDialog.getItem(parent, title, "Dock:", names, start, False)
    return docks[names.index(name)] if ok and name in names else None


def write_dock_csv(series: list[Any], folder: str, x_range: tuple[float, float] | None
                   ) -> list[Path]:
    """On a worker: the files (services/export_view.py imports the CLI's writers)."""
    from services.export_view import write_plotted

    return write_plotted(series, folder, x_range)


def existing_csv_files(series: list[Any], folder: str) -> list[str]:
    """On a worker: the files an export into `folder` would replace."""
    from services.export_view import existing_files

    return existing_files(series, folder)


class ExportActions(QObject):
    """The File → Export submenu and its actions (`actions[name]`)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.actions: dict[str, QAction] = {}
        settings_scale = window.settings.value("export/scale", 1)
        try:
            self.scale = int(settings_scale) if int(settings_scale) in SCALES else 1
        except (TypeError, ValueError):
            self.scale = 1
        menu = self.menu = QMenu("&Export", window)
        menu.setObjectName("exportMenu")
        menu.setToolTipsVisible(True)
        self._add("exportWindowPng", "Window as PNG…", self.export_window_png)
        self._add("exportDockPng", "Dock as PNG…", self.export_dock_png)
        self._add("copyChartImage", "Copy chart image", self.copy_chart_image,
                  key="copyChartImage")
        menu.addSeparator()
        group = QActionGroup(self)
        for scale, text in ((1, "Images at screen resolution (1×)"),
                            (2, "Images at 2× resolution")):
            action = QAction(text, window, checkable=True)
            action.setObjectName(f"exportScale{scale}")
            action.setChecked(scale == self.scale)
            action.toggled.connect(lambda on, s=scale: on and self.set_scale(s))
            group.addAction(action)
            menu.addAction(action)
            self.actions[action.objectName()] = action
        menu.addSeparator()
        self._add("exportDockCsv", "Dock data as CSV…", self.export_dock_csv)
        # After the screenshot actions at the top of File (ui/shortcuts.py puts them first).
        file_menu = window.file_menu
        anchor = next((a for a in file_menu.actions() if a.isSeparator()), None)
        file_menu.insertMenu(anchor, menu)
        for dock in window.docks.values():  # right-click on a dock's title bar
            dock.installEventFilter(self)

    def _add(self, name: str, text: str, slot: Any, key: str | None = None) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        if key is not None:
            action.setShortcuts([QKeySequence(k) for k in BY_NAME[key].keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(with_key(BY_NAME[key].text, key))
            self.window.addAction(action)  # active without opening the menu
        action.triggered.connect(lambda _=False: slot())
        self.menu.addAction(action)
        self.actions[name] = action
        return action

    def dock_menu(self, dock: QDockWidget) -> QMenu:
        """The dock title bar's context menu: this dock as PNG, on the clipboard, as CSV."""
        menu = QMenu(dock)
        menu.setObjectName("dockExportMenu")
        key = dock.objectName().removeprefix("dock_")
        menu.addAction("Export as PNG…", lambda: self.save_png(dock, key))
        menu.addAction("Copy image", lambda: self.copy_image_of(dock))
        menu.addAction("Export data as CSV…", lambda: self.export_csv(dock))
        return menu

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ContextMenu and isinstance(watched, QDockWidget):
            content = watched.widget()
            title_bottom = content.geometry().top() if content is not None else 0
            if event.pos().y() < title_bottom:
                menu = self.dock_menu(watched)
                menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                menu.popup(event.globalPos())
                return True
        return super().eventFilter(watched, event)

    def set_scale(self, scale: int) -> None:
        self.scale = scale
        self.window.settings.setValue("export/scale", scale)

    # -- which dock ---------------------------------------------------------------------------
    def _shown_docks(self) -> list[QDockWidget]:
        return [d for d in self.window.docks.values() if not d.isHidden()]

    def pick_dock(self, title: str) -> QDockWidget | None:
        docks = self._shown_docks()
        if not docks:
            self.window.status.showMessage("No dock is shown", 5000)
            return None
        current = self.window.shortcuts.dock_under_mouse()
        return ask_dock(self.window, docks, current, title)

    # -- images -------------------------------------------------------------------------------
    def export_window_png(self) -> None:
        self.save_png(self.window, "window")

    def export_dock_png(self) -> None:
        dock = self.pick_dock("Export a dock as PNG")
        if dock is not None:
            self.save_png(dock, dock.objectName().removeprefix("dock_"))

    def save_png(self, widget: QWidget, what: str) -> None:
        """Ask where, render at the chosen scale on this thread, write on a worker."""
        suffix = "" if self.scale == 1 else f"@{self.scale}x"
        path = ask_png_path(self.window, default_screenshot_path(what + suffix))
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        image = render_image(widget, self.scale)
        status = self.window.status
        self.window.scheduler.run(
            f"export-png:{path}", write_png, image, path,
            on_result=lambda p: status.showMessage(f"Image saved to {p}", 10000),
            on_error=lambda e: status.showMessage(f"Image not saved: {e}", 10000))

    def copy_chart_image(self) -> QImage:
        """The dock under the mouse (else the window) onto the clipboard."""
        return self.copy_image_of(self.window.shortcuts.dock_under_mouse())

    def copy_image_of(self, dock: QDockWidget | None) -> QImage:
        widget: QWidget = dock if dock is not None else self.window
        image = render_image(widget, self.scale)
        QGuiApplication.clipboard().setImage(image)
        name = dock.windowTitle() if dock is not None else "The window"
        self.window.status.showMessage(f"{name} copied to the clipboard "
                                       f"({image.width()} × {image.height()} px)", 5000)
        return image

    # -- data ---------------------------------------------------------------------------------
    def export_dock_csv(self) -> None:
        dock = self.pick_dock("Export a dock's data as CSV")
        if dock is None:
            return
        self.export_csv(dock)

    def export_csv(self, dock: QDockWidget, folder: str | None = None) -> bool:
        """The dock's plotted series, clipped to its visible time window, into a folder."""
        status = self.window.status
        panel = dock.widget()
        plotted = getattr(panel, "plotted_series", None)
        if plotted is None:
            status.showMessage(f"{dock.windowTitle()} shows no data series to export", 8000)
            return False
        series = plotted()
        if not series:
            status.showMessage(f"{dock.windowTitle()}: no data to export yet", 8000)
            return False
        x_range = panel.plotted_x_range()
        if x_range is not None and not any(len(s.clipped(*x_range)) for s in series):
            status.showMessage(f"{dock.windowTitle()}: no data in the visible time window", 8000)
            return False
        folder = folder or ask_folder(self.window, f"Export {dock.windowTitle()} as CSV into…")
        if not folder:
            return False

        def write() -> None:
            self.window.scheduler.run(
                f"export-csv:{folder}", write_dock_csv, series, folder, x_range,
                on_result=lambda paths: status.showMessage(
                    f"{len(paths)} CSV files (with provenance) written to {folder}", 10000),
                on_error=lambda e: status.showMessage(f"CSV export failed: {e}", 10000))

        def checked(existing: list[str]) -> None:
            if existing and not self.confirm_replace(folder, existing):
                status.showMessage(f"CSV export cancelled: nothing replaced in {folder}", 8000)
                return
            write()

        # Which files it would replace is asked of the disk on a worker, then of the trader.
        self.window.scheduler.run(
            f"export-csv-check:{folder}", existing_csv_files, series, folder, on_result=checked,
            on_error=lambda e: status.showMessage(f"CSV export failed: {e}", 10000))
        return True

    def confirm_replace(self, folder: str, existing: list[str]) -> bool:
        """Ask before files of the same names in `folder` are replaced."""
        shown = ", ".join(existing[:6]) + (" …" if len(existing) > 6 else "")
        answer = QMessageBox.question(
            self.window, "Replace files?",
            f"{len(existing)} file(s) in {folder} would be replaced:\n{shown}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes
