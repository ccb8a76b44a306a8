"""The alert log: every firing and each evaluator's state, in `<data dir>/alerts.sqlite`.

A file of its own, not a table of the market cache: the cache may be quarantined and refilled
from the venues, a firing cannot be fetched again (docs/alert-delivery.md).

- A firing is one row keyed by (rule id, fired time): the same firing logged twice (a restart
  that evaluates the last rows again, the window and the recorder on one folder) is kept once,
  and `add` returns only the new ones, so nothing is delivered twice.
- `add` and `save_state` never raise: the alert service calls them on its worker. When the file
  cannot be written (another process holds it, a full disk, a read-only folder), the firings and
  the state are kept in memory and written at the next call; `problem` says what failed in one
  line. Reads (`recent`, `between`) raise `AlertLogError` with that line.
- A file that is proven damaged ("not a database", `PRAGMA integrity_check` fails) is moved aside
  as `alerts.sqlite.corrupt-<stamp>` (kept for inspection), the firings that can still be read are
  copied into a new file, and `notice` says so.
- A symbolic link where the file goes is refused, never followed; the file is created 0600.

Blocking I/O without Qt: the window calls it on workers (the alert service's own, or the job
runner for the log dock's reads). One connection, shared under a lock by the calling threads.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from models.alerts import Firing
from services.errors import TransientError

log = logging.getLogger(__name__)

ALERT_LOG_FILE = "alerts.sqlite"
DEFAULT_STATE_KEY = "evaluator"
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS firings (
    rule_id       TEXT NOT NULL,
    fired_ms      INTEGER NOT NULL,   -- data time it fired
    true_since_ms INTEGER NOT NULL,   -- data time the condition became true
    noticed_ms    INTEGER,            -- wall clock when evaluated live; NULL in a back-test
    firing        TEXT NOT NULL,      -- Firing.to_json()
    PRIMARY KEY (rule_id, fired_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS firings_by_time ON firings (fired_ms);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    state TEXT NOT NULL               -- RuleEvaluator.state_to_json()
) WITHOUT ROWID;
"""
_SUFFIXES = ("", "-wal", "-shm")
T = TypeVar("T")


class AlertLogError(TransientError):
    """The alert log cannot be read now; the message says why and what was done."""


class AlertLog:
    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 2.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        #: set once when the file was found damaged and replaced (for a status line)
        self.notice: str | None = None
        #: what the last failed write or read met, None once the file works again
        self.problem: str | None = None
        self._lock = threading.Lock()  # one connection, shared by the threads that log
        self._conn: sqlite3.Connection | None = None
        self._pending: dict[tuple[str, int], Firing] = {}
        self._pending_state: dict[str, dict[str, Any]] = {}

    # -- writing (never raises) ------------------------------------------------------------------
    def add(self, firings: Iterable[Firing]) -> list[Firing]:
        """Log `firings`; returns those not logged before, in the order given. When the file
        cannot be written they are all returned (to be delivered) and kept for the next call."""
        firings = list(firings)
        if not firings:
            return []
        with self._lock:
            for f in firings:
                self._pending.setdefault((f.rule_id, int(f.fired_ms)), f)
            try:
                written = self._run(self._write_pending)
            except _Unavailable as e:
                self._set_problem(f"{e}: {len(self._pending)} firing(s) kept in memory, "
                                  "written at the next firing")
                return firings
            self._pending, self._pending_state = {}, {}  # committed
            self.problem = None
        new = []
        for f in firings:  # a firing given twice in one call is new once
            key = (f.rule_id, int(f.fired_ms))
            if key in written:
                written.discard(key)
                new.append(f)
        return new

    def save_state(self, state: dict[str, Any], key: str = DEFAULT_STATE_KEY) -> bool:
        """Keep an evaluator's state (its JSON); False when only kept in memory for now."""
        with self._lock:
            self._pending_state[key] = state
            try:
                self._run(self._write_pending)
            except _Unavailable as e:
                self._set_problem(f"{e}: the alert state is kept in memory and written later")
                return False
            self._pending, self._pending_state = {}, {}  # committed
            self.problem = None
            return True

    def _write_pending(self, conn: sqlite3.Connection) -> set[tuple[str, int]]:
        written = set()
        for key, f in self._pending.items():
            cur = conn.execute(
                "INSERT OR IGNORE INTO firings VALUES (?, ?, ?, ?, ?)",
                (f.rule_id, int(f.fired_ms), int(f.true_since_ms),
                 None if f.noticed_ms is None else int(f.noticed_ms),
                 json.dumps(f.to_json(), allow_nan=False, separators=(",", ":"))))
            if cur.rowcount:
                written.add(key)
        for key, state in self._pending_state.items():
            conn.execute("INSERT OR REPLACE INTO state VALUES (?, ?)",
                         (key, json.dumps(state, allow_nan=False, separators=(",", ":"))))
        return written

    # -- reading -----------------------------------------------------------------------------------
    def recent(self, limit: int = 500) -> list[Firing]:
        """The last `limit` firings by fired time, newest first (those waiting in memory too)."""
        rows = self._read("SELECT firing FROM firings ORDER BY fired_ms DESC, rule_id LIMIT ?",
                          (int(limit),))
        return sorted(self._merged(rows, lambda f: True),
                      key=lambda f: (-f.fired_ms, f.rule_id))[:limit]

    def between(self, start_ms: int | None = None, end_ms: int | None = None) -> list[Firing]:
        """Firings with start_ms <= fired time < end_ms (either end open when None), oldest
        first."""
        lo = -(2**63) if start_ms is None else int(start_ms)
        hi = 2**63 - 1 if end_ms is None else int(end_ms)
        rows = self._read("SELECT firing FROM firings WHERE fired_ms >= ? AND fired_ms < ? "
                          "ORDER BY fired_ms, rule_id", (lo, hi))
        return sorted(self._merged(rows, lambda f: lo <= f.fired_ms < hi),
                      key=lambda f: (f.fired_ms, f.rule_id))

    def load_state(self, key: str = DEFAULT_STATE_KEY) -> dict[str, Any] | None:
        """The state last saved under `key`; None if none (or the file cannot be read: the
        evaluator then starts afresh, and `problem` says why)."""
        with self._lock:
            if key in self._pending_state:
                return self._pending_state[key]
        try:
            rows = self._read("SELECT state FROM state WHERE key = ?", (key,), convert=False)
        except AlertLogError:
            return None
        if not rows:
            return None
        try:
            state = json.loads(rows[0])
        except ValueError:
            log.warning("alert log %s: the saved state %r is not JSON; starting afresh",
                        self.path, key)
            return None
        return state if isinstance(state, dict) else None

    def _read(self, sql: str, params: tuple[Any, ...], convert: bool = True) -> list[Any]:
        with self._lock:
            try:
                rows = self._run(lambda conn: [r[0] for r in conn.execute(sql, params)])
            except _Unavailable as e:
                self._set_problem(str(e))
                raise AlertLogError(f"alert log unreadable: {e}") from None
        if not convert:
            return rows
        out = []
        for text in rows:
            try:
                out.append(Firing.from_json(json.loads(text)))
            except (ValueError, TypeError, KeyError) as e:
                log.warning("alert log %s: skipped a firing that no longer reads (%s)",
                            self.path, e)
        return out

    def _merged(self, stored: list[Firing], keep) -> list[Firing]:
        with self._lock:
            waiting = [f for f in self._pending.values() if keep(f)]
        seen = {(f.rule_id, f.fired_ms) for f in stored}
        return stored + [f for f in waiting if (f.rule_id, f.fired_ms) not in seen]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    # -- the file ----------------------------------------------------------------------------------
    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(conn)` in one transaction; any failure becomes `_Unavailable` with a clear
        message, after a proven-corrupt file has been replaced (and `work` tried once more)."""
        for attempt in (1, 2):
            try:
                conn = self._open()
                with conn:  # commits, or rolls back on an exception
                    return work(conn)
            except (sqlite3.Error, OSError) as e:
                self._drop_connection()
                if attempt == 1 and self._proven_corrupt(e):
                    self._quarantine(e)
                    continue
                raise _Unavailable(self._describe(e)) from e
        raise AssertionError("unreachable")

    def _open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        for suffix in _SUFFIXES:
            if Path(f"{self.path}{suffix}").is_symlink():
                raise OSError(errno.ELOOP, "is a symbolic link", f"{self.path}{suffix}")
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
            os.close(fd)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _proven_corrupt(self, e: BaseException) -> bool:
        text = str(e)
        if "not a database" in text or "malformed" in text:
            return True
        if not isinstance(e, sqlite3.DatabaseError) or _is_busy(e) or not self.path.is_file():
            return False
        try:
            check = sqlite3.connect(self.path, timeout=self.busy_timeout_s)
            try:
                rows = check.execute("PRAGMA integrity_check").fetchall()
            finally:
                check.close()
        except sqlite3.Error as e2:
            return "not a database" in str(e2) or "malformed" in str(e2)
        return rows != [("ok",)]

    def _quarantine(self, cause: BaseException) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        saved = _readable_firings(self.path)
        for suffix in _SUFFIXES:
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.replace(Path(f"{moved}{suffix}"))
        conn = self._open()  # a new, empty file
        with conn:
            conn.executemany("INSERT OR IGNORE INTO firings VALUES (?, ?, ?, ?, ?)", saved)
        kept = (f"{len(saved)} logged firing(s) were copied into a new log" if saved
                else "no logged firing could be read; a new log was started")
        self.notice = (f"The alert log was damaged ({cause}): {kept}. The damaged file was "
                       f"moved to {moved.name}.")
        log.error("alert log %s: %s", self.path, self.notice)

    def _describe(self, e: BaseException) -> str:
        where = self.path.name
        if isinstance(e, OSError) and e.errno == errno.ELOOP:
            return f"{e.filename or self.path} is a symbolic link; Rotor does not follow it"
        if isinstance(e, OSError) and e.errno in (errno.EEXIST, errno.ENOTDIR):
            return f"alert log folder {self.path.parent} cannot be made (a file is in the way)"
        if _is_busy(e):
            return (f"alert log {where} is locked by another process (waited "
                    f"{self.busy_timeout_s:g} s)")
        text = str(e)
        if (isinstance(e, OSError) and e.errno == errno.ENOSPC) or "disk is full" in text:
            return f"disk full: alert log {where} cannot grow"
        if (isinstance(e, OSError) and e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)) \
                or "readonly" in text or "unable to open" in text:
            return f"alert log {self.path} cannot be written (read-only folder?)"
        return f"alert log {where}: {text or type(e).__name__}"

    def _set_problem(self, text: str) -> None:
        if text != self.problem:
            log.warning("%s", text)
        self.problem = text


class _Unavailable(Exception):
    """The file could not be used this time; the text is the message for people."""


def _is_busy(e: BaseException) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return True
    return "locked" in str(e)


def _readable_firings(path: Path) -> list[tuple[Any, ...]]:
    """The firing rows a damaged file still gives, read one by one (a bad page loses only its
    rows)."""
    rows: list[tuple[Any, ...]] = []
    try:
        src = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return rows
    try:
        cursor = src.execute("SELECT rule_id, fired_ms, true_since_ms, noticed_ms, firing "
                             "FROM firings")
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.Error:
                break
            if row is None:
                break
            rows.append(row)
    except sqlite3.Error:
        pass
    finally:
        src.close()
    return rows
