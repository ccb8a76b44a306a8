"""Yahoo series poll every 60 s while their market is open (ui/market_hours.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from models.catalog import get_spec
from ui.market_hours import OPEN_MARKET_POLL_S, MarketHoursCadence
from ui.scheduler import Scheduler


def test_cadence_follows_each_market_and_the_timer_waits_for_the_next_edge(qtbot):
    # Tuesday 1 Dec 2026, 15:00 UTC: NYSE open (14:30-21:00), CME Globex open, BTC is no Yahoo
    clock = datetime(2026, 12, 1, 15, 0, tzinfo=UTC).timestamp()
    scheduler = Scheduler(clock=lambda: clock)
    ids = ["spx.1h", "gold.1d", "btc.1h"]
    scheduler.tracker.watch([get_spec(i) for i in ids])
    hours = MarketHoursCadence(scheduler)
    try:
        hours.start()
        qtbot.waitUntil(lambda: hours._timer.isActive(), timeout=20000)
        poll = {i: scheduler.tracker.poll_seconds(get_spec(i)) for i in ids}
        assert poll == {"spx.1h": OPEN_MARKET_POLL_S, "gold.1d": OPEN_MARKET_POLL_S,
                        "btc.1h": get_spec("btc.1h").poll_seconds}
        # the next edge is NYSE's close at 21:00, six hours on: the timer waits at most an hour
        assert 3_590_000 <= hours._timer.interval() <= 3_601_000
        clock = datetime(2026, 12, 1, 21, 0, 30, tzinfo=UTC).timestamp()
        hours.apply()
        assert scheduler.tracker.poll_seconds(get_spec("spx.1h")) == 300
        assert scheduler.tracker.poll_seconds(get_spec("gold.1d")) == OPEN_MARKET_POLL_S
    finally:
        hours.stop()
        scheduler.shutdown(2000)
