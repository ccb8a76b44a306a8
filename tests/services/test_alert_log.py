"""The alert log on a real SQLite file: firings kept once, read back in order, the evaluator's
state, and a locked, damaged or unwritable file met with a clear message and nothing lost."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat

import pytest

from models.alerts import Firing
from services.alert_log import ALERT_LOG_FILE, AlertLog, AlertLogError

HOUR = 3_600_000
T0 = 1_770_336_000_000  # 2026-02-06 00:00 UTC


def firing(rule_id: str = "squeeze", fired_h: int = 0, since_h: int | None = None,
           noticed: int | None = T0 + 5_000, **values: float) -> Firing:
    fired = T0 + fired_h * HOUR
    return Firing(rule_id=rule_id, rule_name=rule_id.title(),
                  true_since_ms=fired if since_h is None else T0 + since_h * HOUR,
                  fired_ms=fired, noticed_ms=noticed,
                  summary=f"{rule_id} fired at +{fired_h} h",
                  values=values or {"btc.1h:close": 70_000.0 + fired_h}, asset="btc")


@pytest.fixture
def log_path(tmp_path):
    return tmp_path / ALERT_LOG_FILE


@pytest.fixture
def alert_log(log_path):
    log = AlertLog(log_path, busy_timeout_s=0.1)
    yield log
    log.close()


def test_firings_round_trip_through_the_file(log_path):
    first = AlertLog(log_path)
    made = [firing("squeeze", 2, since_h=1, **{"btc.1h:close": 71_234.5}),
            firing("flip", 1, noticed=None)]
    assert first.add(made) == made
    first.close()
    again = AlertLog(log_path)  # a new process reading the same file
    assert again.between() == [made[1], made[0]]  # oldest first
    assert again.recent() == [made[0], made[1]]  # newest first
    assert again.recent()[0].values == {"btc.1h:close": 71_234.5}
    assert again.recent()[1].noticed_ms is None
    again.close()
    assert stat.S_IMODE(os.stat(log_path).st_mode) == 0o600


def test_the_same_firing_is_kept_once_and_not_returned_as_new(alert_log):
    one = firing("squeeze", 3)
    assert alert_log.add([one]) == [one]
    later = firing("squeeze", 3, noticed=T0 + 99_000)  # a restart noticing it again
    other = firing("squeeze", 4)
    assert alert_log.add([later, other]) == [other]
    assert alert_log.recent() == [other, one]
    twice = firing("flip", 5)
    assert alert_log.add([twice, twice]) == [twice]
    assert alert_log.add([]) == []


def test_recent_is_limited_and_between_is_half_open(alert_log):
    made = [firing(f"r{i % 3}", i) for i in range(10)]
    alert_log.add(made)
    assert alert_log.recent(limit=4) == made[::-1][:4]
    assert alert_log.between(T0 + 2 * HOUR, T0 + 5 * HOUR) == made[2:5]
    assert alert_log.between(start_ms=T0 + 8 * HOUR) == made[8:]
    assert alert_log.between(end_ms=T0 + HOUR) == made[:1]


def test_state_is_kept_per_key(alert_log, log_path):
    assert alert_log.load_state() is None
    assert alert_log.save_state({"rules": {"squeeze": {"armed": False}}})
    assert alert_log.save_state({"rules": {}}, key="recorder")
    assert alert_log.save_state({"rules": {"squeeze": {"armed": True}}})  # replaces
    alert_log.close()
    again = AlertLog(log_path)
    assert again.load_state() == {"rules": {"squeeze": {"armed": True}}}
    assert again.load_state("recorder") == {"rules": {}}
    again.close()


def _lock_exclusively(path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_locked_file_keeps_the_firings_in_memory_until_it_is_free(alert_log, log_path,
                                                                    caplog):
    alert_log.add([firing("squeeze", 0)])
    holder = _lock_exclusively(log_path)
    try:
        caplog.set_level(logging.WARNING)
        waiting = [firing("squeeze", 1), firing("flip", 1)]
        assert alert_log.add(waiting) == waiting  # delivered all the same
        assert alert_log.problem.startswith(f"alert log {ALERT_LOG_FILE} is locked by another "
                                            "process (waited 0.1 s): 2 firing(s) kept in memory")
        assert "locked by another process" in caplog.text
        # WAL: reading goes on beside the other writer, and shows the firings kept in memory
        assert [f.fired_ms for f in alert_log.between()] == [T0, T0 + HOUR, T0 + HOUR]
        assert not alert_log.save_state({"k": 1})
        assert alert_log.load_state() == {"k": 1}  # the state kept in memory
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    newer = firing("squeeze", 2)
    assert alert_log.add([newer]) == [newer]
    assert alert_log.problem is None
    assert [f.fired_ms for f in alert_log.between()] == [T0, T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]
    fresh = AlertLog(log_path)
    assert fresh.load_state() == {"k": 1}  # written with the next firing
    assert len(fresh.recent()) == 4
    fresh.close()


def test_a_file_that_is_not_a_database_is_moved_aside(log_path, caplog):
    log_path.write_bytes(b"this is not sqlite at all" * 100)
    log = AlertLog(log_path)
    caplog.set_level(logging.ERROR)
    one = firing()
    assert log.add([one]) == [one]
    assert log.recent() == [one]
    assert log.notice.startswith("The alert log was damaged (file is not a database): no logged "
                                 "firing could be read; a new log was started. The damaged file "
                                 f"was moved to {ALERT_LOG_FILE}.corrupt-")
    moved = [p for p in log_path.parent.iterdir() if ".corrupt-" in p.name]
    assert len(moved) == 1 and moved[0].read_bytes().startswith(b"this is not sqlite")
    assert "alert log" in caplog.text
    log.close()


def test_a_damaged_file_keeps_the_firings_that_still_read(log_path):
    first = AlertLog(log_path)
    made = [firing("squeeze", i) for i in range(3)]
    first.add(made)
    first.close()
    # wreck the schema's index page so that the next write fails its integrity check, while
    # the table's rows still read
    conn = sqlite3.connect(log_path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    page_size = 4096
    raw = bytearray(log_path.read_bytes())
    assert len(raw) >= 3 * page_size
    index_root = _root_page(log_path, "firings_by_time")
    start = (index_root - 1) * page_size
    raw[start:start + page_size] = b"\xff" * page_size
    log_path.write_bytes(bytes(raw))
    log = AlertLog(log_path)
    newer = firing("squeeze", 5)
    assert log.add([newer]) == [newer]
    assert log.notice is not None and "3 logged firing(s) were copied into a new log" in log.notice
    assert log.between() == [*made, newer]
    log.close()


def _root_page(path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?",
                            (name,)).fetchone()[0]
    finally:
        conn.close()


def test_a_symlink_where_the_log_goes_is_refused(tmp_path):
    target = tmp_path / "elsewhere.sqlite"
    link = tmp_path / ALERT_LOG_FILE
    link.symlink_to(target)
    log = AlertLog(link)
    one = firing()
    assert log.add([one]) == [one]  # delivered, not written
    assert "is a symbolic link; Rotor does not follow it" in log.problem
    assert not target.exists()
    with pytest.raises(AlertLogError, match="symbolic link"):
        log.recent()
    log.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_folder_is_said_in_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        log = AlertLog(folder / ALERT_LOG_FILE)
        one = firing()
        assert log.add([one]) == [one]
        assert "cannot be written (read-only folder?)" in log.problem
        log.close()
    finally:
        folder.chmod(0o700)


def test_a_folder_that_cannot_be_made_is_a_problem_not_a_crash(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    log = AlertLog(blocker / ALERT_LOG_FILE)
    one = firing()
    assert log.add([one]) == [one]
    assert not log.save_state({"k": 1})
    assert log.problem.startswith(f"alert log folder {blocker} cannot be made (a file is in "
                                  "the way): the alert state is kept in memory")
    assert log.load_state() == {"k": 1}
    log.close()
