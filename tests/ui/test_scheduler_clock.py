"""The window's scheduler waits on the monotonic clock: a wall-clock jump either way neither
freezes refreshing (a day back: due in 86,400 s) nor marks fresh data stale."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from models.catalog import get_spec
from models.status import SourceState
from services.refresh import RefreshResult
from ui import scheduler as scheduler_module
from ui.scheduler import Scheduler

DAY_S = 86_400.0


@pytest.mark.parametrize("jump_s", [-DAY_S, DAY_S])
def test_a_wall_clock_jump_refreshes_again_after_one_poll_interval(qtbot, monkeypatch, jump_s):
    wall, mono = [1_780_000_000.0], [5_000.0]
    started: list[float] = []
    fetch_until: list[int] = []  # the `now` each refresh asks the venues up to

    def refresh(services, spec, want_start, stop, progress, force, held, now_ms):
        started.append(wall[0])
        fetch_until.append(now_ms)
        return scheduler_module._Refreshed(RefreshResult(spec.id, venue="coinbase"),
                                           None, None, None)

    monkeypatch.setattr(scheduler_module, "_job_refresh", refresh)
    scheduler = Scheduler(tick_ms=20, clock=lambda: wall[0], monotonic=lambda: mono[0])
    scheduler.services = SimpleNamespace(now_ms_override=None, close=lambda: None)
    tracker = scheduler.tracker
    tracker.watch([get_spec("btc.1h")])  # polled every 60 s
    tracker.on_cached("btc.1h", None, scheduler.now_ms(), mono=scheduler.mono_ms())
    try:
        scheduler._timer.start()
        qtbot.waitUntil(lambda: tracker.status("btc.1h").state == SourceState.OK, timeout=5000)
        assert tracker.status("btc.1h").last_good_ms == 1_780_000_000_000
        wall[0] += jump_s + 10
        mono[0] += 10
        qtbot.wait(100)
        assert len(started) == 1 and tracker.status("btc.1h").state == SourceState.OK
        wall[0] += 50
        mono[0] += 50  # one poll interval after the success
        qtbot.waitUntil(lambda: len(started) == 2, timeout=5000)
        qtbot.waitUntil(lambda: tracker.status("btc.1h").state == SourceState.OK, timeout=5000)
        # stamped with the wall clock as it now reads
        assert tracker.status("btc.1h").last_good_ms == int((1_780_000_060 + jump_s) * 1000)
        # Venues are asked up to the newest rows: a day back would ask for none newer.
        assert fetch_until == [1_780_000_000_000,
                               int((1_780_000_060 + max(jump_s, 0)) * 1000)]
    finally:
        scheduler.shutdown(2000)
