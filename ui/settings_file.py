"""settings.ini holds plain strings and numbers only, and is read back as such.

PySide's QSettings unpickles a value written as `@Variant(…PyObjectWrapper…)`, in any of the
spellings Qt's INI reader accepts (bare, quoted, `\\x40Variant(`, octal `\\100Variant(`, or
one item of a comma list). It does so for every key of a section as soon as one key of it is
read, and for the whole file as soon as anything is written, whatever `type=` asks for. So the
file is screened as text before QSettings ever parses it: a line is kept only if Qt can read
it as nothing but a plain string or list of strings (no `@`, quote, backslash or control
character in its value); anything else is dropped from the file and logged. Values are then
read through `read_setting`, which accepts only the type the caller expects.

The window layout is bytes checked by Qt's own `restoreState`; it is kept as hex text.
"""

from __future__ import annotations

import logging
import math
import os
import re
import weakref
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from services.safe_files import RefusedFile, read_regular_file, write_file_atomically

log = logging.getLogger(__name__)

#: a settings file is a few kilobytes; a larger one is not Rotor's, and is not read on start-up
MAX_SETTINGS_BYTES = 1 << 20
#: a saved window layout is a few kilobytes of hex
MAX_LAYOUT_HEX_CHARS = 1 << 18

_SECTION = re.compile(r"\[[A-Za-z0-9_%./ -]+\]")
_KEY = r"[A-Za-z0-9_%./ -]+"
# No `@` (Qt's marker for a typed value), `"` or `\` (which could spell one), no control chars.
_PLAIN_ENTRY = re.compile(rf"\s*{_KEY}=[^\x00-\x1f\x7f@\"\\]*")
# What Qt writes for an empty list or None: an invalid QVariant, never an object.
_EMPTY_ENTRY = re.compile(rf"\s*{_KEY}=\s*@Invalid\(\)\s*")
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


class SettingsError(Exception):
    """settings.ini cannot be used (a symbolic link, not a regular file, too large)."""


def open_settings(path: str) -> QSettings:
    """The user's settings, screened (see the module docstring) before QSettings parses them.
    The file is created user-only; a symbolic link or anything but a regular file is refused."""
    _screen_settings_file(path)
    settings = QSettings(path, QSettings.Format.IniFormat)
    settings.setFallbacksEnabled(False)
    return settings


def _screen_settings_file(path: str) -> None:
    try:
        raw = read_regular_file(path, MAX_SETTINGS_BYTES, "settings file; move it away")
    except FileNotFoundError:  # user-only from birth; Qt keeps the mode when it rewrites
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        except OSError as e:
            raise SettingsError(f"cannot create {path}: {e.strerror or e}") from e
        return
    except RefusedFile as e:
        hint = " (replace it with a regular file or remove it)" if e.symlink else ""
        raise SettingsError(f"{e}{hint}") from e
    kept, refused = screen_settings_text(raw)
    if not refused:
        return
    for line in refused:
        log.warning("settings.ini: refused %s (not a plain string or number); "
                    "its default is used", line[:160])
    try:
        _replace_file(path, kept)
    except OSError as e:  # QSettings must not parse what was refused
        raise SettingsError(f"cannot remove refused values from {path}: "
                            f"{e.strerror or e}") from e


def screen_settings_text(raw: bytes) -> tuple[bytes, list[str]]:
    """(the file with only plain lines, the lines refused). Lines split as Qt splits them."""
    kept: list[bytes] = []
    refused: list[str] = []
    section = "[General]"
    for line in re.split(rb"\r\n|\r|\n", raw):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            refused.append(f"{section} {line.decode('utf-8', 'replace')}")
            continue
        if _SECTION.fullmatch(text.strip()):
            section = text.strip()
            kept.append(line)
        elif (not text.strip() or _PLAIN_ENTRY.fullmatch(text)
              or _EMPTY_ENTRY.fullmatch(text)):
            kept.append(line)
        else:
            refused.append(f"{section} {text}")
    return b"\n".join(kept), refused


def _replace_file(path: str, content: bytes) -> None:
    write_file_atomically(path, content, ".settings-")


# -- reading ---------------------------------------------------------------------------------
#: (key, value) already logged as invalid, per settings object (a feed reads its keys often)
_reported: weakref.WeakKeyDictionary[QSettings, set[tuple[str, str]]] = \
    weakref.WeakKeyDictionary()


def read_setting(settings: QSettings, key: str, default: Any,
                 allowed: Iterable[Any] | None = None) -> Any:
    """The value saved under `key` as `default`'s type (bool, int, float, str or list of str),
    or `default` when it is missing, malformed or not one of `allowed` (logged once)."""
    raw = settings.value(key)
    if raw is None:
        return default
    value = _as_type_of(default, raw)
    if value is None or (allowed is not None and value not in list(allowed)):
        seen = _reported.setdefault(settings, set())
        if (key, repr(raw)) not in seen:
            seen.add((key, repr(raw)))
            log.warning("setting %s=%r is not valid here; using %r", key, raw, default)
        return default
    return value


def _as_type_of(default: Any, raw: Any) -> Any:
    """`raw` read as `default`'s type, or None when it is not one."""
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, (str, int)) else None
        return True if text in _TRUE else False if text in _FALSE else None
    if isinstance(default, int):
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", raw):
            return int(raw)
        return None
    if isinstance(default, float):
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            value = float(raw)
        elif isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                return None
        else:
            return None
        return value if math.isfinite(value) else None
    if isinstance(default, str):
        return type(default)(raw) if isinstance(raw, str) else None
    if isinstance(default, list):
        if isinstance(raw, str):  # Qt reads a one-item list back as its item
            return [raw] if raw else []
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return list(raw)
        return None
    return None


def read_layout(settings: QSettings, key: str) -> QByteArray | None:
    """A saved layout blob (hex text), or None; Qt's `restoreState` checks its content."""
    text = read_setting(settings, key, "")
    if not text:
        return None
    if len(text) > MAX_LAYOUT_HEX_CHARS or not _HEX.fullmatch(text):
        log.warning("setting %s is not a saved layout; using the default layout", key)
        return None
    return QByteArray(bytes.fromhex(text))


def layout_text(blob: QByteArray) -> str:
    """How a layout blob is saved: hex, a plain string."""
    return bytes(blob.toHex().data()).decode("ascii")
