"""`python -m bench --case backfill_size`: what a million minute candles cost in the cache.

The rows are synthetic but shaped like Binance's BTCUSDT klines: prices with 2 decimals
(a fat-tailed walk from 4,300 to tens of thousands, minute moves up to several percent) and
volume with 8 decimals (Binance formats every quantity with 8; the real lot size is coarser,
so this is the costlier case). They are written the way the backfill writes them: pages of
1,000 rows, newest first. Reported: the stored chunk bytes per million candles in the compact
format (target ≤ 40 MB) and, in the same run, in the plain format every cache before issue 16
wrote; the cache file's size per million; full-series read times of both (median).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

MINUTE_MS = 60_000
FIRST_MINUTE_MS = 1_502_942_400_000  # 2017-08-17 04:00 UTC


def binance_like_minutes(n: int, seed: int = 7) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    returns = rng.standard_t(3, n) * 0.0009 + np.log(60_000 / 4_300) / n
    close = np.round(4_300 * np.exp(np.cumsum(returns)), 2)
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.standard_t(3, (2, n))) * 0.0004
    high = np.round(np.maximum(open_, close) * (1 + wick[0]), 2)
    low = np.round(np.minimum(open_, close) * (1 - wick[1]), 2)
    volume = np.round(rng.lognormal(2.0, 1.3, n), 8)
    t = FIRST_MINUTE_MS + np.arange(n, dtype=np.int64) * MINUTE_MS
    return t, {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _chunk_bytes(cache: Any, series_id: str) -> int:
    row = cache._conn().execute("SELECT sum(length(data)) FROM chunks WHERE series_id=?",
                                (series_id,)).fetchone()
    return int(row[0] or 0)


def _median_ms(fn: Any, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return round(float(np.median(times)), 2)


def backfill_size(n: int, reps: int) -> dict[str, Any]:
    from models.series import SeriesData
    from services import chunk_codec
    from services.cache import Cache

    t, cols = binance_like_minutes(n)
    out: dict[str, Any] = {"n": n, "reps": reps}
    per_million = 1e6 / n
    with tempfile.TemporaryDirectory() as tmp:
        for name, fmt in (("compact", chunk_codec.COMPACT), ("plain", chunk_codec.PLAIN)):
            path = Path(tmp) / f"{name}.sqlite"
            cache = Cache(path)
            cache.chunk_format = fmt
            started = time.perf_counter()
            for hi in range(n, 0, -1000):  # newest page first, as the backfill stores them
                lo = max(0, hi - 1000)
                cache.upsert("btc.1m", SeriesData(t[lo:hi], {k: v[lo:hi]
                                                              for k, v in cols.items()}))
            out[f"{name}_write_s"] = round(time.perf_counter() - started, 2)
            out[f"{name}_bytes_per_million"] = round(_chunk_bytes(cache, "btc.1m") * per_million)
            read = cache.read("btc.1m")
            assert len(read) == n and np.array_equal(read["volume"], cols["volume"])
            out[f"{name}_read_ms"] = _median_ms(lambda c=cache: c.read("btc.1m"), reps)
            cache.close()
            out[f"{name}_file_bytes_per_million"] = round(path.stat().st_size * per_million)
    out["bytes_per_million_candles"] = out["compact_bytes_per_million"]
    out["mb_per_million_candles"] = round(out["compact_bytes_per_million"] / 1e6, 2)
    out["size_ratio_compact_to_plain"] = round(
        out["compact_bytes_per_million"] / out["plain_bytes_per_million"], 3)
    out["read_ratio_compact_to_plain"] = round(out["compact_read_ms"] / out["plain_read_ms"], 2)
    return out
