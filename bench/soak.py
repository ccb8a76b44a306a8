"""Soak: the real window refreshing every second against the loopback venues, for minutes.

    python -m bench.soak --seconds 600

Prints one JSON document with RSS, Python object count, thread count and
`sys.getrefcount(None)` after a warm-up and at the end, sampled over the run, plus the number
of requests served. Flat numbers mean no leak of memory, objects, threads or references.
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


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def sample() -> dict[str, float]:
    gc.collect()
    return {"rss_mb": round(_rss_mb(), 1), "objects": len(gc.get_objects()),
            "threads": threading.active_count(), "none_refcount": sys.getrefcount(None)}


def run(seconds: float, warmup: float = 20.0) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from bench.fake_venues import FakeVenues

    with tempfile.TemporaryDirectory() as data, FakeVenues() as venues:
        os.environ.update(venues.env())
        os.environ["ROTOR_DATA_DIR"] = data
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        import ui  # noqa: F401
        from ui.main_window import MainWindow, open_settings

        app = QApplication.instance() or QApplication([])
        window = MainWindow(open_settings(os.path.join(data, "settings.ini")))
        window.show()
        samples: list[dict] = []
        started = time.monotonic()
        every_second = QTimer()
        every_second.timeout.connect(lambda: window.scheduler.refresh_now())
        every_second.start(1000)

        def take() -> None:
            elapsed = time.monotonic() - started
            if elapsed >= warmup:
                samples.append({"t_s": round(elapsed, 1), **sample()})
            if elapsed >= warmup + seconds:
                every_second.stop()
                window.close()
                app.quit()

        sampler = QTimer()
        sampler.timeout.connect(take)
        sampler.start(max(1000, int(seconds * 1000 / 20)))
        app.exec()
        sampler.stop()
        first, last = samples[0], samples[-1]
        return {
            "seconds": seconds, "warmup_s": warmup, "requests_served": venues.requests,
            "start": first, "end": last, "samples": samples,
            "growth": {k: last[k] - first[k] for k in ("rss_mb", "objects", "threads",
                                                       "none_refcount")},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.warmup), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
