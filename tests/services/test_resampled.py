"""The data road of intervals a venue does not serve, and of bars built from stored minutes
(services/resampled.py through services/refresh.refresh_series)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.catalog import SeriesSpec, get_spec
from models.resample import complete_bins, resample_ohlcv, session_bins, session_table
from models.series import SeriesData
from services.cache import Cache
from services.parsing import make_frame
from services.refresh import refresh_series
from services.resampled import calendar_of
from services.sources import Sources

MIN = 60_000
H = 3_600_000
DAY = 24 * H


def _bars(times: np.ndarray, seed: int, volume: bool = True) -> SeriesData:
    rng = np.random.default_rng(seed)
    n = len(times)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    return SeriesData(times, {
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.random(n) * 3 if volume else np.full(n, np.nan)})


class FakeVenue:
    """Serves stored bars of the intervals it is given, recording what it was asked."""

    def __init__(self, served: dict[str, SeriesData]) -> None:
        self.served = served
        self.asked: list[tuple[str, int, int]] = []

    def iter_pages(self, spec: SeriesSpec, symbol: str, start_ms: int, end_ms: int):
        self.asked.append((spec.interval, start_ms, end_ms))
        data = self.served[spec.interval].between(start_ms, end_ms)
        yield make_frame(data.time, dict(data.columns))


@pytest.fixture
def cache(tmp_path):
    c = Cache(tmp_path / "c.sqlite")
    yield c
    c.close()


def _yahoo_hours(start: str, end: str) -> np.ndarray:
    lo = pd.Timestamp(start, tz="UTC").value // 1_000_000
    hi = pd.Timestamp(end, tz="UTC").value // 1_000_000
    sessions = session_table("XNYS", lo, hi)
    return np.array([t for o, c in zip(sessions.open_ms, sessions.close_ms, strict=True)
                     if lo <= o < hi for t in range(int(o), int(c), H)], dtype=np.int64)


def test_yahoo_4h_is_built_from_its_hourly_bars_on_nyse_sessions(cache):
    spec = get_spec("spx.4h")
    assert spec.extra["resample_from"] == "1h"
    hours = _yahoo_hours("2026-01-05", "2026-01-31")
    hourly = _bars(hours, 1, volume=False)
    venue = FakeVenue({"1h": hourly})
    sources = Sources(overrides={"yahoo": venue})
    now = int(hours[-1]) + 30 * MIN
    result = refresh_series(spec, cache, sources, now=now, want_start_ms=int(hours[0]))
    assert result.ok and result.series_id == "spx.4h" and result.venue == "yahoo"
    assert {asked[0] for asked in venue.asked} == {"1h"}  # never asked for 4h
    stored = cache.read("spx.4h")
    sessions = session_table("XNYS", int(hours[0]), int(hours[-1]))
    expected = session_bins(hourly, sessions, "4h")
    assert np.array_equal(stored.time, expected.time)
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(stored[col], expected[col]), col
    local = pd.to_datetime(stored.time, unit="ms", utc=True).tz_convert("America/New_York")
    assert set(zip(local.hour, local.minute, strict=True)) == {(9, 30), (13, 30)}
    assert cache.get_meta("spx.4h")["resampled_from"] == "spx.1h"
    assert venue.asked[0][1] == int(hours[0])  # the window asked for

    # Without a start, as deep as the 4h series wants (a year), not the 1h one's 120 days
    venue.asked.clear()
    refresh_series(spec, cache, sources, now=now + 10 * DAY, force=True)
    assert min(lo for _, lo, _ in venue.asked) == now + 10 * DAY - spec.history_days * DAY
    cache.delete("spx.1h")
    cache.delete("spx.4h")
    refresh_series(spec, cache, sources, now=now, want_start_ms=int(hours[0]))

    # A day later: only the bars the new hours touch are rebuilt and handed back
    more = _yahoo_hours("2026-01-05", "2026-02-03")
    venue.served["1h"] = _bars(more, 1, volume=False)
    later = refresh_series(spec, cache, sources, now=int(more[-1]) + 30 * MIN, force=True)
    assert later.ok and later.rows is not None
    assert int(later.rows.time[0]) >= int(stored.time[-1])
    full = session_bins(cache.read("spx.1h"), session_table("XNYS", int(more[0]),
                                                            int(more[-1])), "4h")
    again = cache.read("spx.4h")
    assert np.array_equal(again.time, full.time)
    assert np.array_equal(again["close"], full["close"])


def test_btc_bars_older_than_the_venues_come_from_complete_minutes(cache):
    t0 = pd.Timestamp("2026-01-10", tz="UTC").value // 1_000_000
    minutes_t = t0 + MIN * np.arange(3 * 1440, dtype=np.int64)
    outage = (minutes_t >= t0 + 5 * H + 10 * MIN) & (minutes_t < t0 + 5 * H + 13 * MIN)
    minutes = _bars(minutes_t[~outage], 2)
    cache.upsert("btc.1m", minutes)
    # the venue's own hourly bars: the last day only (and, for the outage hour, its own bar)
    venue_hours = resample_ohlcv(_bars(minutes_t, 2), H)
    venue = FakeVenue({"1h": venue_hours})
    sources = Sources(overrides={"binance": venue})
    now = t0 + 3 * DAY
    spec = get_spec("btc.1h")
    first = refresh_series(spec, cache, sources, now=now, want_start_ms=t0 + 2 * DAY)
    assert first.ok
    stored = cache.read("btc.1h")
    from_minutes = complete_bins(minutes, H, MIN)
    older = from_minutes.between(None, t0 + 2 * DAY - H)
    assert len(older) == 48 - 1  # two days of hours, less the one with minutes missing
    assert t0 + 5 * H not in older.time
    got = stored.between(None, t0 + 2 * DAY - H)
    assert np.array_equal(got.time, older.time)
    for col in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(got[col], older[col]), col
    assert first.rows is not None and int(first.rows.time[0]) == t0

    # the hour with missing minutes is a hole the venue is asked for, once
    venue.asked.clear()
    second = refresh_series(spec, cache, sources, now=now, want_start_ms=t0)
    assert second.ok
    assert any(lo <= t0 + 5 * H <= hi for _, lo, hi in venue.asked)
    assert not any(hi < t0 + 5 * H or lo > t0 + 6 * H for _, lo, hi in venue.asked
                   if hi < t0 + 2 * DAY)  # nothing else of the minute-built span
    assert t0 + 5 * H in cache.read("btc.1h").time


def test_calendars_of_price_series():
    assert calendar_of(get_spec("btc.4h")) == "24/7"
    assert calendar_of(get_spec("spx.1d")) == "XNYS"
    assert calendar_of(get_spec("gold.4h")) == "CMES"
    user = SeriesSpec(id="vod-l.4h", kind="candles", source="yahoo", symbol="VOD.L",
                      interval="4h", label="Vodafone", asset="Vodafone",
                      extra={"user_symbol": True, "calendar": "XLON", "resample_from": "1h"})
    assert calendar_of(user) == "XLON"


def test_a_fallback_venue_without_the_interval_is_not_asked(cache):
    from services.errors import VenueUnavailable

    class Down:
        def iter_pages(self, spec, symbol, start_ms, end_ms):
            raise VenueUnavailable("down", venue="binance")
            yield  # a generator, as the clients' are

    t = np.arange(10, dtype=np.int64) * 4 * H
    coinbase = FakeVenue({"4h": _bars(t, 5), "1h": _bars(t, 5)})
    kraken = FakeVenue({"4h": _bars(t, 5)})
    sources = Sources(overrides={"binance": Down(), "coinbase": coinbase, "kraken": kraken})
    result = refresh_series(get_spec("btc.4h"), cache, sources, now=int(t[-1]) + H,
                            want_start_ms=0)
    assert coinbase.asked == []  # Coinbase serves no 4h bars
    assert result.ok and result.venue == "kraken" and kraken.asked
    refresh_series(get_spec("btc.1h"), cache, sources, now=int(t[-1]) + H, want_start_ms=0)
    assert coinbase.asked  # but it serves 1h ones
