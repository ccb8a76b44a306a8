"""The one HTTP recipe every venue client uses.

- base URL, (connect, read) timeouts and a urllib3 `Retry` policy injected through the constructor;
- quick retries (well under a second each) for connect errors inside urllib3, and a 5xx asked
  again at once, its body unread, by `HttpClient`; anything longer (429, Retry-After, backoff
  after a failed refresh) is the scheduler's timer, never a sleep;
- one `requests.Session` per thread, a User-Agent on every request;
- the body is parsed and checked, not only the status: HTML where JSON was expected, a truncated
  body and venue errors inside HTTP 200 become typed errors (`services.errors`);
- every request has an overall deadline and every body a size cap (decompressed bytes counted),
  so a trickling, endless or gzip-bomb answer costs seconds and megabytes, not a refresh slot or
  gigabytes (docs/fault-matrix.md);
- redirects are followed only within the base URL's origin; credentials in a URL never reach an
  error message (`services.errors.redact_url`).
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from services.config import is_loopback_host
from services.errors import (
    BadPayload,
    BadRequest,
    GeoBlocked,
    NetworkError,
    NetworkTimeout,
    RateLimited,
    RedirectRefused,
    ServiceError,
    UnknownSymbol,
    VenueUnavailable,
    redact_url,
)

USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/130.0 Safari/537.36 Rotor/0.1")
DEFAULT_TIMEOUT = (3.05, 15.0)
# A whole request (connect, headers, every byte of the body) ends within this, however slowly the
# server trickles: the read timeout only bounds the wait for the *next* byte.
DEFAULT_DEADLINE = 30.0
# The largest answer accepted, counted after decompression. Venue pages are kilobytes to a few
# megabytes (an option chain); a client may lower it (`max_body_bytes`).
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
READ_CHUNK = 64 * 1024
MAX_REDIRECTS = 3
RETRY_STATUSES = frozenset({500, 502, 503, 504})
STATUS_RETRIES = 2  # a 5xx is asked again at once, twice at most, within the deadline
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
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
        # No status retries here: urllib3 reads a retried answer's body whole (unbounded) before
        # asking again. `HttpClient._request` re-asks a 5xx itself without reading it.
        total=2, connect=2, read=0, other=0, status=0,
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
                 retry: Retry | None = None, user_agent: str = USER_AGENT,
                 deadline: float = DEFAULT_DEADLINE,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry if retry is not None else default_retry()
        self.user_agent = user_agent
        self.deadline = float(deadline)
        self.max_body_bytes = int(max_body_bytes)
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
    def get_json(self, path: str, params: Mapping[str, Any] | None = None, *,
                 max_bytes: int | None = None) -> Any:
        """GET base_url/path as JSON; `max_bytes` lowers the body cap for a small endpoint."""
        return self._request("GET", path, max_bytes=max_bytes, params=params)

    def post_json(self, path: str, body: Mapping[str, Any], *,
                  max_bytes: int | None = None) -> Any:
        return self._request("POST", path, max_bytes=max_bytes, json=body)

    def _request(self, method: str, path: str, *, max_bytes: int | None = None,
                 **kwargs: Any) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        limit = self.max_body_bytes if max_bytes is None else min(max_bytes, self.max_body_bytes)
        deadline = time.monotonic() + self.deadline
        status_retries, redirects, notify = STATUS_RETRIES, 0, True
        while True:
            resp = self._send(method, url, deadline, notify=notify, **kwargs)
            notify = False  # retries and redirects are part of the same request
            try:
                if resp.status_code in RETRY_STATUSES and status_retries > 0:
                    status_retries -= 1
                    continue  # closed below without reading the body
                target = self._redirect_target(resp, url)
                if target is None:
                    # The bounded body becomes `resp.content`, which `_decode`, `check_payload`
                    # and the venues' overrides read as with a non-streamed response.
                    resp._content = self._read_body(resp, url, deadline, limit)
                    return self._decode(resp, url)
            finally:
                resp.close()  # an unread or half-read body: the connection is not reused
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise self.error(RedirectRefused, f"more than {MAX_REDIRECTS} redirects",
                                 url=redact_url(url))
            url = target
            kwargs.pop("params", None)  # the Location carries its own query

    def _send(self, method: str, url: str, deadline: float, *, notify: bool = True,
              **kwargs: Any) -> requests.Response:
        """Send one request and read its headers; the body is left to `_read_body`."""
        if notify:
            for fn in list(_observers):
                fn(method, url)
            count = _current_count.get()
            if count is not None:
                count.sent += 1
        connect, read = self.timeout
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error(url)
        safe_url = redact_url(url)
        try:
            return self._session().request(
                method, url, timeout=(min(connect, remaining), min(read, remaining)),
                verify=True, stream=True, allow_redirects=False, **kwargs)
        except requests.Timeout as e:
            raise NetworkTimeout(f"timed out ({_timeout_kind(e)})", venue=self.venue,
                                 url=safe_url) from e
        except requests.exceptions.ChunkedEncodingError as e:
            raise BadPayload("connection dropped mid-body (truncated response)",
                             venue=self.venue, url=safe_url) from e
        except requests.exceptions.SSLError as e:
            raise NetworkError(f"TLS verification failed: {redact_url(str(e))}",
                               venue=self.venue, url=safe_url) from e
        except requests.ConnectionError as e:
            if _is_read_timeout(e):  # urllib3 wraps a read timeout once retries are used up
                raise NetworkTimeout("timed out (read)", venue=self.venue, url=safe_url) from e
            raise NetworkError(_connection_message(e), venue=self.venue, url=safe_url) from e
        except requests.RequestException as e:
            raise NetworkError(f"request failed: {redact_url(str(e))}", venue=self.venue,
                               url=safe_url) from e

    def _redirect_target(self, resp: requests.Response, url: str) -> str | None:
        """Where a redirect points, if it stays within the base URL's origin; None if `resp` is
        not a redirect. A redirect elsewhere (plain http, another host) is refused: it would
        bypass the https-only rule of the base URL (services/config.py)."""
        location = resp.headers.get("Location")
        if resp.status_code not in REDIRECT_STATUSES or not location:
            return None
        target = urljoin(url, location)
        if not redirect_allowed(self.base_url, target):
            raise self.error(RedirectRefused,
                             f"refused a redirect (HTTP {resp.status_code}) to "
                             f"{redact_url(target)}: only the same https host is followed",
                             url=redact_url(url))
        return target

    def _read_body(self, resp: requests.Response, url: str, deadline: float,
                   limit: int) -> bytes:
        """The body, decompressed, at most `limit` bytes, complete before `deadline`.

        Read with `read1` (whatever one socket read returns), so a server trickling one byte at a
        time is seen between reads; gzip/deflate are inflated here with a cap on the output of
        each step, so a small compressed body cannot expand past `limit` in memory."""
        declared = resp.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(url, limit, f"Content-Length {_size_text(int(declared))}, ")
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise self.error(BadPayload, f"unsupported Content-Encoding {encoding!r}",
                             url=redact_url(url))
        # wbits 32+15: a gzip or a zlib header, detected from the data.
        inflater = (zlib.decompressobj(32 + zlib.MAX_WBITS)
                    if encoding not in ("", "identity") else None)
        body = bytearray()
        while True:
            if time.monotonic() > deadline:
                raise self._deadline_error(url)
            chunk = self._read_chunk(resp, url)
            if not chunk:
                break
            if inflater is None:
                body += chunk
            else:
                try:
                    # Output capped at one byte past the limit (never 0: that means "no cap").
                    body += inflater.decompress(chunk, limit + 1 - len(body))
                    while inflater.unconsumed_tail and len(body) <= limit:
                        body += inflater.decompress(inflater.unconsumed_tail,
                                                    limit + 1 - len(body))
                except zlib.error as e:
                    raise self.error(BadPayload, f"corrupt {encoding} body ({e})",
                                     url=redact_url(url)) from e
            if len(body) > limit:
                raise self._too_large(url, limit)
        if inflater is not None:
            body += inflater.flush()
            if len(body) > limit:
                raise self._too_large(url, limit)
        return bytes(body)

    def _read_chunk(self, resp: requests.Response, url: str) -> bytes:
        safe_url = redact_url(url)
        try:
            return resp.raw.read1(READ_CHUNK, decode_content=False)
        except urllib3.exceptions.ReadTimeoutError as e:
            raise NetworkTimeout("timed out (read)", venue=self.venue, url=safe_url) from e
        except urllib3.exceptions.ProtocolError as e:
            raise BadPayload("connection dropped mid-body (truncated response)",
                             venue=self.venue, url=safe_url) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise NetworkError(f"reading the answer failed: {redact_url(str(e))[:100]}",
                               venue=self.venue, url=safe_url) from e

    def _deadline_error(self, url: str) -> NetworkTimeout:
        return NetworkTimeout(f"timed out (no complete answer within {self.deadline:g} s)",
                              venue=self.venue, url=redact_url(url))

    def _too_large(self, url: str, limit: int, declared: str = "") -> BadPayload:
        return BadPayload(f"answer too large ({declared}over the {_size_text(limit)} limit)",
                          venue=self.venue, url=redact_url(url))

    def _decode(self, resp: requests.Response, url: str) -> Any:
        status = resp.status_code
        content = resp.content
        url = redact_url(url)
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
            except RecursionError:
                # Thousands of nested brackets: not a venue's shape, and not a bug in Rotor.
                decode_error = "JSON nested too deeply"

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


def redirect_allowed(base_url: str, target: str) -> bool:
    """A redirect from `base_url` may go to `target`: https on the same host and port, or
    loopback to loopback (the test servers and a local proxy, as in services/config.py)."""
    base, dest = urlsplit(base_url), urlsplit(target)
    if base.hostname and dest.hostname and is_loopback_host(base.hostname) \
            and is_loopback_host(dest.hostname):
        return dest.scheme in ("http", "https")
    return (base.scheme == dest.scheme == "https" and dest.hostname == base.hostname
            and (dest.port or 443) == (base.port or 443))


def _size_text(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


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
