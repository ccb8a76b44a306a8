"""The error taxonomy the UI acts on: transient errors are retried, permanent ones are not.

Every error says which venue failed, a message a trader can read, and (for rate limits) how long
to wait. Clients re-raise transport errors `from` the original so logs keep the cause.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every failure a service reports."""

    transient = False
    #: what the status bar shows as the cause in a word or two
    short = "error"

    def __init__(self, message: str, *, venue: str = "", url: str = "",
                 retry_after: float | None = None) -> None:
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
    short = "network"


class NetworkTimeout(NetworkError):
    short = "timeout"


class RateLimited(TransientError):
    short = "rate limited"


class VenueUnavailable(TransientError):
    """5xx, maintenance, a Cloudflare page: the venue is down for now."""

    short = "venue down"


class BadPayload(TransientError):
    """HTML where JSON was expected, a truncated body, a missing field, NaN where a number goes."""

    short = "bad data"


class PermanentError(ServiceError):
    """Retrying the same request will not help."""


class UnknownSymbol(PermanentError):
    short = "unknown symbol"


class BadRequest(PermanentError):
    short = "bad request"


class GeoBlocked(PermanentError):
    """The venue refuses this address's region (Binance 451, Bybit 403): use a fallback venue."""

    short = "region blocked"


class InsecureEndpoint(PermanentError):
    short = "insecure URL"
