"""settings.ini cannot run code: a pickled `@Variant` in any spelling Qt reads is refused before
QSettings parses the file, the window starts on defaults, and nothing it held is executed."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

ROOT = Path(__file__).resolve().parents[2]


class _MakesADirectory:
    """Unpickling this creates a directory: the proof that a settings value ran code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def _pickled_variant_line(tmp_path: Path, marker: Path) -> str:
    """`@Variant(…PyObjectWrapper…)` exactly as PySide writes a Python object to an INI file."""
    scratch = tmp_path / "scratch.ini"
    writer = QSettings(str(scratch), QSettings.Format.IniFormat)
    writer.setValue("prices/interval", _MakesADirectory(marker))
    writer.sync()
    del writer
    lines = [line for line in scratch.read_text().splitlines() if line.startswith("interval=")]
    value = lines[0].removeprefix("interval=")
    assert value.startswith("@Variant(") and "PyObjectWrapper" in value
    return value


def _spellings(value: str) -> dict[str, str]:
    """Every way found of writing the same variant that Qt's INI reader still unpickles."""
    return {"bare": value, "quoted": f'"{value}"', "hex escape": "\\x40" + value[1:],
            "octal escape": "\\100" + value[1:], "list item": f"1h, {value}",
            "leading blanks": f"   {value}"}


SPELLINGS = list(_spellings("@x"))


def _write_settings(path: Path, interval_value: str) -> None:
    path.write_text("[prices]\n"
                    f"interval={interval_value}\n"
                    "mode=compare\n"
                    "log=true\n")
    path.chmod(0o600)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_each_spelling_is_live_for_plain_qsettings(tmp_path, spelling):
    """The control: read by QSettings as it is, the crafted value does run (so the test below
    would see it if the screening let it through)."""
    marker = tmp_path / "ran"
    path = tmp_path / "settings.ini"
    _write_settings(path, _spellings(_pickled_variant_line(tmp_path, marker))[spelling])
    QSettings(str(path), QSettings.Format.IniFormat).value("prices/log")  # another key
    assert marker.is_dir()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_pickled_variant_in_settings_runs_nothing_and_the_window_starts(
        tmp_path, spelling, make_window, qtbot, caplog):
    from ui.main_window import open_settings

    marker = tmp_path / "ran"
    path = tmp_path / "settings.ini"
    _write_settings(path, _spellings(_pickled_variant_line(tmp_path, marker))[spelling])
    with caplog.at_level(logging.WARNING, logger="ui.settings_file"):
        settings = open_settings(str(path))
    assert any("refused [prices] interval=" in r.getMessage() for r in caplog.records)
    window = make_window(settings=settings, demo=True)
    window.show()
    for key in window.docks:
        window.build_panel(key)
    prices = window.panels["prices"]
    assert prices.interval == "1h"  # the default
    assert (prices.mode, prices.log_scale) == ("compare", True)  # plain neighbours are kept
    window.close()  # saves the layout: QSettings writes (and re-parses) the whole file
    assert not marker.exists()
    assert "Variant" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # still user-only once rewritten


def test_a_malformed_variant_falls_back_to_the_default_with_a_log_line(
        tmp_path, make_window, caplog):
    """Today a truncated pickle raises from QSettings.value on every start."""
    from ui.main_window import open_settings

    path = tmp_path / "settings.ini"
    _write_settings(path, "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18PySide::PyObjectWrapper"
                          "\\0\\0\\0\\0\\x5garbage)")
    with caplog.at_level(logging.WARNING):
        settings = open_settings(str(path))
        window = make_window(settings=settings, demo=True, start=False)
    assert window.panels["prices"].interval == "1h"
    assert any("refused [prices] interval=@Variant(" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("key", "junk", "attribute", "default"), [
    ("prices/interval", "banana", "interval", "1h"),
    ("prices/log", "maybe", "log_scale", False),
    ("prices/levels", "2", "show_levels", True),
])
def test_a_malformed_plain_value_in_the_file_falls_back_with_a_log_line(
        tmp_path, make_window, caplog, key, junk, attribute, default):
    from ui.main_window import open_settings

    section, name = key.split("/")
    path = tmp_path / "settings.ini"
    path.write_text(f"[{section}]\n{name}={junk}\n")
    settings = open_settings(str(path))
    with caplog.at_level(logging.WARNING, logger="ui.settings_file"):
        window = make_window(settings=settings, demo=True, start=False)
    assert getattr(window.panels["prices"], attribute) == default
    assert any(key in r.getMessage() and repr(junk) in r.getMessage() for r in caplog.records)


def test_choices_survive_a_restart_as_plain_text(tmp_path):
    """What the window writes is plain text, and reads back as the same types."""
    from ui.main_window import open_settings
    from ui.settings_file import read_setting

    path = tmp_path / "settings.ini"
    settings = open_settings(str(path))
    written = {"prices/log": True, "prices/assets": ["btc", "gold"], "vol/window": 90,
               "rotation/k": 2.5, "prices/interval": "4h", "levels/btc": []}
    for key, value in written.items():
        settings.setValue(key, value)
    settings.sync()
    del settings
    text = path.read_text()
    assert "@Variant" not in text and '"' not in text
    again = open_settings(str(path))
    for key, value in written.items():
        default = type(value)()
        assert read_setting(again, key, default) == value, key


def test_the_layout_is_kept_as_hex_text_and_restored(make_window, settings, tmp_path):
    window = make_window(start=False)
    window.show()
    window.docks["sources"].setVisible(False)
    window.close()
    text = Path(settings.fileName()).read_text()
    state_line = next(line for line in text.splitlines() if line.startswith("state="))
    assert set(state_line.removeprefix("state=")) <= set("0123456789abcdef")
    from ui.main_window import open_settings

    again = make_window(settings=open_settings(settings.fileName()), start=False)
    again.show()
    assert not again.docks["sources"].isVisible()


def test_a_symlinked_settings_file_is_refused(tmp_path):
    from ui.settings_file import SettingsError, open_settings

    real = tmp_path / "elsewhere.ini"
    real.write_text("[prices]\ninterval=4h\n")
    link = tmp_path / "settings.ini"
    link.symlink_to(real)
    with pytest.raises(SettingsError, match="symbolic link"):
        open_settings(str(link))
    assert real.read_text() == "[prices]\ninterval=4h\n"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_settings_path_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    from ui.settings_file import SettingsError, open_settings

    path = tmp_path / "settings.ini"
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    with pytest.raises(SettingsError, match="not a regular file"):
        open_settings(str(path))  # a FIFO with no writer must not block the start


def _run_window(data_dir: Path, *args: str, env: dict[str, str] | None = None):
    full_env = {**os.environ, "ROTOR_DATA_DIR": str(data_dir), "QT_QPA_PLATFORM": "offscreen",
                "ROTOR_EXIT_AFTER_PAINT": "1", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=45, env=full_env, check=False)


def test_the_window_refuses_a_symlinked_settings_file_with_one_line(tmp_path):
    real = tmp_path / "elsewhere.ini"
    real.write_text("")
    (tmp_path / "settings.ini").symlink_to(real)
    out = _run_window(tmp_path, "--demo")
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("rotor: error: ")
    assert "symbolic link" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("url", ["http://example.com", "ftp://127.0.0.1"])
def test_the_window_refuses_an_insecure_base_url_with_one_line(tmp_path, url):
    out = _run_window(tmp_path, env={"ROTOR_BINANCE_SPOT_URL": url})
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rotor: error: ") and "https://" in lines[0]
