"""The job runner: latest request per key wins, generator jobs hand items over, ids per runner."""

from __future__ import annotations

import threading

from ui.jobs import JobRunner


def _count(n: int, gate: threading.Event):
    for i in range(n):
        if i == 1:
            gate.wait(5)
        yield i


def test_request_ids_belong_to_each_runner(qtbot):
    first, second = JobRunner(), JobRunner()
    got: list[int] = []
    try:
        ids = [first.run("a", int, "1", on_result=got.append),
               first.run("b", int, "2", on_result=got.append),
               second.run("a", int, "3", on_result=got.append)]
        qtbot.waitUntil(lambda: len(got) == 3, timeout=5000)
        assert ids == [1, 2, 1]  # the second runner's "a" does not supersede the first's
        assert sorted(got) == [1, 2, 3]
    finally:
        first.shutdown(2000)
        second.shutdown(2000)


def test_a_superseded_generator_job_stops_handing_items_over(qtbot):
    runner = JobRunner()
    gate = threading.Event()
    old_items: list[int] = []
    new_items: list[int] = []
    done: list[str] = []
    try:
        runner.run("k", _count, 3, gate, on_result=lambda _r: done.append("old"),
                   on_item=old_items.append)
        qtbot.waitUntil(lambda: old_items == [0], timeout=5000)
        released = threading.Event()
        released.set()
        runner.run("k", _count, 2, released, on_result=lambda _r: done.append("new"),
                   on_item=new_items.append)
        gate.set()
        qtbot.waitUntil(lambda: not runner.pending, timeout=5000)
        assert new_items == [0, 1]
        assert old_items == [0]  # items 1 and 2 came after it was superseded: dropped
        assert done == ["new"]
    finally:
        gate.set()
        runner.shutdown(2000)


def test_after_shutdown_nothing_is_delivered(qtbot):
    runner = JobRunner()
    gate = threading.Event()
    got: list[object] = []
    runner.run("k", gate.wait, 5, on_result=got.append)
    gate.set()
    assert runner.shutdown(2000)
    qtbot.wait(50)
    assert got == [] and runner.closing


def _blocked(gate: threading.Event) -> str:
    gate.wait(10)
    return "late"


def test_a_job_past_its_deadline_is_abandoned_its_thread_replaced_and_its_result_dropped(qtbot):
    from PySide6.QtCore import QThreadPool

    from ui.jobs import MAX_ABANDONED, MAX_THREADS

    runner = JobRunner()
    pool = QThreadPool.globalInstance()
    gate = threading.Event()
    timed_out: list[str] = []
    results: list[str] = []
    try:
        for key in ("a", "b", "c"):
            runner.run(key, _blocked, gate, on_result=results.append, deadline_s=0.2,
                       on_timeout=lambda k=key: timed_out.append(k))
        runner.run("quick", str, "in time", on_result=results.append, deadline_s=5)
        qtbot.waitUntil(lambda: len(timed_out) == 3, timeout=5000)
        assert sorted(timed_out) == ["a", "b", "c"] and runner.abandoned == 3
        # Two extra threads (bounded) beside the three stuck ones.
        assert pool.maxThreadCount() == MAX_THREADS + MAX_ABANDONED
        qtbot.waitUntil(lambda: results == ["in time"], timeout=5000)
        gate.set()
        qtbot.waitUntil(lambda: runner.pending == 0, timeout=5000)
        qtbot.wait(50)
        assert results == ["in time"]  # the late results were dropped
        assert runner.abandoned == 0 and pool.maxThreadCount() == MAX_THREADS
    finally:
        gate.set()
        runner.shutdown(2000)


def test_jobs_with_a_deadline_leak_no_references_to_none(qtbot):
    import gc
    import sys

    runner = JobRunner()

    def batch(n: int) -> None:
        got: list[int] = []
        for i in range(n):
            runner.run(f"k{i}", int, "1", on_result=got.append, deadline_s=0.05,
                       on_timeout=lambda: None)
        qtbot.waitUntil(lambda: len(got) == n, timeout=10000)
        qtbot.wait(100)  # past every deadline
        gc.collect()

    try:
        batch(50)
        before = sys.getrefcount(None)
        batch(300)
        # a single-shot timer per job leaked 3 a job (900 here)
        assert sys.getrefcount(None) - before < 30
    finally:
        runner.shutdown(2000)


def _refuse() -> None:
    from services.errors import SymbolRefused

    raise SymbolRefused("Yahoo does not know NOPE")


def _crash() -> None:
    raise RuntimeError("a bug")


def test_an_answer_for_the_user_is_one_log_line_and_a_fault_keeps_its_traceback(qtbot, caplog):
    runner = JobRunner()
    shown: list[str] = []
    try:
        with caplog.at_level("WARNING", logger="ui.jobs"):
            runner.run("refuse", _refuse, on_result=shown.append,
                       on_error=lambda e: shown.append(str(e)))
            runner.run("crash", _crash, on_result=shown.append,
                       on_error=lambda e: shown.append(str(e)))
            qtbot.waitUntil(lambda: len(shown) == 2, timeout=5000)
        assert sorted(shown) == ["Yahoo does not know NOPE", "a bug"]
        by_job = {r.getMessage().split(":")[0].split()[1]: r for r in caplog.records}
        assert by_job["refuse"].levelname == "WARNING" and by_job["refuse"].exc_info is None
        assert "SymbolRefused: Yahoo does not know NOPE" in by_job["refuse"].getMessage()
        assert by_job["crash"].levelname == "ERROR" and by_job["crash"].exc_info is not None
    finally:
        runner.shutdown(2000)
