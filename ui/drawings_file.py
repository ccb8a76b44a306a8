"""The drawings kept between sessions: `drawings.json` in the data folder.

Read and written on workers (the GUI thread does no file I/O). Until the workspaces carry the
drawings section, this one class is where they persist; the merger swaps it for
`WorkspaceManager.register_section("drawings", book)`.

- A file that cannot be read as drawings is moved aside (`drawings.json.unreadable-<stamp>`) with
  one message, never overwritten; if it cannot even be moved, nothing is written over it.
- Writes are atomic (a temporary file, then a rename), 0600, and a symlink in the file's place
  is refused; a slow older write never lands over a newer one (a sequence number).
- The BTC levels of earlier versions (`levels/btc` in the settings) become level drawings after
  the file is read; the setting is removed once a write holding them has succeeded.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from models.drawings import DrawingBook, levels_from_setting
from services.config import data_dir
from ui.panels.base import debounced
from ui.scheduler import Scheduler
from ui.settings_file import read_setting

FILE_NAME = "drawings.json"
OLD_LEVELS_KEY = "levels/btc"
SAVE_DELAY_MS = 300

_write_lock = threading.Lock()
_last_written: dict[str, int] = {}


@dataclass(frozen=True)
class ReadDrawings:
    path: Path
    data: list[Any] | None  # None: no file, or an unreadable one
    message: str = ""  # why the file was not used
    writable: bool = True  # False: an unreadable file is still in place


def read_drawings() -> ReadDrawings:
    """On a worker: the file's drawings, checked; an unreadable file is moved aside."""
    path = data_dir() / FILE_NAME
    if path.is_symlink():
        return ReadDrawings(path, None, f"{path} is a symbolic link: drawings are not read "
                                        "or saved there", writable=False)
    if not path.exists():
        return ReadDrawings(path, None)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        DrawingBook.validate_json(data)
        return ReadDrawings(path, data)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        aside = path.with_name(f"{FILE_NAME}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            path.rename(aside)
        except OSError:
            return ReadDrawings(path, None, f"drawings not loaded ({problem}); {path} is left "
                                            "as it is and not written", writable=False)
        return ReadDrawings(path, None, f"drawings not loaded ({problem}); the file was "
                                        f"kept as {aside.name}")


def write_drawings(path: Path, data: list[Any], sequence: int) -> int:
    """On a worker: write atomically unless a newer write came first. Returns `sequence`."""
    with _write_lock:
        if _last_written.get(str(path), -1) > sequence:
            return sequence
        if path.is_symlink():
            raise OSError(f"{path} is a symbolic link: not written")
        text = json.dumps(data, indent=1, allow_nan=False)
        fd, tmp = tempfile.mkstemp(prefix=".drawings-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _last_written[str(path)] = sequence
        return sequence


class DrawingsFile(QObject):
    """Loads the book from the data folder at start and saves it after each change."""

    #: one message for the user (a file that could not be read or written)
    noticeRaised = Signal(str)
    #: the file was read (or found absent) and the old levels merged in
    loaded = Signal()
    #: a write finished (its sequence number)
    saved = Signal(int)

    def __init__(self, book: DrawingBook, scheduler: Scheduler, settings: QSettings,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.scheduler = scheduler
        self.settings = settings
        self.path: Path | None = None
        self.is_loaded = False
        self._writable = False
        self._sequence = 0
        self._dirty = False
        self._levels_pending = 0  # the sequence whose success lets the old setting go
        self._save_soon = debounced(self, SAVE_DELAY_MS, self.flush)
        book.add_listener(self._on_change)

    def start(self) -> None:
        self.scheduler.run("drawings:read", read_drawings, on_result=self._on_read,
                           on_error=lambda e: self.noticeRaised.emit(f"drawings not loaded: {e}"))

    def _on_read(self, result: ReadDrawings) -> None:
        self.path = result.path
        self._writable = result.writable
        if result.message:
            self.noticeRaised.emit(result.message)
        if result.data is not None:
            # Drawings placed before the file arrived are kept after the file's.
            known = {item["id"] for item in result.data}
            early = [d.to_json() for d in self.book if d.id not in known]
            self.book.remove_listener(self._on_change)
            try:
                self.book.load_json(result.data + early)
            finally:
                self.book.add_listener(self._on_change)
            self._dirty = bool(early)
        old = levels_from_setting(read_setting(self.settings, OLD_LEVELS_KEY, []))
        self.is_loaded = True
        if old:
            self.book.merge_levels("btc", old, time.time())
            self._dirty = True
        if self._dirty:
            self.flush()
            if old:
                self._levels_pending = self._sequence
        self.loaded.emit()

    def _on_change(self) -> None:
        self._dirty = True
        if self.is_loaded:
            self._save_soon()

    def flush(self) -> None:
        """Write now what changed (also at close: the scheduler waits for its workers)."""
        if not (self.is_loaded and self._dirty and self._writable and self.path is not None):
            return
        self._dirty = False
        self._sequence += 1
        self.scheduler.run(f"drawings:write:{self._sequence}", write_drawings, self.path,
                           self.book.to_json(), self._sequence,
                           on_result=self._on_saved, on_error=self._on_write_failed)

    def _on_saved(self, sequence: int) -> None:
        if self._levels_pending and sequence >= self._levels_pending:
            self._levels_pending = 0
            self.settings.remove(OLD_LEVELS_KEY)  # they live in the drawings from now on
        self.saved.emit(sequence)

    def _on_write_failed(self, exc: Exception) -> None:
        self._dirty = True  # the next change tries again
        self.noticeRaised.emit(f"drawings not saved: {exc}")
