"""A long series watched after the start (the price dock switched to 1m) reaches the panels in
two steps: its newest two weeks at once, then the whole history (ui/startup.py)."""

from __future__ import annotations

import numpy as np

from models.series import MS_PER_DAY, SeriesData
from services.app import CACHE_FILE, AppServices
from services.cache import Cache
from ui.scheduler import Scheduler
from ui.startup import NEWEST_FIRST_DAYS, read_newest_rows

MINUTE = 60_000
START = 1_735_689_600_000  # 2025-01-01 00:00 UTC


def minutes(n: int) -> SeriesData:
    close = 60_000 + np.cumsum(np.sin(np.arange(n) / 50.0))
    return SeriesData(START + MINUTE * np.arange(n, dtype=np.int64),
                      {"open": close, "high": close + 5, "low": close - 5, "close": close,
                       "volume": np.ones(n)})


def services_with(tmp_path, **series: SeriesData) -> AppServices:
    cache = Cache(tmp_path / CACHE_FILE)
    for series_id, data in series.items():
        cache.upsert(series_id.replace("_", "."), data)
    return AppServices(cache, None, True, tmp_path)


def test_the_newest_rows_of_long_series_only(tmp_path, monkeypatch):
    import ui.startup

    monkeypatch.setattr(ui.startup, "NEWEST_FIRST_MIN_ROWS", 30_000)
    long, short = minutes(40_000), minutes(2_000)
    services = services_with(tmp_path, btc_1m=long, eth_1m=short)
    phase = read_newest_rows(services, ("btc.1m", "eth.1m"))
    assert set(phase.series) == {"btc.1m"} and phase.ids == frozenset()
    window = NEWEST_FIRST_DAYS * MS_PER_DAY
    expected = long.time[long.time >= long.time[-1] - window]
    assert np.array_equal(phase.series["btc.1m"].time, expected)  # exactly the newest two weeks
    assert not read_newest_rows(services, ("eth.1m",)).series  # short: read whole at once


def test_the_scheduler_publishes_the_newest_rows_before_the_history(qtbot, tmp_path,
                                                                     monkeypatch):
    import ui.startup

    monkeypatch.setattr(ui.startup, "NEWEST_FIRST_MIN_ROWS", 30_000)
    long = minutes(40_000)
    scheduler = Scheduler()
    scheduler.services = services_with(tmp_path, btc_1m=long)
    scheduler.demo = True  # no network ticks
    published: list[int] = []
    scheduler.seriesChanged.connect(lambda sid, data: published.append(len(data)))
    scheduler.watch_more(["btc.1m"])
    qtbot.waitUntil(lambda: len(published) == 2, timeout=10000)
    assert published == [NEWEST_FIRST_DAYS * 1440 + 1, 40_000]
    assert "btc.1m" in scheduler.tracker.watched
    # a short series is read whole at once, with no wait for a paint
    scheduler.services.cache.upsert("eth.1m", minutes(2_000))
    scheduler.watch_more(["eth.1m"])
    qtbot.waitUntil(lambda: len(published) == 3, timeout=10000)
    assert published[-1] == 2_000 and not scheduler._whole_timer.isActive()
    scheduler.shutdown()
    scheduler.services.cache.close()
