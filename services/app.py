"""The services one Rotor process uses: its cache, its venue clients, live or demo.

Built on a worker thread by the GUI (opening SQLite is I/O) and directly by the headless commands.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.cache import Cache
from services.config import Endpoints, data_dir
from services.sources import Sources

log = logging.getLogger(__name__)

CACHE_FILE = "cache.sqlite"
DEMO_CACHE_FILE = "demo.sqlite"


@dataclass
class AppServices:
    cache: Cache
    sources: Sources | None  # None in demo mode: nothing is fetched
    demo: bool
    data_dir: Path
    now_ms_override: int | None = None  # demo mode: the dataset's own "now"

    @property
    def notices(self) -> list[str]:
        return [self.cache.notice] if self.cache.notice else []

    def close(self) -> None:
        if self.sources is not None:
            self.sources.close()
        self.cache.close()


def open_live(environ: Mapping[str, str] | None = None) -> AppServices:
    folder = data_dir(environ)
    endpoints = Endpoints.from_env(environ)
    return AppServices(Cache(folder / CACHE_FILE), Sources(endpoints), False, folder)


def open_demo(environ: Mapping[str, str] | None = None) -> AppServices:
    """A separate cache file filled from the bundled synthetic dataset (never mixed with live)."""
    from services import demo

    folder = data_dir(environ)
    cache = Cache(folder / DEMO_CACHE_FILE)
    demo.populate_cache(cache)
    return AppServices(cache, None, True, folder, now_ms_override=demo.DEMO_NOW_MS)


def has_cached_data(services: AppServices) -> bool:
    return bool(services.cache.series_ids())


def freeze_startup_heap() -> None:
    """Take everything alive after start-up (imports, the window) out of the cyclic collector.

    Otherwise each full collection rescans those ~10^5 long-lived objects: 30-80 ms holding
    the GIL, i.e. a visible GUI stall every few hundred pages of a backfill. Call once, on the
    GUI thread, when start-up is done.
    """
    gc.collect()
    gc.freeze()
