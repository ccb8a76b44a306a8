"""The bundled demo dataset: SYNTHETIC prices, funding, open interest, DVOL, option chains and
reported liquidations.

`--demo` (and the fallback when there is neither a cache nor a network) shows this dataset,
shaped after the crypto sell-off of early February 2026; `tools/build_demo.py` builds it
deterministically into `resources/demo/`. Series live in `demo.npz` (`<id>/time` int64 epoch ms,
`<id>/<column>` float64) and are read with `allow_pickle=False`; snapshots live in
`snapshots.json.gz` as plain JSON (each recorded at its own time, one corrected chain
recorded later). Liquidations are stream-shaped events
(`liqevents.<venue>.<asset>/time|side|qty|price`), stored through `Cache.add_liquidations` like
the streams' so the `liq.*` buckets are built the one way. Nothing here ever unpickles.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from models.catalog import get_spec, validate_series_id
from models.ids import liq_id
from models.liquidations import price_kind_of
from models.series import SeriesData, Snapshot
from services.demo_intervals import DERIVATION, complete_price_intervals
from services.resources import demo_dir

if TYPE_CHECKING:
    from services.cache import Cache

DEMO_LABEL = "Demo data (synthetic)"
DEMO_NOW_MS = 1_770_422_400_000  # 2026-02-07T00:00Z: the end of 2026-02-06, the dataset's "now"
SERIES_FILE = "demo.npz"
SNAPSHOT_FILE = "snapshots.json.gz"
SNAPSHOT_FORMAT = "rotor-demo-snapshots/1"
DEMO_META = {"venue": "demo", "synthetic": True}
BUILD_KEY = "demo.build"  # cache meta: the build whose every series is in the cache

# Snapshot columns that are not float64 (everything else is; JSON null becomes NaN).
_INT_COLUMNS = frozenset({"expiry_ms", "next_funding_ms"})
_STR_COLUMNS = frozenset({"instrument_name", "option_type", "venue", "instrument"})
LIQ_EVENTS_PREFIX = "liqevents."
_LIQ_COLUMNS = {"time": np.int64, "side": np.int8, "qty": np.float64, "price": np.float64}


class DemoDataError(Exception):
    """The bundled files are missing or not what the builder writes."""


@dataclass(frozen=True, eq=False)
class DemoData:
    series: Mapping[str, SeriesData]
    snapshots: list[Snapshot] = field(default_factory=list)
    fingerprint: str = ""  # hash of the files: a rebuilt dataset replaces a cached older one
    #: liq series id -> its events' arrays (time, side 1 = long liquidated, qty, price)
    liquidations: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)

    def snapshot_ids(self) -> list[str]:
        return sorted({s.series_id for s in self.snapshots})


def demo_path() -> Path:
    """The bundled dataset: `resources/demo`, package data in a wheel too."""
    return demo_dir()


def load_demo(path: Path | str | None = None) -> DemoData:
    """Read the dataset from a folder (default `demo_path()`) or from its `demo.npz`."""
    folder = Path(path) if path is not None else demo_path()
    if folder.suffix == ".npz":
        folder = folder.parent
    npz_path, snap_path = folder / SERIES_FILE, folder / SNAPSHOT_FILE
    try:
        npz_bytes = npz_path.read_bytes()
        snap_bytes = snap_path.read_bytes()
    except OSError as e:
        raise DemoDataError(f"demo dataset not found in {folder}: {e}") from e
    series, liquidations = _read_series(npz_path)
    series.update(complete_price_intervals(series, DEMO_NOW_MS))  # 1m … 1w (SYNTHETIC too)
    snapshots = _read_snapshots(snap_bytes)
    return DemoData(series, snapshots, _fingerprint(npz_bytes, snap_bytes), liquidations)


def _fingerprint(npz_bytes: bytes, snap_bytes: bytes) -> str:
    digest = hashlib.sha256(npz_bytes)
    digest.update(snap_bytes)
    digest.update(DERIVATION.encode())  # the series derived when read are part of the build
    return digest.hexdigest()[:16]


def demo_fingerprint(path: Path | str | None = None) -> str:
    """The bundled files' hash, without parsing them (a few ms)."""
    folder = Path(path) if path is not None else demo_path()
    try:
        return _fingerprint((folder / SERIES_FILE).read_bytes(),
                            (folder / SNAPSHOT_FILE).read_bytes())
    except OSError as e:
        raise DemoDataError(f"demo dataset not found in {folder}: {e}") from e


def _read_series(npz_path: Path) -> tuple[dict[str, SeriesData],
                                           dict[str, dict[str, np.ndarray]]]:
    arrays: dict[str, dict[str, np.ndarray]] = {}
    # allow_pickle=False: an object array in the file raises instead of running code.
    with np.load(npz_path, allow_pickle=False) as npz:
        for key in npz.files:
            series_id, sep, column = key.rpartition("/")
            if not sep:
                raise DemoDataError(f"unexpected array {key!r} in {npz_path.name}")
            arrays.setdefault(validate_series_id(series_id), {})[column] = npz[key]
    out = {}
    liquidations = {}
    for series_id, cols in sorted(arrays.items()):
        if series_id.startswith(LIQ_EVENTS_PREFIX):
            liquidations[_liq_series(series_id)] = _liq_arrays(series_id, cols)
            continue
        if "time" not in cols:
            raise DemoDataError(f"{series_id} has no time array")
        t = cols.pop("time")
        if t.dtype != np.int64 or any(v.dtype != np.float64 for v in cols.values()):
            raise DemoDataError(f"{series_id}: time must be int64 and columns float64")
        out[series_id] = SeriesData(t, cols)
    return out, liquidations


def _liq_series(events_id: str) -> str:
    venue, _, asset = events_id.removeprefix(LIQ_EVENTS_PREFIX).partition(".")
    series_id = liq_id(venue, asset)
    try:
        get_spec(series_id)
    except KeyError as e:
        raise DemoDataError(f"{events_id}: no liquidation series {series_id}") from e
    return series_id


def _liq_arrays(events_id: str, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if set(cols) != set(_LIQ_COLUMNS) or any(cols[c].dtype != d for c, d in _LIQ_COLUMNS.items()):
        raise DemoDataError(f"{events_id}: expected {', '.join(_LIQ_COLUMNS)} "
                            "(int64, int8, float64, float64)")
    if len({len(v) for v in cols.values()}) != 1:
        raise DemoDataError(f"{events_id}: columns of different lengths")
    return cols


def _read_snapshots(raw: bytes) -> list[Snapshot]:
    import pandas as pd

    doc = json.loads(gzip.decompress(raw))
    if not isinstance(doc, dict) or doc.get("format") != SNAPSHOT_FORMAT:
        raise DemoDataError(f"{SNAPSHOT_FILE} is not in the {SNAPSHOT_FORMAT} format")
    out = []
    for item in doc["snapshots"]:
        frame = pd.DataFrame({name: _column(name, values)
                              for name, values in item["frame"].items()})
        # Recorded when taken, as a live fetch would be, unless the item is a later correction
        # (docs/replay.md, "As of").
        time_ms = int(item["time_ms"])
        out.append(Snapshot(validate_series_id(item["series_id"]), time_ms, frame,
                            dict(item["meta"]), int(item.get("recorded_ms", time_ms))))
    return out


def _column(name: str, values: list[Any]) -> np.ndarray | list[str]:
    if name in _STR_COLUMNS:
        return [str(v) for v in values]
    if name in _INT_COLUMNS:
        return np.asarray(values, dtype=np.int64)
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def populate_cache(cache: Cache, demo: DemoData | None = None) -> int:
    """Write the dataset into `cache`; returns how many rows and snapshots were written.

    Idempotent: a series already holding this build (same fingerprint in its meta) is skipped, so
    a second call writes nothing. A series from another build is replaced, not merged, so rows of
    an older dataset never linger beside the new ones.
    """
    if demo is None:
        # Start-up fast path: a cache already holding this build needs no parsing at all.
        if cache.get_meta(BUILD_KEY).get("demo_build") == demo_fingerprint():
            return 0
        demo = load_demo()
    meta = {**DEMO_META, "demo_build": demo.fingerprint}
    written = 0
    for series_id, data in demo.series.items():
        if _is_current(cache, series_id, demo.fingerprint):
            continue
        cache.delete(series_id)
        written += cache.upsert(series_id, data)
        cache.update_meta(series_id, **meta)  # last: a crash before it means "redo"
    for series_id in demo.liquidations:
        if _is_current(cache, series_id, demo.fingerprint):
            continue
        cache.delete(series_id)  # its buckets and the events they sum
        arrays = demo.liquidations[series_id]
        venue = series_id.split(".")[1]
        written += cache.add_liquidation_arrays(
            venue, series_id.split(".")[2], get_spec(series_id).symbol, price_kind_of(venue),
            arrays["time"], arrays["side"] == 1, arrays["qty"], arrays["price"])[1]
        cache.update_meta(series_id, **meta)
    by_id: dict[str, list[Snapshot]] = {}
    for snap in demo.snapshots:
        by_id.setdefault(snap.series_id, []).append(snap)
    for series_id, snaps in by_id.items():
        if _is_current(cache, series_id, demo.fingerprint):
            continue
        cache.delete(series_id)
        written += cache.put_snapshots(snaps)  # each recorded at its recorded_ms
        cache.update_meta(series_id, **meta)
    cache.update_meta(BUILD_KEY, demo_build=demo.fingerprint)  # last: every series is in
    return written


def _is_current(cache: Cache, series_id: str, fingerprint: str) -> bool:
    meta = cache.get_meta(series_id)
    return bool(fingerprint) and meta.get("demo_build") == fingerprint
