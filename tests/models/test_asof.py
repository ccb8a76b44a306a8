"""The as-of convention: a row is known when the span it describes has ended."""

import numpy as np

from models.asof import AsOfLoader, known_delay_ms, known_rows
from models.series import MS_PER_HOUR, SeriesData

H = MS_PER_HOUR


def test_delays_follow_the_kind():
    assert known_delay_ms("btc.1h") == H
    assert known_delay_ms("spx.1d") == 24 * H
    assert known_delay_ms("liq.bybit.btc") == 60_000
    assert known_delay_ms("funding.binance.btc") == 0  # a settlement pays for the span before
    assert known_delay_ms("oi.binance.btc") == 0
    assert known_delay_ms("no.such.series") == 0


def test_a_forming_bar_is_not_known():
    data = SeriesData(np.arange(5, dtype=np.int64) * H, {"close": np.arange(5.0)})
    # at 3h30 the bar opened at 3h is forming; the one opened at 2h closed at 3h
    assert known_rows("btc.1h", data, 3 * H + H // 2).time.tolist() == [0, H, 2 * H]
    assert known_rows("btc.1h", data, 3 * H).time.tolist() == [0, H, 2 * H]
    assert known_rows("funding.binance.btc", data, 3 * H).time.tolist() == [0, H, 2 * H, 3 * H]


class _Base:
    def __init__(self):
        self.data = SeriesData(np.arange(10, dtype=np.int64) * H, {"close": np.arange(10.0)})
        self.snaps = np.array([H, 4 * H, 8 * H], dtype=np.int64)

    def read(self, series_id, start_ms=None, end_ms=None):
        return self.data.between(start_ms, end_ms)

    def latest_snapshot(self, series_id, at_ms=None):
        times = self.snaps if at_ms is None else self.snaps[self.snaps <= at_ms]
        return int(times[-1]) if len(times) else None

    def snapshot_times(self, series_id):
        return self.snaps

    def snapshot_at(self, series_id, time_ms):
        return int(time_ms) if time_ms in self.snaps else None


def test_loader_cuts_series_and_snapshots_at_t():
    loader = AsOfLoader(_Base(), 5 * H)
    assert loader.read("btc.1h").last_ms == 4 * H
    assert loader.read("btc.1h", end_ms=2 * H).last_ms == 2 * H
    assert loader.latest_snapshot("options.btc") == 4 * H
    assert loader.latest_snapshot("options.btc", at_ms=9 * H) == 4 * H
    assert loader.snapshot_times("options.btc").tolist() == [H, 4 * H]
    assert loader.snapshot_at("options.btc", 8 * H) is None
    assert loader.snapshot_at("options.btc", 4 * H) == 4 * H
