"""Long runs: jobs on the worker pool must not leave connections, sessions or workers behind."""

from __future__ import annotations

import gc

from PySide6.QtCore import QThreadPool
from superqt.utils import FunctionWorker

from services.cache import Cache
from ui.scheduler import Scheduler


def test_many_jobs_reuse_one_cache_connection_per_pool_thread(qtbot, tmp_path):
    # A Qt pool thread gets a fresh Python thread state per job, so thread-local storage would
    # open (and keep) one SQLite connection per job: the soak run found ~3 a second.
    cache = Cache(tmp_path / "cache.sqlite")
    scheduler = Scheduler()
    done: list[int] = []
    try:
        for i in range(40):
            scheduler.run(f"job{i}", cache.bounds, "btc.1h", on_result=lambda _r: done.append(1))
            qtbot.waitUntil(lambda n=i: len(done) == n + 1, timeout=5000)
        assert len(cache._conns) <= QThreadPool.globalInstance().maxThreadCount() + 1
        qtbot.waitUntil(lambda: not scheduler._workers, timeout=5000)
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, FunctionWorker)]
        assert len(alive) < 5, f"{len(alive)} finished workers are still alive"
    finally:
        scheduler.shutdown(2000)
        cache.close()
