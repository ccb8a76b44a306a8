"""What was known at a moment: the one convention alerts, back-tests and replay share.

A stored row is stamped at the start of what it describes (a bar at its open, a liquidation
minute at its first second); it is *known* only once that span has ended. A bar opened at h
with interval I is known at h + I; a funding settlement stamped t (it pays for [t − I, t)), an
open-interest reading, a premium or basis poll and a snapshot are known at their own stamp.

`AsOfLoader` wraps any `models.analyses.DataLoader` so an analysis run through it sees only
rows and snapshots known at `t_ms`: replay re-runs every dock's analysis through it, and the
alert back-test samples each input at the time its rows became known. Data after t can
therefore change nothing shown (tests/models/test_asof.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.catalog import CANDLES, LIQUIDATIONS, VOL_INDEX, find_spec
from models.series import SeriesData, Snapshot

#: kinds whose rows describe a span starting at their stamp (known when the span ends)
SPAN_KINDS = frozenset({CANDLES, VOL_INDEX, LIQUIDATIONS})


def known_delay_ms(series_id: str) -> int:
    """How long after its stamp a row of `series_id` is known: the bar interval for bars and
    liquidation minutes, 0 for settlements, readings and snapshots (and unknown ids)."""
    spec = find_spec(series_id)
    if spec is None or spec.kind not in SPAN_KINDS:
        return 0
    return int(spec.interval_ms or 0)


def known_times(series_id: str, time_ms: np.ndarray) -> np.ndarray:
    """When each row stamped `time_ms` became known (int64 ms)."""
    return np.asarray(time_ms, dtype=np.int64) + known_delay_ms(series_id)


def known_rows(series_id: str, data: SeriesData, t_ms: int) -> SeriesData:
    """The rows of `data` known at `t_ms` (a bar still forming at t is left out)."""
    return data.between(None, int(t_ms) - known_delay_ms(series_id))


class AsOfLoader:
    """A `DataLoader` that answers as of `t_ms`: series cut to the rows known then, snapshots
    taken at or before it. Where the wrapped loader keeps corrected snapshots
    (`latest_snapshot(..., known_ms=...)`, services/cache.py), the revision recorded by t is
    served (docs/replay.md)."""

    def __init__(self, base: Any, t_ms: int) -> None:
        self.base = base
        self.t_ms = int(t_ms)

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData:
        cut = self.t_ms - known_delay_ms(series_id)
        end = cut if end_ms is None else min(int(end_ms), cut)
        return self.base.read(series_id, start_ms, end)

    def latest_snapshot(self, series_id: str, at_ms: int | None = None) -> Snapshot | None:
        at = self.t_ms if at_ms is None else min(int(at_ms), self.t_ms)
        if getattr(self.base, "keeps_revisions", False):
            return self.base.latest_snapshot(series_id, at, known_ms=self.t_ms)
        return self.base.latest_snapshot(series_id, at)

    def snapshot_times(self, series_id: str) -> np.ndarray:
        times = np.asarray(self.base.snapshot_times(series_id), dtype=np.int64)
        return times[times <= self.t_ms]

    def snapshot_at(self, series_id: str, time_ms: int) -> Snapshot | None:
        if int(time_ms) > self.t_ms:
            return None
        if getattr(self.base, "keeps_revisions", False):
            return self.base.snapshot_at(series_id, time_ms, known_ms=self.t_ms)
        return self.base.snapshot_at(series_id, time_ms)
