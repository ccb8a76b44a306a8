"""Soak: the live window streaming from the loopback venues for minutes (issue 15).

    python -m bench.soak_streams --minutes 30

The websocket and REST venues (`bench.fake_streams`, `bench.fake_venues`) run in a child process
at realistic rates (`bench.streams.STEADY_RATES`), so what is sampled is the window's alone:
once a minute, after a warm-up, RSS, the Python object count (after a collection), threads, open
file descriptors and open sockets. Flat numbers mean no leak. Prints one JSON document: the
samples, the growth from the first sample to the last, the streams' counters and states.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return n


def run(minutes: float, warmup_s: float = 30.0, every_s: float = 60.0) -> dict[str, Any]:
    from bench.soak import sample
    from bench.streams import STEADY_RATES, Servers

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    servers = Servers(STEADY_RATES)
    try:
        with tempfile.TemporaryDirectory() as data:
            os.environ.update(servers.env)
            os.environ["ROTOR_DATA_DIR"] = data
            os.environ["ROTOR_STREAMS"] = "on"
            from PySide6.QtCore import QTimer
            from PySide6.QtWidgets import QApplication

            from ui.main_window import MainWindow, open_settings

            app = QApplication.instance() or QApplication([])
            window = MainWindow(open_settings(os.path.join(data, "settings.ini")))
            window.show()
            samples: list[dict[str, Any]] = []
            out: dict[str, Any] = {}
            started = time.monotonic()
            next_at = [warmup_s]

            def take() -> None:
                elapsed = time.monotonic() - started
                if elapsed < next_at[0]:
                    return
                next_at[0] += every_s
                samples.append({"t_s": round(elapsed, 1), **sample(), "sockets": _sockets(),
                                "drains": window.streams.drains})
                if elapsed >= warmup_s + minutes * 60 - 1:
                    sampler.stop()
                    hub = window.streams.hub
                    out["stream_stats"] = hub.stats() if hub is not None else {}
                    out["stream_states"] = {k: s.label
                                            for k, s in window.streams.statuses.items()}
                    window.close()
                    app.quit()

            sampler = QTimer()
            sampler.timeout.connect(take)
            sampler.start(1000)
            app.exec()
    finally:
        servers.stop()
    first, last = samples[0], samples[-1]
    keys = ("rss_mb", "objects", "threads", "open_fds", "sockets", "none_refcount")
    return {"minutes": minutes, "warmup_s": warmup_s, "rates_msgs_per_s": STEADY_RATES,
            "start": first, "end": last, "samples": samples,
            "growth": {k: round(last[k] - first[k], 1) for k in keys}, **out}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=30.0, metavar="SECONDS")
    args = parser.parse_args()
    print(json.dumps(run(args.minutes, args.warmup), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
