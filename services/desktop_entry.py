"""A Linux desktop entry for Rotor (freedesktop.org Desktop Entry and Icon Theme specs): the
launcher file in `$XDG_DATA_HOME/applications` and the icon in the hicolor theme, so Rotor
appears in the desktop's application menu. `rotor install-desktop` writes them;
`rotor install-desktop --remove` takes them away.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from services.resources import icon_path

APP_ID = "rotor"


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset or not absolute (as the spec says)."""
    env = os.environ if environ is None else environ
    raw = env.get("XDG_DATA_HOME", "")
    if raw and Path(raw).is_absolute():
        return Path(raw)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def launcher_command() -> list[str]:
    """How the entry starts Rotor: the installed `rotor` script beside this Python, else this
    Python running the `main` module (a checkout that was never installed)."""
    script = Path(sys.executable).parent / "rotor"
    if script.exists():
        return [str(script)]
    found = shutil.which("rotor")
    if found:
        return [found]
    return [sys.executable, "-m", "main"]


def _exec_quote(arg: str) -> str:
    # The Exec key's own quoting: double quotes, with ", `, $ and \ escaped by a backslash.
    if arg and all(c.isalnum() or c in "/._-+" for c in arg):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry_text(command: list[str]) -> str:
    exec_line = " ".join(_exec_quote(a) for a in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=Rotor",
        "GenericName=Cross-asset charts",
        "Comment=Prices, funding rates, implied volatility and rotation between assets",
        f"Exec={exec_line}",
        f"TryExec={command[0]}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Office;Finance;",
        "Keywords=trading;bitcoin;funding;volatility;charts;",
        "StartupWMClass=Rotor",
        "",
    ])


def entry_paths(home: Path) -> tuple[Path, Path]:
    return (home / "applications" / f"{APP_ID}.desktop",
            home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg")


def install_desktop_entry(home: Path | None = None,
                          command: list[str] | None = None) -> list[Path]:
    """Write the launcher and its icon; returns the files written."""
    home = home or data_home()
    desktop, icon = entry_paths(home)
    desktop.parent.mkdir(parents=True, exist_ok=True)
    icon.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(icon_path(), icon)
    desktop.write_text(desktop_entry_text(command or launcher_command()), encoding="utf-8")
    return [desktop, icon]


def remove_desktop_entry(home: Path | None = None) -> list[Path]:
    """Remove what `install_desktop_entry` wrote; returns the files removed."""
    removed = []
    for path in entry_paths(home or data_home()):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed

