"""File → Settings…: display time zone, refresh cadence and on/off per venue, the data folder
(its size, a button to open it) and clearing one stored series.

Values are checked by `models/preferences.py`; a bad one is named in the dialog's message line
and nothing is stored. What passes is saved (`ui/preferences.py`) and applied at once: the time
zone to every date axis and time stamp, cadences and venues to the scheduler. Folder sizes and
cache reads and deletes run on workers through `Scheduler.run` (the GUI thread does no I/O).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.preferences import (
    TIME_ZONES,
    PreferenceError,
    Preferences,
    all_venues,
    checked,
    default_cadences,
    format_cadence,
    min_cadence_s,
    parse_cadence,
    polled_venues,
    venue_name,
)
from services.storage import folder_size, format_bytes, stored_series
from ui import theme, time_display
from ui.preferences import load_preferences, save_preferences
from ui.scheduler import Scheduler

_ZONE_NAMES = {"utc": "UTC", "local": "Local time", "new_york": "New York (America/New_York)"}


class SettingsDialog(QDialog):
    def __init__(self, settings: QSettings, scheduler: Scheduler,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Rotor settings")
        self.settings = settings
        self.scheduler = scheduler
        layout = QVBoxLayout(self)

        display = QGroupBox("Display")
        form = QFormLayout(display)
        self.zone = QComboBox()
        for key in TIME_ZONES:
            self.zone.addItem(_ZONE_NAMES[key], key)
        self.zone.setToolTip("Date axes, readouts and status times follow it; data stays UTC.")
        form.addRow("Time zone", self.zone)
        layout.addWidget(display)

        venues = QGroupBox("Sources")
        grid = QGridLayout(venues)
        grid.addWidget(QLabel("<b>Venue</b>"), 0, 0)
        grid.addWidget(QLabel("<b>Refresh every</b>"), 0, 1)
        self.enabled: dict[str, QCheckBox] = {}
        self.cadence: dict[str, QLineEdit] = {}
        polled = polled_venues()
        for row, venue in enumerate(all_venues(), start=1):
            box = QCheckBox(venue_name(venue))
            box.setToolTip("Off: its series are not refreshed (cached data stays on screen).")
            self.enabled[venue] = box
            grid.addWidget(box, row, 0)
            edit = QLineEdit()
            edit.setObjectName(f"cadence_{venue}")
            edit.setMaximumWidth(90)
            if venue in polled:
                shown = ", ".join(format_cadence(s) for s in default_cadences(venue))
                edit.setPlaceholderText("default")
                edit.setToolTip(f"Empty: the catalog's cadence ({shown}). "
                                f"At least {min_cadence_s(venue)} s, at most 24 h; "
                                "write e.g. 30 s, 5 m or 1 h.")
                hint = QLabel(f"default {shown} · min {format_cadence(min_cadence_s(venue))}")
            else:
                edit.setEnabled(False)
                edit.setPlaceholderText("—")
                hint = QLabel("fallback only")
            hint.setStyleSheet(f"color: {theme.MUTED};")
            self.cadence[venue] = edit
            grid.addWidget(edit, row, 1)
            grid.addWidget(hint, row, 2)
        layout.addWidget(venues)

        data = QGroupBox("Data folder")
        data_layout = QVBoxLayout(data)
        self.folder = QLabel("–")
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_size = QLabel("")
        self.open_folder = QPushButton("Open folder")
        self.open_folder.clicked.connect(self._open_folder)
        row_layout = QHBoxLayout()
        row_layout.addWidget(self.folder, 1)
        row_layout.addWidget(self.folder_size)
        row_layout.addWidget(self.open_folder)
        data_layout.addLayout(row_layout)
        clear_row = QHBoxLayout()
        self.series = QComboBox()
        self.series.setMinimumContentsLength(18)
        self.series.setPlaceholderText("stored series (live data only)")
        self.clear_button = QPushButton("Clear cache for series…")
        self.clear_button.clicked.connect(self._confirm_clear)
        clear_row.addWidget(self.series, 1)
        clear_row.addWidget(self.clear_button)
        data_layout.addLayout(clear_row)
        layout.addWidget(data)

        self.message = QLabel("")
        self.message.setObjectName("settingsMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {theme.ERROR};")
        self.message.setVisible(False)
        layout.addWidget(self.message)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)
        self.reload()

    # -- filling -----------------------------------------------------------------------------
    def reload(self) -> None:
        """Show what is stored now; measure the folder and list the stored series on workers."""
        prefs = load_preferences(self.settings)
        self.zone.setCurrentIndex(max(0, self.zone.findData(prefs.time_zone)))
        for venue, box in self.enabled.items():
            box.setChecked(venue not in prefs.disabled_venues)
        for venue, edit in self.cadence.items():
            seconds = prefs.cadence_s.get(venue)
            edit.setText(format_cadence(seconds) if seconds else "")
        self.show_message("")
        services = self.scheduler.services
        folder = services.data_dir if services is not None else None
        self._folder_path = folder
        self.folder.setText(str(folder) if folder is not None else "(not open yet)")
        self.open_folder.setEnabled(folder is not None)
        self.folder_size.setText("measuring…" if folder is not None else "")
        demo = services is None or services.demo
        self.clear_button.setEnabled(False)
        self.clear_button.setToolTip("The demo dataset is not cleared." if demo else
                                     "Delete the series' stored rows; it is fetched again.")
        if folder is not None:
            self.scheduler.run("settings:folder_size", folder_size, folder,
                               on_result=self._on_folder_size,
                               on_error=lambda exc: self.folder_size.setText("size unknown"))
        if services is not None and not demo:
            self.scheduler.run("settings:stored_series", stored_series, services.cache,
                               on_result=self._on_stored_series,
                               on_error=lambda exc: self.show_message(f"cache: {exc}"))

    def _on_folder_size(self, size: int) -> None:
        self.folder_size.setText(format_bytes(size))

    def _on_stored_series(self, ids: list[str]) -> None:
        self.series.clear()
        self.series.addItems(ids)
        self.clear_button.setEnabled(bool(ids))

    def _open_folder(self) -> None:
        if self._folder_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._folder_path)))

    # -- clearing one series -----------------------------------------------------------------
    def _confirm_clear(self) -> None:
        series_id = self.series.currentText()
        if not series_id:
            return
        answer = QMessageBox.question(
            self, "Clear cached series",
            f"Delete every stored row of {series_id}? It is fetched again from its venue.")
        if answer == QMessageBox.StandardButton.Yes:
            self.clear_series(series_id)

    def clear_series(self, series_id: str) -> None:
        self.clear_button.setEnabled(False)
        self.scheduler.clear_cached_series(
            series_id, lambda error: self._on_cleared(series_id, error))

    def _on_cleared(self, series_id: str, error: str | None) -> None:
        if error is not None:
            self.show_message(f"Not cleared: {error}")
            self.clear_button.setEnabled(True)
            return
        self.show_message(f"{series_id} cleared; fetching it again.", error=False)
        self.reload_data()

    def reload_data(self) -> None:
        services = self.scheduler.services
        if services is None:
            return
        self.scheduler.run("settings:folder_size", folder_size, services.data_dir,
                           on_result=self._on_folder_size)
        self.scheduler.run("settings:stored_series", stored_series, services.cache,
                           on_result=self._on_stored_series)

    # -- OK ----------------------------------------------------------------------------------
    def preferences(self) -> Preferences:
        """What the dialog shows, checked; PreferenceError names the first bad value."""
        cadence: dict[str, int] = {}
        for venue, edit in self.cadence.items():
            if not edit.isEnabled():
                continue
            seconds = parse_cadence(venue, edit.text())
            if seconds is not None:
                cadence[venue] = seconds
        disabled = [v for v, box in self.enabled.items() if not box.isChecked()]
        return checked(self.zone.currentData(), cadence, disabled)

    def accept(self) -> None:
        try:
            prefs = self.preferences()
        except PreferenceError as e:
            self.show_message(str(e))
            return  # nothing stored; the dialog stays open
        save_preferences(self.settings, prefs)
        apply_preferences(prefs, self.scheduler)
        super().accept()

    def show_message(self, text: str, *, error: bool = True) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.ERROR if error else theme.MUTED};")
        self.message.setVisible(bool(text))


def apply_preferences(prefs: Preferences, scheduler: Scheduler) -> None:
    """In force at once: the display zone for every time shown, cadences and venues for the
    scheduler's next tick."""
    time_display.set_zone(prefs.time_zone)
    scheduler.apply_preferences(prefs)

