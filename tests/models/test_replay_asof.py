"""Replay reads what was known at t: on the demo cache, every analysis run through
`AsOfLoader(cache, t)` equals the same analysis on a second cache that holds only what was known
at t, and stays equal when rows and snapshots after t are added or changed and an old snapshot
is corrected after t (docs/replay.md, "As of")."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest

from models.analyses import ANALYSES, _funding_now, analyse_chain, analyse_funding
from models.analyses import gamma_levels_history as gamma_levels
from models.asof import AsOfLoader, known_delay_ms
from models.catalog import find_spec
from models.series import MS_PER_HOUR, SeriesData, Snapshot
from services.cache import Cache
from services.demo import load_demo

H = MS_PER_HOUR


def utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


MOMENTS = (utc("2026-02-05 20:00"), utc("2026-02-06 16:00"))
CORRECTED = utc("2026-02-05 19:59")  # the demo chain served again at 23:00 (tools/build_demo.py)
VENUES = ("binance", "bybit", "okx", "deribit", "hyperliquid")

#: parameters for each analysis a dock runs (a new analysis must be added here)
PARAMS = {"funding": {"asset": "btc"}, "open_interest": {"asset": "btc"},
          "volatility": {"asset": "btc", "window": 30}, "chain": {"asset": "btc"},
          "gamma_levels": {"asset": "btc"}, "skew_history": {"asset": "btc"},
          "rotation": {}, "movers": {}, "squeeze": {"asset": "btc"},
          "liquidations": {"asset": "btc"}, "basis": {"asset": "btc"}}


def is_snapshot(cache: Cache, series_id: str) -> bool:
    spec = find_spec(series_id)
    return spec.is_snapshot if spec is not None else len(cache.snapshot_times(series_id)) > 0


def copy_known(src: Cache, t_ms: int, dst: Cache) -> None:
    """Only what was known at t: each series' rows whose span had ended by then, and each
    snapshot stamped at or before t in the revision recorded by then (the first when none was:
    history fetched after the fact), copied in SQL straight from the file."""
    for series_id in src.series_ids():
        if not is_snapshot(src, series_id):
            data = src.read(series_id)
            dst.upsert(series_id, data.between(None, t_ms - known_delay_ms(series_id)))
    conn = sqlite3.connect(dst.path, isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS src", (str(src.path),))
        conn.execute("""
            INSERT INTO main.snapshots SELECT s.* FROM src.snapshots s
            WHERE s.time_ms <= :t AND s.recorded_ms = coalesce(
                (SELECT max(r.recorded_ms) FROM src.snapshots r WHERE r.series_id = s.series_id
                 AND r.time_ms = s.time_ms AND r.recorded_ms <= :t),
                (SELECT min(r.recorded_ms) FROM src.snapshots r WHERE r.series_id = s.series_id
                 AND r.time_ms = s.time_ms))""", {"t": t_ms})
    finally:
        conn.close()


def rewrite_after(cache: Cache, t_ms: int) -> None:
    """Everything a later moment could bring: rows not yet known at t changed, more rows
    appended, a snapshot after t, and the snapshot in effect at t (and the one before it)
    corrected an hour after t."""
    for series_id in cache.series_ids():
        if is_snapshot(cache, series_id):
            times = cache.snapshot_times(series_id)
            past = times[times <= t_ms]
            future = Snapshot(series_id, t_ms + 60_000, _scrambled(cache.snapshot_at(
                series_id, int(past[-1] if len(past) else times[0])).frame), {"later": True})
            cache.put_snapshot(future, recorded_ms=t_ms + 60_000)
            for time_ms in past[-2:]:
                old = cache.snapshot_at(series_id, int(time_ms))
                cache.put_snapshot(Snapshot(series_id, old.time_ms, _scrambled(old.frame),
                                            old.meta), recorded_ms=t_ms + H)
            continue
        data = cache.read(series_id)
        if not len(data):
            continue
        unknown = data.time > t_ms - known_delay_ms(series_id)
        step = int(np.median(np.diff(data.time))) if len(data) > 1 else H
        extra = data.last_ms + step * np.arange(1, 25, dtype=np.int64)
        time = np.concatenate([data.time[unknown], extra])
        cols = {name: np.concatenate([data[name][unknown] * 1.5 + 1,
                                      np.full(len(extra), data[name][-1] * 3 + 7)])
                for name in data.names}
        cache.upsert(series_id, SeriesData(time, cols))


def _scrambled(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        if name in ("open_interest", "rate", "mark_iv", "apr_pct", "mark_price", "future_price"):
            out[name] = out[name] * 3 + 1
    return out



@pytest.fixture(scope="module", params=MOMENTS, ids=("2026-02-05T20", "2026-02-06T16"))
def moment(request, demo_cache, tmp_path_factory):
    """(t, the demo cache, a cache of only what was known at t, the demo cache rewritten
    after t)."""
    t_ms = request.param
    folder = tmp_path_factory.mktemp("moment")
    known = Cache(folder / "known.sqlite")
    copy_known(demo_cache, t_ms, known)
    demo_cache.close()  # its connections go, so the file copy has every commit
    shutil.copyfile(demo_cache.path, folder / "later.sqlite")
    later = Cache(folder / "later.sqlite")
    rewrite_after(later, t_ms)
    yield t_ms, demo_cache, known, later
    known.close()
    later.close()


def same(a, b, where: str = "result") -> None:
    """Deep equality of analysis results (dataclasses, dicts, arrays, frames, series)."""
    assert type(a) is type(b), where
    if isinstance(a, SeriesData):
        same(a.time, b.time, f"{where}.time")
        same(dict(a.columns), dict(b.columns), where)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape, where
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), where
        else:
            assert np.array_equal(a, b), where
    elif isinstance(a, float):
        assert a == b or (np.isnan(a) and np.isnan(b)), where
    else:
        assert a == b, where


def test_every_analysis_is_covered():
    assert set(PARAMS) == set(ANALYSES)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_no_look_ahead(moment, name):
    """As of t, each analysis on the demo cache with everything after t rewritten (rows,
    snapshots, corrections) equals the analysis on only what was known at t."""
    t_ms, _full, known, later = moment
    analysis, params = ANALYSES[name], PARAMS[name]
    same(analysis.run(AsOfLoader(later, t_ms), **params), analysis.run(known, **params), name)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


def test_the_funding_table_as_of_t_is_each_venues_table_fetched_just_before(moment, demo):
    t_ms, full, _known, later = moment
    for asset in ("btc", "eth"):
        table = analyse_funding(AsOfLoader(later, t_ms), asset).now
        assert table == _funding_now(AsOfLoader(full, t_ms), asset)
        assert list(table) == list(VENUES)
        for venue in VENUES:
            (snap,) = [s for s in demo.snapshots if s.series_id ==
                       f"fundingnow.{venue}.{asset}" and s.time_ms == t_ms - 60_000]
            row = snap.frame.iloc[0]
            for name in ("rate", "apr_pct", "mark_price", "open_interest_usd",
                         "next_funding_ms"):
                assert table[venue][name] == pytest.approx(float(row[name]), rel=1e-12)
            # the rate per 8 hours, by hand
            assert table[venue]["rate_8h"] == pytest.approx(
                float(row["rate"]) * 8 / float(row["interval_hours"]), rel=1e-12)


def test_gamma_levels_as_of_t_are_those_of_the_chains_known_then(moment):
    t_ms, full, _known, later = moment
    history = gamma_levels(AsOfLoader(later, t_ms), "btc")  # = on the known cache: see above
    stamps = history.index.as_unit("ms").asi8
    assert stamps[-1] == t_ms - 60_000 and (stamps <= t_ms).all()
    chain = analyse_chain(AsOfLoader(later, t_ms), "btc")
    assert chain.time_ms == t_ms - 60_000
    assert (chain.flip, chain.call_wall, chain.put_wall) == tuple(
        history.iloc[-1][["gamma_flip", "call_wall", "put_wall"]].tolist())
    # the corrected chain: its first numbers until the correction was recorded, then the fix
    row = history.loc[pd.Timestamp(CORRECTED, unit="ms", tz="UTC")]
    first, fixed = full.snapshot_revisions("options.btc", CORRECTED)
    shown = first if t_ms < fixed.recorded_ms else fixed
    one = gamma_levels(_OneSnapshot(shown), "btc").iloc[0]
    pd.testing.assert_series_equal(row, one, check_names=False)


def test_the_correction_moves_the_gamma_levels_it_stands_for(demo_cache):
    """So the test above can fail: the two revisions of the corrected chain differ in what
    the options dock draws."""
    first, fixed = demo_cache.snapshot_revisions("options.btc", CORRECTED)
    a = gamma_levels(_OneSnapshot(first), "btc").iloc[0]
    b = gamma_levels(_OneSnapshot(fixed), "btc").iloc[0]
    assert not a.equals(b)


class _OneSnapshot:
    """A loader holding one chain snapshot (the gamma levels of one revision)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def snapshot_times(self, series_id):
        return np.array([self.snap.time_ms], dtype=np.int64)

    def snapshot_at(self, series_id, time_ms):
        return self.snap if time_ms == self.snap.time_ms else None
