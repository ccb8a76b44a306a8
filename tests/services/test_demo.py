"""The bundled synthetic demo dataset: reproducible, complete, shaped like the February 2026
episode, and in exactly the shapes the live clients deliver."""

from __future__ import annotations

import datetime as dt
import gzip
import math
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.catalog import (
    BASIS,
    BASIS_CURVE,
    CANDLES,
    CATALOG,
    FUNDING,
    FUNDING_NOW,
    OPEN_INTEREST,
    OPTION_CHAIN,
    PREMIUM,
    VOL_INDEX,
)
from models.funding import annualize_funding, average_funding
from models.series import MS_PER_DAY, MS_PER_HOUR, SeriesData
from services.cache import Cache
from services.demo import (
    DEMO_LABEL,
    DEMO_NOW_MS,
    DemoData,
    DemoDataError,
    demo_path,
    load_demo,
    populate_cache,
)

ROOT = Path(__file__).resolve().parents[2]
NY = "America/New_York"
CRYPTO = ("btc", "eth")
EXCHANGE = ("spx", "ndx", "gold", "silver", "dxy", "vix")
OPEN_STAMPED = ("spx", "ndx", "vix")  # Yahoo stamps index dailies at the 09:30 open
FUTURES = ("gold", "silver", "es", "nq")
EMINI = ("es", "nq")  # Globex hours: their own rules below
SERIES_KINDS = (CANDLES, FUNDING, OPEN_INTEREST, VOL_INDEX, PREMIUM, BASIS)
CHAIN_COLUMNS = ["instrument_name", "expiry_ms", "strike", "option_type", "mark_iv",
                 "open_interest", "underlying_price", "mark_price", "bid_price", "ask_price"]
FUNDING_NOW_COLUMNS = ["rate", "interval_hours", "apr_pct", "next_funding_ms", "mark_price",
                       "index_price", "open_interest", "open_interest_usd"]
INSTRUMENT_RE = re.compile(r"^(BTC|ETH)-(\d{1,2})([A-Z]{3})(\d{2})-(\d+)-([CP])$")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def ms(day: str, hour: int = 0) -> int:
    d = dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)
    return int(d.timestamp() * 1000)


def local_dates(time_ms: np.ndarray, tz: str = "UTC") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(time_ms, unit="ms", utc=True)).tz_convert(tz)


def close_on(demo: DemoData, stem: str, day: str) -> float:
    """The daily close of the UTC day (crypto) or New York session (exchange) `day`."""
    data = demo.series[f"{stem}.1d"]
    dates = local_dates(data.time, "UTC" if stem in CRYPTO else NY).strftime("%Y-%m-%d")
    hit = np.flatnonzero(dates == day)
    assert len(hit) == 1, f"{stem}: no daily bar on {day}"
    return float(data["close"][hit[0]])


def bs_gamma(fwd, strike, years, vol):
    """Black-Scholes gamma on the forward, per coin (zero rates, as Deribit quotes)."""
    sq = vol * np.sqrt(years)
    d1 = (np.log(fwd / strike) + 0.5 * sq * sq) / sq
    return np.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) / (fwd * sq)


def chains(demo: DemoData, series_id: str):
    return sorted((s for s in demo.snapshots if s.series_id == series_id),
                  key=lambda s: s.time_ms)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return load_demo()


# -- identity and reproducibility ------------------------------------------------------------
def test_label_now_and_path():
    assert DEMO_LABEL == "Demo data (synthetic)"
    assert ms("2026-02-07") == DEMO_NOW_MS  # the end of 2026-02-06 UTC
    assert demo_path() == ROOT / "resources" / "demo"
    assert (demo_path() / "README.md").read_text().count("SYNTHETIC") >= 1


def test_regenerating_reproduces_the_bundled_files(tmp_path, demo):
    out = tmp_path / "demo"
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_demo.py"), "--out", str(out)],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)
    # Byte for byte, entry by entry (compression bytes may differ with the zlib build).
    with zipfile.ZipFile(out / "demo.npz") as new, \
            zipfile.ZipFile(demo_path() / "demo.npz") as old:
        assert new.namelist() == old.namelist()
        for name in old.namelist():
            assert new.read(name) == old.read(name), name
    assert gzip.decompress((out / "snapshots.json.gz").read_bytes()) == \
        gzip.decompress((demo_path() / "snapshots.json.gz").read_bytes())
    fresh = load_demo(out)
    assert fresh.series.keys() == demo.series.keys()
    assert len(fresh.snapshots) == len(demo.snapshots)


# -- completeness ----------------------------------------------------------------------------
def test_every_stored_catalog_series_has_data(demo):
    stored = {sid for sid, spec in CATALOG.items() if spec.kind in SERIES_KINDS}
    assert set(demo.series) == stored  # every one, and nothing the catalog does not know
    for sid in stored:
        data = demo.series[sid]
        assert len(data) > 0, sid
        assert set(data.names) == set(CATALOG[sid].columns), sid
        assert np.all(np.diff(data.time) > 0), sid
        assert data.last_ms < DEMO_NOW_MS, sid


def test_snapshots_exist_for_every_chain_and_venue(demo):
    ids = set(demo.snapshot_ids())
    wanted = {sid for sid, spec in CATALOG.items()
              if spec.kind in (OPTION_CHAIN, FUNDING_NOW, BASIS_CURVE)}
    assert ids == wanted
    for asset in CRYPTO:  # a week of daily chains, so skew history has points
        assert len(chains(demo, f"options.{asset}")) >= 5
    assert all(s.time_ms <= DEMO_NOW_MS for s in demo.snapshots)


def test_history_depths_and_steps(demo):
    for stem in CRYPTO:
        daily, hourly = demo.series[f"{stem}.1d"], demo.series[f"{stem}.1h"]
        assert daily.first_ms <= DEMO_NOW_MS - 5 * 365 * MS_PER_DAY
        assert set(np.diff(daily.time)) == {MS_PER_DAY}
        assert hourly.first_ms == DEMO_NOW_MS - 120 * MS_PER_DAY
        assert set(np.diff(hourly.time)) == {MS_PER_HOUR}
        assert hourly.last_ms == DEMO_NOW_MS - MS_PER_HOUR
        dvol = demo.series[f"dvol.{stem}"]
        assert dvol.first_ms <= DEMO_NOW_MS - 364 * MS_PER_DAY
        assert set(np.diff(dvol.time)) == {MS_PER_HOUR}
    for stem in EXCHANGE:
        assert demo.series[f"{stem}.1d"].first_ms < ms("2021-02-10")
        assert demo.series[f"{stem}.1h"].first_ms < ms("2025-10-12")
    for sid, spec in CATALOG.items():
        if spec.kind == FUNDING:
            data = demo.series[sid]
            assert data.first_ms <= DEMO_NOW_MS - 89 * MS_PER_DAY, sid
            assert set(np.diff(data.time)) == {spec.interval_ms}, sid
            assert set(data["interval_hours"]) == {spec.interval_ms / MS_PER_HOUR}, sid
        elif spec.kind == OPEN_INTEREST:
            data = demo.series[sid]
            assert data.first_ms <= DEMO_NOW_MS - 29 * MS_PER_DAY, sid
            assert set(np.diff(data.time)) == {MS_PER_HOUR}, sid


# -- the episode -----------------------------------------------------------------------------
def test_btc_falls_17_percent_to_60k_then_jumps_10_percent(demo):
    before, low, after = (close_on(demo, "btc", d)
                          for d in ("2026-02-01", "2026-02-05", "2026-02-06"))
    assert (low / before - 1) == pytest.approx(-0.17, abs=0.02)
    assert low == pytest.approx(60_000, abs=2_000)
    assert (after / low - 1) == pytest.approx(0.10, abs=0.015)
    assert after == pytest.approx(66_800, abs=1_000)
    hourly = demo.series["btc.1h"].between(ms("2026-02-05"), ms("2026-02-06") - 1)
    assert hourly["low"].min() == pytest.approx(60_000, abs=1_000)  # the intraday low
    # ETH follows with a higher beta, both ways.
    e_before, e_low, e_after = (close_on(demo, "eth", d)
                                for d in ("2026-02-01", "2026-02-05", "2026-02-06"))
    assert e_low / e_before < low / before
    assert e_after / e_low > after / low


def test_sp500_gains_047_percent_on_the_rebound_day(demo):
    move = close_on(demo, "spx", "2026-02-06") / close_on(demo, "spx", "2026-02-05") - 1
    assert move * 100 == pytest.approx(0.47, abs=0.05)


def test_funding_negative_across_venues_at_the_low(demo):
    for asset in CRYPTO:
        day, calm = [], []
        for venue in ("binance", "bybit", "okx", "deribit", "hyperliquid"):
            data = demo.series[f"funding.{venue}.{asset}"]
            assert np.allclose(data["apr_pct"],
                               annualize_funding(data["rate"], data["interval_hours"]),
                               rtol=1e-12, atol=0)
            day.append(data.between(ms("2026-02-05"), ms("2026-02-06") - 1)["apr_pct"].mean())
            calm.append(data.between(ms("2025-12-01"), ms("2026-01-10"))["apr_pct"].mean())
        assert np.mean(day) < 0, (asset, day)
        assert sum(v < 0 for v in day) >= 4, (asset, day)  # across venues, not one outlier
        assert np.mean(calm) > 0, (asset, calm)  # it is the sell-off that turns it


def test_open_interest_builds_into_the_drop_then_flushes(demo):
    for sid in ("oi.binance.btc", "oi.bybit.btc"):
        data = demo.series[sid]
        oi = data["open_interest"]
        peak = int(np.argmax(oi))
        assert ms("2026-02-03") <= data.time[peak] <= ms("2026-02-05", 23)
        assert oi[peak] > 1.05 * oi[0]  # built up over the month
        assert oi[-1] < 0.93 * oi[peak]  # flushed
        px = data["open_interest_usd"] / oi
        assert np.all((px > 50_000) & (px < 100_000))


def test_dvol_peaks_near_97_in_the_last_week(demo):
    dvol = demo.series["dvol.btc"]
    week = dvol.between(DEMO_NOW_MS - 7 * MS_PER_DAY)
    assert 92 <= week["high"].max() <= 102
    assert week["high"].max() == dvol["high"].max()  # the year's peak is the sell-off
    assert np.median(dvol["close"]) < 65


def test_btc_chain_puts_the_gamma_level_near_73k(demo):
    snap = chains(demo, "options.btc")[-1]
    assert snap.time_ms >= DEMO_NOW_MS - MS_PER_HOUR
    f = snap.frame
    calls, puts = f[f.option_type == "C"], f[f.option_type == "P"]
    assert 70_000 <= calls.groupby("strike").open_interest.sum().idxmax() <= 76_000
    assert 60_000 <= puts.groupby("strike").open_interest.sum().idxmax() <= 65_000
    years = (calls.expiry_ms - snap.time_ms) / (365 * MS_PER_DAY)
    gamma = bs_gamma(calls.underlying_price, calls.strike, years, calls.mark_iv / 100)
    wall = (gamma * calls.open_interest).groupby(calls.strike).sum().idxmax()
    assert 70_000 <= wall <= 76_000
    assert snap.meta["index_price"] == pytest.approx(close_on(demo, "btc", "2026-02-06"))


def test_chains_every_4_hours_over_4_to_6_feb_and_one_correction(demo):
    btc = chains(demo, "options.btc")
    times = sorted({s.time_ms for s in btc})
    recent = [t for t in times if t >= ms("2026-02-04")]
    assert recent == [ms("2026-02-04", 3) + k * 4 * MS_PER_HOUR - 60_000 + MS_PER_HOUR
                      for k in range(18)]  # 03:59, 07:59, … 23:59 each day
    assert len([t for t in times if t < ms("2026-02-04")]) == 4  # the daily ones before
    # the spot of each chain is the BTC close of its hour
    price = demo.series["btc.1h"]
    for snap in btc:
        bar = int(np.searchsorted(price.time, snap.time_ms, "right")) - 1
        assert snap.meta["index_price"] == pytest.approx(price["close"][bar], abs=0.01)
    # one chain was served again later: put open interest at 58k-62k halved, nothing else
    first, fixed = sorted((s for s in btc if s.time_ms == ms("2026-02-05", 19) + 59 * 60_000),
                          key=lambda s: s.recorded_ms)
    assert first.recorded_ms == first.time_ms and fixed.recorded_ms == ms("2026-02-05", 23)
    changed = first.frame.open_interest != fixed.frame.open_interest
    puts = first.frame[changed]
    assert set(puts.option_type) == {"P"} and puts.strike.between(58_000, 62_000).all()
    assert np.allclose(fixed.frame.open_interest[changed], puts.open_interest / 2, atol=0.051)
    pd.testing.assert_frame_equal(first.frame.drop(columns="open_interest"),
                                  fixed.frame.drop(columns="open_interest"))
    assert all(s.recorded_ms == s.time_ms for s in btc if s is not fixed)


def test_puts_carry_the_skew_steepest_at_the_low(demo):
    def skew(snap) -> float:
        f = snap.frame
        days = (f.expiry_ms - snap.time_ms) / MS_PER_DAY
        near = f[days == days[(days - 30).abs().idxmin()]]
        fwd = float(near.underlying_price.iloc[0])
        otm = near[((near.option_type == "P") & (near.strike < fwd))
                   | ((near.option_type == "C") & (near.strike > fwd))]
        iv = np.interp(np.log([0.9, 1.1]), np.log(otm.strike / fwd), otm.mark_iv)
        return float(iv[0] - iv[1])  # 90 % put minus 110 % call, vol points

    for asset in CRYPTO:
        history = chains(demo, f"options.{asset}")
        at_low = next(s for s in history if s.time_ms // MS_PER_DAY == ms("2026-02-05")
                      // MS_PER_DAY)
        assert all(skew(s) > 0 for s in history), asset
        assert skew(at_low) > skew(history[0]) + 2, asset


# -- contracts the analytics rely on ---------------------------------------------------------
def test_option_chain_frames_match_the_deribit_client(demo):
    for asset in CRYPTO:
        for snap in chains(demo, f"options.{asset}"):
            f = snap.frame
            assert list(f.columns) == CHAIN_COLUMNS
            assert isinstance(f.index, pd.RangeIndex)
            assert f.expiry_ms.dtype == np.int64
            for col in [*CHAIN_COLUMNS[4:], "strike"]:
                assert f[col].dtype == np.float64, col
            assert set(snap.meta) == {"index_price", "currency", "venue", "synthetic"}
            assert (snap.meta["currency"], snap.meta["venue"]) == (asset.upper(), "deribit")
            assert snap.meta["synthetic"] is True and snap.meta["index_price"] > 0
            for name, exp_ms, strike, kind in zip(f.instrument_name, f.expiry_ms, f.strike,
                                                  f.option_type, strict=True):
                m = INSTRUMENT_RE.match(name)
                assert m, name
                day = dt.datetime(2000 + int(m[4]), MONTHS.index(m[3]) + 1, int(m[2]), 8,
                                  tzinfo=dt.UTC)
                assert day.weekday() == 4, name  # Fridays, 08:00 UTC
                assert int(day.timestamp() * 1000) == exp_ms, name
                assert (m[1], float(m[5]), m[6]) == (asset.upper(), strike, kind), name
            assert (f.expiry_ms > snap.time_ms).all()
            assert 5 <= f.expiry_ms.nunique() <= 7
            per_expiry = f.groupby("expiry_ms").strike.nunique()
            assert per_expiry.min() >= 20
            pairs = f.groupby(["expiry_ms", "strike"]).option_type.apply(frozenset)
            assert set(pairs) == {frozenset("CP")}
            assert f.mark_iv.between(15, 300).all()
            assert (f.open_interest >= 0).all() and (f.underlying_price > 0).all()
            quoted = f.bid_price.notna()
            assert (f.bid_price[quoted] <= f.mark_price[quoted]).all()
            assert (f.mark_price <= f.ask_price).all()


def test_funding_now_frames(demo):
    for sid, spec in CATALOG.items():
        if spec.kind != FUNDING_NOW:
            continue
        for snap in chains(demo, sid):
            f = snap.frame
            assert list(f.columns) == FUNDING_NOW_COLUMNS and len(f) == 1, sid
            assert isinstance(f.index, pd.RangeIndex)
            assert snap.meta == {"venue": sid.split(".")[1], "symbol": spec.symbol,
                                 "synthetic": True}
            row = f.iloc[0]
            funding = CATALOG[sid.replace("fundingnow.", "funding.")]
            assert row.interval_hours == funding.interval_ms / MS_PER_HOUR
            assert row.apr_pct == pytest.approx(annualize_funding(row.rate, row.interval_hours))
            assert snap.time_ms < row.next_funding_ms <= snap.time_ms + funding.interval_ms
            assert row.open_interest_usd == pytest.approx(row.open_interest * row.mark_price,
                                                          rel=1e-6)
            assert row.index_price == pytest.approx(row.mark_price, rel=0.01)


def test_funding_now_every_hour_of_the_last_week_agrees_with_the_history(demo):
    """A table fetched at :59 of every hour of the last week (replay shows the one at or
    before its cursor): the last settlement then, the next one after it, the spot of that
    hour's close, and the open interest of the venue's history at that time."""
    week = [DEMO_NOW_MS - 60_000 - k * MS_PER_HOUR for k in range(7 * 24 - 1, -1, -1)]
    for asset in CRYPTO:
        price = demo.series[f"{asset}.1h"]
        for venue in ("binance", "bybit", "okx", "deribit", "hyperliquid"):
            snaps = chains(demo, f"fundingnow.{venue}.{asset}")
            assert [s.time_ms for s in snaps] == week
            assert all(s.recorded_ms == s.time_ms for s in snaps)  # as fetched live
            history = demo.series[f"funding.{venue}.{asset}"]
            oi = demo.series.get(f"oi.{venue}.{asset}")
            for snap in snaps:
                row = snap.frame.iloc[0]
                i = int(np.searchsorted(history.time, snap.time_ms, "right")) - 1
                assert row.rate == history["rate"][i], (venue, snap.time_ms)
                assert row.next_funding_ms == history.time[i] + row.interval_hours * MS_PER_HOUR
                bar = int(np.searchsorted(price.time, snap.time_ms, "right")) - 1
                assert row.index_price == pytest.approx(price["close"][bar], abs=0.01)
                if oi is not None:
                    j = int(np.searchsorted(oi.time, snap.time_ms, "right")) - 1
                    assert row.open_interest == oi["open_interest"][j]
            rates = np.array([s.frame["rate"].iloc[0] for s in snaps])
            at_low = week.index(ms("2026-02-05", 21) - 60_000)
            assert rates[at_low] < 0, (venue, asset)  # negative at the low, as the history


def test_funding_now_agrees_with_the_history_negative_at_the_low(demo):
    # The "now" table repeated +0.0100 % (10.95 % APR) at every 8h venue while the history
    # chart ended negative: each venue's current rate is its last settlement.
    for asset in CRYPTO:
        series, oi = {}, {}
        for venue in ("binance", "bybit", "okx", "deribit", "hyperliquid"):
            snap = chains(demo, f"fundingnow.{venue}.{asset}")[-1]  # the table at "now"
            row = snap.frame.iloc[0]
            history = demo.series[f"funding.{venue}.{asset}"]
            assert row.rate == history["rate"][-1], (venue, asset)
            assert row.interval_hours == history["interval_hours"][-1]
            assert row.apr_pct == pytest.approx(history["apr_pct"][-1], rel=1e-12)
            assert row.rate < 0 and row.apr_pct < 0, (venue, asset, row.apr_pct)
            # that settlement is the one just before "now"
            assert 0 < DEMO_NOW_MS - history.last_ms <= row.interval_hours * MS_PER_HOUR
            series[venue] = history
            if f"oi.{venue}.{asset}" in demo.series:  # Binance and Bybit keep OI history
                oi[venue] = demo.series[f"oi.{venue}.{asset}"]
                assert row.open_interest == oi[venue]["open_interest"][-1]
                assert row.open_interest_usd == pytest.approx(
                    oi[venue]["open_interest_usd"][-1], rel=0.01)
        avg, note = average_funding(series, oi)
        assert note.startswith("OI-weighted (Binance, Bybit); no OI: OKX, Deribit, Hyperliquid")
        # The average ends at 16:00, the 8h venues' last settlement (16:00-24:00 settles at
        # "now"), and it is negative there, as the table is.
        assert avg.last_ms == DEMO_NOW_MS - 9 * MS_PER_HOUR
        assert avg["apr_pct"][-1] < 0


# -- realism rules ---------------------------------------------------------------------------
@pytest.mark.parametrize("stem", EXCHANGE)
def test_exchange_bars_follow_the_nyse_calendar(demo, stem):
    hourly, daily = demo.series[f"{stem}.1h"], demo.series[f"{stem}.1d"]
    h_local, d_local = local_dates(hourly.time, NY), local_dates(daily.time, NY)
    for local in (h_local, d_local):
        assert (local.day_of_week < 5).all()
        days = set(local.strftime("%Y-%m-%d"))
        for holiday in ("2025-11-27", "2025-12-25", "2026-01-01", "2026-01-19"):
            assert holiday not in days
        # the holidays are inside the data: the sessions around them are there
        assert {"2025-12-24", "2025-12-26", "2026-01-16", "2026-01-20"} <= days
    assert not {"2021-04-02", "2022-06-20", "2024-03-29", "2025-01-09"} & set(
        d_local.strftime("%Y-%m-%d"))
    # regular hours, stamped at :30 (09:30 … 15:30), 12:30 the last on an early close
    assert (h_local.minute == 30).all() and h_local.hour.isin(range(9, 16)).all()
    per_day = pd.Series(h_local.hour, index=h_local.strftime("%Y-%m-%d")).groupby(level=0)
    assert per_day.max()["2025-12-24"] == 12
    assert per_day.size()["2026-02-05"] == 7
    # the daily stamp is Yahoo's: the 09:30 open for indices, midnight for futures and DXY
    stamp = (9, 30) if stem in OPEN_STAMPED else (0, 0)
    assert set(zip(d_local.hour, d_local.minute, strict=True)) == {stamp}


@pytest.mark.parametrize("stem", EMINI)
def test_emini_bars_keep_globex_hours_and_aggregate_into_their_trade_date(demo, stem):
    """ES/NQ 1h bars lie inside CME's sessions (exchange-calendars CMES, independent of the
    builder's hand-written hours), 23 a regular session; the 1d bar of a trade date (stamped at
    00:00 New York, like Yahoo's futures) aggregates the bars of the session ending that day."""
    from models.sessions import exchange_calendar

    hourly, daily = demo.series[f"{stem}.1h"], demo.series[f"{stem}.1d"]
    cal = exchange_calendar("CMES", "2025-09-01", "2026-02-10")
    sched = cal.schedule.loc["2025-10-01":"2026-02-06"]
    sched = sched[sched["open"] >= pd.Timestamp(int(hourly.time[0]), unit="ms", tz="UTC")]
    opens = sched["open"].dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype("int64")
    closes = sched["close"].dt.tz_convert(None).to_numpy().astype("datetime64[ms]").astype(
        "int64")
    t = hourly.time[hourly.time >= opens[0]]
    k = np.searchsorted(opens, t, "right") - 1
    assert (k >= 0).all() and (t + MS_PER_HOUR <= closes[k]).all()  # every bar inside a session
    by_session = np.bincount(k)
    session_days = sched.index.strftime("%Y-%m-%d")
    assert by_session[list(session_days).index("2026-02-05")] == 23
    assert by_session[list(session_days).index("2025-12-24")] == 19  # the 13:00 early close
    # trading through the night: bars between the cash close and the next cash open exist
    ny_hours = set(local_dates(t, NY).hour)
    assert {18, 20, 2, 5, 8} <= ny_hours and 17 not in ny_hours  # the 17:00-18:00 halt
    d_local = local_dates(daily.time, NY)
    assert set(zip(d_local.hour, d_local.minute, strict=True)) == {(0, 0)}
    d = daily.to_frame()
    d.index = d_local.strftime("%Y-%m-%d")
    h = hourly.to_frame().loc[hourly.time >= opens[0]]
    h.index = session_days[k]
    agg = h.groupby(level=0).agg({"open": "first", "high": "max", "low": "min",
                                  "close": "last", "volume": "sum"})
    d = d.loc[agg.index]
    assert len(agg) > 70
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(agg[col].to_numpy(), d[col].to_numpy()), col
    assert np.allclose(agg["volume"], d["volume"], rtol=1e-9)
    # the future trades a little above its cash index (carry), and moves with it
    cash = demo.series[{"es": "spx", "nq": "ndx"}[stem] + ".1d"]
    cash_close = pd.Series(cash["close"], index=local_dates(cash.time, NY).strftime("%Y-%m-%d"))
    ratio = (d["close"] / cash_close.reindex(d.index)).dropna()
    assert len(ratio) > 70 and ((ratio > 1.0) & (ratio < 1.01)).all()


@pytest.mark.parametrize("stem", CRYPTO + EXCHANGE)
def test_daily_bars_aggregate_the_hourly_ones(demo, stem):
    hourly, daily = demo.series[f"{stem}.1h"], demo.series[f"{stem}.1d"]
    tz = "UTC" if stem in CRYPTO else NY
    h = hourly.to_frame()
    h.index = local_dates(hourly.time, tz).strftime("%Y-%m-%d")
    agg = h.groupby(level=0).agg({"open": "first", "high": "max", "low": "min",
                                  "close": "last", "volume": "sum"})
    d = daily.to_frame()
    d.index = local_dates(daily.time, tz).strftime("%Y-%m-%d")
    d = d.loc[agg.index]  # every day with hourly bars has its daily bar
    assert len(agg) > 70
    for col in ("open", "high", "low", "close"):
        assert np.array_equal(agg[col].to_numpy(), d[col].to_numpy()), col
    if stem in CRYPTO + FUTURES:
        assert np.allclose(agg["volume"], d["volume"], rtol=1e-9)


def test_ohlc_consistent_and_volumes_as_yahoo_sends_them(demo):
    for sid, spec in CATALOG.items():
        if spec.kind not in (CANDLES, VOL_INDEX):
            continue
        data = demo.series[sid]
        o, h, lo, c = (data[k] for k in ("open", "high", "low", "close"))
        assert np.isfinite([o, h, lo, c]).all() and (lo > 0).all(), sid
        assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all(), sid
        if spec.kind != CANDLES:
            continue
        stem = sid.split(".")[0]
        if stem in (*CRYPTO, *FUTURES, "cmebtc"):
            assert (data["volume"] > 0).all(), sid
        else:
            assert np.isnan(data["volume"]).all(), sid


def test_five_years_of_daily_returns_look_like_markets(demo):
    def log_close(stem: str) -> pd.Series:
        data = demo.series[f"{stem}.1d"]
        days = local_dates(data.time, "UTC" if stem in CRYPTO else NY).strftime("%Y-%m-%d")
        return pd.Series(np.log(data["close"]), index=days)

    # align on the equity sessions, then difference: BTC's weekend sits in Monday's return
    px = pd.DataFrame({k: log_close(k) for k in ("btc", "spx", "gold")}).dropna()
    r = px.diff().dropna()
    vol = r.std() * math.sqrt(252)
    assert 0.35 < vol.btc < 0.9 and 0.1 < vol.spx < 0.25 and 0.1 < vol.gold < 0.3
    corr60 = r.btc.rolling(60).corr(r.spx).dropna()
    assert 0.2 <= corr60.median() <= 0.5
    assert corr60.quantile(0.1) < 0.2 < 0.45 < corr60.quantile(0.9)  # it changes through time
    corr20 = r.btc.rolling(20).corr(r.spx)
    assert corr20.iloc[-10:].min() < corr60.median() - 0.15  # and drops in the episode


def test_gold_and_silver_roll_over_after_a_hard_rally(demo):
    for stem, rally, drop in (("gold", 0.15, 0.08), ("silver", 0.4, 0.2)):
        data = demo.series[f"{stem}.1d"].between(ms("2025-10-01"))
        close = data["close"]
        top = int(np.argmax(close))
        assert ms("2026-01-20") <= data.time[top] <= ms("2026-01-31"), stem
        three_months = data.time >= data.time[top] - 90 * MS_PER_DAY
        assert close[top] / close[three_months][0] - 1 > rally, stem
        assert 1 - close[top:].min() / close[top] > drop, stem


# -- loading and the cache -------------------------------------------------------------------
def test_populate_cache_round_trip_and_idempotent(tmp_path, demo):
    cache = Cache(tmp_path / "demo.sqlite")
    try:
        rows = sum(len(d) for d in demo.series.values())
        events = sum(len(a["time"]) for a in demo.liquidations.values())
        assert populate_cache(cache, demo) == rows + len(demo.snapshots) + events
        for sid, data in demo.series.items():
            back = cache.read(sid)
            assert np.array_equal(back.time, data.time), sid
            for col in data.names:
                assert np.array_equal(back[col], data[col], equal_nan=True), (sid, col)
            meta = cache.get_meta(sid)
            assert meta["venue"] == "demo" and meta["synthetic"] is True, sid
        for sid in demo.snapshot_ids():
            mine = sorted(chains(demo, sid), key=lambda s: (s.time_ms, s.recorded_ms))
            assert list(cache.snapshot_times(sid)) == sorted({s.time_ms for s in mine})
            back = cache.latest_snapshot(sid)
            assert back.meta == dict(mine[-1].meta)
            pd.testing.assert_frame_equal(back.frame, mine[-1].frame, check_dtype=False)
            assert cache.get_meta(sid)["synthetic"] is True
            # recorded when the dataset says: the first, the newest and the correction
            for snap in {id(s): s for s in (mine[0], mine[-1], *(
                    s for s in mine if s.recorded_ms != s.time_ms))}.values():
                assert snap.recorded_ms in [r.recorded_ms for r in
                                            cache.snapshot_revisions(sid, snap.time_ms)]
        assert populate_cache(cache, demo) == 0  # a second run writes nothing
        assert len(cache.read("btc.1h")) == len(demo.series["btc.1h"])
        # a cache holding another build is replaced, not merged into
        cache.upsert("btc.1h", SeriesData.from_rows([0], open=[1], high=[1], low=[1],
                                                    close=[1], volume=[1]))
        cache.update_meta("btc.1h", demo_build="older")
        assert populate_cache(cache, demo) == len(demo.series["btc.1h"])
        assert cache.read("btc.1h").first_ms == demo.series["btc.1h"].first_ms
    finally:
        cache.close()


def test_liquidations_stored_through_the_raw_table(tmp_path, demo):
    cache = Cache(tmp_path / "demo.sqlite")
    try:
        populate_cache(cache, demo)
        for sid, arrays in demo.liquidations.items():
            assert len(cache.liquidation_events(sid)) == len(arrays["time"]), sid
            stored = cache.read(sid)
            assert stored["count"].sum() == len(arrays["time"]), sid
            usd = arrays["qty"] * arrays["price"]
            assert stored["long_usd"].sum() + stored["short_usd"].sum() == \
                pytest.approx(usd.sum()), sid
            assert cache.get_meta(sid)["synthetic"] is True
        assert populate_cache(cache, demo) == 0
    finally:
        cache.close()


def _hourly_side_usd(demo, stem: str, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Hour starts and the reported USD of one liquidated side summed over every venue,
    straight from the events."""
    sums: dict[int, float] = {}
    for sid, arrays in demo.liquidations.items():
        if not sid.endswith(f".{stem}"):
            continue
        pick = arrays["side"] == side
        hours = arrays["time"][pick] // MS_PER_HOUR * MS_PER_HOUR
        for h, usd in zip(hours.tolist(), (arrays["qty"] * arrays["price"])[pick].tolist(),
                          strict=True):
            sums[h] = sums.get(h, 0.0) + usd
    grid = np.arange(DEMO_NOW_MS - 32 * MS_PER_DAY, DEMO_NOW_MS, MS_PER_HOUR)
    return grid, np.array([sums.get(int(h), 0.0) for h in grid])


@pytest.mark.parametrize("stem", CRYPTO)
def test_short_liquidations_elevated_through_the_rebound_long_cascade_into_the_low(demo, stem):
    assert {sid.split(".")[1] for sid in demo.liquidations if sid.endswith(stem)} == \
        {"binance", "bybit", "okx", "deribit"}
    hours, short = _hourly_side_usd(demo, stem, 0)
    feb6 = (hours >= ms("2026-02-06")) & (hours < ms("2026-02-07"))
    before = (hours >= ms("2026-02-06") - 30 * MS_PER_DAY) & (hours < ms("2026-02-06"))
    assert before.sum() == 30 * 24
    median = np.median(short[before])
    assert median > 0 and np.all(short[feb6] >= 5 * median)  # every hour of the rebound
    _, long = _hourly_side_usd(demo, stem, 1)
    peak = hours[np.argmax(long)]
    assert ms("2026-02-05") + 14 * MS_PER_HOUR <= peak <= ms("2026-02-05") + 21 * MS_PER_HOUR
    quiet = (hours < ms("2026-01-31"))
    assert np.median(long[quiet]) * 20 < long.max()  # a quiet baseline, then the cascade


def test_start_up_skips_parsing_when_the_cache_holds_this_build(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "demo.sqlite")
    try:
        assert populate_cache(cache) > 0  # the bundled files, parsed once
        import services.demo as demo_module

        def must_not_parse(*_a, **_k):
            raise AssertionError("parsed the bundled files although the cache holds them")

        monkeypatch.setattr(demo_module, "load_demo", must_not_parse)
        assert populate_cache(cache) == 0
        cache.update_meta("demo.build", demo_build="an older build")
        with pytest.raises(AssertionError, match="parsed"):
            populate_cache(cache)
    finally:
        cache.close()


def test_load_never_unpickles(tmp_path):
    np.savez(tmp_path / "demo.npz", **{"btc.1h/time": np.arange(3),
                                       "btc.1h/close": np.array([object(), 1, 2])})
    shutil.copy(demo_path() / "snapshots.json.gz", tmp_path)
    with pytest.raises(ValueError, match="pickle"):
        load_demo(tmp_path)
    with pytest.raises(DemoDataError):
        load_demo(tmp_path / "missing")


# -- premium, basis, CME (models/basis.py) -----------------------------------------------------
def test_premium_is_negative_where_funding_is_and_follows_its_formula(demo):
    low = ms("2026-02-05", 21)
    for sid, spec in CATALOG.items():
        if spec.kind != PREMIUM:
            continue
        data = demo.series[sid]
        assert set(np.diff(data.time)) == {60_000}, sid  # a row a minute, as recorded
        assert data.last_ms == DEMO_NOW_MS - 60_000, sid
        by_hand = (data["mark"] - data["index"]) / data["index"] * 100
        np.testing.assert_allclose(data["premium_pct"], by_hand, atol=1e-6)
        funding = demo.series[sid.replace("premium.", "funding.")]
        rate = funding["rate"][np.searchsorted(funding.time, low, "right") - 1]
        i = np.searchsorted(data.time, low)
        assert rate < 0 and data["premium_pct"][i] < 0, sid  # a perp below its index


def test_basis_rows_are_the_front_quarterly_and_compress_into_the_low(demo):
    march = ms("2026-03-27", 8)
    for sid, spec in CATALOG.items():
        if spec.kind != BASIS:
            continue
        data = demo.series[sid]
        assert set(np.diff(data.time)) == {300_000}, sid
        np.testing.assert_allclose(data["days_to_expiry"], (march - data.time) / MS_PER_DAY)
        basis = (data["future_price"] - data["index_price"]) / data["index_price"] * 100
        np.testing.assert_allclose(data["basis_pct"], basis, atol=1e-6)
        np.testing.assert_allclose(data["apr_pct"], basis * 365 / data["days_to_expiry"],
                                   atol=1e-5)
        calm = data["apr_pct"][data.time < ms("2026-01-30")].mean()
        stressed = data["apr_pct"][(data.time >= ms("2026-02-05")) & (data.time < ms("2026-02-07"))]
        assert stressed.mean() < calm - 1.0, sid


def test_curve_snapshots_are_shaped_like_the_clients_and_cme_keeps_globex_hours(demo):
    curves = [s for s in demo.snapshots if s.series_id == "basiscurve.btc"]
    assert len(curves) == 7
    frame = curves[-1].frame
    assert list(frame.columns) == ["venue", "instrument", "expiry_ms", "future_price",
                                   "index_price", "time_ms"]
    assert set(frame["venue"]) == {"binance", "okx", "deribit"}
    assert "BTC-27MAR26" in set(frame["instrument"]) and "BTCUSDT_260327" in set(
        frame["instrument"])
    cme = demo.series["cmebtc.1h"]
    hours = local_dates(cme.time)
    assert not (hours.day_of_week == 5).any()  # closed on Saturdays
    assert not ((hours.day_of_week == 4) & (hours.hour >= 22)).any()
    assert not (hours.hour == 22).any()  # the daily halt (winter time in UTC)
