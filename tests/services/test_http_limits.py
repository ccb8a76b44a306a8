"""Every request ends by its deadline and every body stays under its cap (issue #18, items 3 and
5): a trickling server, an endless body, a huge Content-Length and a gzip bomb, each against a real
loopback server.

The memory cases run the client in a child process so its peak RSS (`ru_maxrss`) is its own, not
the peak of whatever this test process did before.
"""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug import Request, Response

from services.errors import BadPayload, NetworkTimeout
from services.http import HttpClient

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20


@contextmanager
def raw_server(script: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A one-connection server on 127.0.0.1 that reads the request head and runs `script` on the
    connection; `script` must end by itself within seconds or when the event is set."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(65536)
                script(conn, stop)
            except OSError:  # the client hung up: that is the point of most tests here
                pass

    thread = threading.Thread(target=serve, name="raw-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=15)
        assert not thread.is_alive()


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then one byte of a 60-byte body per second (60 s at most)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 60\r\n\r\n")
    for _ in range(60):
        conn.sendall(b" ")
        if stop.wait(1.0):
            return


def test_a_trickling_body_ends_at_the_deadline():
    with raw_server(trickle) as url:
        client = HttpClient(url, timeout=(2.0, 5.0), deadline=3.0)
        t0 = time.monotonic()
        with pytest.raises(NetworkTimeout) as info:
            client.get_json("/api")
        elapsed = time.monotonic() - t0
    # The read timeout (5 s) never fires, as a byte comes every second: only the deadline ends it.
    assert 3.0 <= elapsed < 3.0 + 2.0
    assert info.value.transient
    assert "no complete answer within 3 s" in str(info.value)


def test_the_default_deadline_is_30_seconds():
    assert HttpClient("http://127.0.0.1:9").deadline == 30.0


# -- memory: the client in a child process -----------------------------------------------------
CHILD = """
import json, resource, sys, time
from services.errors import ServiceError
from services.http import HttpClient

url, max_bytes = sys.argv[1], int(sys.argv[2])
client = HttpClient(url, timeout=(2.0, 10.0), deadline=20.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.monotonic()
try:
    client.get_json("/data", max_bytes=max_bytes)
    out = {"error": None}
except ServiceError as e:
    out = {"error": type(e).__name__, "message": str(e), "transient": e.transient}
out["seconds"] = time.monotonic() - t0
out["rss_growth_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps(out))
"""


def fetch_in_child(url: str, max_bytes: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(max_bytes)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def endless_zeros(limit_mib: int = 256) -> Iterator[bytes]:
    """An "endless" body: 1 MiB chunks until the client hangs up (256 MiB at most)."""
    chunk = b"0" * MiB
    for _ in range(limit_mib):
        yield chunk


def test_an_endless_body_is_refused_and_memory_stays_small(httpserver):
    httpserver.expect_request("/data").respond_with_handler(
        lambda _req: Response(endless_zeros(), content_type="application/json"))
    out = fetch_in_child(httpserver.url_for("/"), 4 * MiB)
    assert out["error"] == BadPayload.__name__ and out["transient"]
    assert "answer too large" in out["message"] and "over the 4 MiB limit" in out["message"]
    assert out["rss_growth_mib"] < 40  # 256 MiB were on offer


def test_a_retried_5xx_with_an_endless_body_is_not_read_whole(httpserver):
    """A 503 is asked again (twice) without its body being read: urllib3's own status retry
    would read each retried body whole first."""
    httpserver.expect_request("/data").respond_with_handler(
        lambda _req: Response(endless_zeros(), status=503, content_type="text/html"))
    out = fetch_in_child(httpserver.url_for("/"), 4 * MiB)
    assert len(httpserver.log) == 3
    assert out["error"] == BadPayload.__name__ and "over the 4 MiB limit" in out["message"]
    assert out["rss_growth_mib"] < 40  # 3 x 256 MiB were on offer


def test_a_5xx_then_an_answer_is_retried_at_once(httpserver):
    httpserver.expect_ordered_request("/data").respond_with_data("busy", status=502)
    httpserver.expect_ordered_request("/data").respond_with_json({"ok": 1})
    t0 = time.monotonic()
    assert HttpClient(httpserver.url_for("/")).get_json("/data") == {"ok": 1}
    assert time.monotonic() - t0 < 1.0


def test_a_huge_content_length_is_refused_before_reading(httpserver):
    two_gb = 2 * 2**30

    def handler(_req: Request) -> Response:
        resp = Response(endless_zeros(256), content_type="application/json")
        resp.headers["Content-Length"] = str(two_gb)
        return resp

    httpserver.expect_request("/data").respond_with_handler(handler)
    out = fetch_in_child(httpserver.url_for("/"), 4 * MiB)
    assert out["error"] == BadPayload.__name__ and out["transient"]
    assert "Content-Length 2.0 GiB" in out["message"]
    assert out["rss_growth_mib"] < 40
    assert out["seconds"] < 2.0


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    bomb = gzip.compress(bytes(100 * MiB), compresslevel=9)
    assert len(bomb) < 200 * 1024  # ~100 KB on the wire, 100 MiB inflated
    return bomb


def test_a_gzip_bomb_is_refused_counting_inflated_bytes(httpserver, gzip_bomb):
    httpserver.expect_request("/data").respond_with_handler(
        lambda _req: Response(gzip_bomb, content_type="application/json",
                              headers={"Content-Encoding": "gzip"}))
    out = fetch_in_child(httpserver.url_for("/"), 4 * MiB)
    assert out["error"] == BadPayload.__name__ and out["transient"]
    assert "answer too large" in out["message"]
    assert out["rss_growth_mib"] < 40


def test_a_gzip_answer_under_the_cap_is_read_whole(httpserver):
    rows = [[i, "1.5"] for i in range(50_000)]
    httpserver.expect_request("/data").respond_with_handler(
        lambda _req: Response(gzip.compress(json.dumps(rows).encode()),
                              content_type="application/json",
                              headers={"Content-Encoding": "gzip"}))
    assert HttpClient(httpserver.url_for("/")).get_json("/data") == rows
