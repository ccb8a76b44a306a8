"""An alert's webhook: one JSON POST to the rule's own HTTPS URL (docs/alert-delivery.md).

The URL and the header values of a rule are its secrets (a Slack or Discord hook carries its token
in the path, other services in the query or an Authorization header). So:

- only `https://` with a host is accepted (`webhook_problem`, which rule validation calls too);
- a redirect is followed only to the same https host and port, at most `MAX_REDIRECTS` times, the
  payload sent again (a webhook answered by GET would lose it); another host is refused, not asked;
- every request has a connect and read timeout, and the whole delivery a deadline;
- `send_webhook` never raises: it returns a `DeliveryResult` whose error text is made from the
  kind of failure, never from an exception's text (those quote the URL);
- what is logged names the URL only by scheme and host (`redact_url`); urllib3's own records are
  dropped on the thread while it delivers (its debug lines quote the request path).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEOUT_S = 5.0
MAX_URL_CHARS = 2048
USER_AGENT = "Rotor-alerts/0.1"
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.response",
                    "urllib3.util.retry", "urllib3.poolmanager")


@dataclass
class DeliveryResult:
    """How a delivery went. `error` is for a person and never carries a secret; `transient`:
    the same post may succeed later (no connection, a timeout, HTTP 429 or 5xx)."""

    ok: bool
    status: int | None = None
    error: str | None = None
    transient: bool = False


def webhook_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook, or None when it can."""
    if not isinstance(url, str) or not url.strip():
        return "the webhook URL is empty"
    if url != url.strip() or any(c.isspace() or ord(c) < 32 for c in url):
        return "the webhook URL contains spaces or control characters"
    if len(url) > MAX_URL_CHARS:
        return f"the webhook URL is longer than {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        return "the webhook URL is not a valid URL"
    if parts.scheme.lower() != "https":
        return "webhooks must use https:// (plain http would send the alert and its secrets " \
               "in clear)"
    if not parts.hostname:
        return "the webhook URL has no host"
    if parts.username is not None or parts.password is not None:
        return "put credentials in a header, not in the webhook URL"
    if port == 0:
        return "the webhook URL has no valid port"
    return None


def redact_url(url: str) -> str:
    """`url` as it may be shown or logged: scheme, host and port, then "/…" when anything
    followed (a path, a query, user info: any of them may be the secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except (ValueError, AttributeError, TypeError):
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    shown = f"{parts.scheme.lower()}://{host}{f':{port}' if port is not None else ''}"
    rest = (parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username is not None)
    return shown + ("/…" if rest else "/")


def send_webhook(url: str, headers: Mapping[str, str] | None, payload: dict[str, Any], *,
                 timeout_s: float = DEFAULT_TIMEOUT_S, verify: bool | str = True,
                 session: requests.Session | None = None) -> DeliveryResult:
    """POST `payload` as JSON to `url` with the rule's `headers`. Never raises.

    `verify` is requests' TLS verification: True (the system's CAs) or a CA bundle path (tests).
    """
    problem = webhook_problem(url)
    if problem is not None:
        return _failed(url, problem)
    if not timeout_s > 0:
        return _failed(url, f"the webhook timeout must be positive (got {timeout_s!r})")
    header_problem = _headers_problem(headers or {})
    if header_problem is not None:
        return _failed(url, header_problem)
    try:
        body = json.dumps(payload, allow_nan=False, default=str).encode("utf-8")
    except (TypeError, ValueError) as e:
        return _failed(url, f"the alert could not be written as JSON ({type(e).__name__})")
    send_headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    send_headers.update(headers or {})
    own_session = session is None
    if own_session:
        session = requests.Session()
    deadline = time.monotonic() + timeout_s * (MAX_REDIRECTS + 1)
    try:
        with _quiet_transport():
            return _deliver(session, url, send_headers, body, timeout_s, verify, deadline)
    finally:
        if own_session:
            session.close()


def _deliver(session: requests.Session, url: str, headers: dict[str, str], body: bytes,
             timeout_s: float, verify: bool | str, deadline: float) -> DeliveryResult:
    first = url
    for _hop in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _failed(first, "timed out (no answer within the delivery deadline)",
                           transient=True)
        wait = min(timeout_s, remaining)
        try:
            resp = session.post(url, data=body, headers=headers, timeout=(wait, wait),
                                verify=verify, allow_redirects=False, stream=True)
        except Exception as e:  # noqa: BLE001 - any failure becomes a result; the text is ours
            # a certificate Rotor does not trust will not be trusted in a minute either
            return _failed(first, _transport_error(e),
                           transient=not isinstance(e, requests.exceptions.SSLError))
        try:
            status = resp.status_code
            location = resp.headers.get("Location")
        finally:
            resp.close()  # the answer's body is not needed: the status says it all
        if status in REDIRECT_STATUSES and location:
            target = urljoin(url, location)
            if not _same_origin(url, target):
                return _failed(first, f"refused a redirect (HTTP {status}) to "
                                      f"{redact_url(target)}: a webhook is only redirected "
                                      "within its own https host", status=status)
            url = target
            continue
        if 200 <= status < 300:
            log.info("webhook %s delivered (HTTP %d)", redact_url(first), status)
            return DeliveryResult(True, status, None)
        reason = _reason(resp)
        return _failed(first, f"HTTP {status}{f' ({reason})' if reason else ''}", status=status,
                       transient=status == 429 or status >= 500)
    return _failed(first, f"more than {MAX_REDIRECTS} redirects")


def _failed(url: str, error: str, *, status: int | None = None,
            transient: bool = False) -> DeliveryResult:
    log.warning("webhook %s not delivered: %s", redact_url(url), error)
    return DeliveryResult(False, status, error, transient)


def _same_origin(url: str, target: str) -> bool:
    a, b = urlsplit(url), urlsplit(target)
    try:
        return (b.scheme.lower() == "https" and a.hostname == b.hostname
                and (a.port or 443) == (b.port or 443))
    except ValueError:
        return False


def _headers_problem(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(
                c.isspace() or c == ":" or ord(c) < 33 or ord(c) > 126 for c in name):
            return "a webhook header has an invalid name"
        if not isinstance(value, str) or any(c in "\r\n\0" for c in value):
            # the value is a secret: only its name may be told
            return f"webhook header {name!r} has an invalid value (not text, or a line break)"
    return None


def _reason(resp: requests.Response) -> str:
    reason = resp.reason if isinstance(resp.reason, str) else ""
    return "".join(c for c in reason if c.isprintable())[:60]


def _transport_error(e: BaseException) -> str:
    """A failure named by its kind: exception texts quote the URL, so none is copied."""
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return "timed out connecting"
    if isinstance(e, requests.Timeout):
        return "timed out waiting for the answer"
    if isinstance(e, requests.exceptions.SSLError):
        return "TLS failed (certificate not trusted, or not an https server)"
    if isinstance(e, requests.ConnectionError):
        text = str(e)
        reason = getattr(e.args[0], "reason", None) if e.args else None
        if "timed out" in text.lower() or "ReadTimeout" in type(reason).__name__:
            return "timed out waiting for the answer"
        if "refused" in text.lower():
            return "connection refused"
        if "Name or service not known" in text or "Failed to resolve" in text \
                or "nodename nor servname" in text or "getaddrinfo" in text:
            return "host not found (offline?)"
        if isinstance(reason, ssl.SSLError):
            return "TLS failed"
        return "connection failed"
    if isinstance(e, requests.exceptions.InvalidHeader):
        return "a webhook header was refused"
    if isinstance(e, requests.RequestException):
        return f"request failed ({type(e).__name__})"
    return f"delivery failed ({type(e).__name__})"


class _DropOnDeliveringThread(logging.Filter):
    """Drops urllib3's records made on a thread while it delivers a webhook."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.local, "delivering", 0)


_DROP = _DropOnDeliveringThread()
for _name in _URLLIB3_LOGGERS:
    logging.getLogger(_name).addFilter(_DROP)


@contextmanager
def _quiet_transport() -> Iterator[None]:
    _DROP.local.delivering = getattr(_DROP.local, "delivering", 0) + 1
    try:
        yield
    finally:
        _DROP.local.delivering -= 1
