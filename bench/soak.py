"""Soak: the real window refreshing every second against the loopback venues, for minutes.

    python -m bench.soak --seconds 600
    python -m bench.soak --seconds 120 --trickle bybit --fail okx --clock-jump -86400 \
        --refresh-deadline 20 --refresh-every 10

Prints one JSON document with RSS, Python object count, thread count, open file descriptors and
`sys.getrefcount(None)` after a warm-up and at the end, sampled over the run, plus the number
of requests served and every series' state at the end. Flat numbers mean no leak of memory,
objects, threads, descriptors or references.

Faults (docs/architecture.md, the refresh road): `--trickle VENUE` answers that venue one byte
every 5 s (a stalled connection no read timeout catches), `--fail VENUE` answers it HTTP 503,
and `--clock-jump S` moves the window's wall clock by S seconds half-way through the run. The
servers stay on 127.0.0.1 and every trickle ends when the run does.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

#: the path prefix each venue's API answers under, in bench.fake_venues
VENUE_PATHS = {"binance": ("/api/v3/", "/fapi/", "/futures/"), "bybit": ("/v5/",),
               "okx": ("/api/v5/",), "deribit": ("/api/v2/",), "yahoo": ("/v8/",),
               "hyperliquid": ("/info",)}
TRICKLE_EVERY_S = 5.0

def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def sample() -> dict[str, float]:
    gc.collect()
    return {"rss_mb": round(_rss_mb(), 1), "objects": len(gc.get_objects()),
            "threads": threading.active_count(), "none_refcount": sys.getrefcount(None),
            "open_fds": _open_fds()}


def _faulty_venues(trickle: str | None, fail: str | None, stop: threading.Event):
    """FakeVenues with one venue trickling and one failing (bench code: it may block)."""
    from bench.fake_venues import FakeVenues

    def matches(path: str, venue: str | None) -> bool:
        if venue is None:
            return False
        prefixes = VENUE_PATHS[venue]
        return any(path.startswith(p) for p in prefixes)

    class Faulty(FakeVenues):
        def __init__(self) -> None:
            super().__init__()
            self.trickled = 0
            self.failed = 0

        def _app(self, environ: dict, start_response: Callable) -> object:
            path = environ.get("PATH_INFO", "")
            if matches(path, trickle):
                with self._lock:
                    self.requests += 1
                    self.trickled += 1
                start_response("200 OK", [("Content-Type", "application/json")])
                return self._trickle()
            if matches(path, fail):
                with self._lock:
                    self.requests += 1
                    self.failed += 1
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"Service Unavailable"]
            return super()._app(environ, start_response)

        @staticmethod
        def _trickle() -> Iterator[bytes]:
            yield b"{"
            while not stop.wait(TRICKLE_EVERY_S):
                yield b" "

    return Faulty()


def run(seconds: float, warmup: float = 20.0, *, trickle: str | None = None,
        fail: str | None = None, clock_jump_s: float = 0.0,
        refresh_deadline_s: float | None = None, refresh_every_s: float = 1.0) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    stop_trickling = threading.Event()

    with tempfile.TemporaryDirectory() as data, \
            _faulty_venues(trickle, fail, stop_trickling) as venues:
        os.environ.update(venues.env())
        os.environ["ROTOR_DATA_DIR"] = data
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        import ui.scheduler
        from ui.main_window import MainWindow, open_settings

        if refresh_deadline_s is not None:
            ui.scheduler.REFRESH_DEADLINE_S = refresh_deadline_s

        app = QApplication.instance() or QApplication([])
        window = MainWindow(open_settings(os.path.join(data, "settings.ini")))
        window.show()
        samples: list[dict] = []
        jumped: list[float] = []
        started = time.monotonic()
        every_second = QTimer()
        every_second.timeout.connect(lambda: window.scheduler.refresh_now())
        if refresh_every_s > 0:
            every_second.start(int(refresh_every_s * 1000))

        def take() -> None:
            elapsed = time.monotonic() - started
            if elapsed >= warmup:
                samples.append({"t_s": round(elapsed, 1), **sample()})
            if clock_jump_s and not jumped and elapsed >= warmup + seconds / 2:
                jumped.append(round(elapsed, 1))
                window.scheduler._clock = lambda: time.time() + clock_jump_s
            if elapsed >= warmup + seconds:
                every_second.stop()
                statuses.update(_states(window.scheduler))
                stop_trickling.set()  # the trickles end, so their workers return
                window.close()
                app.quit()

        statuses: dict[str, dict] = {}
        sampler = QTimer()
        sampler.timeout.connect(take)
        sampler.start(max(1000, int(seconds * 1000 / 20)))
        app.exec()
        sampler.stop()
        first, last = samples[0], samples[-1]
        return {
            "seconds": seconds, "warmup_s": warmup, "requests_served": venues.requests,
            "refresh_every_s": refresh_every_s,
            "faults": {"trickle": trickle, "trickled_requests": venues.trickled,
                       "fail": fail, "failed_requests": venues.failed,
                       "clock_jump_s": clock_jump_s, "jumped_at_s": jumped[0] if jumped else None,
                       "refresh_deadline_s": ui.scheduler.REFRESH_DEADLINE_S},
            "start": first, "end": last, "samples": samples,
            "growth": {k: last[k] - first[k] for k in ("rss_mb", "objects", "threads",
                                                       "none_refcount", "open_fds")},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "series": statuses,
        }


def _states(scheduler: object) -> dict[str, dict]:
    """Every watched series' state as the window shows it."""
    out = {}
    now = scheduler.now_ms()  # type: ignore[attr-defined]
    for series_id, status in sorted(scheduler.tracker.statuses().items()):  # type: ignore[attr-defined]
        out[series_id] = {
            "state": str(status.state), "venue": status.venue,
            "error": status.last_error or None, "failures": status.failures,
            "good_age_s": None if status.last_good_ms is None
            else round((now - status.last_good_ms) / 1000, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--trickle", choices=sorted(VENUE_PATHS), default=None,
                        help="answer this venue one byte every 5 s")
    parser.add_argument("--fail", choices=sorted(VENUE_PATHS), default=None,
                        help="answer this venue HTTP 503")
    parser.add_argument("--clock-jump", type=float, default=0.0, metavar="SECONDS",
                        help="move the wall clock by this much half-way through")
    parser.add_argument("--refresh-deadline", type=float, default=None, metavar="SECONDS",
                        help="abandon a refresh job after this long (default: the app's)")
    parser.add_argument("--refresh-every", type=float, default=1.0, metavar="SECONDS",
                        help="press 'refresh now' this often (0: only the app's own polling)")
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.warmup, trickle=args.trickle, fail=args.fail,
                         clock_jump_s=args.clock_jump,
                         refresh_deadline_s=args.refresh_deadline,
                         refresh_every_s=args.refresh_every), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
