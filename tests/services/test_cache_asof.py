"""Snapshot revisions in the cache: a corrected snapshot is kept beside the first, live reads
serve the newest, as-of reads the one known then (docs/replay.md, "As of"); schema-1 files
are migrated; the corrupt-cache rescue copies every revision."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.asof import AsOfLoader
from models.series import SeriesData, Snapshot, now_ms
from services.cache import Cache, _copy_readable_series
from tests.services.test_cache_faults import _remount_read_only, tmpfs

H = 3_600_000
T = 1_770_000_000_000  # a snapshot stamp (2026-02-02 02:40 UTC)
SID = "options.btc"

# The snapshot table as schema 1 created it (services/cache.py before revisions).
OLD_SNAPSHOTS = """
CREATE TABLE snapshots (
    series_id TEXT NOT NULL,
    time_ms   INTEGER NOT NULL,
    format    TEXT NOT NULL,
    meta      TEXT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (series_id, time_ms)
) WITHOUT ROWID;
CREATE TABLE chunks (
    series_id TEXT NOT NULL, chunk INTEGER NOT NULL, n INTEGER NOT NULL,
    first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, columns TEXT NOT NULL,
    data BLOB NOT NULL, PRIMARY KEY (series_id, chunk)
) WITHOUT ROWID;
CREATE TABLE series_meta (series_id TEXT PRIMARY KEY, meta TEXT NOT NULL) WITHOUT ROWID;
"""


def chain(iv: float, oi: float = 100.0) -> pd.DataFrame:
    return pd.DataFrame({"instrument_name": ["BTC-27MAR26-70000-C"], "strike": [70_000.0],
                         "mark_iv": [iv], "open_interest": [oi]})


def snap(iv: float, time_ms: int = T, **meta) -> Snapshot:
    return Snapshot(SID, time_ms, chain(iv), {"index_price": 66_000.0, **meta})


def iv_of(s: Snapshot | None) -> float:
    assert s is not None
    return float(s.frame["mark_iv"].iloc[0])


@pytest.fixture
def cache(tmp_path):
    c = Cache(tmp_path / "cache.sqlite")
    yield c
    c.close()


def old_schema_file(path: Path, rows: list[tuple[int, float]]) -> None:
    """A cache file written by schema 1: its table, user_version 1, snapshots stored the way
    the old put_snapshot stored them (frame as split JSON, zlib)."""
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SNAPSHOTS)
    conn.execute("PRAGMA user_version=1")
    for time_ms, iv in rows:
        text = chain(iv).to_json(orient="split", index=False, date_format="iso",
                                 double_precision=15)
        conn.execute("INSERT INTO snapshots VALUES (?,?,?,?,?)",
                     (SID, time_ms, "json-split+zlib", json.dumps({"index_price": 1.0}),
                      zlib.compress(text.encode(), 6)))
    conn.commit()
    conn.close()


# -- revisions ----------------------------------------------------------------------------------
def test_a_correction_is_kept_and_reads_pick_the_revision_known(cache):
    assert Cache.keeps_revisions is True
    assert cache.put_snapshot(snap(50.0), recorded_ms=T + 60_000) is True
    assert cache.put_snapshot(snap(50.0), recorded_ms=T + 120_000) is False  # same content
    assert cache.put_snapshot(snap(55.0), recorded_ms=T + 2 * H) is True  # the correction
    revisions = cache.snapshot_revisions(SID, T)
    assert [(iv_of(r), r.recorded_ms) for r in revisions] == [(50.0, T + 60_000),
                                                              (55.0, T + 2 * H)]
    assert all(r.time_ms == T for r in revisions)
    # live: the newest revision
    assert iv_of(cache.latest_snapshot(SID)) == 55.0
    assert iv_of(cache.snapshot_at(SID, T)) == 55.0
    # as of a moment: the revision recorded by then ...
    assert iv_of(cache.latest_snapshot(SID, T + H, known_ms=T + H)) == 50.0
    assert iv_of(cache.snapshot_at(SID, T, known_ms=T + 2 * H)) == 55.0
    assert iv_of(cache.snapshot_at(SID, T, known_ms=T + 2 * H - 1)) == 50.0
    # ... or, when none was recorded yet (history fetched after the fact), the earliest
    assert iv_of(cache.snapshot_at(SID, T, known_ms=T)) == 50.0
    assert cache.snapshot_at(SID, T + 1, known_ms=T + 3 * H) is None
    # one stamp, however many revisions
    assert cache.snapshot_times(SID).tolist() == [T]
    assert cache.latest_snapshot(SID, T - 1, known_ms=T + 3 * H) is None


def test_a_revert_after_a_correction_is_a_third_revision(cache):
    cache.put_snapshot(snap(50.0), recorded_ms=T)
    cache.put_snapshot(snap(55.0), recorded_ms=T + H)
    # the venue serves the first numbers again: that is what it says now
    assert cache.put_snapshot(snap(50.0), recorded_ms=T + 2 * H) is True
    assert [iv_of(r) for r in cache.snapshot_revisions(SID, T)] == [50.0, 55.0, 50.0]
    assert iv_of(cache.latest_snapshot(SID)) == 50.0
    # a repeat of what was in effect at its record time stores nothing
    assert cache.put_snapshot(snap(55.0), recorded_ms=T + H + 5) is False


def test_meta_is_part_of_the_content(cache):
    cache.put_snapshot(snap(50.0), recorded_ms=T)
    assert cache.put_snapshot(snap(50.0, venue="deribit"), recorded_ms=T + 1) is True
    assert cache.latest_snapshot(SID).meta == {"index_price": 66_000.0, "venue": "deribit"}


def test_recorded_defaults_to_the_wall_clock_and_stays_after_the_newest(cache):
    before = now_ms()
    assert cache.put_snapshot(snap(50.0)) is True
    first = cache.snapshot_revisions(SID, T)[0].recorded_ms
    assert before <= first <= now_ms()
    # a revision recorded (by a clock ahead) after now: the next wall-clock one still follows
    cache.put_snapshot(snap(51.0), recorded_ms=now_ms() + 10 * H)
    cache.put_snapshot(snap(52.0))
    recorded = [r.recorded_ms for r in cache.snapshot_revisions(SID, T)]
    assert recorded == sorted(recorded) and len(set(recorded)) == 3
    assert iv_of(cache.latest_snapshot(SID)) == 52.0


def test_two_different_revisions_given_one_instant_are_both_kept(cache):
    assert cache.put_snapshots([snap(50.0), snap(51.0)], recorded_ms=T) == 2
    assert [(iv_of(r), r.recorded_ms) for r in cache.snapshot_revisions(SID, T)] == [
        (50.0, T), (51.0, T + 1)]


def test_put_snapshots_counts_what_it_stored(cache):
    snaps = [snap(50.0, T + i * H) for i in range(5)]
    assert cache.put_snapshots(snaps, recorded_ms=T) == 5
    assert cache.put_snapshots(snaps, recorded_ms=T + 10 * H) == 0
    assert cache.snapshot_times(SID).tolist() == [T + i * H for i in range(5)]
    assert all(s.recorded_ms == T for s in (cache.snapshot_at(SID, T + i * H)
                                            for i in range(5)))


def test_as_of_loader_passes_the_moment_to_the_cache(cache):
    cache.put_snapshot(snap(50.0), recorded_ms=T)
    cache.put_snapshot(snap(55.0), recorded_ms=T + 2 * H)
    cache.put_snapshot(snap(60.0, T + 3 * H), recorded_ms=T + 3 * H)
    cache.upsert("btc.1h", SeriesData(T + np.arange(4) * H, {"close": np.arange(4.0)}))
    at = AsOfLoader(cache, T + H)
    assert iv_of(at.latest_snapshot(SID)) == 50.0
    assert iv_of(at.snapshot_at(SID, T)) == 50.0
    assert at.snapshot_times(SID).tolist() == [T]
    assert at.read("btc.1h").time.tolist() == [T]  # the bar opened at T closed at T + H
    later = AsOfLoader(cache, T + 3 * H)
    assert iv_of(later.latest_snapshot(SID)) == 60.0
    assert iv_of(later.snapshot_at(SID, T)) == 55.0


def test_future_snapshots_are_still_never_served_live(cache):
    cache.put_snapshot(snap(50.0, now_ms() + 365 * 24 * H), recorded_ms=T)
    cache.put_snapshot(snap(40.0), recorded_ms=T)
    assert iv_of(cache.latest_snapshot(SID)) == 40.0
    assert iv_of(cache.latest_snapshot(SID, known_ms=now_ms())) == 40.0


# -- schema 1 files ------------------------------------------------------------------------------
def test_a_schema_1_file_is_migrated_each_snapshot_recorded_at_its_stamp(tmp_path):
    path = tmp_path / "old.sqlite"
    old_schema_file(path, [(T, 50.0), (T + H, 52.0)])
    cache = Cache(path)
    try:
        assert cache.snapshot_times(SID).tolist() == [T, T + H]
        first = cache.snapshot_at(SID, T)
        assert iv_of(first) == 50.0 and first.recorded_ms == T
        assert first.meta == {"index_price": 1.0}
        assert [r.recorded_ms for r in cache.snapshot_revisions(SID, T + H)] == [T + H]
        # the old behaviour dropped this; now it is a revision
        assert cache.put_snapshot(snap(51.0), recorded_ms=T + 2 * H) is True
        assert iv_of(cache.snapshot_at(SID, T, known_ms=T + H)) == 50.0
        assert iv_of(cache.snapshot_at(SID, T)) == 51.0
    finally:
        cache.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = [r[1] for r in conn.execute("PRAGMA table_info(snapshots)")]
        assert columns == ["series_id", "time_ms", "recorded_ms", "format", "meta", "data"]
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='snapshots_v1'"
                            ).fetchone()[0] == 0
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    reopened = Cache(path)  # a second open finds nothing to migrate
    try:
        assert len(reopened.snapshot_revisions(SID, T)) == 2
    finally:
        reopened.close()


def test_a_read_only_schema_1_file_is_read_without_migrating(tmp_path):
    with tmpfs(tmp_path / "mnt") as mnt:
        path = mnt / "old.sqlite"
        old_schema_file(path, [(T, 50.0)])
        _remount_read_only(mnt)
        cache = Cache(path)
        try:
            assert cache.read_only
            got = cache.latest_snapshot(SID)
            assert iv_of(got) == 50.0 and got.recorded_ms == T
            assert iv_of(cache.snapshot_at(SID, T, known_ms=T - 1)) == 50.0
            assert cache.snapshot_times(SID).tolist() == [T]
        finally:
            cache.close()
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1  # untouched
        finally:
            conn.close()


# -- the corrupt-cache rescue ---------------------------------------------------------------------
def test_the_rescue_copies_every_revision(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.put_snapshot(snap(50.0), recorded_ms=T)
    cache.put_snapshot(snap(55.0), recorded_ms=T + H)
    cache.put_snapshot(snap(60.0, T + H), recorded_ms=T + H)
    cache.close()
    fresh = tmp_path / "fresh.sqlite"
    saved, lost = _copy_readable_series(path, fresh)
    assert (saved, lost) == ([SID], [])
    copy = Cache(fresh)
    try:
        assert [(iv_of(r), r.recorded_ms) for r in copy.snapshot_revisions(SID, T)] == [
            (50.0, T), (55.0, T + H)]
        assert copy.snapshot_times(SID).tolist() == [T, T + H]
    finally:
        copy.close()


def test_the_rescue_of_a_schema_1_file_records_each_snapshot_at_its_stamp(tmp_path):
    path = tmp_path / "old.sqlite"
    old_schema_file(path, [(T, 50.0), (T + H, 52.0)])
    fresh = tmp_path / "fresh.sqlite"
    assert _copy_readable_series(path, fresh) == ([SID], [])
    copy = Cache(fresh)
    try:
        assert [(iv_of(s), s.recorded_ms) for s in (copy.snapshot_at(SID, T),
                                                    copy.snapshot_at(SID, T + H))] == [
            (50.0, T), (52.0, T + H)]
    finally:
        copy.close()


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": [1.0, np.nan, np.inf, -np.inf], "b": ["x", None, "z", np.nan],
                  "c": [1, 2, 3, 2**62], "d": [True, False, True, False]}),
    pd.DataFrame({"t": pd.to_datetime([0, 1], unit="ms", utc=True), "x": [1.5, 2.5]}),
    pd.DataFrame({"a": [1e-20, 123456789.123456789, -0.0, 1e300]}),
    pd.DataFrame({"o": [{"k": 1}, [1, 2]]}),
    pd.DataFrame({"o": [pd.Timestamp(0, tz="UTC"), 1.5]}),
    pd.DataFrame({"s": ["é\"\\\n", "ok"], "n": [np.nan, 2]}),
    pd.DataFrame({"u": np.array([1, 2], dtype=np.uint8),
                  "f32": np.array([0.1, 0.2], dtype=np.float32)}),
    pd.DataFrame({"x": pd.array([1, None], dtype="Int64"),
                  "c": pd.Categorical(["a", "b"])}),
    pd.DataFrame({"a": []}), pd.DataFrame(), pd.DataFrame({"a": [1.0]}, index=[5]),
], ids=lambda f: ",".join(map(str, f.dtypes)) or "empty")
def test_the_stored_frame_text_is_pandas_to_json(frame):
    from services.cache import _frame_json

    assert _frame_json(frame) == frame.to_json(orient="split", index=False, date_format="iso",
                                               double_precision=15)


def test_the_demo_frames_store_as_to_json_would():
    from services.cache import _frame_json
    from services.demo import load_demo

    one_each = {s.series_id: s for s in load_demo().snapshots}  # the shapes the app stores
    for s in one_each.values():
        assert _frame_json(s.frame) == s.frame.to_json(
            orient="split", index=False, date_format="iso", double_precision=15), s.series_id
