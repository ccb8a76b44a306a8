"""Named workspaces in the window (ui/workspaces.py): save, restart and restore of every part;
imports that fail leave the current workspace as it was; unknown keys survive; the shipped
workspaces apply; rename and delete; the choice table matches what the panels read."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from models.series import MS_PER_DAY, MS_PER_HOUR
from models.workspace import DOCK_CHOICES, FORMAT, VERSION, Workspace
from services.workspaces import SHIPPED_FILES, load_workspace_file, shipped_dir
from tests.ui.prices_helpers import candles


class Notes:
    """A workspace section as the contract defines one (pure Python): a list of strings."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._listeners: list[Callable[[], None]] = []

    def to_json(self) -> dict[str, Any]:
        return {"items": list(self.items)}

    @classmethod
    def validate_json(cls, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError("expected {\"items\": [...]}")
        for i, item in enumerate(data["items"]):
            if not isinstance(item, str):
                raise ValueError(f"items[{i}]: expected a string, got {item!r}")

    def load_json(self, data: Any) -> None:
        self.validate_json(data)
        self.items = list(data["items"])
        self._changed()

    def add(self, text: str) -> None:
        self.items.append(text)
        self._changed()

    def add_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        self._listeners.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "workspaces"


@pytest.fixture
def open_window(make_window, qtbot, folder):
    def open_(**kwargs):
        window = make_window(start=False, workspace_dir=folder, **kwargs)
        window.resize(1366, 768)
        window.show()
        notes = Notes()
        window.workspaces.register_section("notes", notes)  # as MainWindow does for its own
        qtbot.waitUntil(lambda: window.workspaces.is_started, timeout=10000)
        return window, notes
    yield open_
    for box in QApplication.topLevelWidgets():
        if isinstance(box, QMessageBox):
            box.close()


def shown(window) -> set[str]:
    return {key for key, dock in window.docks.items() if not dock.isHidden()}


def settings_snapshot(settings) -> dict[str, Any]:
    return {key: settings.value(key) for key in settings.allKeys()
            if not key.startswith("window/")}


MINE = Workspace(
    name="Mine",
    docks={"prices": {"interval": "1d", "range_key": "1Y", "mode": "compare", "style": "line",
                      "log": True, "assets": ["btc", "gold"], "shade_funding": False,
                      "levels": False, "implied": True, "hidden_symbols": ["acme"],
                      "indicators": ["ema21", "rsi14"], "indicator_asset": "gold",
                      "vwap_anchor_ms": 1_770_336_000_000, "compress": True},
           "funding": {"asset": "eth", "window": "7D"},
           "movers": {"drawdown": "high"},
           "open_interest": {"asset": "eth"},
           "volatility": {"asset": "eth", "window": 90, "rv_method": "demeaned"},
           "options": {"asset": "eth", "page": "skew", "positioning": "short_both",
                       "delta": "premium_adjusted"},
           "rotation": {"window": 120, "k": 3.0, "threshold": -0.1}},
    layout={"groups": [{"area": "left", "tabs": ["prices"]},
                       {"area": "right", "tabs": ["rotation", "movers"], "front": "movers"}]},
    time_link={"linked": False},
    sections={"notes": {"items": ["watch 70k", "CPI Wednesday"]}})


def test_save_restart_restore_every_part(open_window, qtbot, folder, settings):
    window, notes = open_window()
    assert window.workspaces.current().name == "Default"  # a first start: the window as it is
    assert shown(window) == set(window.docks)
    window.workspaces.apply(MINE)
    assert shown(window) == {"prices", "rotation", "movers"}
    assert notes.items == ["watch 70k", "CPI Wednesday"]
    with qtbot.waitSignal(window.workspaces.saved, timeout=10000):
        window.workspaces.save()
    assert (folder / "mine.json").exists()
    with qtbot.waitSignal(window.workspaces.saved, timeout=10000):
        notes.add("levels: 65k")  # a section's edit is saved by itself, a moment later
    assert load_workspace_file(folder / "mine.json").sections["notes"]["items"][-1] == \
        "levels: 65k"
    window.panels["prices"].choose("style", "candles")  # saved when the window closes
    before = window.workspaces.capture()
    window.close()
    assert load_workspace_file(folder / "mine.json").docks["prices"]["style"] == "candles"

    again, notes_again = open_window()  # a restart: same settings, same folder
    restored = again.workspaces.current()
    assert restored.name == "Mine"
    assert notes_again.items == ["watch 70k", "CPI Wednesday", "levels: 65k"]
    assert again.time_link.linked is False
    assert shown(again) == {"prices", "rotation", "movers"}
    groups = again.workspaces.capture().layout["groups"]
    tabbed = next(g for g in groups if set(g["tabs"]) == {"rotation", "movers"})
    assert tabbed["area"] == "right" and tabbed["front"] == "movers"
    for dock, choices in MINE.docks.items():
        if dock != "prices":
            assert again.workspaces.capture().docks[dock] == choices, dock
    assert again.workspaces.capture().docks["prices"] == {**MINE.docks["prices"],
                                                         "style": "candles"}
    assert again.workspaces.capture().docks == before.docks
    prices = again.panels["prices"]
    assert (prices.interval, prices.range_key, prices.mode, prices.style, prices.log_scale,
            prices.visible, prices.shade_funding, prices.show_levels) == \
        ("1d", "1Y", "compare", "candles", True, ["btc", "gold"], False, False)
    assert again.feeds.shared_params("rotation") == {"window": 120, "k": 3.0, "threshold": -0.1}
    assert again.feeds.shared_params("chain") == {"positioning": "short_both",
                                                  "delta": "premium_adjusted"}
    options = again.build_panel("options")
    assert (options.asset, options.page) == ("eth", "skew")
    volatility = again.build_panel("volatility")
    assert (volatility.asset, volatility.window) == ("eth", 90)


def failing_files(tmp_path: Path) -> list[tuple[str, bytes, str]]:
    def workspace(**changes) -> bytes:
        data = {"format": FORMAT, "version": VERSION, "name": "Bad"}
        data.update(changes)
        return json.dumps(data).encode()

    return [
        ("corrupt", b'{"format": "rotor-workspace",\n  "version": 1 "name"}',
         "malformed JSON at line 2, column 16"),
        ("newer", workspace(version=VERSION + 1),
         f"version {VERSION + 1} is newer than this Rotor understands ({VERSION}); "
         "update Rotor"),
        ("not one", b'{"hello": 1}', "not a Rotor workspace (format missing)"),
        ("bad choice", workspace(docks={"prices": {"mode": "sideways"}}),
         'docks.prices.mode: "sideways" is not a valid value'),
        ("bad section", workspace(sections={"notes": {"items": ["ok", 7]}}),
         "sections.notes: items[1]: expected a string, got 7"),
    ]


def test_a_failed_import_names_the_problem_and_changes_nothing(open_window, qtbot, folder,
                                                                settings, tmp_path):
    window, notes = open_window()
    window.workspaces.apply(MINE)
    with qtbot.waitSignal(window.workspaces.saved, timeout=10000):
        window.workspaces.save()
    current = window.workspaces.current().dumps()
    stored = settings_snapshot(settings)
    files = sorted(p.read_bytes() for p in folder.iterdir())
    for label, content, words in failing_files(tmp_path):
        path = tmp_path / f"{label}.json"
        path.write_bytes(content)
        with qtbot.waitSignal(window.workspaces.failed, timeout=10000) as failure:
            window.workspaces.import_from(str(path))
        message = failure.args[0]
        assert message.startswith("Not imported: ") and words in message, (label, message)
        assert window.workspaces.current().dumps() == current, label
        assert settings_snapshot(settings) == stored, label
        assert notes.items == ["watch 70k", "CPI Wednesday"], label
        assert shown(window) == {"prices", "rotation", "movers"}, label
        assert sorted(p.read_bytes() for p in folder.iterdir()) == files, label
    boxes = window.findChildren(QMessageBox, "workspaceError")
    assert len(boxes) == 1 and "sections.notes" in boxes[0].text()  # one message on screen


def test_an_import_with_unknown_keys_keeps_them_on_export(open_window, qtbot, folder, tmp_path,
                                                           monkeypatch):
    window, notes = open_window()
    data = {"format": FORMAT, "version": VERSION, "name": "From a friend",
            "plugin_state": {"theme": "neon", "panels": [1, 2]},
            "time_link": {"linked": True, "cursor": "shared"},
            "layout": {"groups": [{"area": "left", "tabs": ["prices", "heatmap"]},
                                  {"area": "right", "tabs": ["funding"]}],
                       "splitters": "thin"},
            "docks": {"prices": {"interval": "1d", "later_choice": 3},
                      "heatmap": {"depth": 20}},
            "sections": {"notes": {"items": ["from a friend"]}, "screener": [{"at": 70000}]}}
    source = tmp_path / "friend.json"
    source.write_text(json.dumps(data))
    with qtbot.waitSignal(window.workspaces.currentChanged, timeout=10000) as changed:
        window.workspaces.import_from(str(source))
    assert changed.args == ["From a friend"]
    assert notes.items == ["from a friend"]
    assert shown(window) == {"prices", "funding"}  # the unknown dock is skipped, not an error
    assert window.panels["prices"].interval == "1d"
    assert load_workspace_file(folder / "from-a-friend.json").name == "From a friend"

    out = tmp_path / "exported.json"
    window.workspaces.export_to(str(out))
    qtbot.waitUntil(out.exists, timeout=10000)
    written = json.loads(out.read_text())
    assert written["plugin_state"] == data["plugin_state"]
    assert written["sections"]["screener"] == [{"at": 70000}]
    assert written["sections"]["notes"] == {"items": ["from a friend"]}
    assert written["docks"]["prices"]["later_choice"] == 3
    assert written["docks"]["heatmap"] == {"depth": 20}
    assert written["layout"]["splitters"] == "thin"
    assert written["time_link"]["cursor"] == "shared"

    # The same file again: the trader keeps both, the import under a free name.
    monkeypatch.setattr(window.workspaces, "ask_conflict", lambda name: "keep")
    with qtbot.waitSignal(window.workspaces.currentChanged, timeout=10000) as changed:
        window.workspaces.import_from(str(source))
    assert changed.args == ["From a friend 2"]
    qtbot.waitUntil(lambda: "From a friend 2" in [e.name for e in window.workspaces.entries],
                    timeout=10000)


def test_each_shipped_workspace_applies_from_the_menu_keys(open_window, qtbot):
    window, _notes = open_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    names = [e.name for e in window.workspaces.entries]
    assert names[:4] == ["Squeeze watch", "Squeeze anatomy", "Rotation", "Options"]
    for n, stem in enumerate(SHIPPED_FILES, start=1):
        expected = load_workspace_file(shipped_dir() / f"{stem}.json")
        with qtbot.waitSignal(window.workspaces.currentChanged, timeout=10000):
            QTest.keyClick(window, getattr(Qt.Key, f"Key_{n}"),
                           Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        assert window.workspaces.current().name == expected.name
        assert shown(window) == set(expected.shown_docks()), stem
        captured = window.workspaces.capture().docks
        for dock, choices in expected.docks.items():
            assert {k: captured[dock][k] for k in choices} == choices, (stem, dock)
        for key in expected.shown_docks():
            dock = window.docks[key]
            if not dock.visibleRegion().isEmpty():
                assert key in window.panels, (stem, key)  # built, reading its new choices
        menu = {a.text(): a.isChecked() for a in window.workspaces.menu.actions()
                if a.isCheckable()}
        assert menu[expected.name] and sum(menu.values()) == 1
    assert window.panels["prices"].style == "candles"  # Options' BTC candles
    # PgDown goes on to the next one: after the last shipped one, the user's "Default".
    with qtbot.waitSignal(window.workspaces.currentChanged, timeout=10000) as changed:
        QTest.keyClick(window, Qt.Key.Key_PageDown,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert changed.args == ["Default"]
    # Visited, not changed: no user copy of a template (Qt's own layout bytes settle after a
    # switch; what the trader set did not change).
    qtbot.wait(1500)  # past the section autosave
    copies = {p.stem for p in window.workspaces.store.folder.glob("*.json")}
    assert not copies & set(SHIPPED_FILES), copies


def test_save_as_rename_and_delete(open_window, qtbot, folder, monkeypatch):
    window, _notes = open_window()
    manager = window.workspaces
    monkeypatch.setattr(manager, "ask_text", lambda *_a: "Swing")
    with qtbot.waitSignal(manager.saved, timeout=10000):
        manager.save_as()
    assert manager.current().name == "Swing" and (folder / "swing.json").exists()
    with qtbot.waitSignal(manager.currentChanged, timeout=10000):
        manager.rename("Swing trades")
    assert manager.current().name == "Swing trades"
    assert not (folder / "swing.json").exists()
    assert load_workspace_file(folder / "swing-trades.json").name == "Swing trades"
    qtbot.waitUntil(lambda: "Swing trades" in [e.name for e in manager.entries], timeout=10000)
    # Deleting the current one opens the first of the list.
    with qtbot.waitSignal(manager.currentChanged, timeout=10000) as changed:
        manager.delete(confirmed=True)
    assert changed.args == ["Squeeze watch"]
    assert not (folder / "swing-trades.json").exists()
    assert shown(window) == {"prices", "funding", "open_interest", "volatility"}
    assert "Swing trades" not in [e.name for e in manager.entries]
    # A shipped one is not deleted: one message, nothing removed.
    with qtbot.waitSignal(manager.failed, timeout=10000) as failure:
        manager.delete("Options", confirmed=True)
    assert "shipped with Rotor" in failure.args[0]


def test_the_choice_table_matches_what_the_panels_read(open_window, settings):
    window, _notes = open_window()
    for key in window.docks:
        window.build_panel(key)
    captured = window.workspaces.capture().docks
    for key, panel in window.panels.items():
        for name in panel._allowed:  # every choice the panel reads through `persisted`
            assert DOCK_CHOICES[key][name].setting == panel._setting(name), (key, name)
            assert captured[key][name] == getattr(panel, name), (key, name)
    prices = window.panels["prices"]
    assert (captured["prices"]["log"], captured["prices"]["assets"],
            captured["prices"]["shade_funding"], captured["prices"]["levels"]) == \
        (prices.log_scale, prices.visible, prices.shade_funding, prices.show_levels)
    feeds = window.feeds
    assert captured["rotation"] == feeds.shared_params("rotation")
    assert captured["movers"] == feeds.shared_params("movers")
    assert {k: captured["options"][k] for k in ("positioning", "delta")} == \
        feeds.shared_params("chain")
    assert captured["volatility"]["rv_method"] == feeds.shared_params("volatility")["rv_method"]
    assert captured["liquidations"]["burst_musd"] == \
        feeds.shared_params("liquidations")["burst_musd"]
    # The settings each choice is written to are the ones the window reads back.
    for choices in DOCK_CHOICES.values():
        for choice in choices.values():
            assert choice.setting.split("/")[0] in {"prices", "funding", "movers", "oi", "vol",
                                                    "options", "rotation", "liq",
                                                    "basis", "squeeze"}, choice


def test_a_workspace_named_at_start_opens_and_an_unknown_name_is_said(open_window, qtbot):
    window, _notes = open_window(workspace="Options")  # main.py --workspace Options
    assert window.workspaces.current().name == "Options"
    assert shown(window) == {"options", "prices", "volatility"}
    assert window.panels["prices"].visible == ["btc"]
    window.close()
    other, _notes = open_window(workspace="Nope")
    # The last one used (Options, from the settings) stays; the status bar says why.
    assert other.workspaces.current().name == "Options"
    assert "Nope" in other.status.currentMessage()
    assert shown(other) == {"options", "prices", "volatility"}


def test_a_switch_shows_the_workspace_range_not_the_last_pan(open_window, qtbot):
    window, _notes = open_window()
    start = 1_735_689_600_000  # 2025-01-01 UTC
    days = start + np.arange(400) * MS_PER_DAY
    hours = days[-60] + np.arange(60 * 24) * MS_PER_HOUR
    window.store.set_series("btc.1d", candles(days, np.linspace(40000, 90000, len(days))))
    window.store.set_series("btc.1h", candles(hours, np.linspace(80000, 90000, len(hours))))
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: prices._range_applied, timeout=10000)
    plot = next(iter(prices._plots.values()))
    plot.setXRange(hours[100] / 1e3, hours[300] / 1e3, padding=0)  # the trader zooms in
    window.time_link.publish("prices")
    assert window.time_link.user_range is not None
    with qtbot.waitSignal(window.workspaces.currentChanged, timeout=10000):
        window.workspaces.switch_to("Rotation")  # 1d bars, 6M
    prices = window.panels["prices"]
    qtbot.waitUntil(lambda: prices._range_applied, timeout=10000)
    x0, x1 = next(iter(prices._plots.values())).vb.viewRange()[0]
    assert (x1 - x0) / 86400 == pytest.approx(182 * 1.02)
    assert x1 == pytest.approx(days[-1] / 1e3 + 182 * 86400 * 0.02)


def test_an_autosave_that_cannot_write_says_so_once_and_asks_nothing(open_window, qtbot,
                                                                      folder):
    window, notes = open_window()
    shutil.rmtree(folder, ignore_errors=True)
    folder.write_text("a file where the workspaces folder should be")  # (root ignores modes)
    for text in ("a", "b"):
        notes.add(text)
        window.workspaces.save_if_changed()
        qtbot.waitUntil(lambda: not window.workspaces._saving, timeout=10000)
    assert "not saved" in window.status.currentMessage()
    assert window.findChild(QMessageBox, "workspaceError") is None  # no dialog for this
    with qtbot.waitSignal(window.workspaces.failed, timeout=10000) as failure:
        window.workspaces.save()  # asked for: a message
    assert "not saved" in failure.args[0] and "cannot create" in failure.args[0]
