"""The data folder as the Settings dialog shows it: its size, the stored series, clearing one.

Called on a worker (`Scheduler.run`): walking a folder and deleting rows are I/O the GUI thread
never does (docs/architecture.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from services.cache import Cache


def folder_size(path: Path | str) -> int:
    """Bytes in the regular files under `path`; symbolic links are not followed, files that
    vanish or cannot be read meanwhile are skipped."""
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += info.st_size
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return total


def format_bytes(size: int) -> str:
    """1023 → "1023 B", 1536 → "1.5 KB", 5 * 1024**2 → "5.0 MB" (binary units)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def stored_series(cache: Cache) -> list[str]:
    """Ids of every series and snapshot the cache holds, sorted."""
    return cache.series_ids()


def clear_series(cache: Cache, series_id: str) -> str:
    """Delete every stored row, snapshot and note of `series_id`; returns the id."""
    cache.delete(series_id)
    return series_id
