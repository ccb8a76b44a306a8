"""The recorder, the stream lock and two processes on one cache file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.series import SeriesData
from services.app import open_live
from services.cache import Cache
from services.recorder import Recorder, RecordError, cmd_record, parse_duration
from services.streams.lock import StreamLock
from tests.services.streams.loopback import (
    FAST,
    LoopbackServer,
    ToyStream,
    bar_frame,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[3]
HOUR = 3_600_000


def hour_ago() -> int:
    t = time.time_ns() // 1_000_000 - 2 * HOUR
    return t - t % HOUR


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("2h", 7200), ("1d", 86400),
                                                ("45s", 45), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "10x", "-1h", "0m", "h"])
def test_bad_durations_are_one_clear_error(text):
    with pytest.raises(RecordError, match="invalid duration"):
        parse_duration(text)


def _hold_lock_in_child(folder: Path) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from services.streams.lock import StreamLock
        lock = StreamLock({str(folder)!r})
        print(lock.acquire(), flush=True)
        time.sleep(30)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "True"
    return child


def _end(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()
    child.stdout.close()


def test_one_stream_writer_per_data_folder(tmp_path):
    mine = StreamLock(tmp_path)
    assert mine.holder() is None
    assert mine.acquire()
    assert mine.holder() == os.getpid()
    other = StreamLock(tmp_path)
    assert not other.acquire()  # a second writer, even in the same process
    assert other.holder() == os.getpid()
    assert oct((tmp_path / "streams.lock").stat().st_mode & 0o777) == "0o600"
    mine.release()
    assert other.holder() is None
    assert other.acquire()
    other.release()


def test_the_lock_names_another_process_and_dies_with_it(tmp_path):
    child = _hold_lock_in_child(tmp_path)
    try:
        lock = StreamLock(tmp_path)
        assert not lock.acquire()
        assert lock.holder() == child.pid
    finally:
        _end(child)
    assert lock.holder() is None  # the kernel dropped it: no stale lock after a crash
    assert lock.acquire()
    lock.release()


def test_record_refuses_when_someone_streams_into_the_folder(data_dir):
    services = open_live()
    child = _hold_lock_in_child(data_dir)
    try:
        with pytest.raises(RecordError, match=f"process {child.pid} is already streaming"):
            cmd_record(services, "1m", streams_factory=lambda: [])
    finally:
        _end(child)
        services.close()


def test_record_refuses_demo_mode_and_a_bad_flush_interval(data_dir):
    services = open_live()
    try:
        with pytest.raises(RecordError, match="--flush-every must be positive"):
            cmd_record(services, None, flush_every_s=0, streams_factory=lambda: [])
        services.demo = True
        with pytest.raises(RecordError, match="demo mode has no streams"):
            cmd_record(services, None, streams_factory=lambda: [])
    finally:
        services.close()


def test_recorder_streams_into_the_cache_and_prints_status_lines(data_dir):
    t0 = hour_ago()

    def scenario(ws, n):
        ws.send(bar_frame(t0, 100.0))
        ws.send(bar_frame(t0 + HOUR, 101.0, closed=False))
        server.hold(ws, n)

    services = open_live()
    out = io.StringIO()
    try:
        with LoopbackServer(scenario) as server:
            recorder = Recorder(services, [ToyStream(server.url)], out=out,
                                timing=replace(FAST, heartbeat_timeout_s=5.0),
                                flush_interval_s=0.05, status_interval_s=0.1,
                                liquidation_sink=lambda _e: None)
            assert recorder.run(0.35) == 0
        stored = services.cache.read("btc.1h")
        assert stored.time.tolist() == [t0]  # the closed bar; the open one is not stored
        lines = out.getvalue().splitlines()
        assert "recording 1 streams (toy)" in lines[0] and "for 0.35 s" in lines[0]
        status = [line for line in lines if "toy live" in line]
        assert len(status) >= 2 and "stored 1 rows" in status[-1]
        assert lines[-1].endswith("stopped: stored 1 rows and 0 liquidations")
    finally:
        services.close()


def test_a_reconnect_gap_is_filled_over_rest(data_dir):
    """A Binance spot reconnect names the price series; the recorder refreshes them over REST
    (bench/fake_venues.py answers in Binance's documented shape) into the cache."""
    from bench.fake_venues import FakeVenues

    def scenario(ws, n):
        ws.send(bar_frame(hour_ago(), 100.0, closed=False))
        if n == 0:
            time.sleep(0.02)
            ws.close(1001, "going away")
            return
        server.hold(ws, n)

    with FakeVenues() as rest, LoopbackServer(scenario) as server:
        services = open_live({**os.environ, **rest.env()})
        out = io.StringIO()
        try:
            recorder = Recorder(services, [ToyStream(server.url, venue="binance")], out=out,
                                timing=replace(FAST, heartbeat_timeout_s=5.0),
                                status_interval_s=60.0, refresh_on_start=False,
                                liquidation_sink=lambda _e: None)
            done = threading.Event()
            runner = threading.Thread(target=lambda: (recorder.run(10.0), done.set()))
            runner.start()
            wait_until(lambda: recorder.gaps.filled + recorder.gaps.failed == 4, timeout_s=20)
            recorder.request_stop()
            runner.join(5)
            assert done.is_set()
            assert recorder.gaps_seen == 1 and recorder.gaps.filled == 4
            for sid in ("btc.1h", "eth.1h", "btc.1d", "eth.1d"):
                # from the bar the gap began in to now, fetched over REST (the stream's bar was
                # open: the hub stores no open bar), not the whole history
                stored = services.cache.read(sid)
                interval = HOUR if sid.endswith("1h") else 24 * HOUR
                assert 1 <= len(stored) <= 2, sid
                assert stored.time[-1] > time.time() * 1000 - interval, sid
            assert rest.requests < 20
        finally:
            services.close()


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from models.series import SeriesData
    from services.cache import Cache
    cache = Cache({path!r})
    for i in range({n}):
        t = 1_700_000_000_000 + i * 60_000
        cache.upsert("btc.1h", SeriesData.from_rows([t], open=[1.0], high=[2.0], low=[0.5],
                                                     close=[float(i + 1)], volume=[3.0]))
    cache.close()
    print("done", flush=True)
""")


def test_two_processes_write_and_read_one_cache_file(tmp_path):
    """The recorder and a window share a data folder: both write (stream rows, REST
    refreshes) and read, without a lock-out or a lost row (WAL, busy timeout)."""
    path = tmp_path / "cache.sqlite"
    cache = Cache(path)
    n = 150
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=str(ROOT), path=str(path), n=n)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for i in range(n):
            t = 1_700_000_000_000 + i * 60_000
            cache.upsert("liq.toy.btc", SeriesData.from_rows(
                [t], long_usd=[float(i)], short_usd=[0.0], long_qty=[0.0], short_qty=[0.0],
                count=[1.0]))
            seen.append(len(cache.read("btc.1h")))
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert out.strip() == "done"
    assert seen == sorted(seen)  # the reader only ever saw whole commits, growing
    mine = cache.read("liq.toy.btc")
    theirs = cache.read("btc.1h")
    assert len(mine) == n and np.array_equal(mine["long_usd"], np.arange(n, dtype=float))
    assert len(theirs) == n and np.array_equal(theirs["close"], np.arange(1, n + 1, dtype=float))
    cache.close()


def test_sigterm_stops_the_recorder_with_the_last_batch_stored(data_dir):
    """`main.py record` as a process: SIGTERM → exit 0, and what it held is in the cache (the
    writer's own period is 60 s here, so only the stop can have stored it)."""
    import signal

    from bench.fake_streams import FakeStreamVenues

    with FakeStreamVenues(rates={"bybit": 200.0}) as fake:
        env = {**os.environ, **fake.env(), "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen([sys.executable, "main.py", "record", "--flush-every", "60"],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            first = child.stdout.readline()
            assert "recording 6 streams" in first, first + child.stderr.read()
            assert fake.wait_subscribed("bybit")
            fake.burst("bybit", 500, 0.2)
            sent = fake.sent["bybit"]
            deadline = time.monotonic() + 2
            while fake.sent["bybit"] < sent + 60 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)  # loopback: the frames are in the recorder by now
            child.send_signal(signal.SIGTERM)
            out, err = child.communicate(timeout=5)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 0, err
    assert "Traceback" not in err
    last = out.strip().splitlines()[-1]
    assert "stopped: stored" in last
    cache = Cache(data_dir / "cache.sqlite")
    try:
        premium = cache.read("premium.bybit.btc")
        assert len(premium) >= 1 and np.isfinite(premium["premium_pct"]).all()
        stored_rows = int(last.split("stored ")[1].split(" rows")[0])
        assert stored_rows >= 1
        if hasattr(Cache, "add_liquidations"):  # the liquidation store (issue 15, liq)
            liq = [cache.read(f"liq.bybit.{a}") for a in ("btc", "eth")]
            assert sum(float(b["count"].sum()) for b in liq if len(b)) >= 1
    finally:
        cache.close()
