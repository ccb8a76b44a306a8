"""A full disk, a read-only folder, a lock or one bad page is not a reason to lose the cache.

Deterministic variants use SQLite's own limits (max_page_count, query_only, a held lock); the
real-file-system variants mount a small tmpfs (root only: skipped with the reason otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.series import SeriesData
from services import chunk_codec, errors
from services.cache import Cache

H = 3_600_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def plain_chunks(monkeypatch):
    """These faults are placed by the plain chunk layout's sizes (a 48 KB blob over its own
    overflow pages, a marker's raw bytes); the compact format's faults are in
    tests/services/test_chunk_codec.py."""
    monkeypatch.setattr(Cache, "chunk_format", chunk_codec.PLAIN)


def closes(n: int, value: float, start: int = 0) -> SeriesData:
    return SeriesData(np.arange(start, start + n, dtype=np.int64) * H,
                      {"close": np.full(n, value)})


def quarantined(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".corrupt-" in p.name)


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "1m"):
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): "
                    "the deterministic variant of this test still runs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the file system says ENOSPC."""
    filler = folder / "filler"
    full = None
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as e:
            full = e.errno
    assert full == errno.ENOSPC
    return filler


# -- a full disk ---------------------------------------------------------------------------------
def test_full_database_keeps_the_cache_and_raises_a_transient_disk_error(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1h", closes(59, 100.0))
    conn = cache._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL, as on ENOSPC
    with pytest.raises(Exception) as raised:
        cache.upsert("eth.1h", closes(20_000, 7.0))
    cache.close()
    assert quarantined(tmp_path) == []
    reopened = Cache(path)
    assert reopened.notice is None
    assert len(reopened.read("btc.1h")) == 59
    reopened.close()
    assert isinstance(raised.value, errors.CacheFull)
    assert raised.value.transient and raised.value.kind.value == "disk"
    assert raised.value.retry_after == errors.DISK_RETRY_SECONDS


def test_full_tmpfs_is_reported_and_the_rows_survive_until_space_is_freed(tmp_path):
    with tmpfs(tmp_path / "mnt") as mnt:
        path = mnt / "cache.sqlite"
        cache = Cache(path)
        cache.upsert("btc.1h", closes(59, 100.0))
        filler = fill(mnt)
        with pytest.raises(Exception) as raised:
            cache.upsert("eth.1h", closes(50_000, 7.0))
        cache.close()
        assert quarantined(mnt) == []
        filler.unlink()
        reopened = Cache(path)
        assert reopened.notice is None
        assert len(reopened.read("btc.1h")) == 59
        assert reopened.upsert("eth.1h", closes(100, 7.0)) == 100  # space back: stores again
        reopened.close()
        assert isinstance(raised.value, errors.CacheFull), raised.value


# -- a read-only folder ----------------------------------------------------------------------------
def test_read_only_connection_is_reported_not_quarantined(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1h", closes(59, 100.0))
    cache._conn().execute("PRAGMA query_only=1")  # SQLITE_READONLY on the next write
    with pytest.raises(Exception) as raised:
        cache.upsert("btc.1h", closes(5, 1.0, start=100))
    cache.close()
    assert quarantined(tmp_path) == []
    assert len(Cache(path).read("btc.1h")) == 59
    assert isinstance(raised.value, errors.CacheReadOnly)
    assert raised.value.kind.value == "read_only"


def _remount_read_only(mnt: Path) -> None:
    proc = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot remount read-only here: {proc.stderr.strip()}")


def test_read_only_mount_opens_the_cache_read_only_with_a_notice(tmp_path):
    with tmpfs(tmp_path / "mnt") as mnt:
        path = mnt / "cache.sqlite"
        cache = Cache(path)
        cache.upsert("btc.1h", closes(59, 100.0))
        cache.close()
        _remount_read_only(mnt)
        ro = Cache(path)
        try:
            assert ro.read_only
            assert ro.notice and "read-only" in ro.notice
            assert len(ro.read("btc.1h")) == 59
            with pytest.raises(errors.CacheReadOnly):
                ro.upsert("btc.1h", closes(5, 1.0, start=100))
        finally:
            ro.close()
        assert quarantined(mnt) == []


def test_cli_refresh_on_a_read_only_data_folder_prints_one_line(tmp_path):
    with tmpfs(tmp_path / "mnt") as mnt:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_URL")}
        env["ROTOR_DATA_DIR"] = str(mnt)
        # A first run creates the cache and the log; then the folder becomes read-only.
        Cache(mnt / "cache.sqlite").close()
        (mnt / "logs").mkdir(mode=0o700)
        (mnt / "logs" / "rotor.log").write_text("")
        _remount_read_only(mnt)
        proc = subprocess.run([sys.executable, "main.py", "refresh", "btc.1h"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "read-only" in lines[0], proc.stderr


# -- a lock ---------------------------------------------------------------------------------------
def test_a_held_lock_is_a_transient_busy_error_retried_in_seconds(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1h", closes(3, 1.0))
    cache._conn().execute("PRAGMA busy_timeout=50")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Exception) as raised:
            cache.upsert("btc.1h", closes(3, 2.0, start=10))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert isinstance(raised.value, errors.CacheBusy)
    assert raised.value.transient and raised.value.kind.value == "cache_busy"
    assert raised.value.retry_after == errors.LOCK_RETRY_SECONDS == 5.0
    assert cache.upsert("btc.1h", closes(3, 2.0, start=10)) == 3  # lock gone: works again
    cache.close()
    assert quarantined(tmp_path) == []


# -- one bad page -------------------------------------------------------------------------------
def test_one_bad_page_loses_only_its_series(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    # 3000 rows: each chunk blob (48 KB) spills over many overflow pages of its own.
    markers = {"btc.1h": 1111.125, "eth.1h": 7777.125, "sol.1h": 3333.125}
    for series_id, value in markers.items():
        cache.upsert(series_id, closes(3000, value))
    cache.close()  # the last connection checkpoints the WAL into the file
    raw = bytearray(path.read_bytes())
    page_size = 4096
    offset = raw.find(np.full(8, markers["eth.1h"]).tobytes())
    assert offset > 0
    page = offset // page_size * page_size
    raw[page:page + 4] = bytes(4)  # the overflow page's "next page" pointer: chain cut short
    path.write_bytes(bytes(raw))

    # The open-time check searches the chunk tree, so it meets the bad page at once.
    damaged = Cache(path)
    notice = damaged.notice or ""
    assert "2 of 3 series were saved" in notice and "eth.1h" in notice
    assert len(damaged.read("eth.1h")) == 0
    for series_id in ("btc.1h", "sol.1h"):
        data = damaged.read(series_id)
        assert len(data) == 3000 and np.all(data["close"] == markers[series_id])
    damaged.close()
    assert [n for n in quarantined(tmp_path) if not n.endswith(("-wal", "-shm"))] != []
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_symlinked_cache_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere.sqlite"
    Cache(target).close()
    link = tmp_path / "cache.sqlite"
    link.symlink_to(target)
    with pytest.raises(Exception) as raised:
        Cache(link).close()
    assert isinstance(raised.value, errors.UnsafeFile)
    assert "symlink" in str(raised.value)


def test_refresh_on_a_full_disk_reports_it_and_tries_no_other_venue(tmp_path, httpserver):
    import json

    from werkzeug import Response

    from models.catalog import get_spec
    from services.config import DEFAULT_URLS, Endpoints
    from services.refresh import refresh_series
    from services.sources import Sources
    from tests.services.test_binance import kline

    rows = [kline(t) for t in range(0, 3000 * H, H)]
    httpserver.expect_request("/api/v3/klines").respond_with_handler(
        lambda request: Response(json.dumps(
            [r for r in rows if r[0] >= int(request.args["startTime"])][:1000]),
            content_type="application/json"))
    base = httpserver.url_for("/").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("eth.1h", closes(59, 100.0))
    conn = cache._conn()
    conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
    result = refresh_series(get_spec("btc.1h"), cache, sources, want_start_ms=0, now=3000 * H)
    cache.close()
    assert isinstance(result.error, errors.CacheFull), result
    assert result.fallback_errors == ()  # the disk, not the venue: no fallback was tried
    assert quarantined(tmp_path) == []
    assert len(Cache(path).read("eth.1h")) == 59


def test_window_services_on_a_read_only_data_folder_carry_a_notice(tmp_path):
    from services.app import open_live

    with tmpfs(tmp_path / "mnt") as mnt:
        cache = Cache(mnt / "cache.sqlite")
        cache.upsert("btc.1h", closes(59, 100.0))
        cache.close()
        _remount_read_only(mnt)
        services = open_live({"ROTOR_DATA_DIR": str(mnt)})
        try:
            assert [n for n in services.notices if "read-only" in n] != []
            assert len(services.cache.read("btc.1h")) == 59
        finally:
            services.close()
