"""Switching the price dock from 1h to 1m with BTC's minute history in the SQLite cache, the
whole road: `python -m bench --case minutes_cached --n 4900000 --reps 3 --json`.

The dock shows BTC's hours; the minutes are only in the cache (compact chunks, as the
backfill writes them). The trader picks 1m: the dock asks the scheduler for the minutes, a
worker reads them and the dock draws them. Timed from the pick: the first paint that shows
BTC's minutes, and the paint once the whole history is drawable. The same switches are timed
with the whole history read before anything is handed over (ui/startup.py's newest-first step
off), for the ratio in one run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import frames as fr
from bench.dock_pan import make_panel, synthetic_candles
from bench.minutes import _switch, summarize_switches

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


def minutes_cached(n: int, reps: int, size: tuple[int, int]) -> dict[str, Any]:
    qapp = fr.app()
    import ui.startup
    from models.ids import price_id
    from services.app import CACHE_FILE, AppServices
    from services.cache import Cache

    out: dict[str, Any] = {"btc_minutes": n, "size": list(size), "reps": reps}
    folder = Path(tempfile.mkdtemp(prefix="rotor-minutes-cached-"))
    cache = Cache(folder / CACHE_FILE)
    minutes = synthetic_candles(n, seed=7, interval_ms=MINUTE_MS)
    for start in range(0, n, 500_000):  # as the backfill writes: page by page
        cache.upsert(price_id("btc", "1m"), _rows(minutes, start, start + 500_000))
    out["cache_mb"] = round((folder / CACHE_FILE).stat().st_size / 1e6, 1)
    hours = synthetic_candles(max(n // 60, 2), seed=8, interval_ms=HOUR_MS)
    panel = make_panel(qapp, size, {price_id("btc", "1h"): hours}, ("btc",), "1h")
    scheduler, store = panel.ctx.scheduler, panel.ctx.store
    store.follow(scheduler)
    scheduler.services = AppServices(cache, None, True, folder)
    scheduler.demo = True  # nothing is fetched: the cache is the only source

    def switches(newest_first: bool) -> list[dict[str, float]]:
        runs = []
        saved = ui.startup.NEWEST_FIRST_MIN_ROWS
        if not newest_first:
            ui.startup.NEWEST_FIRST_MIN_ROWS = 1 << 62
        try:
            for _ in range(reps):
                panel.interval_box.setCurrentText("1h")  # the minutes are let go
                fr.settle(qapp)
                store.drop(price_id("btc", "1m"))
                panel._prepared.pop(price_id("btc", "1m"), None)
                runs.append(_switch(qapp, panel, n))
                fr.settle(qapp)
        finally:
            ui.startup.NEWEST_FIRST_MIN_ROWS = saved
        return runs

    out["runs"] = switches(True)
    out["whole_read_first"] = {"runs": switches(False)}
    summarize_switches(out, "whole_read_first")
    panel.shutdown()
    scheduler.shutdown()
    cache.close()
    return out


def _rows(data: Any, start: int, end: int) -> Any:
    from models.series import SeriesData

    return SeriesData(data.time[start:end], {k: v[start:end] for k, v in data.columns.items()})
