"""Before Qt opens a window on Linux: can its xcb platform plugin load?

When it cannot, Qt prints several lines about plugins and aborts the process (SIGABRT, no
Python exception to catch). The usual cause on a minimal desktop is a missing system library
(since Qt 6.5, libxcb-cursor0 above all). Loading the plugin ourselves first, with the same
dynamic loader, names the missing library, and Rotor says in one line which package to install
(see README "Set up" for the list).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

# Library file → (Debian/Ubuntu package, Fedora package): the libraries Qt's xcb plugin needs
# that minimal desktops and containers most often lack.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

_MISSING = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will pick its xcb plugin: Linux, and no other platform asked for."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform) != "linux":
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb"
    # Qt 6 prefers its wayland plugin in a Wayland session; xcb otherwise.
    return not env.get("WAYLAND_DISPLAY")


def missing_library(load_error: str) -> str | None:
    """The library file a dynamic loader's message says it could not find."""
    match = _MISSING.search(load_error)
    return match.group(1) if match else None


def install_hint(library: str) -> str:
    """One line: which package brings `library`."""
    debian, fedora = PACKAGES.get(library, (None, None))
    if debian is None:
        return (f"Qt's xcb platform plugin cannot load: {library} is missing. Install the "
                "package that provides it (see README, Set up).")
    return (f"Qt's xcb platform plugin cannot load: {library} is missing. Install it: "
            f"sudo apt-get install {debian} (Debian/Ubuntu) or sudo dnf install {fedora} "
            "(Fedora).")


def xcb_plugin_path() -> Path:
    from PySide6.QtCore import QLibraryInfo

    plugins = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
    return Path(plugins) / "platforms" / "libqxcb.so"


def check_plugin(plugin: Path) -> str | None:
    """None when the plugin loads; otherwise the one-line reason it cannot."""
    if not plugin.exists():
        return f"Qt's xcb platform plugin is not installed ({plugin}); reinstall PySide6."
    try:
        # RTLD_LAZY: resolve the library list now (what fails when one is missing), symbols later.
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as e:
        library = missing_library(str(e))
        if library is not None:
            return install_hint(library)
        return f"Qt's xcb platform plugin cannot load: {e}"
    return None


def preflight(environ: Mapping[str, str] | None = None) -> str | None:
    """None when Qt can open a window here; otherwise one line saying what to do."""
    env = os.environ if environ is None else environ
    if not uses_xcb(env):
        return None
    if not env.get("DISPLAY"):
        return ("no display to open a window on (DISPLAY is not set). Run Rotor on a desktop, or "
                "set QT_QPA_PLATFORM=offscreen with --screenshot.")
    return check_plugin(xcb_plugin_path())
