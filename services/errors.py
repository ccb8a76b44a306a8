"""The error taxonomy the UI acts on: transient errors are retried, permanent ones are not.

Every error says which venue failed, a message a trader can read, and (for rate limits) how long
to wait. Clients re-raise transport errors `from` the original so logs keep the cause.
"""

from __future__ import annotations

import re

from models.status import ErrorKind

# The user-info part of a URL ("user:password@" after the scheme), wherever it sits in a text.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")


def redact_url(text: str) -> str:
    """`text` with every URL's "user:password@" replaced by "***@": a base URL may carry
    credentials (a proxy's), and error texts go to the log and the status bar."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


class ServiceError(Exception):
    """Base of every failure a service reports."""

    transient = False
    #: the cause as the status bar and the scheduler's decisions see it
    kind = ErrorKind.ERROR

    def __init__(self, message: str, *, venue: str = "", url: str = "",
                 retry_after: float | None = None) -> None:
        # Redacted here, once, so no error text can carry a URL's password.
        message, url = redact_url(message), redact_url(url)
        super().__init__(message)
        self.message = message
        self.venue = venue
        self.url = url
        self.retry_after = retry_after

    def __str__(self) -> str:
        prefix = f"{self.venue}: " if self.venue else ""
        return f"{prefix}{self.message}"


class TransientError(ServiceError):
    """Worth retrying later: the same request may succeed."""

    transient = True


class NetworkError(TransientError):
    kind = ErrorKind.NETWORK


class NetworkTimeout(NetworkError):
    kind = ErrorKind.TIMEOUT


class RateLimited(TransientError):
    kind = ErrorKind.RATE_LIMITED


class VenueUnavailable(TransientError):
    """5xx, maintenance, a Cloudflare page: the venue is down for now."""

    kind = ErrorKind.VENUE_DOWN


class BadPayload(TransientError):
    """HTML where JSON was expected, a truncated body, a missing field, NaN where a number goes."""

    kind = ErrorKind.BAD_DATA


class PermanentError(ServiceError):
    """Retrying the same request will not help."""


class UnknownSymbol(PermanentError):
    kind = ErrorKind.UNKNOWN_SYMBOL


class BadRequest(PermanentError):
    kind = ErrorKind.BAD_REQUEST


class GeoBlocked(PermanentError):
    """The venue refuses this address's region (Binance 451, Bybit 403): use a fallback venue."""

    kind = ErrorKind.REGION_BLOCKED


class InternalError(ServiceError):
    """A bug in Rotor (a job raised something that is not a ServiceError): keep the data, retry
    later, say so."""

    kind = ErrorKind.INTERNAL


class InsecureEndpoint(PermanentError):
    kind = ErrorKind.INSECURE_URL


class RedirectRefused(InsecureEndpoint):
    """A redirect away from the base URL's https host (services/http.py follows only those)."""


# -- the local cache -----------------------------------------------------------------------------
# A full disk, an I/O error, a read-only folder or another process's lock says nothing about the
# data already stored: these are reported and retried, and the cache file is left alone. Only
# proven corruption moves a cache aside (services/cache.py).
DISK_RETRY_SECONDS = 300.0
LOCK_RETRY_SECONDS = 5.0


class CacheUnavailable(TransientError):
    """The cache cannot be used right now; the file itself is intact."""

    kind = ErrorKind.DISK


class CacheFull(CacheUnavailable):
    """SQLITE_FULL / ENOSPC: free some space and the next retry stores the rows."""

    kind = ErrorKind.DISK


class CacheIOError(CacheUnavailable):
    kind = ErrorKind.DISK


class CacheReadOnly(CacheUnavailable):
    kind = ErrorKind.READ_ONLY


class CacheBusy(CacheUnavailable):
    """Another process holds the write lock longer than the busy timeout: retry in seconds."""

    kind = ErrorKind.CACHE_BUSY


class CacheCorrupt(TransientError):
    """The cache was proven damaged (integrity_check failed) and has been replaced; the rows
    that could be saved were copied to the new file. The next refresh fetches the rest."""

    kind = ErrorKind.DISK


class UnsafeFile(PermanentError):
    """A symlink where the cache or a log file should be: refused, never followed."""

    kind = ErrorKind.UNSAFE_FILE


# -- the user's symbols ----------------------------------------------------------------------------
class SymbolRefused(PermanentError, ValueError):
    """A symbol the user asked to add is unknown, delisted or not trading (services/symbols.py):
    the message says which and why; nothing was stored."""
