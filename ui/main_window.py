"""Rotor's main window: dock panels around the data store, a View menu, a status bar.

Docks have stable object names so `saveState()`/`restoreState()` (kept in QSettings as hex text,
see ui/settings_file.py) bring a trader's layout back; "Reset layout" returns to the built-in
arrangement.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from models.alerts import Firing, RuleBook
from models.drawings import DrawingBook, levels_from_setting
from models.symbols import SymbolList
from services.app import AppServices
from ui import theme
from ui.alert_delivery import TrayNotifier
from ui.alerts import AlertEngine
from ui.derived_feeds import DerivedFeeds
from ui.dock_titles import DockTitles
from ui.export_actions import ExportActions
from ui.gui_collector import collect_on_gui_thread
from ui.market_hours import MarketHoursCadence
from ui.panels.alert_log import AlertLogPanel
from ui.panels.alert_rules import AlertRulesPanel
from ui.panels.base import Panel, UiContext
from ui.panels.basis import BasisPanel
from ui.panels.drawings import DrawingsPanel
from ui.panels.funding import FundingPanel
from ui.panels.liquidations import LiquidationsPanel
from ui.panels.movers import MoversPanel
from ui.panels.open_interest import OpenInterestPanel
from ui.panels.options import OptionsPanel
from ui.panels.prices import PricesPanel
from ui.panels.rotation import RotationPanel
from ui.panels.sources import SourcesPanel
from ui.panels.squeeze import SqueezePanel
from ui.panels.volatility import VolatilityPanel
from ui.preferences import load_preferences
from ui.replay import ReplayController
from ui.scheduler import Scheduler
from ui.settings_dialog import SettingsDialog, apply_preferences
from ui.settings_file import layout_text, read_layout, read_setting
from ui.settings_file import open_settings as open_settings  # the window's settings, screened
from ui.shortcuts import BY_NAME, Shortcuts, with_key
from ui.status_bar import SourceStatusBar
from ui.store import DataStore
from ui.streams import StreamBridge
from ui.symbols import SymbolSync, open_add_symbol, symbol_series_ids
from ui.theme_switch import add_theme_menu, apply_saved_theme, switch_theme
from ui.time_link import TimeLink
from ui.window_fit import WrappingLabel, size_to_screen
from ui.workspaces import WorkspaceManager

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
# The docks behind another dock's tab are built once the docks on screen have painted, or after
# this long (no data yet, e.g. a first start with no network): a start-up should not pay for them.
IDLE_BUILD_FALLBACK_MS = 3000
# Of the shutdown budget, what is kept for after the wait for workers: closing the cache, leaving
# the event loop, exiting: 40-100 ms on a quiet machine, but 2.1-2.4 s in all (against 2 s) with
# a reserve of 250 ms while six test runs shared two cores, so half a second.
SHUTDOWN_RESERVE_MS = 500
#: of the wait for workers, what the streams' stop may take (the hub joins its threads)
STREAM_STOP_SHARE = 0.6
#: where versions before workspaces kept the trader's BTC levels (now level drawings)
OLD_LEVELS_KEY = "levels/btc"


@dataclass(frozen=True)
class PanelType:
    cls: type[Panel]
    area: Qt.DockWidgetArea
    tab_with: str | None = None  # key of the dock this one is tabbed behind by default
    below: str | None = None  # key of the dock this one is split under by default
    visible: bool = True


def panel_types() -> list[PanelType]:
    """Every dock the window offers, in their default arrangement."""
    left = Qt.DockWidgetArea.LeftDockWidgetArea
    right = Qt.DockWidgetArea.RightDockWidgetArea
    return [
        PanelType(PricesPanel, left),
        PanelType(FundingPanel, right),
        PanelType(MoversPanel, right, below="funding"),  # split before tabbing: Qt tabs it
        PanelType(OpenInterestPanel, right, tab_with="funding"),
        PanelType(VolatilityPanel, right, tab_with="funding"),
        PanelType(OptionsPanel, right, tab_with="funding"),
        PanelType(RotationPanel, right, tab_with="funding"),
        PanelType(BasisPanel, right, tab_with="funding"),
        PanelType(SqueezePanel, right, tab_with="funding"),
        PanelType(SourcesPanel, right, tab_with="movers"),
        PanelType(DrawingsPanel, right, tab_with="sources"),
        PanelType(LiquidationsPanel, right, tab_with="movers"),
        PanelType(AlertLogPanel, right, tab_with="movers"),
        PanelType(AlertRulesPanel, right, tab_with="movers"),
    ]


class MainWindow(QMainWindow):
    closed = Signal()
    #: once, when every panel on screen has painted its first data (start-up timing)
    allDocksPainted = Signal()
    #: once, when every dock has its panel (start-up is over)
    allPanelsBuilt = Signal()
    #: a dock got a new panel (its key): at first show, or rebuilt by a theme switch or Go live
    panelBuilt = Signal(str)

    def __init__(self, settings: QSettings, *, demo: bool = False,
                 scheduler: Scheduler | None = None, start: bool = True,
                 shutdown_msecs: int = 2000, workspace: str | None = None,
                 workspace_dir: Path | None = None) -> None:
        super().__init__()
        collect_on_gui_thread()  # Qt objects in garbage cycles must die on this thread
        self.setObjectName("RotorMainWindow")
        self.settings = settings
        self.shutdown_msecs = shutdown_msecs
        self.workers_left = False
        self.setWindowTitle("Rotor — cross-asset rotation")
        apply_saved_theme(settings)  # before anything takes its colours
        self.setStyleSheet(theme.STYLESHEET)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks |
                            QMainWindow.DockOption.AllowTabbedDocks |
                            QMainWindow.DockOption.AllowNestedDocks)
        self.setDockNestingEnabled(True)
        size_to_screen(self)  # a laptop gets its screen, not 1600×950

        self.store = DataStore(self)
        self.scheduler = scheduler or Scheduler(self)
        self.store.follow(self.scheduler)
        self._settings_dialog: SettingsDialog | None = None
        apply_preferences(load_preferences(settings), self.scheduler)  # before any axis is built
        self.scheduler.servicesReady.connect(self._on_services_ready)
        self.scheduler.noticeRaised.connect(self.show_notice)
        self.scheduler.modeChanged.connect(self._on_mode)
        self.feeds = DerivedFeeds(self.store, self.scheduler, settings, self)
        self.time_link = TimeLink(settings, self)
        #: every asset's drawings and the user's symbols: sections of the current workspace
        self.drawings = DrawingBook()
        self.symbols = SymbolList()
        #: the workspace's alert rules (section "alerts"), evaluated by the engine (ui/alerts.py)
        self.alert_rules = RuleBook()
        self.alerts = AlertEngine(self.alert_rules, self.store, self.feeds, self.scheduler,
                                  self.time_link, self)
        self.ctx = UiContext(self.store, self.scheduler, settings, self.feeds, self.time_link,
                             drawings=self.drawings, symbols=self.symbols, alerts=self.alerts)
        # First to hear of a change: the series and names exist before the panels look.
        self.symbol_sync = SymbolSync(self.symbols, self.scheduler, self)

        self.banner = WrappingLabel()  # wraps rather than set the window's minimum width
        self.banner.setObjectName("banner")
        self._banner_bar = QToolBar("Notice")
        self._banner_bar.setObjectName("bannerBar")
        self._banner_bar.setMovable(False)
        self._banner_bar.addWidget(self.banner)
        self._banner_bar.setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self._banner_bar)

        self.status = SourceStatusBar(self.store, self)
        self.setStatusBar(self.status)
        # A firing as a desktop notification (the status bar without a tray), and a click on it
        # shows its moment (ui/alert_delivery.py)
        self.notifier = TrayNotifier(self, status_bar=self.status)
        self.notifier.clicked.connect(self._show_firing)
        self.alerts.fired.connect(self._deliver_firing)
        self.alerts.webhookFailed.connect(
            lambda rule, error: self.status.showMessage(
                f"Alert {rule}: the webhook failed ({error})", 15000))
        self.scheduler.progressChanged.connect(self.status.set_progress)
        # Live: the venues' streams into the store (ui/streams.py), Yahoo polled faster while
        # its market is open (ui/market_hours.py); both start once the docks have painted.
        self.streams = StreamBridge(self.scheduler, self.store, self.status, parent=self)
        self.market_hours = MarketHoursCadence(self.scheduler, self.symbols.feed_param, self)
        #: replay: every dock as of one moment (ui/replay.py, docs/replay.md)
        self.replay = ReplayController(self)
        # alert firings (live and the last back-test) are events replay steps to
        self.alerts.eventsChanged.connect(lambda events: self.replay.set_events("alerts", events))
        self.replay.set_events("alerts", self.alerts.firing_times())

        self._sized_once = False
        #: the built panels; a dock behind another's tab gets its panel when first shown
        self.panels: dict[str, Panel] = {}
        self.docks: dict[str, QDockWidget] = {}
        self._panel_types = {p.cls.key: p for p in panel_types()}
        self._idle_build = False
        self._all_painted = False
        self._build_docks()
        self.dock_titles = DockTitles(self, {dock: (t.cls.title, t.cls.tab_title or t.cls.title)
                                             for t in panel_types()
                                             if (dock := self.docks.get(t.cls.key))})
        self._build_menus()
        self._default_state = self.saveState(SETTINGS_VERSION)
        self._layout_restored = self._restore_layout()
        # Named workspaces (ui/workspaces.py): `workspace` opens that one, else the last used.
        self.workspaces = WorkspaceManager(self, workspace_dir)
        # Sections are registered here, before `start`, in the order they apply (symbols first:
        # a drawing may sit on a user symbol's chart).
        self.workspaces.register_section("symbols", self.symbols)
        self.workspaces.register_section("drawings", self.drawings)
        self.workspaces.register_section("alerts", self.alert_rules)
        self.workspaces.started.connect(self._take_over_old_levels)
        self.workspaces.start(workspace)
        if demo:
            self._on_mode("demo")
        if start:
            prices = self.panels.get("prices")
            first = prices.shown_series() if isinstance(prices, PricesPanel) else ()
            self.scheduler.start(self.watched_series(), demo=demo, first=first,
                                 hold_snapshots=True)

    def _take_over_old_levels(self) -> None:
        """Earlier versions kept BTC levels in the setting `levels/btc`: they become level
        drawings of the current workspace, and the setting goes once a save holds them."""
        old = levels_from_setting(read_setting(self.settings, OLD_LEVELS_KEY, []))
        if not old:
            return

        def forget(_name: str) -> None:
            if set(old) <= set(self.drawings.levels("btc")):
                self.settings.remove(OLD_LEVELS_KEY)
                self.workspaces.saved.disconnect(forget)

        self.workspaces.saved.connect(forget)
        self.drawings.merge_levels("btc", old, time.time())

    # -- docks --------------------------------------------------------------------------------
    def _build_docks(self) -> None:
        for ptype in panel_types():
            dock = QDockWidget(ptype.cls.title, self)
            dock.setObjectName(f"dock_{ptype.cls.key}")
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable |
                             QDockWidget.DockWidgetFeature.DockWidgetFloatable |
                             QDockWidget.DockWidgetFeature.DockWidgetClosable)
            dock.setWidget(QWidget())  # the panel comes when the dock is first on screen
            dock.visibilityChanged.connect(
                lambda on, key=ptype.cls.key: self.build_panel(key) if on else None)
            # replay computes only what is on screen: a dock coming forward catches up
            dock.visibilityChanged.connect(
                lambda on: QTimer.singleShot(0, self.feeds.recheck) if on else None)
            self.addDockWidget(ptype.area, dock)
            if ptype.tab_with and ptype.tab_with in self.docks:
                self.tabifyDockWidget(self.docks[ptype.tab_with], dock)
            elif ptype.below and ptype.below in self.docks:
                self.splitDockWidget(self.docks[ptype.below], dock, Qt.Orientation.Vertical)
            dock.setVisible(ptype.visible)
            self.docks[ptype.cls.key] = dock
        # The price chart is always built: its shown series are the first the cache reads.
        self.build_panel("prices")
        self._arrange_default()

    def build_panel(self, key: str) -> Panel:
        """The dock's panel, built now if it was not yet (idempotent)."""
        panel = self.panels.get(key)
        if panel is not None:
            return panel
        panel = self._panel_types[key].cls(self.ctx)
        self.panels[key] = panel
        self.docks[key].setWidget(panel)
        panel.firstDataPaint.connect(self._on_panel_painted)
        self.panelBuilt.emit(key)
        return panel

    def release_panel(self, key: str) -> Panel | None:
        """Take dock `key`'s panel out and let it go (a theme switch rebuilds it, Go live
        empties it): disconnected, no timer left to fire a redraw, deleted on this thread once
        control returns. The dock holds a placeholder until `build_panel`."""
        panel = self.panels.pop(key, None)
        if panel is None:
            return None
        panel.shutdown()
        for timer in panel.findChildren(QTimer):
            timer.stop()
        self.docks[key].setWidget(QWidget())
        panel.hide()
        panel.deleteLater()
        return panel

    def build_remaining_panels(self) -> None:
        """After the docks were rearranged: if start-up is over, the docks without a panel get
        theirs one per event-loop turn, as at start-up."""
        if self._idle_build:
            QTimer.singleShot(0, self._build_next_pending)

    @Slot()
    def _on_panel_painted(self) -> None:
        if self._all_painted or any(p.on_screen() and not p.first_paint_done
                                    for p in self.panels.values()):
            return
        self._all_painted = True
        self.allDocksPainted.emit()
        self._start_idle_build()

    def _start_idle_build(self) -> None:
        # The docks on screen are done: pandas may load (snapshots, the pandas analyses).
        self.scheduler.release_snapshots()
        self.feeds.release()
        if not self.scheduler.demo and not self.scheduler.closing:
            self.streams.start()
            self.market_hours.start()
        if not self._idle_build:
            self._idle_build = True
            QTimer.singleShot(0, self._build_next_pending)

    def _build_next_pending(self) -> None:
        """One panel per event-loop turn, so input and paints run in between."""
        if self.scheduler.closing:
            return
        pending = [key for key in self.docks if key not in self.panels]
        if pending:
            self.build_panel(pending[0])
            QTimer.singleShot(0, self._build_next_pending)
        else:
            self.allPanelsBuilt.emit()

    def _arrange_default(self) -> None:
        """Prices large on the left; analytics on the right; sources at the bottom."""
        docks = self.docks
        if "prices" in docks and "funding" in docks:
            self.resizeDocks([docks["prices"], docks["funding"]], [860, 740],
                             Qt.Orientation.Horizontal)
        lower = next((p.cls.key for p in panel_types() if p.below), None)
        if lower and "funding" in docks:
            self.resizeDocks([docks["funding"], docks[lower]], [560, 330],
                             Qt.Orientation.Vertical)
        # The first dock of each tab group is the one in front.
        for ptype in panel_types():
            if ptype.tab_with is None and ptype.cls.key in docks:
                docks[ptype.cls.key].raise_()

    def watched_series(self) -> list[str]:
        ids: list[str] = []
        for ptype in self._panel_types.values():
            ids.extend(i for i in ptype.cls.series_ids if i not in ids)
        ids.extend(i for i in symbol_series_ids(self.symbols) if i not in ids)
        prices = self.panels.get("prices")  # its interval's bars, 1m … 1w (ui/price_intervals.py)
        if isinstance(prices, PricesPanel):
            ids.extend(i for i in prices.shown_series() if i not in ids)
        return ids

    # -- menus --------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.file_menu = self.menuBar().addMenu("&File")
        refresh = QAction("&Refresh now", self)
        refresh.setObjectName("refreshAction")
        refresh.setShortcut(QKeySequence.StandardKey.Refresh)
        refresh.triggered.connect(lambda: self.scheduler.refresh_now())
        file_menu.addAction(refresh)
        settings_action = QAction("&Settings…", self)
        settings_action.setObjectName("settingsAction")
        settings_action.setShortcut(QKeySequence("Ctrl+,"))
        settings_action.triggered.connect(self.open_settings_dialog)
        file_menu.addAction(settings_action)
        self.go_live_action = QAction("Go &live (leave the demo)", self)
        self.go_live_action.setObjectName("goLiveAction")
        self.go_live_action.setToolTip("Load the live cache, then fetch from the venues: no "
                                       "restart needed")
        self.go_live_action.triggered.connect(self.go_live)
        self.go_live_action.setVisible(self.store.demo)
        file_menu.addAction(self.go_live_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        # Undo, redo and delete of drawings (their actions: ui/shortcuts.py)
        self.edit_menu = self.menuBar().addMenu("&Edit")

        self.view_menu = self.menuBar().addMenu("&View")
        for dock in self.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        link = QAction("Link &time ranges", self, checkable=True)
        link.setObjectName("linkTimeRangesAction")
        link.setToolTip("Pan and zoom the time charts of every dock together")
        link.setChecked(self.time_link.linked)
        link.toggled.connect(self.time_link.set_linked)
        self.view_menu.addAction(link)
        reset = QAction("Reset &layout", self)
        reset.setObjectName("resetLayoutAction")
        reset.triggered.connect(self.reset_layout)
        self.view_menu.addAction(reset)
        add_theme_menu(self, self.view_menu)

        help_menu = self.help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About Rotor", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)
        self.shortcuts = Shortcuts(self)  # the keyboard (ui/shortcuts.py)
        self.exports = ExportActions(self)  # File → Export (ui/export_actions.py)
        self._build_symbol_action()

    def _build_symbol_action(self) -> None:
        """File → Add symbol… (Ctrl+K): the search box of ui/symbols.py."""
        spec = BY_NAME["addSymbol"]
        action = QAction("Add &symbol…", self)
        action.setObjectName("addSymbol")
        action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(with_key(spec.text, "addSymbol"))
        action.triggered.connect(self.open_add_symbol)
        actions = self.file_menu.actions()
        self.file_menu.insertAction(actions[0] if actions else None, action)
        self.add_symbol_action = action

    def open_add_symbol(self) -> None:
        open_add_symbol(self.symbols, self.scheduler, self)

    def open_settings_dialog(self) -> SettingsDialog:
        if self._settings_dialog is None:
            self._settings_dialog = SettingsDialog(self.settings, self.scheduler, self)
        elif self._settings_dialog.isVisible():
            self._settings_dialog.raise_()  # already open, maybe behind the window
            return self._settings_dialog
        else:
            self._settings_dialog.reload()
        self._settings_dialog.show()
        return self._settings_dialog

    def _about(self) -> None:
        QMessageBox.about(self, "About Rotor", (
            "<b>Rotor</b> — cross-asset rotation charts for traders.<br>"
            "Public, key-less data: Binance, Bybit, OKX, Deribit, Hyperliquid, Coinbase, Kraken "
            "and the Yahoo Finance chart API. Times are shown in the zone File → Settings names "
            "(UTC by default).<br>"
            "Demo mode shows a synthetic dataset shaped after February 2026."))

    # -- layout persistence -------------------------------------------------------------------
    def _restore_layout(self) -> bool:
        geometry = read_layout(self.settings, "window/geometry")
        state = read_layout(self.settings, "window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            if self.restoreState(state, SETTINGS_VERSION):
                self._show_banner_if_any()
                return True
            log.warning("saved layout could not be restored; using the default")
        return False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized_once:
            self._sized_once = True
            QTimer.singleShot(IDLE_BUILD_FALLBACK_MS, self._start_idle_build)
            # Dock sizes only apply once the window has its real size.
            if not self._layout_restored:
                self._arrange_default()
                self._default_state = self.saveState(SETTINGS_VERSION)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", layout_text(self.saveGeometry()))
        self.settings.setValue("window/state", layout_text(self.saveState(SETTINGS_VERSION)))
        self.settings.sync()

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            if dock.isFloating():
                dock.setFloating(False)
        self.restoreState(self._default_state, SETTINGS_VERSION)
        for dock in self.docks.values():
            dock.setVisible(True)
        self._show_banner_if_any()
        self._arrange_default()

    def set_theme(self, name: str) -> bool:
        """Dark or light, for the window and every chart in it (ui/theme_switch.py)."""
        return switch_theme(self, name)

    def _show_banner_if_any(self) -> None:
        """A restored state also restores the banner bar's visibility from when it was saved:
        the demo banner must stay, and a live session must not get an empty strip."""
        self._banner_bar.setVisible(bool(self.banner.text()))
        self.replay.bar.setVisible(self.replay.active)  # never a saved replay bar when live

    # -- alerts -------------------------------------------------------------------------------
    def _deliver_firing(self, firing: Firing) -> None:
        rule = self.alert_rules.get(firing.rule_id)
        self.notifier.deliver(firing, rule.delivery if rule is not None else None)

    def _show_firing(self, firing: Firing) -> None:
        """The trader clicked a notification: the window comes forward at the moment."""
        self.showNormal() if self.isMinimized() else self.show()
        self.raise_()
        self.activateWindow()
        self.alerts.jump_to(firing.fired_ms)

    # -- services, status, notices ------------------------------------------------------------
    @Slot(object)
    def _on_services_ready(self, services: AppServices) -> None:
        self.store.demo = services.demo

    def go_live(self) -> None:
        """Leave the demo without a restart: the panels are rebuilt empty (no demo number may
        stay on screen), the scheduler reads the live cache, then the network."""
        if not self.scheduler.demo:
            return
        self.replay.leave()
        self.store.demo = False
        self.store.clear()
        self.show_banner("")
        self.setWindowTitle("Rotor — cross-asset rotation")
        self.go_live_action.setVisible(False)
        for key in list(self.panels):
            self.release_panel(key)
        self._all_painted = self._idle_build = False
        prices = self.build_panel("prices")
        for key, dock in self.docks.items():
            if dock.isVisible() and not dock.visibleRegion().isEmpty():
                self.build_panel(key)
        first = prices.shown_series() if isinstance(prices, PricesPanel) else ()
        self.scheduler.go_live(self.watched_series(), first=first)
        QTimer.singleShot(IDLE_BUILD_FALLBACK_MS, self._start_idle_build)

    @Slot(str)
    def _on_mode(self, mode: str) -> None:
        demo = mode == "demo"
        self.store.demo = demo
        self.go_live_action.setVisible(demo)
        title = "Rotor — cross-asset rotation"
        if demo:
            title += " · Demo data (synthetic)"
            reason = "No network and no cached data: " if "No network" in self.banner.text() \
                else ""
            self.show_banner(f"{reason}Demo data (synthetic) — a made-up dataset shaped after "
                             "the February 2026 sell-off and rebound. Nothing here is a market "
                             "price.")
        elif "Demo data" in self.banner.text():
            self.show_banner("")
        self.setWindowTitle(title)

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self._banner_bar.setVisible(bool(text))

    @Slot(str)
    def show_notice(self, text: str) -> None:
        """Non-modal: a message in the status bar and, for lasting conditions, the banner."""
        log.warning("notice: %s", text)
        self.status.showMessage(text, 15000)
        if "Demo data" in text or "cache could not be read" in text:
            self.show_banner(text)

    def panels_have_data(self) -> bool:
        """Start-up is over and every panel on screen shows data (a screenshot waits for this):
        each dock has its panel, and all the cache held has reached them, including the
        snapshots behind the gamma levels and the funding table, and the derived feeds behind
        the overlays have settled."""
        return (len(self.panels) == len(self.docks) and self.scheduler.cache_read_done
                and self.feeds.settled()
                and all(p.has_data() for p in self.panels.values() if p.on_screen()))

    # -- shutdown -----------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Everything from here to the process exit fits in `shutdown_msecs`: the wait for
        workers gets what saving the layout and letting the panels go left, minus a reserve
        for what follows it (closing the cache, leaving the event loop)."""
        started = time.monotonic()
        self.save_layout()
        self.workspaces.save_on_close()  # written by a worker the wait below covers
        for panel in self.panels.values():
            panel.shutdown()
        spent_ms = (time.monotonic() - started) * 1000
        wait_ms = max(0, int(self.shutdown_msecs - spent_ms - SHUTDOWN_RESERVE_MS))
        self.market_hours.stop()
        # Its sockets close and threads join on a worker the wait below covers.
        self.streams.stop(timeout_s=max(0.1, wait_ms / 1000 * STREAM_STOP_SHARE))
        self.workers_left = not self.scheduler.shutdown(wait_ms)
        self.alerts.close()  # after the workers: none may submit to the service any more
        self.notifier.close()
        if self.workers_left:
            log.warning("workers still running at shutdown (waited %d ms of %d)", wait_ms,
                        self.shutdown_msecs)
        self.closed.emit()
        super().closeEvent(event)
