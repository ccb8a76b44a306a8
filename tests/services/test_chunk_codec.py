"""The compact chunk format: bit-exact round trips, old plain chunks still read, its size."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from models.series import SeriesData
from services import chunk_codec, errors
from services.cache import Cache, CacheError

M = 60_000
T0 = 1_502_942_400_000  # 2017-08-17 04:00 UTC, Binance's first BTCUSDT minute


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(np.asarray(a).view(np.int64),
                                                 np.asarray(b).view(np.int64))


def minute_candles(n: int, seed: int = 0, start: int = T0) -> SeriesData:
    """Candles as a venue sends them: prices with 2 decimals, volume with 8, parsed from the
    text (float(str)), the way services/binance.py reads a page."""
    rng = np.random.default_rng(seed)
    cents = np.cumsum(rng.integers(-900, 901, n)) + 4_300_000
    vol_units = rng.integers(0, 5_000 * 10**8, n)
    text = {"close": [f"{c // 100}.{c % 100:02d}" for c in cents],
            "open": [f"{c // 100}.{c % 100:02d}" for c in cents - rng.integers(-50, 51, n)],
            "volume": [f"{v // 10**8}.{v % 10**8:08d}" for v in vol_units]}
    cols = {k: np.array([float(s) for s in v]) for k, v in text.items()}
    return SeriesData(start + np.arange(n, dtype=np.int64) * M, cols)


def round_trip(time: np.ndarray, cols: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    blob = chunk_codec.encode_compact(time, cols)
    assert chunk_codec.chunk_format(blob) == chunk_codec.COMPACT
    return chunk_codec.decode(len(time), len(cols), blob)


def test_venue_decimals_round_trip_bit_for_bit_and_take_few_bytes():
    data = minute_candles(4096)
    cols = list(data.columns.values())
    t, out = round_trip(data.time, cols)
    assert same_bits(t, data.time)
    assert all(same_bits(a, b) for a, b in zip(out, cols, strict=True))
    blob = chunk_codec.encode_compact(data.time, cols)
    # the time steps are all 60,000 (no bytes), two price columns in int16 steps, volume in
    # int64 steps (8 decimals): 2 + 2 + 8 bytes a row plus the header
    header = len(chunk_codec.COMPACT_MAGIC) + 4 * chunk_codec._COLUMN.size
    assert len(blob) == header + 4095 * (2 + 2 + 8)


def test_values_that_are_not_short_decimals_round_trip_as_they_are():
    rng = np.random.default_rng(3)
    n = 1000
    t = np.sort(rng.choice(10**9, n, replace=False)).astype(np.int64) * 1000 + T0  # gaps
    computed = np.cumsum(rng.standard_normal(n))  # full-precision floats
    with_nan = computed.copy()
    with_nan[[0, 17, 999]] = np.nan
    signed_zero = np.zeros(n)
    signed_zero[5] = -0.0
    huge = np.full(n, 2.0 ** 60)  # an integer past 2**53: no exact decimal integers
    tiny = np.round(rng.random(n), 12)  # 12 decimals: past MAX_DECIMALS
    negative_steps = np.arange(n, 0, -1) / 100  # 10.00, 9.99, ...: decimal with falling steps
    cols = [computed, with_nan, signed_zero, huge, tiny, negative_steps]
    t_out, out = round_trip(t, cols)
    assert same_bits(t_out, t)
    for a, b in zip(out, cols, strict=True):
        assert same_bits(a, b)
    assert np.signbit(out[2][5])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_chunks_round_trip(n):
    data = minute_candles(n, seed=n)
    t, out = round_trip(data.time, list(data.columns.values()))
    assert same_bits(t, data.time)
    assert all(same_bits(a, b) for a, b in zip(out, data.columns.values(), strict=True))


def test_a_plain_chunk_is_never_taken_for_a_compact_one():
    """The magic's eighth byte makes it a negative first time for a plain chunk."""
    rng = np.random.default_rng(9)
    for _ in range(200):
        first = int(rng.integers(1, 2**62))
        blob = chunk_codec.encode_plain(np.array([first], np.int64), [np.array([1.5])])
        assert chunk_codec.chunk_format(blob) == chunk_codec.PLAIN
    assert int.from_bytes(chunk_codec.COMPACT_MAGIC, "little", signed=True) < 0


def test_damaged_compact_chunks_raise_a_format_error():
    data = minute_candles(100)
    blob = chunk_codec.encode_compact(data.time, list(data.columns.values()))
    for bad in (blob[:-1], blob + b"\0", blob[:20]):
        with pytest.raises(chunk_codec.ChunkFormatError):
            chunk_codec.decode(100, 3, bad)
    with pytest.raises(chunk_codec.ChunkFormatError):
        chunk_codec.decode(101, 3, blob)  # another row count than was written
    floats = chunk_codec.encode_compact(data.time, [np.random.default_rng(1).random(100)])
    for bad in (floats[:-8], floats[:-1]):  # a raw float column cut short
        with pytest.raises(chunk_codec.ChunkFormatError):
            chunk_codec.decode(100, 1, bad)


# -- in the cache ---------------------------------------------------------------------------------
def stored_blobs(path) -> list[bytes]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT data FROM chunks ORDER BY chunk")]
    finally:
        conn.close()


def test_a_cache_written_in_the_old_format_reads_and_is_rewritten_compact(tmp_path):
    path = tmp_path / "cache.sqlite"
    data = minute_candles(20_000)
    old = Cache(path)
    old.chunk_format = chunk_codec.PLAIN  # what every cache before issue 16 wrote
    old.upsert("btc.1m", data)
    old.close()
    plain_blobs = stored_blobs(path)
    assert {chunk_codec.chunk_format(b) for b in plain_blobs} == {chunk_codec.PLAIN}

    cache = Cache(path)
    back = cache.read("btc.1m")
    assert same_bits(back.time, data.time)
    assert all(same_bits(back[c], data[c]) for c in data.names)
    # a new minute rewrites only the chunk it lands in, compact: the series mixes formats
    newer = minute_candles(1, seed=5, start=data.last_ms + M)
    assert cache.upsert("btc.1m", newer) == 1
    formats = [chunk_codec.chunk_format(b) for b in stored_blobs(path)]
    assert formats[-1] == chunk_codec.COMPACT and formats[0] == chunk_codec.PLAIN
    mixed = cache.read("btc.1m")
    expected = data.merge(newer)
    assert same_bits(mixed.time, expected.time)
    assert all(same_bits(mixed[c], expected[c]) for c in data.names)
    # a range read across the boundary of the two formats
    part = cache.read("btc.1m", data.time[-10], newer.last_ms)
    assert same_bits(part["volume"], expected["volume"][-11:])
    cache.close()


def test_chunks_with_different_columns_still_read_with_nan_where_missing(tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    first = minute_candles(10)
    later = SeriesData(np.arange(1, 4, dtype=np.int64) * 10**9 + T0, {"close": [1.25, 2.5, 3.75]})
    cache.upsert("btc.1m", first)
    cache.upsert("btc.1m", later)
    back = cache.read("btc.1m")
    assert len(back) == 13
    assert np.isnan(back["volume"][-3:]).all()
    assert list(back["close"][-3:]) == [1.25, 2.5, 3.75]
    cache.close()


def test_bytes_per_million_minute_candles_stay_under_40_mb(tmp_path):
    """OHLCV as Binance sends BTCUSDT: 2-decimal prices, 8-decimal volume (stored size of
    the blobs, the number the backfill_size bench reports for a full million)."""
    rng = np.random.default_rng(1)
    n = 50_000
    close = np.cumsum(rng.integers(-2000, 2001, n)) + 2_000_000
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) + rng.integers(0, 500, n)
    low = np.minimum(open_, close) - rng.integers(0, 500, n)
    volume = rng.integers(0, 3_000 * 10**8, n)
    cols = {"open": open_ / 100, "high": high / 100, "low": low / 100, "close": close / 100,
            "volume": volume / 10**8}
    data = SeriesData(T0 + np.arange(n, dtype=np.int64) * M, cols)
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1m", data)
    cache.close()
    per_million = sum(len(b) for b in stored_blobs(path)) / n * 1e6
    assert per_million <= 40e6
    assert per_million < 48e6 * 0.6  # the plain format: 8 bytes × (time + 5 columns)


def test_a_damaged_compact_chunk_is_a_cache_error(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1m", minute_candles(100))
    conn = cache._conn()
    conn.execute("UPDATE chunks SET data = substr(data, 1, length(data) - 3)")
    with pytest.raises(CacheError):
        cache.read("btc.1m")
    cache.close()


def test_a_full_database_with_compact_chunks_keeps_the_cache(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1m", minute_candles(59))
    conn = cache._conn()
    conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
    noise = np.random.default_rng(2).standard_normal(20_000)  # stored as raw floats
    with pytest.raises(errors.CacheFull):
        cache.upsert("eth.1m", SeriesData(T0 + np.arange(20_000, dtype=np.int64) * M,
                                          {"close": noise}))
    cache.close()
    assert len(Cache(path).read("btc.1m")) == 59


def test_recovery_keeps_the_series_whose_compact_chunks_decode(tmp_path):
    """A damaged file is copied series by series (services/cache.py, _copy_readable_series):
    a compact chunk that does not decode loses its series, the others are kept whole."""
    from services.cache import _copy_readable_series

    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    cache.upsert("btc.1m", minute_candles(5000))
    cache.upsert("eth.1m", minute_candles(5000, seed=4))
    conn = cache._conn()
    conn.execute("UPDATE chunks SET data = substr(data, 1, length(data) - 8) "
                 "WHERE series_id = 'eth.1m' AND chunk = (SELECT max(chunk) FROM chunks "
                 "WHERE series_id = 'eth.1m')")
    cache.close()
    saved, lost = _copy_readable_series(path, tmp_path / "fresh.sqlite")
    assert saved == ["btc.1m"] and lost == ["eth.1m"]
    fresh = Cache(tmp_path / "fresh.sqlite")
    expected = minute_candles(5000)
    back = fresh.read("btc.1m")
    assert same_bits(back.time, expected.time) and same_bits(back["volume"], expected["volume"])
    fresh.close()
