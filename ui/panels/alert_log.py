"""Alert log: every firing of the workspace's rules, newest first, with when its condition
became true (data time), when it fired and when the window noticed it (wall clock). Firings the
recorder logged while the window was closed (`main.py record`) are listed too. A click shows the
moment on the charts: the shared time cursor moves there and the time charts centre on it.

It reads only the window's `AlertEngine` (ui/alerts.py): `ctx.alerts`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui import theme
from ui.alert_table import FiringTable
from ui.panels.base import Panel, UiContext, debounced, elastic
from ui.time_display import on_zone_changed

LOG_COLUMNS = ("true_since", "fired", "noticed", "rule", "summary")


class AlertLogPanel(Panel):
    key = "alert_log"
    title = "Alert log"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.engine = ctx.alerts
        self.table = FiringTable(LOG_COLUMNS, self._jump)
        self.table.setObjectName("alertLogTable")
        self.summary = elastic(QLabel(""))
        self.summary.setStyleSheet(f"color: {theme.MUTED};")
        self.reload_button = QPushButton("Read log again")
        self.reload_button.setObjectName("alertLogReload")
        self.reload_button.setToolTip("Read the alert log file now (the recorder, main.py "
                                      "record, adds firings while the window is closed; it is "
                                      "read every minute anyway)")
        self.reload_button.clicked.connect(self._reload)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.reload_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.demo_badge, 0, Qt.AlignmentFlag.AlignRight)
        self.hide_freshness()  # no series of its own
        self._refill_soon = debounced(self, 0, self.refill)
        if self.engine is not None:
            self.listen(self.engine.firingsChanged, self._refill_soon)
            self.listen(self.engine.rulesChanged, self._refill_soon)
        on_zone_changed(self.refill)
        self.refill()

    def has_data(self) -> bool:
        return True  # an empty log is what there is to show

    def refill(self) -> None:
        firings = self.engine.firings() if self.engine is not None else []
        self.table.set_firings(firings)
        if self.engine is None:
            self.summary.setText("Alerts are not available in this window.")
        elif not firings:
            enabled = len(self.engine.enabled_rules())
            self.summary.setText(
                "No alert has fired yet. " + (f"{enabled} rule{'s' if enabled != 1 else ''} "
                                              "on watch." if enabled else
                                              "No rule is enabled: add one in the Alert rules "
                                              "dock (View menu)."))
        else:
            self.summary.setText(f"{len(firings)} firing{'s' if len(firings) != 1 else ''}, "
                                 "newest first · click one to see its moment on the charts")
        self._note_painted()

    def _reload(self) -> None:
        if self.engine is not None:
            self.engine.read_log()

    def _jump(self, ms: int) -> None:
        if self.engine is not None:
            self.engine.jump_to(ms)
