"""The stream runtime on loopback: reconnect time, stop() time, the hub's CPU (one JSON).

    python -m bench.stream_runtime [--seconds 10]

- reconnect: FakeStreamVenues closes Bybit's connection (1001) after it was healthy; the time
  until the hub reports it live again. With the production back-off (the first retry waits
  0.5-1 s, jittered) and with the back-off set to zero (what the reconnect itself costs: TCP,
  handshake, subscribe, snapshot).
- stop: `StreamHub.stop()` with all six venues live, and with one of them stalled (its server
  answers nothing, not even the close handshake).
- cpu: a child process runs the hub on all six venues at the fake's realistic rates
  (bench/fake_streams.py DEFAULT_RATES), drains it every 100 ms as the window does and writes
  to a real cache; its own CPU time over the run, next to the same child with no stream.
  The fake venues run in this process, so their CPU is not counted. Then the same with a
  liquidation cascade on top: Bybit allLiquidation frames at 2,000/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.fake_streams import DEFAULT_RATES, NAMES, FakeStreamVenues


def _hub(fake: FakeStreamVenues, timing=None, cache=None, sink=None):
    from services.streams.endpoints import StreamEndpoints, build_streams
    from services.streams.hub import DEFAULT_TIMING, StreamHub

    streams = build_streams(StreamEndpoints.from_env(fake.env()))
    return StreamHub(cache, streams, timing=timing or DEFAULT_TIMING,
                     liquidation_sink=sink or (lambda _e: None))


def _wait(predicate, timeout_s: float = 10.0) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError("condition not met")
        time.sleep(0.001)
    return time.monotonic() - started


def _all_live(hub) -> bool:
    return all(s.label == "live" for s in hub.statuses().values())


def measure_reconnect(trials: int = 5) -> dict:
    from models.stream_events import StreamState
    from services.streams.hub import DEFAULT_TIMING

    out = {}
    # each trial starts from a healthy connection (one that delivered data for stable_s), as a
    # first failure after hours of streaming does; otherwise the back-off grows between trials
    healthy = replace(DEFAULT_TIMING, stable_s=0.3)
    for label, timing in (("production_backoff", healthy),
                          ("no_backoff", replace(healthy, backoff_base_s=0.0))):
        times = []
        with FakeStreamVenues() as fake:
            hub = _hub(fake, timing)
            hub.start()
            _wait(lambda hub=hub: _all_live(hub))
            for _ in range(trials):
                connects = fake.connects["bybit"]
                started = time.monotonic()
                fake.close("bybit", 1001, "going away")
                _wait(lambda c=connects, f=fake: f.connects["bybit"] > c)
                _wait(lambda h=hub: h.statuses()["bybit"].state is StreamState.LIVE)
                times.append((time.monotonic() - started) * 1000)
                time.sleep(0.5)
            hub.stop()
        out[label] = {"median_ms": round(statistics.median(times), 1),
                      "max_ms": round(max(times), 1), "trials": trials}
    return out


def measure_stop() -> dict:
    out = {}
    for label, stalled in (("all_live", None), ("one_stalled", "okx")):
        with FakeStreamVenues() as fake:
            hub = _hub(fake)
            hub.start()
            _wait(lambda hub=hub: _all_live(hub))
            if stalled:
                fake.stall(stalled)
                time.sleep(0.1)
            started = time.monotonic()
            joined = hub.stop()
            out[label] = {"ms": round((time.monotonic() - started) * 1000, 1),
                          "threads_joined": joined}
            if stalled:
                fake.stall(stalled, False)
    return out


def hub_child(seconds: float, idle: bool) -> dict:
    """Run in the child: the hub (or nothing) for `seconds`, draining every 100 ms."""
    from models.liquidations import bucket_rows
    from services.cache import Cache
    from services.streams.endpoints import StreamEndpoints, build_streams
    from services.streams.hub import StreamHub

    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(Path(folder) / "cache.sqlite")

        def sink(events):  # what the liquidation store does: minute buckets into the cache
            for sid, rows in bucket_rows(events).items():
                cache.upsert(sid, rows)

        streams = [] if idle else build_streams(StreamEndpoints.from_env())
        hub = StreamHub(cache, streams, liquidation_sink=sink)
        hub.start()
        time.sleep(1.0)  # connected, snapshots in
        hub.drain()
        cpu0, wall0 = time.process_time(), time.monotonic()
        messages0 = sum(s["messages"] for s in hub.stats().values())
        drains = 0
        while time.monotonic() - wall0 < seconds:
            time.sleep(0.1)
            hub.drain()
            drains += 1
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        messages = sum(s["messages"] for s in hub.stats().values()) - messages0
        hub.stop()
        cache.close()
    return {"cpu_pct_of_one_core": round(cpu / wall * 100, 2),
            "msgs_per_s": round(messages / wall, 1), "drains": drains,
            "seconds": round(wall, 1)}


def measure_cpu(seconds: float) -> dict:
    out = {}
    with FakeStreamVenues() as fake:
        env = {**os.environ, **fake.env()}
        for label, idle, burst in (("idle_no_streams", True, False),
                                   ("streaming_realistic", False, False),
                                   ("liquidation_burst_2000_per_s", False, True)):
            child = subprocess.Popen(
                [sys.executable, "-m", "bench.stream_runtime", "--child", str(seconds)]
                + (["--idle"] if idle else []), env=env, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, cwd=Path(__file__).resolve().parents[1])
            if burst:  # Bybit allLiquidation frames on top, over the child's measured window
                fake.wait_subscribed("bybit", timeout=30)
                time.sleep(0.9)  # the child measures from 1 s after its hub started
                fake.burst("bybit", 2000, seconds)
            stdout, _ = child.communicate(timeout=seconds + 60)
            out[label] = json.loads(stdout.strip().splitlines()[-1])
    out["rates_per_connection"] = {n: DEFAULT_RATES[n] for n in NAMES}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU measurement length")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--idle", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(hub_child(args.child, args.idle)))
        return
    report = {"reconnect": measure_reconnect(), "stop": measure_stop(),
              "cpu": measure_cpu(args.seconds)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
