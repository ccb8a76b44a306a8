"""Realised vol (close-to-close, √365), the IV−RV spread alignment, and the DERIVED vol/GEX specs
through a tiny in-memory loader."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models import options as opt
from models import volatility as vol
from models.series import SeriesData, Snapshot

H = 3_600_000
DAY = 24 * H
T0 = 20_000 * DAY  # 2024-10-04 00:00 UTC


def alternating(n_days: int, r: float, *, hourly: bool = False) -> SeriesData:
    """Daily closes whose log returns alternate +r, −r (hourly bars: the same daily closes at
    23:00, with noise inside the day that daily RV must ignore)."""
    logp = np.log(100.0) + r * (np.arange(n_days) % 2)
    if not hourly:
        return SeriesData(T0 + np.arange(n_days) * DAY, {"close": np.exp(logp)})
    t = T0 + np.arange(n_days * 24) * H
    hour = np.arange(n_days * 24) % 24
    noise = np.where(hour == 23, 0.0, 0.05 * np.sin(np.arange(n_days * 24)))
    return SeriesData(t, {"close": np.exp(np.repeat(logp, 24) + noise)})


def test_realized_vol_of_alternating_returns_by_hand():
    r, window = 0.02, 30
    rv = vol.realized_vol(alternating(100, r), window, method=vol.RvMethod.DEMEANED)
    # an even window holds 15 × (+r) and 15 × (−r): mean 0, sample variance 30 r² / 29
    even = r * math.sqrt(window / (window - 1)) * math.sqrt(365) * 100
    assert rv["rv"] == pytest.approx(np.full(len(rv), even), rel=1e-9)
    # first value: the close of day 30, which ends the first 30 returns
    assert rv.time[0] == T0 + window * DAY and rv.time[-1] == T0 + 99 * DAY
    assert len(rv) == 100 - window
    # an odd window: mean ±r/W, sample variance r² (W + 1) / W
    rv7 = vol.realized_vol(alternating(50, r), 7, method="demeaned")
    odd = r * math.sqrt(8 / 7) * math.sqrt(365) * 100
    assert rv7["rv"] == pytest.approx(np.full(len(rv7), odd), rel=1e-9)
    # zero-mean (the default): every squared return is r², so σ = r √365 for any window
    for window in (7, 30):
        zero = vol.realized_vol(alternating(50, r), window)
        assert zero["rv"] == pytest.approx(np.full(len(zero), r * math.sqrt(365) * 100),
                                           rel=1e-9)


def test_zero_mean_and_demeaned_rv_of_a_trending_window_by_hand():
    # Closes 100, 103.05..., returns +0.03, −0.01, +0.03 (a drift of +1 %/day), window 3.
    returns = [0.03, -0.01, 0.03]
    closes = 100.0 * np.exp(np.cumsum([0.0, *returns]))
    data = SeriesData(T0 + np.arange(4) * DAY, {"close": closes})
    # zero-mean: Σr² = 0.0009 + 0.0001 + 0.0009 = 0.0019; σ = √(365/3 × 0.0019) × 100
    zero = vol.realized_vol(data, 3, method=vol.RvMethod.ZERO_MEAN)
    assert list(zero.time) == [T0 + 3 * DAY]
    assert zero["rv"][0] == pytest.approx(math.sqrt(365 / 3 * 0.0019) * 100, rel=1e-9)
    assert zero["rv"][0] == pytest.approx(48.08, abs=0.01)
    # demeaned: r̄ = 0.05/3; Σ(r − r̄)² = 2 × (0.04/3)² + (0.08/3)² = 0.0096/9;
    # σ = √(365/2 × 0.0096/9) × 100
    demeaned = vol.realized_vol(data, 3, method=vol.RvMethod.DEMEANED)
    assert demeaned["rv"][0] == pytest.approx(math.sqrt(365 / 2 * 0.0096 / 9) * 100, rel=1e-9)
    assert demeaned["rv"][0] == pytest.approx(44.12, abs=0.01)
    # the default is zero-mean, and each convention describes itself with its formula
    assert vol.DEFAULT_RV_METHOD is vol.RvMethod.ZERO_MEAN
    assert vol.realized_vol(data, 3)["rv"][0] == zero["rv"][0]
    assert "Σ r²" in vol.RvMethod.ZERO_MEAN.description
    assert "(n − 1)" in vol.RvMethod.DEMEANED.description
    assert "zero-mean" in specs()["ivrv.btc.30"].label


def test_hourly_bars_give_the_daily_close_to_close_number():
    daily = vol.realized_vol(alternating(60, 0.01), 30)
    hourly = vol.realized_vol(alternating(60, 0.01, hourly=True), 30)
    assert np.array_equal(daily.time, hourly.time)
    assert hourly["rv"] == pytest.approx(daily["rv"], rel=1e-9)


def test_realized_vol_gaps_short_series_and_bad_bars():
    data = alternating(40, 0.01)
    closes = data["close"].copy()
    closes[20] = np.nan  # one missing day: two unknown returns
    rv = vol.realized_vol(SeriesData(data.time, {"close": closes}), 10)
    assert len(rv) and np.isfinite(rv["rv"]).all()
    assert len(vol.realized_vol(alternating(30, 0.01), 30)) == 0  # 29 returns < 30
    assert len(vol.realized_vol(SeriesData.empty(["close"]), 7)) == 0
    weekly = SeriesData(T0 + np.arange(10) * 7 * DAY, {"close": np.full(10, 100.0)})
    with pytest.raises(ValueError, match="longer than a day"):
        vol.realized_vol(weekly, 3)


def test_iv_rv_spread_matches_by_the_instant_each_is_known():
    rv = SeriesData(T0 + np.arange(3) * DAY, {"rv": np.array([40.0, 42.0, 44.0])})
    # hourly DVOL whose close is its own hour number: the bar stamped 23:00 on day D is the last
    # one known at the close of D (00:00 D+1), the RV's own knowledge time and the row's stamp
    n = 5 * 24
    dvol = SeriesData(T0 + np.arange(n) * H, {"close": np.arange(n, dtype=float)})
    spread = vol.iv_rv_spread(dvol, rv)
    assert list(spread.names) == ["spread", "iv", "rv"]
    assert np.array_equal(spread.time, rv.time + DAY)
    assert list(spread["iv"]) == [23.0, 47.0, 71.0]
    assert list(spread["spread"]) == [23.0 - 40.0, 47.0 - 42.0, 71.0 - 44.0]
    # DVOL that stops at 22:00 on day 0 is known at 23:00: up to a day later it still serves
    # (day 0's RV takes it), but it is 25 h old when day 1's RV is known
    short = dvol.between(None, T0 + 22 * H)
    stale = vol.iv_rv_spread(short, rv)
    assert list(stale.time) == [T0 + DAY] and list(stale["iv"]) == [22.0]
    assert list(vol.iv_rv_spread(dvol.between(None, T0 + 23 * H), rv).time) == [T0 + DAY,
                                                                                T0 + 2 * DAY]
    # nothing known yet before the first DVOL bar
    late = dvol.between(T0 + 2 * DAY, None)
    assert list(vol.iv_rv_spread(late, rv).time) == [T0 + 3 * DAY]
    assert len(vol.iv_rv_spread(SeriesData.empty(["close"]), rv)) == 0


def test_iv_rv_spread_never_uses_dvol_from_after_its_stamp():
    # The old rows were stamped at the RV's bar (00:00 D) but held the DVOL known at 00:00 D+1:
    # on a shared axis the spread led DVOL by a day. Every row's DVOL must be the newest bar
    # known at or before the row's stamp (a bar stamped s is known at s + 1 h).
    n = 10 * 24
    dvol = SeriesData(T0 + np.arange(n) * H, {"close": 50.0 + np.arange(n) / 100.0})
    rv = SeriesData(T0 + np.arange(8) * DAY, {"rv": np.full(8, 40.0)})
    spread = vol.iv_rv_spread(dvol, rv)
    assert len(spread) == 8
    for stamp, iv in zip(spread.time, spread["iv"], strict=True):
        bar = round(float(iv - 50.0) * 100.0)  # the hour whose close this is
        bar_known = dvol.time[bar] + H
        assert bar_known <= stamp  # nothing from after the stamp
        assert bar_known == stamp  # and the newest that was known by then
        # the RV in that row is known by then too: its day closed at the stamp
        assert stamp - DAY in set(rv.time.tolist())


# -- DERIVED through an in-memory loader -----------------------------------------------------
class MemoryLoader:
    """The DataLoader protocol over dicts: what a derived compute may read, nothing more."""

    def __init__(self, series: dict[str, SeriesData], snapshots: dict[str, list[Snapshot]]):
        self.series = series
        self.snapshots = snapshots

    def read(self, series_id: str, start_ms: int | None = None,
             end_ms: int | None = None) -> SeriesData:
        return self.series.get(series_id, SeriesData.empty()).between(start_ms, end_ms)

    def latest_snapshot(self, series_id: str, at_ms: int | None = None) -> Snapshot | None:
        found = [s for s in self.snapshots.get(series_id, [])
                 if at_ms is None or s.time_ms <= at_ms]
        return max(found, key=lambda s: s.time_ms) if found else None


def skewed_chain(at: int, f: float) -> pd.DataFrame:
    """Two expiries (10 and 40 days) with calls and puts either side of the forward."""
    rows = []
    for days, atm in ((10, 60.0), (40, 50.0)):
        expiry = at + days * DAY
        for k, iv in ((0.7, atm + 14), (0.8, atm + 8), (0.9, atm + 3), (1.0, atm),
                      (1.1, atm + 1), (1.25, atm + 3), (1.5, atm + 6)):
            for kind in ("C", "P"):
                rows.append((f"BTC-X-{int(k * f)}-{kind}", float(expiry), k * f, kind, iv,
                             100.0 if kind == "C" else 150.0, f))
    return pd.DataFrame(rows, columns=["instrument_name", "expiry_ms", "strike", "option_type",
                                       "mark_iv", "open_interest", "underlying_price"])


@pytest.fixture
def loader() -> MemoryLoader:
    closes = alternating(200, 0.02)
    dvol = SeriesData(T0 + np.arange(200 * 24) * H, {"close": np.full(200 * 24, 55.0)})
    # Chains dated in 2024: valued at their own time (the wall clock would find them expired).
    snaps = [Snapshot("options.btc", T0 + i * DAY + 9 * H, skewed_chain(T0 + i * DAY, 60_000.0),
                      {"index_price": 60_000.0}) for i in range(3)]
    return MemoryLoader({"btc.1d": closes, "dvol.btc": dvol}, {"options.btc": snaps})


def specs() -> dict:
    from models.catalog import derived_specs

    return derived_specs()


def test_derived_declarations():
    found = specs()
    for asset in ("btc", "eth"):
        for window in (7, 30, 90):
            assert found[f"rv.{asset}.{window}"].inputs == (f"{asset}.1d",)
        assert found[f"ivrv.{asset}.30"].inputs == (f"dvol.{asset}", f"{asset}.1d")
        assert found[f"gex.{asset}"].inputs == (f"options.{asset}",)
        assert found[f"gex.{asset}"].unit == opt.GEX_UNIT
        assert found[f"skew.{asset}"].interval == "snapshot"
    from models.catalog import derived_specs
    assert {"rv.btc.30", "ivrv.btc.30", "gex.btc", "skew.btc", "skew30.btc"} <= set(
        derived_specs())


def test_rv_and_ivrv_compute_through_the_loader(loader):
    rv = specs()["rv.btc.30"].compute(loader)
    assert list(rv.columns) == ["rv"]
    assert str(rv.index.tz) == "UTC"
    assert rv["rv"].to_numpy() == pytest.approx(0.02 * math.sqrt(365) * 100)  # zero-mean
    ivrv = specs()["ivrv.btc.30"].compute(loader)
    assert list(ivrv.columns) == ["spread", "iv", "rv"]
    assert len(ivrv) == len(rv)
    assert ivrv["spread"].to_numpy() == pytest.approx(55.0 - rv["rv"].to_numpy())
    # no data: empty frames, not errors
    empty = MemoryLoader({}, {})
    assert specs()["rv.eth.7"].compute(empty).empty
    assert specs()["ivrv.eth.30"].compute(empty).empty


def test_gex_export_frame(loader):
    frame = specs()["gex.btc"].compute(loader)
    assert list(frame.columns) == ["strike", "call_gex", "put_gex", "net_gex"]
    newest = loader.latest_snapshot("options.btc")
    expected = opt.gex_by_strike(newest.frame, 60_000.0, newest.time_ms)
    pd.testing.assert_frame_equal(frame, expected)
    assert (frame["call_gex"] > 0).all() and (frame["put_gex"] < 0).all()
    assert frame["net_gex"].to_numpy() == pytest.approx(
        (frame["call_gex"] + frame["put_gex"]).to_numpy())
    empty = specs()["gex.btc"].compute(MemoryLoader({}, {}))
    assert list(empty.columns) == ["strike", "call_gex", "put_gex", "net_gex"] and empty.empty


def test_gex_spot_falls_back_to_the_forwards():
    snap = Snapshot("options.btc", T0, skewed_chain(T0, 60_000.0), {})
    loader = MemoryLoader({}, {"options.btc": [snap]})
    frame = specs()["gex.btc"].compute(loader)
    pd.testing.assert_frame_equal(frame, opt.gex_by_strike(snap.frame, 60_000.0, T0))


def test_skew_latest_and_history(loader):
    skew = specs()["skew.btc"].compute(loader)
    assert list(skew.columns) == ["expiry_ms", "days", "atm_iv", "rr25", "bf25"]
    assert len(skew) == 2
    assert (skew["rr25"] < 0).all()  # puts over calls in this chain
    history = specs()["skew30.btc"].compute(loader)
    assert list(history.columns) == ["atm_iv", "rr25", "bf25"]
    assert list(history.index.as_unit("ms").asi8) == [T0 + i * DAY + 9 * H for i in range(3)]
    # every chain has the same shape relative to its own time: the same 30-day point
    assert history["atm_iv"].to_numpy() == pytest.approx(np.full(3, history["atm_iv"].iloc[0]))
    assert 50.0 < history["atm_iv"].iloc[0] < 60.0


def test_latest_chain_series_pass_the_conventions_through(loader):
    newest = loader.latest_snapshot("options.btc")

    def compute(spec_id, **params):
        spec = specs()[spec_id]
        return replace(spec, params={**spec.params, **params}).compute(loader)

    short = compute("gex.btc", positioning="short_both")
    assert (short["call_gex"] < 0).all() and (short["put_gex"] < 0).all()
    pd.testing.assert_frame_equal(short, opt.gex_by_strike(
        newest.frame, 60_000.0, newest.time_ms, opt.DealerPositioning.SHORT_BOTH))
    pa = compute("skew.btc", delta="premium_adjusted")
    pd.testing.assert_frame_equal(pa, opt.risk_reversal_butterfly(
        newest.frame, newest.time_ms, opt.DeltaConvention.PREMIUM_ADJUSTED))
    forward = compute("skew.btc")
    assert not np.allclose(pa["rr25"], forward["rr25"])
    history = vol.skew_history(loader, "options.btc", delta_convention="premium_adjusted")
    assert history["atm_iv"].to_numpy() == pytest.approx(
        vol.skew_history(loader, "options.btc")["atm_iv"].to_numpy())  # ATM is ATM-forward
