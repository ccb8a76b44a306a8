"""The local SQLite cache: one file, WAL, column chunks stored as binary blobs.

Why blobs: reading 1M rows through `pd.read_sql` costs ~0.6 s on this machine kind, and a
`fetchall` of 1M tuples holds the GIL for ~200 ms (freezing the GUI). A chunk holds up to a few
thousand rows as `int64 time || float64 columns` bytes, so a read is a few hundred small row
fetches plus `np.frombuffer` (GIL released for the copies), and an upsert rewrites only the chunks
it touches. Rows are merged by (series, time): a row is never duplicated; a newer value wins.

Every method may be called from any worker thread: each thread gets its own connection.

Reported liquidations are kept twice: as the events the venues sent (table `liquidations`, one
row per order, repeats ignored) and as the `liq.*` minute buckets recomputed from them in the same
transaction (`add_liquidations`; docs/liquidations.md).

Failures (docs/architecture.md, "The cache under faults"): a full disk, an I/O error, a
read-only folder or another process's lock raise a typed, transient `services.errors` error and
leave the file alone. Only proven corruption (`PRAGMA integrity_check` fails, or "file is not a
database") moves the file aside (kept for inspection); what a per-series read can still save is
copied into the new file first, and `notice` says so for the UI. A read-only data folder opens
the cache read-only (the cached data can still be shown) and says so in `notice`. A symlink
where the cache files go is refused, never followed.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.catalog import validate_series_id
from models.ids import IdKind, SeriesId, liq_id, parse_series_id
from models.liquidations import BUCKET_MS, add_buckets, bucket_arrays, check_liquidation
from models.series import FUTURE_TOLERANCE_MS, SeriesData, Snapshot, now_ms
from models.stream_events import LONG, SHORT, Liquidation
from services import chunk_codec
from services.errors import (
    DISK_RETRY_SECONDS,
    LOCK_RETRY_SECONDS,
    CacheBusy,
    CacheCorrupt,
    CacheFull,
    CacheIOError,
    CacheReadOnly,
    ServiceError,
    TransientError,
    UnsafeFile,
)

log = logging.getLogger(__name__)

ROWS_PER_CHUNK = 4096
_SCHEMA_VERSION = 2  # 2: snapshot revisions (recorded_ms)
_SNAPSHOTS_DDL = """
-- Every revision of a snapshot is kept: a venue re-serving the same stamp with other numbers
-- (a correction) adds a row recorded later (docs/replay.md, "As of").
CREATE TABLE IF NOT EXISTS snapshots (
    series_id   TEXT NOT NULL,
    time_ms     INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,    -- when this revision was stored (wall clock, epoch ms)
    format      TEXT NOT NULL,       -- 'json-split+zlib': a DataFrame as JSON, never a pickle
    meta        TEXT NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (series_id, time_ms, recorded_ms)
) WITHOUT ROWID;
"""
_SNAPSHOT_COLUMNS = "series_id, time_ms, recorded_ms, format, meta, data"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    series_id TEXT NOT NULL,
    chunk     INTEGER NOT NULL,      -- time_ms // chunk_span_ms
    n         INTEGER NOT NULL,
    first_ms  INTEGER NOT NULL,
    last_ms   INTEGER NOT NULL,
    columns   TEXT NOT NULL,         -- JSON list of column names
    data      BLOB NOT NULL,         -- services/chunk_codec.py: plain or compact (by its magic)
    PRIMARY KEY (series_id, chunk)
) WITHOUT ROWID;
""" + _SNAPSHOTS_DDL + """
CREATE TABLE IF NOT EXISTS series_meta (
    series_id TEXT PRIMARY KEY,
    meta      TEXT NOT NULL          -- JSON object
) WITHOUT ROWID;
-- Reported liquidations as the venues sent them (models/stream_events.Liquidation); the
-- liq.* minute buckets are recomputed from these rows, so a repeat (a stream message and the
-- REST backfill of the same order) is counted once.
-- The key is (venue, instrument, time, side, size, price); the asset follows from the
-- instrument, and leads the key so that a series' minutes are one range of it.
CREATE TABLE IF NOT EXISTS liquidations (
    venue      TEXT NOT NULL,
    instrument TEXT NOT NULL,
    time_ms    INTEGER NOT NULL,
    side       TEXT NOT NULL,        -- the liquidated side: long or short
    qty        REAL NOT NULL,        -- base coin
    price      REAL NOT NULL,
    asset      TEXT NOT NULL,
    usd        REAL NOT NULL,
    price_kind TEXT NOT NULL,
    PRIMARY KEY (venue, asset, time_ms, instrument, side, qty, price)
) WITHOUT ROWID;
"""


# SQLite primary result codes (https://sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26
_FILE_SUFFIXES = ("", "-wal", "-shm")


class CacheError(TransientError):
    """A cache read or write failed for a reason that is neither a disk fault nor corruption."""


def _disk_error(exc: BaseException, path: Path) -> ServiceError | None:
    """The typed error for a fault that leaves the file intact; None when it may be corruption."""
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return CacheFull(f"disk full at {path.parent} ({exc.strerror})",
                             retry_after=DISK_RETRY_SECONDS)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return CacheReadOnly(f"data folder {path.parent} is read-only ({exc.strerror})",
                                 retry_after=DISK_RETRY_SECONDS)
        if exc.errno == errno.ELOOP:
            return UnsafeFile(f"{path} is a symlink; refusing to follow it")
        return CacheIOError(f"cache I/O error at {path} ({exc})", retry_after=DISK_RETRY_SECONDS)
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return CacheBusy(f"cache busy: another process holds it ({text})",
                         retry_after=LOCK_RETRY_SECONDS)
    if primary == _SQLITE_FULL or "disk is full" in text:
        return CacheFull(f"disk full: nothing was stored ({text}); free space at {path.parent}",
                         retry_after=DISK_RETRY_SECONDS)
    if primary == _SQLITE_READONLY or "readonly" in text:
        return CacheReadOnly(f"data folder {path.parent} is read-only ({text})",
                             retry_after=DISK_RETRY_SECONDS)
    if primary == _SQLITE_IOERR or "disk I/O error" in text:
        return CacheIOError(f"cache I/O error ({text})", retry_after=DISK_RETRY_SECONDS)
    if primary == _SQLITE_CANTOPEN:
        if not os.access(path.parent, os.W_OK):
            return CacheReadOnly(f"data folder {path.parent} is read-only ({text})",
                                 retry_after=DISK_RETRY_SECONDS)
        return CacheIOError(f"cache could not be opened ({text})", retry_after=DISK_RETRY_SECONDS)
    return None


def _is_corruption(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    return (primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text
            or "not a database" in text)


def _parsed_or_none(series_id: str) -> SeriesId | None:
    try:
        return parse_series_id(series_id)
    except ValueError:
        return None


def _key_floats(values: np.ndarray) -> np.ndarray:
    """Sizes or prices as the dedupe key holds them: 12 significant digits, so one order
    reported twice (sz × ctVal computed on two roads, a last-bit difference) is one key."""
    values = np.asarray(values, dtype=float)
    digits = 11 - np.floor(np.log10(np.abs(values)))
    scale = 10.0 ** digits
    return np.round(values * scale) / scale


@dataclass(frozen=True)
class _LiquidationBatch:
    """Checked events of one venue and asset, as arrays."""

    venue: str
    asset: str
    instruments: list[str]
    price_kinds: list[str]
    time_ms: np.ndarray
    is_long: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    usd: np.ndarray


def _encode(data: SeriesData, fmt: int = chunk_codec.COMPACT) -> bytes:
    return chunk_codec.encode(fmt, data.time, list(data.columns.values()))


def _decode(n: int, names: list[str], blob: bytes) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    try:
        t, cols = chunk_codec.decode(n, len(names), blob)
    except chunk_codec.ChunkFormatError as e:
        raise CacheError(str(e)) from None
    return t, dict(zip(names, cols, strict=True))


def _has_revisions(conn: sqlite3.Connection) -> bool:
    """Whether the file's snapshot table has the revision column (schema 2), or no table."""
    columns = [r[1] for r in conn.execute("PRAGMA main.table_info(snapshots)")]
    return not columns or "recorded_ms" in columns


def _migrate_snapshots(conn: sqlite3.Connection) -> None:
    """Schema 1 kept one snapshot per (series, time) and ignored a later different one. Rebuild
    the table with the revision column; each stored snapshot becomes the revision recorded at
    its own stamp, which is when a live fetch stored it (docs/replay.md, "As of")."""
    if _has_revisions(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not _has_revisions(conn):  # another process may have migrated it meanwhile
            conn.execute("ALTER TABLE snapshots RENAME TO snapshots_v1")
            conn.execute(_SNAPSHOTS_DDL)
            conn.execute(f"INSERT INTO snapshots ({_SNAPSHOT_COLUMNS}) SELECT series_id, "
                         "time_ms, time_ms, format, meta, data FROM snapshots_v1")
            conn.execute("DROP TABLE snapshots_v1")
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    log.info("cache: snapshots migrated to schema %d (revisions kept)", _SCHEMA_VERSION)


class Cache:
    #: how new chunks are written (services/chunk_codec.py); chunks of either format are read.
    #: The bench sets PLAIN on an instance to measure reads of the old format.
    chunk_format = chunk_codec.COMPACT
    #: a later-corrected snapshot is kept beside the first one; as-of reads pick the revision
    #: known then (models/asof.py: AsOfLoader passes `known_ms`)
    keeps_revisions = True

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.notice: str | None = None
        # One connection per OS thread, keyed by thread id: a Qt pool thread gets a new Python
        # thread state (so an empty threading.local) for every job it runs, which would open,
        # and keep, a connection per job.
        self._conns: dict[int, tuple[int, sqlite3.Connection]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._generation = 0
        #: the data folder cannot be written: the cache was opened read-only
        self.read_only = False
        self._refuse_symlinks()
        self._open_checked()

    def _refuse_symlinks(self) -> None:
        for suffix in _FILE_SUFFIXES:
            candidate = Path(f"{self.path}{suffix}")
            if candidate.is_symlink():
                raise UnsafeFile(f"{candidate} is a symlink; Rotor does not follow symlinks for "
                                 "its cache. Replace it with a plain file or remove it.")

    # -- connections --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_read_only()
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # user-only from birth; O_NOFOLLOW: a symlink planted meanwhile is refused (ELOOP)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
            os.close(fd)
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False,
                               isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last commit
        conn.execute("PRAGMA busy_timeout=10000")
        # Reads map the file instead of copying every 4 KB page through the page cache: a 1M-row
        # read (~48 MB of blobs) fetches in ~9 ms instead of ~22. Writes still go through WAL.
        conn.execute("PRAGMA mmap_size=268435456")
        return conn

    def _conn(self) -> sqlite3.Connection:
        ident = threading.get_ident()
        with self._lock:
            entry = self._conns.get(ident)
        if entry is not None and entry[0] == self._generation:
            return entry[1]
        conn = self._connect()
        with self._lock:
            old = self._conns.get(ident)
            self._conns[ident] = (self._generation, conn)
        if old is not None:
            with contextlib.suppress(sqlite3.Error):
                old[1].close()
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=10.0,
                                   check_same_thread=False, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            # WAL needs a -shm file it cannot create in a read-only folder: read the file as it
            # is (nothing else can write there either).
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False,
                                   isolation_level=None)
        if not _has_revisions(conn):
            # A schema-1 file that cannot be migrated here: read its snapshots as revisions
            # recorded at their stamps (a temp view shadows the table, the file is untouched).
            conn.execute("CREATE TEMP VIEW snapshots AS SELECT series_id, time_ms, "
                         "time_ms AS recorded_ms, format, meta, data FROM main.snapshots")
        return conn

    def _open_checked(self) -> None:
        try:
            conn = self._conn()
            conn.executescript(_SCHEMA)
            _migrate_snapshots(conn)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < _SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM chunks WHERE series_id = ''").fetchone()
        except (sqlite3.Error, OSError) as e:
            fault = _disk_error(e, self.path)
            if isinstance(fault, CacheReadOnly) and self.path.is_file():
                self._open_read_only(fault)
                return
            if fault is not None:
                self.close()
                log.error("cache %s: %s", self.path, fault)
                raise fault from e
            if not self._proven_corrupt(e):
                self.close()
                raise CacheError(f"cache could not be opened: {e}") from e
            self._quarantine(e)

    def _open_read_only(self, cause: ServiceError) -> None:
        self.close()
        self.read_only = True
        self._generation += 1
        try:
            self._conn().execute("SELECT count(*) FROM chunks WHERE series_id = ''").fetchone()
        except sqlite3.Error as e:
            self.close()
            raise cause from e
        self.notice = (f"The data folder {self.path.parent} is read-only: cached data is shown, "
                       "but nothing new can be saved until it is writable again.")
        log.error(self.notice)

    def _proven_corrupt(self, cause: BaseException) -> bool:
        """Run `PRAGMA integrity_check` on a fresh connection: only its verdict, or SQLite
        refusing the header, proves corruption."""
        if "not a database" in str(cause):
            return True
        try:
            check = sqlite3.connect(self.path, timeout=10.0)
            try:
                rows = check.execute("PRAGMA integrity_check").fetchall()
            finally:
                check.close()
        except sqlite3.Error as e:
            fault = _disk_error(e, self.path)
            if fault is not None:
                raise fault from cause
            return _is_corruption(e)
        ok = rows == [("ok",)]
        if not ok:
            log.error("cache integrity_check failed: %s", "; ".join(str(r[0]) for r in rows[:5]))
        return not ok

    def _quarantine(self, cause: Exception) -> None:
        """Copy what can be read into a new file, move the damaged one aside, use the new one."""
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        fresh = self.path.with_name(f"{self.path.name}.recovering-{stamp}")
        saved, lost = _copy_readable_series(self.path, fresh)
        for suffix in _FILE_SUFFIXES:
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.replace(Path(f"{moved}{suffix}"))
        fresh.replace(self.path)
        if saved or lost:
            kept = (f"{len(saved)} of {len(saved) + len(lost)} series were saved into a new "
                    "cache")
            if lost:
                kept += f" (lost: {', '.join(lost[:8])}{' …' if len(lost) > 8 else ''})"
        else:
            kept = "nothing could be saved; a new cache was started"
        self.notice = (f"The cache was damaged ({cause}): {kept}. The damaged file was moved to "
                       f"{moved.name}. Missing data will be fetched again.")
        log.error(self.notice)
        self._generation += 1
        conn = self._conn()
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as e:
            fault = _disk_error(e, self.path)
            if fault is not None:
                log.warning("cache %s: %s", self.path, fault)
                raise fault from e
            if not self._proven_corrupt(e):
                raise CacheError(f"cache error: {e}") from e
            self._quarantine(e)
            raise CacheCorrupt(self.notice or f"cache damaged: {e}") from e

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, {}
        for _generation, conn in conns.values():
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- series -------------------------------------------------------------------------------
    def _chunk_span(self, conn: sqlite3.Connection, series_id: str, data: SeriesData) -> int:
        meta = self._meta(conn, series_id)
        span = meta.get("chunk_span_ms")
        if isinstance(span, int) and span > 0:
            return span
        if len(data) >= 2:
            step = int(np.median(np.diff(data.time)))
        else:
            step = 3_600_000
        span = max(60_000, step) * ROWS_PER_CHUNK
        meta["chunk_span_ms"] = span
        self._write_meta(conn, series_id, meta)
        return span

    def upsert(self, series_id: str, data: SeriesData) -> int:
        """Merge rows into the cache in one transaction; returns how many times were new."""
        validate_series_id(series_id)
        data = data.normalized().without_empty_rows()
        if not len(data):
            return 0
        with self._guard(), self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                added = self._upsert_in(conn, series_id, data)
                conn.execute("COMMIT")
            except BaseException:
                # SQLITE_FULL and some I/O errors roll back by themselves: a second ROLLBACK
                # would fail and hide the real cause.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return added

    def _upsert_in(self, conn: sqlite3.Connection, series_id: str, data: SeriesData) -> int:
        """The merge of `upsert`, inside the caller's transaction."""
        added = 0
        span = self._chunk_span(conn, series_id, data)
        keys = data.time // span
        bounds = np.flatnonzero(np.diff(keys)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(data)]])
        for lo, hi in zip(starts, ends, strict=True):
            key = int(keys[lo])
            part = SeriesData(data.time[lo:hi], {k: v[lo:hi] for k, v in data.columns.items()})
            row = conn.execute(
                "SELECT n, columns, data FROM chunks WHERE series_id=? AND chunk=?",
                (series_id, key)).fetchone()
            if row is not None:
                t_old, cols_old = _decode(row[0], json.loads(row[1]), row[2])
                old = SeriesData(t_old, cols_old)
                added += int(len(part) - np.isin(part.time, old.time).sum())
                merged = old.merge(part)
            else:
                added += len(part)
                merged = part
            conn.execute(
                "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?)",
                (series_id, key, len(merged), merged.first_ms, merged.last_ms,
                 json.dumps(list(merged.names)), _encode(merged, self.chunk_format)))
        return added

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData:
        validate_series_id(series_id)
        sql = "SELECT n, columns, data FROM chunks WHERE series_id=?"
        args: list[Any] = [series_id]
        with self._guard():
            conn = self._conn()
            span = self._meta(conn, series_id).get("chunk_span_ms") \
                if start_ms is not None or end_ms is not None else None
            # A chunk holds the rows of one `time // span`: bounding the key lets SQLite seek
            # to the chunks in range instead of visiting every row of the series (the newest
            # two weeks of 4.9M minutes: 50 ms scanning, ~3 ms seeking).
            keyed = isinstance(span, int) and span > 0
            if start_ms is not None:
                sql += " AND last_ms >= ?"
                args.append(int(start_ms))
                if keyed:
                    sql += " AND chunk >= ?"
                    args.append(int(start_ms) // span)
            if end_ms is not None:
                sql += " AND first_ms <= ?"
                args.append(int(end_ms))
                if keyed:
                    sql += " AND chunk <= ?"
                    args.append(int(end_ms) // span)
            sql += " ORDER BY chunk"
            rows = conn.execute(sql, args).fetchall()
        if not rows:
            return SeriesData.empty()
        if len({cols_json for _n, cols_json, _blob in rows}) == 1:
            return self._read_one_layout(rows).between(start_ms, end_ms)
        names: list[str] = []
        layouts: dict[str, list[str]] = {}  # most chunks share one column list: parse it once
        decoded = []
        for n, cols_json, blob in rows:
            cols = layouts.get(cols_json)
            if cols is None:
                cols = layouts[cols_json] = json.loads(cols_json)
                for c in cols:
                    if c not in names:
                        names.append(c)
            decoded.append(_decode(n, cols, blob))
        del rows
        # One copy per column out of the blobs (np.concatenate), NaN only where a chunk lacks it.
        time_out = np.concatenate([t for t, _ in decoded])
        cols_out = {c: np.concatenate([cols[c] if c in cols else np.full(len(t), np.nan)
                                       for t, cols in decoded]) for c in names}
        return SeriesData(time_out, cols_out).between(start_ms, end_ms)

    @staticmethod
    def _read_one_layout(rows: list[tuple[int, str, bytes]]) -> SeriesData:
        """Chunks with one column list, decoded straight into one array per column."""
        names = json.loads(rows[0][1])
        total = sum(n for n, _cols, _blob in rows)
        time_out = np.empty(total, dtype=np.int64)
        cols_out = [np.empty(total, dtype=np.float64) for _ in names]
        at = 0
        for n, _cols, blob in rows:
            try:
                chunk_codec.decode_into(n, len(names), blob, time_out[at:at + n],
                                        [col[at:at + n] for col in cols_out])
            except chunk_codec.ChunkFormatError as e:
                raise CacheError(str(e)) from None
            at += n
        return SeriesData(time_out, dict(zip(names, cols_out, strict=True)))

    def bounds(self, series_id: str) -> tuple[int, int, int] | None:
        """(first_ms, last_ms, rows) of a cached series, or None when it has no rows."""
        validate_series_id(series_id)
        with self._guard():
            row = self._conn().execute(
                "SELECT min(first_ms), max(last_ms), sum(n) FROM chunks WHERE series_id=?",
                (series_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1]), int(row[2])

    def span(self, series_id: str) -> tuple[int, int] | None:
        """(first_ms, last_ms) of a cached series from its first and last chunk: two key
        look-ups (`bounds` visits every chunk to count the rows)."""
        validate_series_id(series_id)
        with self._guard():
            conn = self._conn()
            first = conn.execute("SELECT first_ms FROM chunks WHERE series_id=? ORDER BY chunk "
                                 "LIMIT 1", (series_id,)).fetchone()
            last = conn.execute("SELECT last_ms FROM chunks WHERE series_id=? ORDER BY chunk "
                                "DESC LIMIT 1", (series_id,)).fetchone()
        if first is None or last is None:
            return None
        return int(first[0]), int(last[0])

    def series_ids(self) -> list[str]:
        with self._guard():
            rows = self._conn().execute(
                "SELECT DISTINCT series_id FROM chunks UNION "
                "SELECT DISTINCT series_id FROM snapshots ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def delete(self, series_id: str) -> None:
        validate_series_id(series_id)
        with self._guard(), self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            for table in ("chunks", "snapshots", "series_meta"):
                conn.execute(f"DELETE FROM {table} WHERE series_id=?", (series_id,))
            parsed = _parsed_or_none(series_id)
            if parsed is not None and parsed.kind is IdKind.LIQUIDATIONS:
                # the events the buckets are summed from go with them
                conn.execute("DELETE FROM liquidations WHERE venue=? AND asset=?",
                             (parsed.venue, parsed.asset))
            conn.execute("COMMIT")

    # -- reported liquidations ------------------------------------------------------------------
    def add_liquidations(self, events: Sequence[Liquidation]) -> dict[str, SeriesData]:
        """Store reported liquidations and bring their `liq.*` minute buckets up to date.

        A repeat of a stored event (same venue, instrument, time, side, size and price: the
        stream and the REST backfill reporting one order) is ignored. Every minute an event
        touched is recomputed from the stored events, so a bucket is always the sum of what
        was recorded in it, however often its events arrived. Returns the recomputed buckets
        by series id (what a caller merges into what it shows). Events that are not finite
        or positive are refused (logged), not stored."""
        return self.add_liquidations_counted(events)[0]

    def add_liquidations_counted(self, events: Sequence[Liquidation]
                                 ) -> tuple[dict[str, SeriesData], int]:
        """`add_liquidations`, and how many of the events were new."""
        groups: dict[tuple[str, str], list[Liquidation]] = {}
        refused = 0
        for ev in events:
            problem = check_liquidation(ev)
            if problem:
                refused += 1
                if refused == 1:
                    log.warning("liquidation refused (%s): %s", problem, ev)
                continue
            groups.setdefault((ev.venue, ev.asset), []).append(ev)
        if refused > 1:
            log.warning("%d liquidations refused in one batch", refused)
        batches = [_LiquidationBatch(
            venue, asset, [e.instrument for e in group], [e.price_kind for e in group],
            np.array([e.time_ms for e in group], dtype=np.int64),
            np.array([e.side == LONG for e in group], dtype=bool),
            np.array([e.qty for e in group], dtype=float),
            np.array([e.price for e in group], dtype=float),
            np.array([e.usd for e in group], dtype=float))
            for (venue, asset), group in groups.items()]
        return self._store_liquidations(batches)

    def add_liquidation_arrays(self, venue: str, asset: str, instrument: str, price_kind: str,
                               time_ms: np.ndarray, is_long: np.ndarray, qty: np.ndarray,
                               price: np.ndarray) -> tuple[dict[str, SeriesData], int]:
        """`add_liquidations_counted` for many events of one instrument given as arrays (the
        demo's month of them): the same table and buckets, without an object per event."""
        time_ms = np.asarray(time_ms, dtype=np.int64)
        qty, price = np.asarray(qty, dtype=float), np.asarray(price, dtype=float)
        usd = qty * price
        ok = (time_ms > 0) & np.isfinite(usd) & (qty > 0) & (price > 0)
        if not ok.all():
            log.warning("%d liquidations refused (size or price not finite and positive)",
                        int((~ok).sum()))
        n = int(ok.sum())
        batch = _LiquidationBatch(venue, asset, [instrument] * n, [price_kind] * n, time_ms[ok],
                                  np.asarray(is_long, dtype=bool)[ok], qty[ok], price[ok], usd[ok])
        return self._store_liquidations([batch] if n else [])

    def _store_liquidations(self, batches: list[_LiquidationBatch]
                            ) -> tuple[dict[str, SeriesData], int]:
        if not batches:
            return {}, 0
        for batch in batches:
            validate_series_id(liq_id(batch.venue, batch.asset))
        out: dict[str, SeriesData] = {}
        new_total = 0
        with self._guard(), self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for b in batches:
                    minutes = np.unique(b.time_ms - b.time_ms % BUCKET_MS)
                    lo, hi = int(minutes[0]), int(minutes[-1]) + BUCKET_MS
                    stored_before = conn.execute(
                        "SELECT 1 FROM liquidations WHERE venue=? AND asset=? AND time_ms>=? "
                        "AND time_ms<? LIMIT 1", (b.venue, b.asset, lo, hi)).fetchone()
                    qty, price = _key_floats(b.qty), _key_floats(b.price)
                    n = len(b.time_ms)
                    rows = zip([b.venue] * n, b.instruments, b.time_ms.tolist(),
                               [LONG if v else SHORT for v in b.is_long.tolist()], qty.tolist(),
                               price.tolist(), [b.asset] * n, b.usd.tolist(), b.price_kinds,
                               strict=True)
                    before = conn.total_changes
                    conn.executemany(
                        "INSERT OR IGNORE INTO liquidations VALUES (?,?,?,?,?,?,?,?,?)", rows)
                    new = conn.total_changes - before
                    new_total += new
                    series_id = liq_id(b.venue, b.asset)
                    if new == n:
                        # every event new: the stored minutes plus the batch's (a cascade's
                        # busy minute is not read back once a second)
                        buckets = bucket_arrays(b.time_ms, b.is_long, qty, b.usd)
                        if stored_before is not None:
                            stored = self._series_in(conn, series_id, lo, hi - 1)
                            mine = np.isin(stored.time, minutes)
                            buckets = add_buckets(SeriesData(
                                stored.time[mine],
                                {k: v[mine] for k, v in stored.columns.items()}), buckets)
                    else:  # some were repeats: sum the minutes from what is stored
                        buckets = self._liquidation_buckets(conn, b.venue, b.asset, minutes)
                    if len(buckets):
                        self._upsert_in(conn, series_id, buckets)
                    out[series_id] = buckets
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return out, new_total

    @staticmethod
    def _series_in(conn: sqlite3.Connection, series_id: str, start_ms: int,
                   end_ms: int) -> SeriesData:
        """A stored series' rows in [start, end], inside the caller's transaction."""
        rows = conn.execute(
            "SELECT n, columns, data FROM chunks WHERE series_id=? AND last_ms>=? AND first_ms<=? "
            "ORDER BY chunk", (series_id, start_ms, end_ms)).fetchall()
        parts = [SeriesData(*_decode(n, json.loads(cols), blob)) for n, cols, blob in rows]
        return SeriesData.concat(parts).between(start_ms, end_ms) if parts else \
            SeriesData.empty()

    @staticmethod
    def _liquidation_buckets(conn: sqlite3.Connection, venue: str, asset: str,
                             minutes: np.ndarray) -> SeriesData:
        """The buckets of these minutes, summed from every stored event in them."""
        lo, hi = int(minutes[0]), int(minutes[-1]) + BUCKET_MS
        found = conn.execute(
            "SELECT time_ms, side = ?, qty, usd FROM liquidations "
            "WHERE venue=? AND asset=? AND time_ms>=? AND time_ms<?",
            (LONG, venue, asset, lo, hi)).fetchall()
        if not found:
            return SeriesData.empty()
        time_ms = np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found))
        is_long = np.fromiter((r[1] for r in found), dtype=bool, count=len(found))
        qty = np.fromiter((r[2] for r in found), dtype=float, count=len(found))
        usd = np.fromiter((r[3] for r in found), dtype=float, count=len(found))
        keep = np.isin(time_ms - time_ms % BUCKET_MS, minutes)
        return bucket_arrays(time_ms[keep], is_long[keep], qty[keep], usd[keep])

    def liquidation_events(self, series_id: str, start_ms: int | None = None,
                           end_ms: int | None = None) -> list[Liquidation]:
        """The stored events behind `liq.<venue>.<asset>`, oldest first, in [start, end]."""
        validate_series_id(series_id)
        parsed = parse_series_id(series_id)
        if parsed.kind is not IdKind.LIQUIDATIONS:
            raise ValueError(f"{series_id} is not a liquidation series")
        sql = ("SELECT time_ms, instrument, side, qty, price, usd, price_kind FROM liquidations "
               "WHERE venue=? AND asset=?")
        args: list[Any] = [parsed.venue, parsed.asset]
        if start_ms is not None:
            sql += " AND time_ms>=?"
            args.append(int(start_ms))
        if end_ms is not None:
            sql += " AND time_ms<=?"
            args.append(int(end_ms))
        sql += " ORDER BY time_ms, instrument, side, qty, price"
        with self._guard():
            found = self._conn().execute(sql, args).fetchall()
        return [Liquidation(t, parsed.venue, inst, parsed.asset, side, qty, price, usd, kind)
                for t, inst, side, qty, price, usd, kind in found]

    # -- per-series metadata (last fetch, serving venue …) -------------------------------------
    def _meta(self, conn: sqlite3.Connection, series_id: str) -> dict[str, Any]:
        row = conn.execute("SELECT meta FROM series_meta WHERE series_id=?",
                           (series_id,)).fetchone()
        if row is None:
            return {}
        try:
            value = json.loads(row[0])
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _write_meta(self, conn: sqlite3.Connection, series_id: str, meta: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO series_meta VALUES (?,?)",
                     (series_id, json.dumps(meta, sort_keys=True)))

    def get_meta(self, series_id: str) -> dict[str, Any]:
        validate_series_id(series_id)
        with self._guard():
            return self._meta(self._conn(), series_id)

    def update_meta(self, series_id: str, **values: Any) -> dict[str, Any]:
        validate_series_id(series_id)
        with self._guard(), self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            meta = self._meta(conn, series_id)
            meta.update(values)
            self._write_meta(conn, series_id, meta)
            conn.execute("COMMIT")
        return meta

    # -- snapshots (option chains, funding now) -------------------------------------------------
    # A snapshot is stored per (series, stamp) with every revision kept: a venue serving the same
    # stamp again with other content is a correction, recorded at the wall clock of its arrival.
    # Live reads serve the newest revision; as-of reads (`known_ms`) the newest recorded by
    # then, or the earliest when none was (history fetched after the fact). docs/replay.md.
    def put_snapshot(self, snap: Snapshot, recorded_ms: int | None = None) -> bool:
        """Store a snapshot; returns False when its content (frame and meta) equals the revision
        already in effect for its stamp at the record time, True when it was stored as the
        first or a new revision. Recorded at `recorded_ms`, else `snap.recorded_ms`, else the
        wall clock (then compared with the newest revision)."""
        return self.put_snapshots([snap], recorded_ms) == 1

    def put_snapshots(self, snaps: Sequence[Snapshot], recorded_ms: int | None = None) -> int:
        """`put_snapshot` for many, in one transaction; returns how many were stored."""
        encoded = [(snap.series_id, int(snap.time_ms), *_encode_snapshot(snap),
                    recorded_ms if recorded_ms is not None else snap.recorded_ms)
                   for snap in snaps]
        for series_id, *_rest in encoded:
            validate_series_id(series_id)
        stored = 0
        with self._guard(), self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for series_id, time_ms, meta, blob, recorded in encoded:
                    stored += self._put_revision(conn, series_id, time_ms, meta, blob,
                                                 recorded)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # as in upsert: some errors roll back by themselves
                    conn.execute("ROLLBACK")
                raise
        return stored

    @staticmethod
    def _put_revision(conn: sqlite3.Connection, series_id: str, time_ms: int, meta: str,
                      blob: bytes, recorded_ms: int | None) -> int:
        revisions = conn.execute(
            "SELECT recorded_ms, meta, data FROM snapshots WHERE series_id=? AND time_ms=? "
            "ORDER BY recorded_ms", (series_id, time_ms)).fetchall()
        if recorded_ms is None:
            # the wall clock, kept after the newest revision even if the clock stepped back
            recorded = now_ms() if not revisions else max(now_ms(), revisions[-1][0] + 1)
        else:
            recorded = int(recorded_ms)
        if revisions:
            in_effect = _revision_at([r[0] for r in revisions], recorded)
            _at, old_meta, old_blob = revisions[in_effect]
            if old_meta == meta and (old_blob == blob
                                     or zlib.decompress(old_blob) == zlib.decompress(blob)):
                return 0
            taken = {r[0] for r in revisions}
            while recorded in taken:  # two revisions given one instant: keep both, in order
                recorded += 1
        conn.execute(f"INSERT INTO snapshots ({_SNAPSHOT_COLUMNS}) VALUES (?,?,?,?,?,?)",
                     (series_id, time_ms, recorded, "json-split+zlib", meta, blob))
        return 1

    def snapshot_times(self, series_id: str) -> np.ndarray:
        """The stamps of the stored snapshots, oldest first (each once, whatever its
        revisions)."""
        validate_series_id(series_id)
        with self._guard():
            rows = self._conn().execute(
                "SELECT DISTINCT time_ms FROM snapshots WHERE series_id=? ORDER BY time_ms",
                (series_id,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def latest_snapshot(self, series_id: str, at_ms: int | None = None,
                        now: int | None = None, known_ms: int | None = None) -> Snapshot | None:
        """The newest snapshot at or before `at_ms` (default: the newest of all). One stamped in
        the future (past `now` + FUTURE_TOLERANCE_MS, default the wall clock) is never served:
        it was stored before future rows were refused, and would hide every later snapshot.
        Its revision: the newest, or with `known_ms` the one known then (see above)."""
        validate_series_id(series_id)
        latest_allowed = (now_ms() if now is None else int(now)) + FUTURE_TOLERANCE_MS
        at = latest_allowed if at_ms is None else min(int(at_ms), latest_allowed)
        with self._guard():
            conn = self._conn()
            if known_ms is None:
                row = conn.execute(
                    f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE series_id=? AND "
                    "time_ms<=? ORDER BY time_ms DESC, recorded_ms DESC LIMIT 1",
                    (series_id, at)).fetchone()
            else:
                stamp = conn.execute(
                    "SELECT max(time_ms) FROM snapshots WHERE series_id=? AND time_ms<=?",
                    (series_id, at)).fetchone()[0]
                row = None if stamp is None else self._revision_row(conn, series_id, stamp,
                                                                    known_ms)
        return None if row is None else self._load_snapshot(series_id, row)

    def snapshot_at(self, series_id: str, time_ms: int,
                    known_ms: int | None = None) -> Snapshot | None:
        """The snapshot stamped `time_ms`: its newest revision, or the one known at
        `known_ms`."""
        validate_series_id(series_id)
        with self._guard():
            row = self._revision_row(self._conn(), series_id, int(time_ms), known_ms)
        return None if row is None else self._load_snapshot(series_id, row)

    def snapshot_revisions(self, series_id: str, time_ms: int) -> list[Snapshot]:
        """Every stored revision of the snapshot stamped `time_ms`, the first recorded first
        (each with its `recorded_ms`)."""
        validate_series_id(series_id)
        with self._guard():
            rows = self._conn().execute(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE series_id=? AND time_ms=? "
                "ORDER BY recorded_ms", (series_id, int(time_ms))).fetchall()
        return [self._load_snapshot(series_id, row) for row in rows]

    @staticmethod
    def _revision_row(conn: sqlite3.Connection, series_id: str, time_ms: int,
                      known_ms: int | None) -> tuple[Any, ...] | None:
        recorded = [r[0] for r in conn.execute(
            "SELECT recorded_ms FROM snapshots WHERE series_id=? AND time_ms=? "
            "ORDER BY recorded_ms", (series_id, time_ms))]
        if not recorded:
            return None
        pick = recorded[-1] if known_ms is None else recorded[_revision_at(recorded, known_ms)]
        return conn.execute(
            f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE series_id=? AND time_ms=? AND "
            "recorded_ms=?", (series_id, time_ms, pick)).fetchone()

    @staticmethod
    def _load_snapshot(series_id: str, row: tuple[Any, ...]) -> Snapshot:
        import pandas as pd

        _series_id, time_ms, recorded_ms, fmt, meta, blob = row
        if fmt != "json-split+zlib":
            raise CacheError(f"unknown snapshot format {fmt!r}")
        table = json.loads(zlib.decompress(blob))
        frame = pd.DataFrame(table["data"], columns=table["columns"])
        # JSON null comes back as None: numeric columns get NaN, like the frame that was stored.
        frame = frame.infer_objects()
        return Snapshot(series_id, int(time_ms), frame, json.loads(meta), int(recorded_ms))


_PLAIN_CELLS = frozenset({str, float, int, bool, type(None)})


def _frame_json(frame: Any) -> str:
    """`frame.to_json(orient="split", index=False, date_format="iso", double_precision=15)`,
    the stored form, built by the same encoder from the frame's cells: a fraction of the time
    for frames of numbers and text (to_json spends ~1 ms on a one-row funding table, and the
    demo stores 1,700 of them). A frame with any other cell (a date, NA) goes through
    to_json; tests/services/test_cache_asof.py checks both give the same text."""
    from pandas.io.json import ujson_dumps

    rows = frame.to_numpy(dtype=object).tolist()
    if all(type(v) in _PLAIN_CELLS for row in rows for v in row):
        return ujson_dumps({"columns": frame.columns.tolist(), "data": rows},
                           double_precision=15)
    return frame.to_json(orient="split", index=False, date_format="iso", double_precision=15)


def _encode_snapshot(snap: Snapshot) -> tuple[str, bytes]:
    """(meta JSON, zlib'd frame JSON): the stored form, also what two revisions compare by."""
    text = _frame_json(snap.frame)
    return (json.dumps(dict(snap.meta), sort_keys=True, default=str),
            zlib.compress(text.encode(), 6))


def _revision_at(recorded: Sequence[int], known_ms: int) -> int:
    """Index of the revision in effect at `known_ms` among ascending record times: the newest
    recorded at or before it, else the earliest (a snapshot fetched after the fact)."""
    return max(bisect.bisect_right(recorded, int(known_ms)) - 1, 0)


def _copy_readable_series(damaged: Path, fresh: Path) -> tuple[list[str], list[str]]:
    """Copy every series whose rows can all still be read (and decoded) from `damaged` into a
    new cache file at `fresh`. Returns (saved, lost) series ids."""
    fd = os.open(fresh, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_TRUNC, 0o600)
    os.close(fd)
    dst = sqlite3.connect(fresh, isolation_level=None)
    try:
        dst.executescript(_SCHEMA)
        dst.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        try:
            src = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return [], []
        try:
            try:
                revisions = _has_revisions(src)
            except sqlite3.Error:
                revisions = True  # the scan below finds out what can be read
            # a row's key: every revision of a snapshot is a row of its own
            snap_key = "time_ms || '/' || recorded_ms" if revisions else "time_ms"
            tables = {table: _readable_rows(src, table, key, blob)
                      for table, key, blob in (("chunks", "chunk", "data"),
                                               ("snapshots", snap_key, "data"),
                                               ("series_meta", "''", "meta"))}
        finally:
            src.close()
        if not revisions:  # a schema-1 file: each snapshot is the revision recorded at its stamp
            rows, bad = tables["snapshots"]
            tables["snapshots"] = ([(sid, t, t, *rest) for sid, t, *rest in rows], bad)
        lost = set().union(*(bad for _rows, bad in tables.values()))
        with_rows: set[str] = set()
        dst.execute("BEGIN")
        for table, (rows, _bad) in tables.items():
            keep = [r for r in rows if r[0] not in lost]
            if keep:
                marks = ",".join("?" * len(keep[0]))
                dst.executemany(f"INSERT INTO {table} VALUES ({marks})", keep)
            if table != "series_meta":
                with_rows.update(r[0] for r in keep)
        dst.execute("COMMIT")
    finally:
        dst.close()
    return sorted(with_rows), sorted(lost)


def _readable_rows(src: sqlite3.Connection, table: str, key: str,
                   blob: str) -> tuple[list[tuple[Any, ...]], set[str]]:
    """Every row of `table` whose payload can be read, and the series with an unreadable one.

    A damaged overflow page fails any read of its row, and any key search that compares with
    that row, so this only scans: it lists the keys (stored in each row's first bytes), then
    scans whole rows, skipping the blob of each row that failed before (a temp table), until a
    scan goes through."""
    try:
        keys = [f"{sid}\x1f{k}" for sid, k in src.execute(f"SELECT series_id, {key} FROM {table}")]
    except sqlite3.Error:
        return [], set()
    unreadable: set[str] = set()
    src.create_function("rotor_unreadable", 2,
                        lambda sid, k: f"{sid}\x1f{k}" in unreadable, deterministic=False)
    columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    select = ", ".join(f"CASE WHEN rotor_unreadable(series_id, {key}) THEN NULL ELSE {c} END"
                       if c == blob else c for c in columns)
    bad_series: set[str] = set()
    rows: list[tuple[Any, ...]] = []
    for _attempt in range(len(keys) + 1):
        rows = []
        # The sqlite3 module steps one row ahead: an error raised by `execute` is the first
        # row's, one raised while handing out row i is row i + 1's (row i is dropped with it).
        try:
            cursor = src.execute(f"SELECT {select} FROM {table}")
        except sqlite3.Error:
            failing = 0
        else:
            try:
                for row in cursor:
                    rows.append(row)
            except sqlite3.Error:
                cursor.close()
                failing = len(rows) + 1
            else:
                break
        if failing >= len(keys):  # the key listing and the scan disagree: keep what was read
            if len(rows) < len(keys):
                bad_series.add(keys[len(rows)].split("\x1f", 1)[0])
            break
        failed = keys[failing]
        unreadable.add(failed)
        bad_series.add(failed.split("\x1f", 1)[0])
    good = []
    for row in rows:
        series_id = row[0]
        if series_id in bad_series:
            continue
        try:
            if table == "chunks":
                _decode(row[2], json.loads(row[5]), row[6])
            elif table == "snapshots":
                zlib.decompress(row[columns.index("data")])
        except (CacheError, ValueError, TypeError, zlib.error):
            bad_series.add(series_id)
            continue
        good.append(row)
    return [r for r in good if r[0] not in bad_series], bad_series
