"""`python -m bench --case resample`: BTC's whole minute history (4.9M 1m rows) to hourly bars.

Times `models.resample.resample_ohlcv` (what a worker runs) and pandas'
`resample("1h", label="left", closed="left").agg(...)` on the same rows in the same process,
checks they agree, and reports both and their ratio (docs/timeframes.md). The exact variant
(`complete_bins`, a bar only where all sixty minutes are stored) is timed too.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
FIRST_MINUTE_MS = 1_502_942_400_000  # 2017-08-17 04:00 UTC, Binance's first BTCUSDT kline


def synthetic_minutes(n: int, *, gaps: int = 40, seed: int = 16):
    """n minute bars from Binance's first day on, with `gaps` venue outages of up to a day."""
    from models.series import SeriesData

    rng = np.random.default_rng(seed)
    t = FIRST_MINUTE_MS + MINUTE_MS * np.arange(n + gaps * 720, dtype=np.int64)
    keep = np.ones(len(t), dtype=bool)
    for start in rng.integers(0, len(t) - 1440, gaps):
        keep[start:start + int(rng.integers(1, 1440))] = False
    t = t[keep][:n]
    close = 4000 * np.exp(np.cumsum(rng.normal(0, 0.0008, len(t))))
    open_ = np.concatenate(([4000.0], close[:-1]))
    wick = rng.random(len(t)) * 0.0005
    return SeriesData(t, {"open": open_, "high": np.maximum(open_, close) * (1 + wick),
                          "low": np.minimum(open_, close) * (1 - wick), "close": close,
                          "volume": rng.random(len(t)) * 5})


def _median_ms(fn, reps: int) -> tuple[float, list[float], Any]:
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), [round(x, 1) for x in times], out


def resample(n: int = 4_900_000, reps: int = 5) -> dict[str, Any]:
    from models.resample import complete_bins, resample_ohlcv

    data = synthetic_minutes(n)
    ours_ms, ours_all, ours = _median_ms(lambda: resample_ohlcv(data, HOUR_MS), reps)
    exact_ms, exact_all, exact = _median_ms(lambda: complete_bins(data, HOUR_MS, MINUTE_MS),
                                            reps)
    frame = data.to_frame()  # built outside the timing: pandas gets its own format for free

    def by_pandas():
        r = frame.resample("1h", label="left", closed="left")
        out = r.agg({"open": "first", "high": "max", "low": "min", "close": "last",
                     "volume": "sum"})
        return out.dropna(subset=["open"])

    pandas_ms, pandas_all, theirs = _median_ms(by_pandas, max(1, reps // 2))
    agree = bool(np.array_equal(ours.time, theirs.index.as_unit("ms").asi8) and all(
        np.array_equal(ours[c], theirs[c].to_numpy()) for c in ("open", "high", "low", "close"))
        and np.allclose(ours["volume"], theirs["volume"].to_numpy()))
    return {
        "rows": len(data), "bars": len(ours), "complete_bars": len(exact),
        "resample_ms": {"median": round(ours_ms, 1), "runs": ours_all},
        "complete_bins_ms": {"median": round(exact_ms, 1), "runs": exact_all},
        "pandas_resample_ms": {"median": round(pandas_ms, 1), "runs": pandas_all},
        "pandas_over_rotor": round(pandas_ms / ours_ms, 2) if ours_ms else None,
        "agrees_with_pandas": agree,
        "target_ms": 150.0,
    }
