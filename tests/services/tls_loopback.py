"""Loopback HTTPS for the alert webhook tests: a throw-away CA (trustme) and pytest-httpserver
serving TLS with a certificate for 127.0.0.1 and localhost."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme
from pytest_httpserver import HTTPServer


def make_ca(folder: Path) -> tuple[trustme.CA, str]:
    """A CA and the path of its PEM (what `send_webhook(verify=...)` trusts)."""
    ca = trustme.CA()
    path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


def tls_server(ca: trustme.CA, host: str = "127.0.0.1") -> HTTPServer:
    """A started HTTPS server on `host`; stop() it when done."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    server = HTTPServer(host=host, ssl_context=ctx)
    server.start()
    return server
