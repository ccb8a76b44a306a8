"""Named workspaces in the window (Workspaces menu): capture the layout, each dock's choices, the
time link and the registered sections into a `Workspace`, apply one back, save, switch, rename,
delete, export and import them (docs/workspaces.md).

The settings stay the live store of the window's state: a panel reads its choices from them
(`Panel.persisted`) and writes them as the trader clicks. Applying a workspace writes its
choices there, restores the layout and rebuilds the built panels so they read them again (as a
theme switch does). Capturing reads them back. So at start-up the window is already in the
last workspace's state; only the sections (drawings, symbols) come from its file.

Files are read and written on workers (`Scheduler.run`); results come back as callbacks on the
GUI thread. Everything a workspace holds is checked before anything is changed: a workspace
that fails its checks (a file from a newer Rotor, a bad value, a section that refuses its data)
gets one message and leaves the current one untouched.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QTabBar,
)

from models.dock_choices import allowed_values, is_allowed
from models.workspace import (
    AREAS,
    DOCK_CHOICES,
    Allowed,
    Workspace,
    WorkspaceError,
    check_name,
    file_stem,
    parse_workspace,
    same_name,
)
from services.workspaces import WorkspaceEntry, WorkspaceStore
from ui.settings_file import read_setting
from ui.shortcuts import BY_NAME, with_key

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)

#: the name of the workspace in use, kept in the settings
CURRENT_SETTING = "workspaces/current"
#: the name a first start gives the window's own arrangement
FIRST_NAME = "Default"
#: how often the current workspace is compared with its file and saved if it changed
AUTOSAVE_MS = 15_000
#: a section's edits are saved this long after the last one
SECTION_SAVE_MS = 1_000
#: how long closing waits for the current workspace's write (a few KB: ~1 ms on a disk)
CLOSE_SAVE_MS = 300
#: keys that switch to the n-th workspace of the list (rows of ui/shortcuts.py)
NUMBERED = 9

_AREA = {"left": Qt.DockWidgetArea.LeftDockWidgetArea,
         "right": Qt.DockWidgetArea.RightDockWidgetArea,
         "top": Qt.DockWidgetArea.TopDockWidgetArea,
         "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}


class Section(Protocol):
    """What a workspace section is (the contract between the #14 helpers): pure Python."""

    def to_json(self) -> Any: ...
    def validate_json(self, data: Any) -> None: ...
    def load_json(self, data: Any) -> None: ...
    def add_listener(self, callback: Callable[[], None]) -> None: ...
    def remove_listener(self, callback: Callable[[], None]) -> None: ...


def allowed_choices() -> Allowed:
    """The values each known dock choice may take (models/dock_choices.py: the table the panels
    and the headless export read too)."""
    return allowed_values()


# -- the layout, as data -------------------------------------------------------------------------
def _area_name(window: MainWindow, dock: QDockWidget) -> str:
    area = window.dockWidgetArea(dock)
    return next((name for name, a in _AREA.items() if a == area), "right")


def _tab_bar_groups(window: MainWindow) -> list[tuple[list[str], str]]:
    """(dock keys in tab order, the key in front) for each tab group Qt shows."""
    by_title: dict[str, str] = {}
    for key, dock in window.docks.items():
        panel_type = window._panel_types[key].cls
        by_title[panel_type.title] = key
        by_title[panel_type.tab_title or panel_type.title] = key
        by_title[dock.windowTitle()] = key
    groups = []
    for bar in window.findChildren(QTabBar):
        if bar.parent() is not window or bar.count() < 2:
            continue
        keys = [by_title.get(bar.tabText(i)) for i in range(bar.count())]
        if None in keys:
            continue
        front = keys[bar.currentIndex()] if bar.currentIndex() >= 0 else keys[0]
        groups.append(([k for k in keys if k], front or keys[0]))
    return groups


def capture_layout(window: MainWindow) -> dict[str, Any]:
    """The window's arrangement as a workspace's `layout` (without `qt_state`)."""
    shown = [key for key, dock in window.docks.items() if not dock.isHidden()]
    bars = _tab_bar_groups(window)
    groups: list[dict[str, Any]] = []
    positions: list[int] = []  # each group's place along its area (top to bottom, or left)
    placed: set[str] = set()
    for key in shown:
        if key in placed:
            continue
        dock = window.docks[key]
        mates = {k for k, d in window.docks.items()
                 if d in window.tabifiedDockWidgets(dock) and k in shown}
        members = {key} | mates
        bar = next((b for b in bars if set(b[0]) == members), None)
        tabs = bar[0] if bar else [k for k in shown if k in members]
        front = bar[1] if bar else tabs[0]
        placed.update(tabs)
        group: dict[str, Any] = {"area": _area_name(window, dock), "tabs": tabs}
        if len(tabs) > 1:
            group["front"] = front
        geometry = window.docks[front].geometry()
        vertical = group["area"] in ("left", "right")
        size = geometry.height() if vertical else geometry.width()
        if size > 0 and window.isVisible():
            group["size"] = size
        positions.append(geometry.y() if vertical else geometry.x())
        groups.append(group)
    order = sorted(range(len(groups)), key=lambda i: (AREAS.index(groups[i]["area"]),
                                                      positions[i]))
    groups = [groups[i] for i in order]
    layout: dict[str, Any] = {"groups": groups}
    if window.isVisible():
        sizes: dict[str, int] = {}
        for group in groups:
            area = group["area"]
            if area in sizes:
                continue
            geometry = window.docks[group["tabs"][0]].geometry()
            size = geometry.width() if area in ("left", "right") else geometry.height()
            if size > 0:
                sizes[area] = size
        if sizes:
            layout["area_sizes"] = sizes
    return layout


def apply_layout(window: MainWindow, layout: dict[str, Any]) -> None:
    """Arrange the window's docks as `layout` says: its groups shown, tabbed and split in
    order, every other dock hidden (still in the View menu). Docks it names that this window
    has not are skipped."""
    groups = []
    for group in layout.get("groups", []):
        tabs = [k for k in group["tabs"] if k in window.docks]
        if tabs:
            front = group.get("front") if group.get("front") in tabs else tabs[0]
            groups.append({"area": group["area"], "tabs": tabs, "front": front,
                           "size": group.get("size")})
    shown = {k for g in groups for k in g["tabs"]}
    for dock in window.docks.values():
        if dock.isFloating():
            dock.setFloating(False)
        window.removeDockWidget(dock)
    firsts: dict[str, list[QDockWidget]] = {}
    for group in groups:
        area = group["area"]
        first = window.docks[group["tabs"][0]]
        if area not in firsts:
            window.addDockWidget(_AREA[area], first)
            firsts[area] = [first]
        else:
            orientation = (Qt.Orientation.Vertical if area in ("left", "right")
                           else Qt.Orientation.Horizontal)
            window.splitDockWidget(firsts[area][-1], first, orientation)
            firsts[area].append(first)
        first.show()
        for key in group["tabs"][1:]:
            window.tabifyDockWidget(first, window.docks[key])
            window.docks[key].show()
        window.docks[group["front"]].raise_()
    for key, dock in window.docks.items():
        if key not in shown:  # back in its default area, hidden: the View menu shows it there
            window.addDockWidget(window._panel_types[key].area, dock)
            dock.hide()
    apply_sizes(window, layout, groups)


def apply_sizes(window: MainWindow, layout: dict[str, Any],
                groups: list[dict[str, Any]] | None = None) -> None:
    """The groups' relative sizes (Qt spreads them over the space there is)."""
    if groups is None:
        groups = [{"area": g["area"], "tabs": [k for k in g["tabs"] if k in window.docks],
                   "size": g.get("size")} for g in layout.get("groups", [])]
        groups = [g for g in groups if g["tabs"]]
    for area in AREAS:
        in_area = [g for g in groups if g["area"] == area and g.get("size")]
        if len(in_area) > 1:
            orientation = (Qt.Orientation.Vertical if area in ("left", "right")
                           else Qt.Orientation.Horizontal)
            window.resizeDocks([window.docks[g["tabs"][0]] for g in in_area],
                               [int(g["size"]) for g in in_area], orientation)
    sizes = layout.get("area_sizes", {})
    for pair, orientation in ((("left", "right"), Qt.Orientation.Horizontal),
                              (("top", "bottom"), Qt.Orientation.Vertical)):
        docks, values = [], []
        for area in pair:
            first = next((g for g in groups if g["area"] == area), None)
            if first is not None and area in sizes:
                docks.append(window.docks[first["tabs"][0]])
                values.append(int(sizes[area]))
        if docks:
            window.resizeDocks(docks, values, orientation)


class WorkspaceManager(QObject):
    """The window's workspaces: the current one, the list, the menu, autosave."""

    #: the current workspace is now this one (its name)
    currentChanged = Signal(str)
    #: the list of workspaces was read again
    listChanged = Signal()
    #: a workspace operation failed: the message the user was shown
    failed = Signal(str)
    #: a workspace file was written (its name)
    saved = Signal(str)
    #: the start-up reading is done (the current workspace is known)
    started = Signal()

    def __init__(self, window: MainWindow, folder: Path | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.allowed = allowed_choices()
        self.store = WorkspaceStore(folder, allowed=self.allowed)
        self.entries: list[WorkspaceEntry] = []
        self._current: Workspace | None = None
        self._saved_text = ""  # what the current workspace's file holds (to skip no-op saves)
        self._sections: dict[str, Section] = {}
        self._saving = False
        self._queued: list[tuple[Workspace, Callable[[], None] | None]] = []
        self._applying_sections = False
        self._autosave_error = ""  # the last autosave failure said (a read-only folder: once)
        self._pending_sizes: dict[str, Any] | None = None
        self.is_started = False
        self._changed_before_start = False
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.save_if_changed)
        self._section_save = QTimer(self)
        self._section_save.setSingleShot(True)
        self._section_save.setInterval(SECTION_SAVE_MS)
        self._section_save.timeout.connect(self.save_if_changed)
        self._build_menu()
        window.installEventFilter(self)

    # -- sections -----------------------------------------------------------------------------
    def register_section(self, name: str, section: Section) -> None:
        """A part of the workspace kept by `section` (`to_json` / `validate_json` / `load_json`
        / listeners). Sections are applied in registration order; a change is saved soon."""
        if name in self._sections:
            raise ValueError(f"a workspace section {name!r} is registered already")
        self._sections[name] = section
        section.add_listener(self._on_section_changed)
        current = self._current
        if current is not None and name in current.sections:  # registered after the start
            self._load_section(name, section, current.sections[name])

    def _on_section_changed(self) -> None:
        if self._applying_sections:
            return
        if self._current is None:  # before the start-up reading: saved once it is done
            self._changed_before_start = True
            return
        self._section_save.start()

    def _load_section(self, name: str, section: Section, data: Any) -> None:
        self._applying_sections = True
        try:
            section.load_json(data)
        except ValueError as e:
            self._notice(f"Workspace section {name} not loaded: {e}")
        finally:
            self._applying_sections = False

    def _run(self, key: str, fn: Callable[..., Any], *args: Any,
             on_result: Callable[[Any], None],
             on_error: Callable[[Exception], None] | None = None) -> None:
        """`fn(*args)` on a worker. A WorkspaceError (a bad file, a taken name: the user's
        business, not a fault) comes back to `on_error` without a traceback in the log."""
        def guarded(*a: Any) -> Any:
            try:
                return fn(*a)
            except WorkspaceError as e:
                return _Refused(e)

        def deliver(value: Any) -> None:
            if isinstance(value, _Refused):
                if on_error is not None:
                    on_error(value.error)
            else:
                on_result(value)

        self.window.scheduler.run(key, guarded, *args, on_result=deliver, on_error=on_error)

    # -- start-up -----------------------------------------------------------------------------
    def start(self, name: str | None = None) -> None:
        """Read the list and the workspace to open (`name`, else the last one used) on a
        worker. A named one is applied whole; the last one used only gives its sections (the
        settings already hold its layout and choices)."""
        wanted = name or read_setting(self.settings, CURRENT_SETTING, "")
        store = self.store

        def read() -> tuple[list[WorkspaceEntry], Workspace | None, str]:
            entries = store.entries()
            if not wanted:
                return entries, None, ""
            try:
                return entries, store.read(wanted), ""
            except WorkspaceError as e:
                return entries, None, str(e)

        self._run("workspaces:start", read, on_result=self._on_started,
                  on_error=self._on_start_failed)
        self._apply_whole = bool(name)
        self._wanted = wanted

    def _on_started(self, result: tuple[list[WorkspaceEntry], Workspace | None, str]) -> None:
        entries, workspace, error = result
        self._set_entries(entries)
        if workspace is None and self._apply_whole:  # `--workspace` named none: the last used
            self._notice(f"Workspace {self._wanted!r}: {error}")
            self.start(None)
            return
        if workspace is not None and self._apply_whole:
            try:
                self.apply(workspace)
            except WorkspaceError as e:
                self._fail(f"Workspace {workspace.name!r} cannot be opened: {e}")
                workspace = None
        elif workspace is not None:
            self._current = workspace
            QTimer.singleShot(0, self._mark_clean)  # the window is in its state already
            for section_name, section in self._sections.items():
                if section_name in workspace.sections:
                    self._load_section(section_name, section, workspace.sections[section_name])
        if workspace is None:
            known = any(same_name(e.name, self._wanted) for e in entries) if self._wanted \
                else False
            if error and known:
                self._notice(f"Workspace {self._wanted!r} could not be read ({error}); "
                             "the window keeps its arrangement")
            # The window's own arrangement becomes the current workspace: under the name it
            # had if its file is simply gone, else a name no file has.
            name = self._wanted if self._wanted and not known else FIRST_NAME
            if any(same_name(e.name, name) for e in entries):
                name = _free_name(name, [e.name for e in entries])
            self._current = Workspace(name=name)
            self._current = self.capture()
            self._saved_text = ""
        self.settings.setValue(CURRENT_SETTING, self._current.name)
        self._refresh_menu()
        self.is_started = True
        self._autosave.start()
        if self._changed_before_start:  # e.g. a symbol added while the list was being read
            self._section_save.start()
        self.currentChanged.emit(self._current.name)
        self.started.emit()

    def _on_start_failed(self, error: Exception) -> None:
        self._notice(f"Workspaces could not be read: {error}")
        self._current = Workspace(name=self._wanted or FIRST_NAME)
        self._current = self.capture()
        self.is_started = True
        self._refresh_menu()
        self.started.emit()

    # -- the current workspace ----------------------------------------------------------------
    def current(self) -> Workspace | None:
        return self._current

    def capture(self) -> Workspace:
        """The window as it is now, under the current workspace's name: what this version
        does not know of the current workspace (docks, choices, sections, keys) is kept."""
        base = self._current or Workspace(name=FIRST_NAME)
        settings = self.settings
        docks: dict[str, dict[str, Any]] = {k: dict(v) for k, v in base.docks.items()}
        for dock, choices in DOCK_CHOICES.items():
            if dock not in self.window.docks:
                continue
            limits = self.allowed.get(dock, {})
            out = docks.setdefault(dock, {})
            for name, choice in choices.items():
                value = read_setting(settings, choice.setting, choice.default)
                out[name] = value if is_allowed(value, limits.get(name)) else choice.default
        layout = {k: v for k, v in base.layout.items()
                  if k not in ("groups", "area_sizes", "qt_state")}
        layout.update(capture_layout(self.window))
        from ui.main_window import SETTINGS_VERSION

        state = self.window.saveState(SETTINGS_VERSION)
        layout["qt_state"] = bytes(state.toHex().data()).decode("ascii")
        sections = dict(base.sections)
        for name, section in self._sections.items():
            sections[name] = section.to_json()
        return Workspace(name=base.name, docks=docks, layout=layout,
                         time_link={**base.time_link, "linked": self.window.time_link.linked},
                         sections=sections, description=base.description, extra=base.extra)

    def check(self, workspace: Workspace) -> Workspace:
        """Every check a workspace must pass before it is applied; WorkspaceError names the
        first problem. Nothing is changed."""
        checked = parse_workspace(workspace.to_json(), self.allowed)
        for name, section in self._sections.items():
            if name in checked.sections:
                try:
                    section.validate_json(checked.sections[name])
                except ValueError as e:
                    raise WorkspaceError(f"sections.{name}: {e}") from e
        return checked

    def apply(self, workspace: Workspace) -> None:
        """Make `workspace` the window's state and the current workspace (checked first: on
        WorkspaceError nothing has changed)."""
        workspace = self.check(workspace)
        window = self.window
        settings = self.settings
        for dock, choices in DOCK_CHOICES.items():
            values = workspace.choices(dock)
            for name, choice in choices.items():
                settings.setValue(choice.setting, values[name] if values[name] != [] else "")
        window.time_link.forget_range()  # the workspace's range buttons lead, not the last pan
        for key in list(window.panels):
            window.release_panel(key)
        self._restore_layout(workspace.layout)
        link = window.findChild(QAction, "linkTimeRangesAction")
        if link is not None:
            link.setChecked(workspace.linked)
        else:
            window.time_link.set_linked(workspace.linked)
        window.build_panel("prices")  # always built: its series are read first
        for key, dock in window.docks.items():
            if not dock.isHidden() and not dock.visibleRegion().isEmpty():
                window.build_panel(key)
        window.build_remaining_panels()
        for name, section in self._sections.items():
            if name in workspace.sections:
                self._load_section(name, section, workspace.sections[name])
        self._current = workspace
        # Saved only once the trader changes something (a template visited is not copied).
        QTimer.singleShot(0, self._mark_clean)
        settings.setValue(CURRENT_SETTING, workspace.name)
        self._refresh_menu()
        self.currentChanged.emit(workspace.name)

    def _restore_layout(self, layout: dict[str, Any]) -> None:
        window = self.window
        from ui.main_window import SETTINGS_VERSION

        state = layout.get("qt_state", "")
        wanted = {k for g in layout.get("groups", []) for k in g["tabs"] if k in window.docks}
        if state and window.restoreState(QByteArray(bytes.fromhex(state)), SETTINGS_VERSION):
            shown = {k for k, d in window.docks.items() if not d.isHidden()}
            if shown == wanted:  # Qt's own state agrees with the groups: it wins
                window._show_banner_if_any()
                return
            log.info("workspace qt_state disagrees with its groups; arranging from the groups")
        apply_layout(window, layout)
        window._show_banner_if_any()
        if not window.isVisible():  # sizes only take once the window has its size
            self._pending_sizes = layout

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Show and self._pending_sizes:
            layout, self._pending_sizes = self._pending_sizes, None

            def sized() -> None:
                apply_sizes(self.window, layout)
                self._mark_clean()

            QTimer.singleShot(0, sized)
        return super().eventFilter(watched, event)

    # -- saving -------------------------------------------------------------------------------
    def _mark_clean(self) -> None:
        """The window as it is now counts as saved (just applied, or just opened)."""
        if self._current is not None:
            self._current = self.capture()
            self._saved_text = self._current.dumps()

    def _changed_since_save(self, workspace: Workspace) -> bool:
        """Whether `workspace` differs from the file, in what the trader set. Qt's own layout
        bytes are left out: they move as the dock sizes settle after a switch, with nothing
        the readable layout (groups, sizes) does not also show, and a visited template would
        otherwise be copied into the folder unchanged."""
        if not self._saved_text:
            return True
        return _without_qt_state(json.loads(workspace.dumps())) != \
            _without_qt_state(json.loads(self._saved_text))

    def save_if_changed(self) -> None:
        """Capture the window and write the current workspace if that differs from its file."""
        if self._current is None or not self.is_started:
            return
        workspace = self.capture()
        if not self._changed_since_save(workspace):
            return
        self._write(workspace)

    def _write(self, workspace: Workspace, then: Callable[[], None] | None = None) -> None:
        """Write on a worker, one write at a time: a write asked for meanwhile waits its turn
        (a newer one of the same name replaces it)."""
        if workspace.name == getattr(self._current, "name", None):
            self._current = workspace
        if self._saving:
            self._queued = [(w, t) for w, t in self._queued if not same_name(w.name,
                                                                              workspace.name)]
            self._queued.append((workspace, then))
            return
        self._saving = True
        text = workspace.dumps()

        def finish() -> None:
            self._saving = False
            if self._queued:
                queued, then_next = self._queued.pop(0)
                self._write(queued, then_next)

        def done(_path: Path) -> None:
            self._autosave_error = ""
            if self._current is not None and self._current.name == workspace.name:
                self._saved_text = text
            self.saved.emit(workspace.name)
            if then is not None:
                then()
            elif not any(same_name(e.name, workspace.name) and not e.shipped
                         for e in self.entries):
                self.reload_list()  # a new file (or a template's first user copy)
            finish()

        def failed(error: Exception) -> None:
            text = f"Workspace {workspace.name!r} not saved: {error}"
            if then is not None:  # the trader asked: a message
                self._fail(text)
            elif text != self._autosave_error:  # an autosave: said once, retried quietly
                self._autosave_error = text
                self._notice(text)
            finish()

        self._run(f"workspaces:write:{workspace.name}", self.store.write,
                  workspace, on_result=done, on_error=failed)

    def save_on_close(self) -> None:
        """The window is closing: the current workspace is written by a thread of its own,
        waited for at most `CLOSE_SAVE_MS` (the job pool may be full of requests stuck on a
        hanging venue, and the write must not queue behind them). The write is atomic: cut
        short by the exit, it leaves the previous file."""
        self._autosave.stop()
        self._section_save.stop()
        if self._current is None or not self.is_started:
            return
        workspace = self.capture()
        if not self._changed_since_save(workspace):
            return
        store = self.store

        def write() -> None:
            try:
                store.write(workspace)
            except WorkspaceError as e:
                log.warning("workspace %r not saved at close: %s", workspace.name, e)

        thread = threading.Thread(target=write, name="workspace-close-save", daemon=True)
        thread.start()
        thread.join(CLOSE_SAVE_MS / 1000)

    # -- switching ----------------------------------------------------------------------------
    def switch_to(self, name: str) -> None:
        """Save the current workspace, read `name` on a worker, then apply it."""
        if self._current is not None and same_name(self._current.name, name):
            self._refresh_menu()
            return
        self.save_if_changed()
        self._run("workspaces:read", self.store.read, name,
                  on_result=self._apply_or_report,
                  on_error=lambda e: self._fail(
                      f"Workspace {name!r} cannot be opened: {e}"))

    def _apply_or_report(self, workspace: Workspace) -> None:
        try:
            self.apply(workspace)
        except WorkspaceError as e:
            self._fail(f"Workspace {workspace.name!r} cannot be opened: {e}")

    def step(self, by: int) -> None:
        """The next (+1) or previous (-1) workspace of the list."""
        if not self.entries:
            return
        names = [e.name for e in self.entries]
        current = self._current.name if self._current else ""
        index = next((i for i, n in enumerate(names) if same_name(n, current)), -1)
        self.switch_to(names[(index + by) % len(names)])

    def save(self) -> None:
        if self._current is not None:
            self._write(self.capture(), then=self.reload_list)

    def save_as(self, name: str | None = None) -> None:
        """Save the window under a new name, which becomes the current workspace."""
        if name is None:
            name = self.ask_text("Save workspace as", "Name:", self._suggest_name())
            if name is None:
                return
        try:
            name = check_name(name)
        except WorkspaceError as e:
            self._fail(str(e))
            return
        existing = next((e for e in self.entries if same_name(e.name, name)), None)
        is_current = self._current is not None and same_name(self._current.name, name)
        if existing is not None and not is_current and not self.confirm(
                "Replace workspace", f"A workspace called {existing.name!r} exists. Replace it?"):
            return
        workspace = self.capture().renamed(name)
        self._current = workspace
        self.settings.setValue(CURRENT_SETTING, name)
        self._saved_text = ""
        self._write(workspace, then=self.reload_list)
        self.currentChanged.emit(name)

    def rename(self, new: str | None = None) -> None:
        """The current workspace under a new name (its file renamed; shipped ones are not)."""
        current = self._current
        if current is None:
            return
        if new is None:
            new = self.ask_text("Rename workspace", "New name:", current.name)
            if new is None or new.strip() == current.name:
                return
        try:
            renamed = self.capture().renamed(new)
        except WorkspaceError as e:
            self._fail(f"Not renamed: {e}")
            return
        store = self.store

        def job(old: str, workspace: Workspace) -> Workspace:
            if store.find(old) is None:  # never written yet: only the new file
                other = store.find(workspace.name)
                if other is not None:
                    raise WorkspaceError(f"a workspace called {other.name!r} already exists")
            else:
                store.rename(old, workspace.name)
            store.write(workspace)
            return workspace

        def done(workspace: Workspace) -> None:
            self._current = workspace
            self._saved_text = workspace.dumps()
            self.settings.setValue(CURRENT_SETTING, workspace.name)
            self.currentChanged.emit(workspace.name)
            self.reload_list()

        self._run("workspaces:rename", job, current.name, renamed,
                  on_result=done,
                  on_error=lambda e: self._fail(f"Not renamed: {e}"))

    def delete(self, name: str | None = None, *, confirmed: bool = False) -> None:
        """Delete a user's workspace (the current one by default). If it was current, the
        first workspace of the list (or the template it replaced) becomes current."""
        target = name or (self._current.name if self._current else None)
        if target is None:
            return
        entry = next((e for e in self.entries if same_name(e.name, target)), None)
        if entry is not None and entry.shipped:
            self._fail(f"{entry.name!r} is shipped with Rotor and cannot be deleted")
            return
        if not confirmed and not self.confirm("Delete workspace",
                                              f"Delete the workspace {target!r}?"):
            return
        was_current = self._current is not None and same_name(self._current.name, target)

        def job(n: str) -> tuple[WorkspaceEntry | None, list[WorkspaceEntry]]:
            left = self.store.delete(n)
            return left, self.store.entries()

        def done(result: tuple[WorkspaceEntry | None, list[WorkspaceEntry]]) -> None:
            left, entries = result
            self._set_entries(entries)
            if was_current:
                self._current = None  # nothing to save: it is gone
                follow = left or (entries[0] if entries else None)
                if follow is not None:
                    self._run("workspaces:read", self.store.read, follow.name,
                              on_result=self._apply_or_report,
                              on_error=lambda e: self._fail(str(e)))
                else:
                    self._current = Workspace(name=FIRST_NAME)
                    self._current = self.capture()
            self._refresh_menu()

        self._run("workspaces:delete", job, target, on_result=done,
                  on_error=lambda e: self._fail(f"Not deleted: {e}"))

    # -- files elsewhere ----------------------------------------------------------------------
    def export_to(self, path: str | None = None) -> None:
        """The current workspace (as the window is now) written to a file the user picks."""
        if self._current is None:
            return
        if path is None:
            default = str(Path.home() / f"{file_stem(self._current.name)}.json")
            path = self.ask_save_path(default)
            if not path:
                return
        workspace = self.capture()
        self._run(
            "workspaces:export", self.store.export, workspace, path,
            on_result=lambda p: self.window.status.showMessage(f"Workspace exported to {p}",
                                                                8000),
            on_error=lambda e: self._fail(f"Not exported: {e}"))

    def import_from(self, path: str | None = None) -> None:
        """Read a workspace file (on a worker), check it whole, then store and open it. A file
        that fails any check gets one message; the current workspace is left as it is."""
        if path is None:
            path = self.ask_open_path()
            if not path:
                return
        self._run("workspaces:import", self.store.import_file, path,
                  on_result=self._on_imported,
                  on_error=lambda e: self._fail(f"Not imported: {e}"))

    def _on_imported(self, workspace: Workspace) -> None:
        try:
            workspace = self.check(workspace)
        except WorkspaceError as e:
            self._fail(f"Not imported: {e}")
            return
        names = [e.name for e in self.entries]
        if any(same_name(workspace.name, n) for n in names):
            answer = self.ask_conflict(workspace.name)
            if answer == "cancel":
                return
            if answer == "keep":
                workspace = workspace.renamed(_free_name(workspace.name, names))
        self.save_if_changed()  # the current one keeps what the trader did
        self._run("workspaces:write-import", self.store.write, workspace,
                  on_result=lambda _p: self._open_imported(workspace),
                  on_error=lambda e: self._fail(f"Not imported: {e}"))

    def _open_imported(self, workspace: Workspace) -> None:
        try:
            self.apply(workspace)
        except WorkspaceError as e:  # checked before it was written: only a race lands here
            self._fail(f"Not imported: {e}")
            return
        self.reload_list()

    # -- the list and the menu ----------------------------------------------------------------
    def reload_list(self) -> None:
        self._run("workspaces:list", self.store.entries,
                  on_result=self._set_entries,
                  on_error=lambda e: self._fail(str(e)))

    def _set_entries(self, entries: list[WorkspaceEntry]) -> None:
        self.entries = list(entries)
        self._refresh_menu()
        self.listChanged.emit()

    def _build_menu(self) -> None:
        window = self.window
        self.menu = QMenu("&Workspaces", window)
        self.menu.setObjectName("workspacesMenu")
        self.menu.setToolTipsVisible(True)
        window.menuBar().insertMenu(window.help_menu.menuAction(), self.menu)
        self._group = QActionGroup(self)
        self._group.setExclusive(True)
        self._list_actions: list[QAction] = []
        self.actions: dict[str, QAction] = {}
        for name, text, slot in (
                ("saveWorkspace", "&Save workspace", self.save),
                ("saveWorkspaceAs", "Save workspace &as…", lambda: self.save_as()),
                ("renameWorkspace", "&Rename workspace…", lambda: self.rename()),
                ("deleteWorkspace", "&Delete workspace…", lambda: self.delete()),
                ("exportWorkspace", "&Export workspace…", lambda: self.export_to()),
                ("importWorkspace", "&Import workspace…", lambda: self.import_from()),
                ("nextWorkspace", "&Next workspace", lambda: self.step(+1)),
                ("previousWorkspace", "&Previous workspace", lambda: self.step(-1))):
            action = QAction(text, window)
            action.setObjectName(name)
            spec = BY_NAME.get(name)
            if spec is not None:
                action.setShortcuts([QKeySequence(k) for k in spec.keys])
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
                action.setToolTip(with_key(spec.text, name))
            action.triggered.connect(lambda _=False, s=slot: s())
            window.addAction(action)
            self.actions[name] = action
        self._refresh_menu()

    def _refresh_menu(self) -> None:
        menu = self.menu
        menu.clear()
        for action in self._list_actions:
            self._group.removeAction(action)
            self.window.removeAction(action)
            action.deleteLater()
        self._list_actions = []
        current = self._current.name if self._current else ""
        names = [e for e in self.entries]
        if self._current is not None and not any(same_name(e.name, current) for e in names):
            names.append(WorkspaceEntry(current, Path(), False))  # not written yet
        for n, entry in enumerate(names, start=1):
            action = QAction(entry.name.replace("&", "&&"), self.window, checkable=True)
            action.setObjectName(f"workspace{n}")
            action.setChecked(same_name(entry.name, current))
            tip = entry.description or entry.name
            if entry.shipped:
                tip += " (shipped with Rotor: saving it makes your own copy)"
            if n <= NUMBERED:
                action.setShortcut(QKeySequence(BY_NAME[f"workspace{n}"].keys[0]))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
                tip = with_key(tip, f"workspace{n}")
            action.setToolTip(tip)
            action.triggered.connect(lambda _=False, name=entry.name: self.switch_to(name))
            self._group.addAction(action)
            self.window.addAction(action)
            menu.addAction(action)
            self._list_actions.append(action)
        menu.addSeparator()
        for name in ("saveWorkspace", "saveWorkspaceAs", "renameWorkspace", "deleteWorkspace"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        for name in ("exportWorkspace", "importWorkspace"):
            menu.addAction(self.actions[name])
        menu.addSeparator()
        for name in ("nextWorkspace", "previousWorkspace"):
            menu.addAction(self.actions[name])
        entry = next((e for e in self.entries if same_name(e.name, current)), None)
        shipped = entry is not None and entry.shipped
        self.actions["renameWorkspace"].setEnabled(not shipped)
        self.actions["deleteWorkspace"].setEnabled(entry is not None and not shipped)

    def _suggest_name(self) -> str:
        base = self._current.name if self._current else FIRST_NAME
        return _free_name(base, [e.name for e in self.entries])

    # -- asking and telling (seams for tests) --------------------------------------------------
    def ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self.window, title, label, QLineEdit.EchoMode.Normal,
                                         text)
        return value if ok else None

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.window, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def ask_conflict(self, name: str) -> str:
        """An imported workspace has the name of one there is: "replace", "keep" (both, the
        import under a free name) or "cancel"."""
        box = QMessageBox(QMessageBox.Icon.Question, "Import workspace",
                          f"A workspace called {name!r} exists.", parent=self.window)
        replace = box.addButton("Replace it", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "replace" if clicked is replace else "keep" if clicked is keep else "cancel"

    def ask_save_path(self, default: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(self.window, "Export workspace", default,
                                                    "Rotor workspace (*.json)")
        return path

    def ask_open_path(self) -> str:
        path, _filter = QFileDialog.getOpenFileName(self.window, "Import workspace",
                                                    str(Path.home()),
                                                    "Rotor workspace (*.json);;All files (*)")
        return path

    def _fail(self, text: str) -> None:
        """One clear message (non-blocking), and the `failed` signal."""
        log.warning("workspaces: %s", text)
        box = self.window.findChild(QMessageBox, "workspaceError")
        if box is None:  # one box: a second failure replaces the text of the first
            box = QMessageBox(QMessageBox.Icon.Warning, "Workspaces", text, parent=self.window)
            box.setObjectName("workspaceError")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setText(text)
        box.open()
        self.failed.emit(text)

    def _notice(self, text: str) -> None:
        self.window.show_notice(text)


def _without_qt_state(data: dict[str, Any]) -> dict[str, Any]:
    layout = {k: v for k, v in data.get("layout", {}).items() if k != "qt_state"}
    return {**data, "layout": layout}


class _Refused:
    """A worker's WorkspaceError, handed back as a value."""

    def __init__(self, error: WorkspaceError) -> None:
        self.error = error


def _free_name(name: str, names: list[str]) -> str:
    candidate, n = name, 1
    while any(same_name(candidate, other) for other in names):
        n += 1
        suffix = f" {n}"
        candidate = name[:64 - len(suffix)].rstrip() + suffix
    return candidate
