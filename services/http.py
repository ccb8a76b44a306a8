"""The one HTTP recipe every venue client uses.

- base URL, (connect, read) timeouts and a urllib3 `Retry` policy injected through the constructor;
- quick retries (well under a second each) for connect errors and 5xx inside urllib3; anything
  longer (429, Retry-After, backoff after a failed refresh) is the scheduler's timer, never a sleep;
- one `requests.Session` per thread, a User-Agent on every request;
- the body is parsed and checked, not only the status: HTML where JSON was expected, a truncated
  body and venue errors inside HTTP 200 become typed errors (`services.errors`).
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.errors import (
    BadPayload,
    BadRequest,
    GeoBlocked,
    NetworkError,
    NetworkTimeout,
    RateLimited,
    ServiceError,
    UnknownSymbol,
    VenueUnavailable,
)

USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/130.0 Safari/537.36 Rotor/0.1")
DEFAULT_TIMEOUT = (3.05, 15.0)
DEFAULT_RATE_LIMIT_WAIT = 60.0
EXCERPT_CHARS = 160

RequestObserver = Callable[[str, str], None]  # (method, url)
_observers: list[RequestObserver] = []


@dataclass
class RequestCount:
    """Requests sent inside one `counting_requests()` block (retries inside urllib3 not
    counted)."""

    sent: int = 0


# Context-local, not process-wide: each worker thread runs in its own context, so two refreshes
# running at once each count only their own requests.
_current_count: ContextVar[RequestCount | None] = ContextVar("rotor_request_count",
                                                            default=None)


@contextmanager
def counting_requests() -> Iterator[RequestCount]:
    """Count the requests this thread sends inside the block."""
    count = RequestCount()
    token = _current_count.set(count)
    try:
        yield count
    finally:
        _current_count.reset(token)


def add_request_observer(fn: RequestObserver) -> Callable[[], None]:
    """Call `fn(method, url)` on the requesting thread before every request; returns a remover."""
    _observers.append(fn)
    return lambda: _observers.remove(fn)


def default_retry() -> Retry:
    return Retry(
        total=2, connect=2, read=0, other=0, status=2,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),  # every call here is a read
        backoff_factor=0.25, backoff_jitter=0.1, backoff_max=1.0,
        respect_retry_after_header=False,  # a 429 goes back to the scheduler, not to sleep()
        raise_on_status=False,
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


def body_excerpt(content: bytes) -> str:
    """A short readable excerpt of a body for an error message (an HTML page's title if any)."""
    m = _TITLE_RE.search(content[:4096])
    text = m.group(1) if m else content[:EXCERPT_CHARS]
    return " ".join(text.decode("utf-8", "replace").split())[:EXCERPT_CHARS]


def looks_like_html(content: bytes, content_type: str) -> bool:
    head = content[:256].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html"))


class HttpClient:
    """A venue's HTTP access. Subclasses override `check_payload` for in-body errors."""

    venue = "http"

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 retry: Retry | None = None, user_agent: str = USER_AGENT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry if retry is not None else default_retry()
        self.user_agent = user_agent
        # One session per OS thread (see Cache._conn for why not threading.local).
        self._sessions: dict[int, requests.Session] = {}
        self._sessions_lock = threading.Lock()

    # -- sessions: one per thread (requests.Session is not thread-safe) ------------------------
    def _session(self) -> requests.Session:
        ident = threading.get_ident()
        with self._sessions_lock:
            session = self._sessions.get(ident)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=self.retry, pool_connections=2, pool_maxsize=4)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"User-Agent": self.user_agent,
                                    "Accept": "application/json",
                                    "Accept-Encoding": "gzip, deflate"})
            session.trust_env = True  # honour proxy settings; TLS verification stays on
            with self._sessions_lock:
                self._sessions[ident] = session
        return session

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            session.close()

    # -- requests ------------------------------------------------------------------------------
    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._request("GET", path, params=params)

    def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._request("POST", path, json=body)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        for fn in list(_observers):
            fn(method, url)
        count = _current_count.get()
        if count is not None:
            count.sent += 1
        try:
            resp = self._session().request(method, url, timeout=self.timeout, verify=True,
                                           **kwargs)
        except requests.Timeout as e:
            raise NetworkTimeout(f"timed out ({_timeout_kind(e)})", venue=self.venue,
                                 url=url) from e
        except requests.exceptions.ChunkedEncodingError as e:
            raise BadPayload("connection dropped mid-body (truncated response)",
                             venue=self.venue, url=url) from e
        except requests.exceptions.SSLError as e:
            raise NetworkError(f"TLS verification failed: {e}", venue=self.venue, url=url) from e
        except requests.ConnectionError as e:
            if _is_read_timeout(e):  # urllib3 wraps a read timeout once retries are used up
                raise NetworkTimeout("timed out (read)", venue=self.venue, url=url) from e
            raise NetworkError(_connection_message(e), venue=self.venue, url=url) from e
        except requests.RequestException as e:
            raise NetworkError(f"request failed: {e}", venue=self.venue, url=url) from e
        return self._decode(resp, url)

    def _decode(self, resp: requests.Response, url: str) -> Any:
        status = resp.status_code
        content = resp.content
        ctype = resp.headers.get("Content-Type", "")
        payload: Any = None
        decode_error: str | None = None
        if looks_like_html(content, ctype):
            decode_error = f"HTML page where JSON was expected: “{body_excerpt(content)}”"
        else:
            try:
                payload = self.decode_json(content)
            except (ValueError, UnicodeDecodeError) as e:
                what = "empty body" if not content.strip() else "truncated or invalid JSON"
                decode_error = f"{what} ({e.__class__.__name__}: {str(e)[:60]})"

        if status in (429, 418):
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            wait = retry_after if retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
            raise RateLimited(f"rate limited (HTTP {status}); retry in {wait:.0f} s",
                              venue=self.venue, url=url, retry_after=wait)
        if payload is not None:
            # Venue errors (some come with HTTP 200, some with 4xx) are read from the body first.
            self.check_payload(status, payload, resp)
        if status == 451:
            raise GeoBlocked("not available from your region (HTTP 451)", venue=self.venue,
                             url=url)
        if status >= 500:
            detail = decode_error or body_excerpt(content)
            raise VenueUnavailable(f"HTTP {status}: {detail}", venue=self.venue, url=url)
        if status == 404:
            raise UnknownSymbol(f"not found (HTTP 404): {body_excerpt(content)}",
                                venue=self.venue, url=url)
        if status == 403:
            raise GeoBlocked(f"access refused (HTTP 403): {body_excerpt(content)}",
                             venue=self.venue, url=url)
        if status >= 400:
            raise BadRequest(f"HTTP {status}: {body_excerpt(content)}", venue=self.venue,
                             url=url)
        if decode_error is not None:
            raise BadPayload(decode_error, venue=self.venue, url=url)
        return payload

    def decode_json(self, content: bytes) -> Any:
        """The body as JSON; a venue may override this with a leaner parser for a known shape."""
        return json.loads(content)

    def check_payload(self, status: int, payload: Any, resp: requests.Response) -> None:
        """Raise a typed error for a venue error carried in the body (override per venue)."""

    def error(self, cls: type[ServiceError], message: str, **kw: Any) -> ServiceError:
        return cls(message, venue=self.venue, **kw)


def _timeout_kind(e: requests.Timeout) -> str:
    return "connect" if isinstance(e, requests.ConnectTimeout) else "read"


def _is_read_timeout(e: requests.ConnectionError) -> bool:
    reason = getattr(e.args[0], "reason", None) if e.args else None
    return isinstance(reason, urllib3.exceptions.ReadTimeoutError)


def _connection_message(e: requests.ConnectionError) -> str:
    text = str(e)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host not found (offline?)"
    if "Max retries exceeded" in text:
        return "unreachable after retries"
    return f"connection failed: {text[:100]}"
