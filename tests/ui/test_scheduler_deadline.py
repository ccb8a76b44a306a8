"""A refresh job past its deadline is abandoned and reported, and its slot is freed: stuck
requests (a venue trickling a byte every few seconds) cannot hold every refresh slot."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from models.catalog import get_spec
from models.status import ErrorKind, SourceState
from ui import scheduler as scheduler_module
from ui.scheduler import MAX_REFRESH_JOBS, Scheduler

# one series per venue, but eth.1h (Binance, like btc.1h) fourth
SERIES = ["btc.1h", "spx.1h", "dvol.btc", "eth.1h", "funding.okx.btc", "funding.bybit.btc",
          "funding.hyperliquid.btc", "funding.binance.btc"]


def test_stuck_refresh_jobs_are_abandoned_reported_and_free_their_slots(qtbot, monkeypatch):
    gate = threading.Event()
    started: list[str] = []

    def stuck_refresh(services, spec, *rest):
        started.append(spec.id)
        gate.wait(10)
        raise AssertionError("a late result must be dropped")

    monkeypatch.setattr(scheduler_module, "_job_refresh", stuck_refresh)
    monkeypatch.setattr(scheduler_module, "REFRESH_DEADLINE_S", 0.3)
    scheduler = Scheduler(tick_ms=50)
    scheduler.services = SimpleNamespace(now_ms_override=None, close=lambda: None)
    tracker = scheduler.tracker
    tracker.watch([get_spec(i) for i in SERIES])
    for series_id in SERIES:
        tracker.on_cached(series_id, None, scheduler.now_ms(), mono=scheduler.mono_ms())
    notices: list[str] = []
    scheduler.noticeRaised.connect(notices.append)
    try:
        scheduler._timer.start()
        qtbot.waitUntil(lambda: len(started) == MAX_REFRESH_JOBS, timeout=5000)
        # Past the deadline the three stuck jobs are reported; two more (the bound on abandoned
        # jobs still holding a thread) take their place, and they get stuck too. eth.1h waits:
        # its venue has a stuck job.
        qtbot.waitUntil(lambda: len(started) == 5, timeout=5000)
        qtbot.waitUntil(lambda: tracker.status(started[4]).state == SourceState.ERROR,
                        timeout=5000)
        qtbot.wait(500)
        assert set(started[:3]) == {"btc.1h", "spx.1h", "dvol.btc"}  # workers race to append
        assert set(started[3:]) == {"funding.okx.btc", "funding.bybit.btc"}
        assert scheduler.jobs.abandoned == 5  # bounded: not 8
        for series_id in started:
            status = tracker.status(series_id)
            assert status.state == SourceState.ERROR and status.error_kind == ErrorKind.TIMEOUT
            assert "timed out" in status.last_error and status.next_retry_ms is not None
        assert tracker.inflight == frozenset()
    finally:
        scheduler._timer.stop()  # no new jobs once the stuck ones return
        gate.set()
        scheduler.jobs._pool.waitForDone(5000)
        qtbot.wait(100)
        scheduler.shutdown(2000)
    assert notices == []  # the late failures were dropped, not shown as crashes
    assert all(tracker.status(i).state == SourceState.ERROR for i in started)
    # The stuck jobs returned: Binance takes jobs again.
    assert scheduler.jobs.abandoned == 0 and scheduler._stalled == {}
    assert tracker.due(scheduler.now_ms(), MAX_REFRESH_JOBS, mono=scheduler.mono_ms(),
                       stalled_venues=scheduler._stalled)[0] == "eth.1h"
