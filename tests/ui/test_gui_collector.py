"""Garbage cycles are collected on the GUI thread, never by whichever worker allocates."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QThreadPool

from ui.gui_collector import collect_on_gui_thread


class _Cycle(QObject):
    freed_on: list[str] = []  # noqa: RUF012  (shared by the test on purpose)

    def __init__(self) -> None:
        super().__init__()
        self.me = self  # a reference cycle: only the cyclic collector frees it

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.current_thread().name)


def test_cycles_are_freed_by_the_gui_timer_not_by_a_busy_worker(qtbot):
    collector = collect_on_gui_thread()
    assert collect_on_gui_thread() is collector  # one per application
    assert not gc.isenabled()
    _Cycle.freed_on.clear()
    _Cycle()
    churn = threading.Event()
    kept: list = []

    def allocate() -> None:  # enough live containers to cross every threshold many times
        kept.extend([{}] for _ in range(200_000))
        churn.set()

    QThreadPool.globalInstance().start(allocate)
    qtbot.waitUntil(churn.is_set, timeout=10000)
    # The worker's allocations ran no collection (the GUI timer may already have run one).
    assert threading.main_thread().name in _Cycle.freed_on or _Cycle.freed_on == []
    qtbot.waitUntil(lambda: bool(_Cycle.freed_on), timeout=5000)
    assert _Cycle.freed_on == [threading.main_thread().name]
