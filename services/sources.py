"""Which client serves which venue, and the protocol every venue client follows.

A client pages through history and yields one DataFrame per page (UTC `DatetimeIndex` named
"time", float64 columns named as the series kind's columns in `models.catalog.KIND_COLUMNS`).
Paging keeps each `json.loads` small (a page is ≤ ~2k rows), so a worker never holds the GIL long
enough to freeze the window, and lets the refresh store each page as it arrives.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

from models.catalog import SeriesSpec
from models.series import Snapshot
from models.venues import VENUES
from services.config import Endpoints

if TYPE_CHECKING:
    import pandas as pd


class SeriesSource(Protocol):
    venue: str

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int,
                   end_ms: int) -> Iterator[pd.DataFrame]:
        """Yield pages of rows with start_ms <= time <= end_ms (any order within the range)."""
        ...

    def fetch_snapshot(self, spec: SeriesSpec, symbol: str) -> Snapshot:
        """A point-in-time table (option chain, current funding), stamped with the venue's time."""
        ...


# venue key -> (module, class, endpoint key), from the venue registry (models/venues.py)
CLIENTS: dict[str, tuple[str, str, str]] = {
    v.key: (v.client_module, v.client_class, v.key) for v in VENUES}


class Sources:
    """Lazily built clients, one per venue, sharing the endpoints configuration."""

    def __init__(self, endpoints: Endpoints | None = None,
                 overrides: Mapping[str, SeriesSource] | None = None) -> None:
        self.endpoints = endpoints or Endpoints.from_env()
        self._clients: dict[str, SeriesSource] = dict(overrides or {})

    def get(self, venue: str) -> SeriesSource:
        client = self._clients.get(venue)
        if client is None:
            module, cls_name, _endpoint = CLIENTS[venue]
            cls = getattr(importlib.import_module(module), cls_name)
            client = cls(self.endpoints)
            self._clients[venue] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()
