"""The SQLite cache: merge by (series, time), chunked blobs, snapshots, quarantine, permissions."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from models.series import SeriesData, Snapshot
from services.cache import ROWS_PER_CHUNK, Cache

H = 3_600_000


def candles(times, close):
    close = np.asarray(close, dtype=float)
    return SeriesData(np.asarray(times), {"open": close, "high": close + 1, "low": close - 1,
                                          "close": close, "volume": np.ones(len(close))})


def test_upsert_merges_by_time_and_never_duplicates(cache):
    assert cache.upsert("btc.1h", candles([0, H, 2 * H], [1, 2, 3])) == 3
    # One overlapping row with a new value, one new row.
    assert cache.upsert("btc.1h", candles([2 * H, 3 * H], [30, 4])) == 1
    data = cache.read("btc.1h")
    assert list(data.time) == [0, H, 2 * H, 3 * H]
    assert list(data["close"]) == [1, 2, 30, 4]
    assert cache.bounds("btc.1h") == (0, 3 * H, 4)


def test_many_chunks_round_trip_and_range_reads(cache):
    n = ROWS_PER_CHUNK * 3 + 17
    times = np.arange(n, dtype=np.int64) * H
    close = np.random.default_rng(1).normal(100, 5, n)
    assert cache.upsert("btc.1h", candles(times, close)) == n
    data = cache.read("btc.1h")
    np.testing.assert_array_equal(data.time, times)
    np.testing.assert_array_equal(data["close"], close)
    part = cache.read("btc.1h", start_ms=5000 * H, end_ms=5010 * H)
    assert list(part.time) == list(range(5000 * H, 5011 * H, H))
    # Out-of-order input spanning chunks is merged into the right places.
    cache.upsert("btc.1h", candles([(n + 1) * H, 10 * H], [7, 8]))
    data = cache.read("btc.1h")
    assert len(data) == n + 1
    assert data["close"][10] == 8 and data["close"][-1] == 7


def test_range_reads_seek_by_chunk_and_agree_with_the_whole_read(cache):
    """Range reads bound the chunk key (a seek, not a scan): every range, at a chunk's edges
    and across them, returns exactly what the whole read holds there; `span` matches."""
    n = ROWS_PER_CHUNK * 4 + 100
    times = 1_500_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    times = np.delete(times, np.s_[ROWS_PER_CHUNK - 50:ROWS_PER_CHUNK + 50])  # a hole at an edge
    close = np.random.default_rng(2).normal(100, 5, len(times))
    cache.upsert("btc.1m", candles(times, close))
    whole = cache.read("btc.1m")
    span_ms = cache.get_meta("btc.1m")["chunk_span_ms"]
    edges = [int(t) for t in (times[0], times[-1])] + [
        (times[0] // span_ms + k) * span_ms + d for k in range(1, 5) for d in (-60_000, 0, 1)]
    for start in [None, *edges]:
        for end in [None, *edges]:
            got = cache.read("btc.1m", start_ms=start, end_ms=end)
            want = whole.between(start, end)
            np.testing.assert_array_equal(got.time, want.time)
            if len(want):
                np.testing.assert_array_equal(got["close"], want["close"])
    assert cache.span("btc.1m") == (int(times[0]), int(times[-1]))
    assert cache.span("eth.1m") is None


def test_rows_without_any_value_are_not_stored(cache):
    data = SeriesData(np.array([0, H]), {"close": np.array([np.nan, 2.0])})
    assert cache.upsert("x.1h", data) == 1
    assert list(cache.read("x.1h").time) == [H]


def test_invalid_series_ids_never_reach_sql(cache):
    with pytest.raises(ValueError, match="invalid series id"):
        cache.read("btc'; DROP TABLE chunks; --")


def test_snapshots_are_json_not_pickle_and_keep_their_time(cache):
    frame = pd.DataFrame({"instrument_name": ["BTC-27MAR26-70000-C"], "strike": [70000.0],
                          "mark_iv": [55.5]})
    snap = Snapshot("options.btc", 1_700_000_000_000, frame, {"index_price": 66000.0})
    assert cache.put_snapshot(snap) is True
    assert cache.put_snapshot(snap) is False
    later = Snapshot("options.btc", 1_700_000_900_000, frame.assign(mark_iv=[60.0]), {})
    cache.put_snapshot(later)
    got = cache.latest_snapshot("options.btc")
    assert got.time_ms == later.time_ms and got.frame["mark_iv"].iloc[0] == 60.0
    older = cache.latest_snapshot("options.btc", at_ms=1_700_000_000_500)
    assert older.time_ms == snap.time_ms and older.meta == {"index_price": 66000.0}
    assert list(cache.snapshot_times("options.btc")) == [snap.time_ms, later.time_ms]
    assert got.frame["instrument_name"].iloc[0] == "BTC-27MAR26-70000-C"


def test_file_is_readable_by_the_user_only(tmp_path):
    c = Cache(tmp_path / "c.sqlite")
    c.upsert("btc.1h", candles([0], [1]))
    mode = stat.S_IMODE(os.stat(tmp_path / "c.sqlite").st_mode)
    c.close()
    assert mode & 0o077 == 0


def test_corrupt_file_is_moved_aside_with_a_message(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    c = Cache(path)
    assert c.notice and "moved" in c.notice
    assert c.upsert("btc.1h", candles([0], [1])) == 1
    c.close()
    moved = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert moved and (tmp_path / moved[0]).read_bytes().startswith(b"this is not")


def test_meta_round_trip(cache):
    cache.update_meta("btc.1h", venue="binance", last_fetch_ms=5)
    cache.update_meta("btc.1h", last_fetch_ms=6)
    assert cache.get_meta("btc.1h") == {"venue": "binance", "last_fetch_ms": 6}


def test_sigkill_during_writes_keeps_committed_batches(tmp_path):
    """A process killed mid-write loses at most the batch in flight; the file opens cleanly."""
    path = tmp_path / "cache.sqlite"
    script = textwrap.dedent(f"""
        import os, signal, sys
        import numpy as np
        sys.path.insert(0, {str(os.getcwd())!r})
        from models.series import SeriesData
        from services.cache import Cache
        c = Cache({str(path)!r})
        for batch in range(1000):
            t = np.arange(batch * 500, (batch + 1) * 500, dtype=np.int64) * 3_600_000
            c.upsert("btc.1h", SeriesData(t, {{"close": np.full(500, float(batch))}}))
            print(batch, flush=True)
            if batch == 20:
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == -9
    committed = int(proc.stdout.split()[-1])
    c = Cache(path)
    assert c.notice is None
    data = c.read("btc.1h")
    assert len(data) >= (committed + 1) * 500
    assert len(data) % 500 == 0  # whole batches only
    c.close()
