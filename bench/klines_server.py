"""A loopback Binance `/api/v3/klines` server for the stall benchmark, run as its own process.

    python -m bench.klines_server ROWS      prints "PORT <n>" once listening

Serves ROWS one-minute klines from `T0_MS`, in Binance's page shape (startTime/endTime/limit,
numbers as strings), so the real `BinanceClient` pages through them 1000 at a time. It runs in
a separate process so its own Python work never competes for the benchmarked process's GIL.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np

T0_MS = 1_600_000_020_000 // 60_000 * 60_000
STEP_MS = 60_000


def make_prices(rows: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(7)
    c = 30_000.0 + np.cumsum(rng.standard_normal(rows) * 5.0)
    o = np.concatenate([[c[0]], c[:-1]])
    h = np.maximum(o, c) + 1.0
    low = np.minimum(o, c) - 1.0
    return o, h, low, c


def page(prices: tuple[np.ndarray, ...], rows: int, start: int, end: int, limit: int) -> bytes:
    i0 = max(0, -(-(start - T0_MS) // STEP_MS))
    i1 = min(rows, (end - T0_MS) // STEP_MS + 1, i0 + limit)
    o, h, low, c = prices
    parts = []
    for i in range(i0, max(i0, i1)):
        t = T0_MS + i * STEP_MS
        parts.append(f'[{t},"{o[i]:.2f}","{h[i]:.2f}","{low[i]:.2f}","{c[i]:.2f}","12.5",'
                     f'{t + STEP_MS - 1},"1000.0",100,"6.0","500.0","0"]')
    return ("[" + ",".join(parts) + "]").encode()


def klines_json(rows: int) -> str:
    """All rows as one JSON document (the single-`json.loads` baseline)."""
    return page(make_prices(rows), rows, T0_MS, T0_MS + rows * STEP_MS, rows).decode()


def serve(rows: int) -> None:
    prices = make_prices(rows)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/api/v3/klines":
                self.send_error(404)
                return
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = page(prices, rows, int(q.get("startTime", T0_MS)),
                        int(q.get("endTime", T0_MS + rows * STEP_MS)),
                        int(q.get("limit", 500)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
