"""Option analytics: greeks against an independent Black-Scholes and against Deribit's own greeks,
instrument names, GEX (unit, sign, zero-gamma, walls, valuation time), smile, 25Δ RR/BF."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from models import options as opt

DAY = 86_400_000
YEAR = 365 * DAY


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


# -- an independent Black-Scholes: spot-based, r = 0 (the forward is the spot), scipy's normal ----
def ref_greeks(s: float, k: float, t: float, sigma: float, call: bool) -> dict[str, float]:
    vt = sigma * math.sqrt(t)
    d1 = (math.log(s / k) + 0.5 * sigma * sigma * t) / vt
    d2 = d1 - vt
    price = (s * norm.cdf(d1) - k * norm.cdf(d2) if call
             else k * norm.cdf(-d2) - s * norm.cdf(-d1))
    return {"price": price,
            "delta": norm.cdf(d1) if call else norm.cdf(d1) - 1.0,
            "gamma": norm.pdf(d1) / (s * vt),
            "vega": s * norm.pdf(d1) * math.sqrt(t) / 100.0}  # per 1 vol point


GRID = [(k, sigma, days, call)
        for k in (50_000.0, 80_000.0, 100_000.0, 120_000.0, 160_000.0)
        for sigma in (0.15, 0.5, 1.2)
        for days in (0.5, 7.0, 30.0, 365.0)
        for call in (True, False)]


@pytest.mark.parametrize(("k", "sigma", "days", "call"), GRID)
def test_greeks_match_an_independent_black_scholes(k, sigma, days, call):
    s, t = 100_000.0, days / 365.0
    ref = ref_greeks(s, k, t, sigma, call)
    delta = float(opt.bs_delta(s, k, t, sigma, call))
    gamma = float(opt.bs_gamma(s, k, t, sigma))
    vega = float(opt.bs_vega(s, k, t, sigma))
    price = float(opt.bs_price(s, k, t, sigma, call))
    # 1e-6 relative; an absolute floor for values that underflow to ~0 deep in a wing (both
    # sides then agree to far better than any trader-visible digit).
    for got, want, floor in ((delta, ref["delta"], 1e-12), (gamma, ref["gamma"], 1e-18),
                             (vega, ref["vega"], 1e-10), (price, ref["price"], 1e-7)):
        assert got == pytest.approx(want, rel=1e-6, abs=floor)


def test_greeks_are_the_derivatives_of_the_price():
    # Central finite differences of the model's own price: a second, formula-free check.
    f, k, t, s = 95_000.0, 100_000.0, 45 / 365, 0.6
    h = f * 1e-4
    for call in (True, False):
        up, mid, dn = (float(opt.bs_price(x, k, t, s, call)) for x in (f + h, f, f - h))
        assert float(opt.bs_delta(f, k, t, s, call)) == pytest.approx((up - dn) / (2 * h),
                                                                       rel=1e-6)
        assert float(opt.bs_gamma(f, k, t, s)) == pytest.approx((up - 2 * mid + dn) / h ** 2,
                                                                 rel=1e-4)
        dv = 1e-5
        vega_fd = (float(opt.bs_price(f, k, t, s + dv, call))
                   - float(opt.bs_price(f, k, t, s - dv, call))) / (2 * dv) / 100
        assert float(opt.bs_vega(f, k, t, s)) == pytest.approx(vega_fd, rel=1e-6)


def test_greeks_vectorise_and_handle_expired_or_bad_inputs():
    k = np.array([90_000.0, 100_000.0, 110_000.0])
    delta = opt.bs_delta(100_000.0, k, 0.1, 0.5, np.array([True, False, True]))
    assert delta.shape == (3,)
    assert delta[1] < 0 < delta[0]
    # expired / zero vol: no gamma, no vega, intrinsic price; delta cannot be valued (NaN)
    assert float(opt.bs_gamma(100.0, 90.0, 0.0, 0.5)) == 0.0
    assert float(opt.bs_vega(100.0, 90.0, -0.1, 0.5)) == 0.0
    assert float(opt.bs_gamma(100.0, 90.0, 0.1, 0.0)) == 0.0
    assert float(opt.bs_price(100.0, 90.0, 0.0, 0.5, True)) == 10.0
    assert float(opt.bs_price(100.0, 90.0, 0.0, 0.5, False)) == 0.0
    assert np.isnan(opt.bs_delta(100.0, 90.0, 0.0, 0.5, True))


# -- Deribit's own greeks ------------------------------------------------------------------------
# No recorded payload in ../shared/fixtures/deribit carries option greeks. These two are real
# Deribit answers quoted inline in crypto-crawler-rs (crypto-msg-parser/tests/deribit.rs, 2022): a
# `ticker` WS message for a BTC call and a REST `public/get_order_book` result (the same fields as
# `public/ticker`) for an ETH put; only the fields used here are kept.
DERIBIT_TICKERS = [
    {"instrument_name": "BTC-30SEP22-60000-C", "timestamp": 1654161839367,
     "underlying_price": 30220.5, "underlying_index": "BTC-30SEP22", "index_price": 29939.43,
     "interest_rate": 0.0, "mark_iv": 67.7, "mark_price": 0.0084,
     "greeks": {"vega": 20.05335, "theta": -5.65962, "rho": 4.91491, "gamma": 0.00001,
                "delta": 0.05785}},
    {"instrument_name": "ETH-24JUN22-1600-P", "timestamp": 1654247489923,
     "underlying_price": 1806.5, "underlying_index": "ETH-24JUN22", "index_price": 1804.41,
     "interest_rate": 0.0, "mark_iv": 86.54, "mark_price": 0.0336,
     "greeks": {"vega": 1.36169, "theta": -2.81237, "rho": -0.28927, "gamma": 0.00084,
                "delta": -0.24537}},
]


@pytest.mark.parametrize("ticker", DERIBIT_TICKERS, ids=lambda t: t["instrument_name"])
def test_greeks_reproduce_deribit_ticker_greeks(ticker):
    oid = opt.parse_instrument(ticker["instrument_name"])
    f = ticker["underlying_price"]  # Deribit's greeks are on the expiry's forward, r = 0
    t = float(opt.year_fraction(oid.expiry_ms, ticker["timestamp"]))  # ACT/365 to 08:00 UTC
    sigma = ticker["mark_iv"] / 100.0
    greeks = ticker["greeks"]
    ours = {"delta": float(opt.bs_delta(f, oid.strike, t, sigma, oid.is_call)),
            "gamma": float(opt.bs_gamma(f, oid.strike, t, sigma)),
            "vega": float(opt.bs_vega(f, oid.strike, t, sigma))}
    # Tolerance, per greek: Deribit prints greeks to 5 decimals (±5e-6) and mark_iv to 2 decimals
    # (±0.005 vol pt), so the greek can differ by its own sensitivity to 0.005 vol pt (measured
    # here by a finite difference) plus the print rounding; 1.5× for the underlying's rounding and
    # Deribit computing a few ms away from `timestamp`. Vega is per 1 vol point in USD (20.05 for
    # the BTC call, not 2005), delta is N(d1) unadjusted for the coin premium.
    bump = 0.00005
    for name, fn in (("delta", lambda s: opt.bs_delta(f, oid.strike, t, s, oid.is_call)),
                     ("gamma", lambda s: opt.bs_gamma(f, oid.strike, t, s)),
                     ("vega", lambda s: opt.bs_vega(f, oid.strike, t, s))):
        sensitivity = abs(float(fn(sigma + bump)) - float(fn(sigma - bump))) / 2
        tol = 1.5 * (sensitivity + 5e-6)
        assert abs(ours[name] - greeks[name]) <= tol, (name, ours[name], greeks[name], tol)
    # and the mark price (coin) is the undiscounted Black price over the forward, to its tick
    price_coin = float(opt.bs_price(f, oid.strike, t, sigma, oid.is_call)) / f
    assert price_coin == pytest.approx(ticker["mark_price"], abs=5e-5)


# -- instrument names ----------------------------------------------------------------------------
def test_parse_instrument_name():
    oid = opt.parse_instrument("BTC-27MAR26-70000-C")
    assert oid == opt.OptionId("BTC", ms(2026, 3, 27, 8), 70000.0, "C")
    assert oid.is_call
    five = opt.parse_instrument("BTC-5JUN26-95000-P")
    assert five.expiry_ms == ms(2026, 6, 5, 8)
    assert five.kind == "P" and not five.is_call and five.strike == 95000.0
    assert opt.parse_instrument("ETH-24JUN22-1600-P").currency == "ETH"


@pytest.mark.parametrize("name", [
    "BTC-27MAR26-70000", "BTC-27MAR26-70000-X", "BTC-27XYZ26-70000-C", "BTC-32MAR26-70000-C",
    "BTC-0MAR26-70000-C", "BTC-30FEB26-70000-C", "BTC-27MAR26-0-C", "BTC-PERPETUAL",
    "BTC-27MAR26", "BTC_USDC-27MAR26-0d5-C", "btc-27MAR26-70000-C", "BTC-127MAR26-70000-C", "",
    None, 12345])
def test_parse_instrument_rejects_malformed_names(name):
    with pytest.raises(ValueError):
        opt.parse_instrument(name)


def test_year_fraction_is_act_365():
    assert opt.year_fraction(ms(2026, 3, 27, 8), ms(2025, 3, 27, 8)) == pytest.approx(1.0)
    arr = opt.year_fraction(np.array([10 * DAY, 0.0]), 0)
    assert arr == pytest.approx([10 / 365, 0.0])


# -- GEX -----------------------------------------------------------------------------------------
AT = ms(2026, 1, 1, 8)
EXP = AT + 30 * DAY  # 30 days to expiry at AT


def chain(rows: list[tuple]) -> pd.DataFrame:
    """(expiry_ms, strike, 'C'|'P', mark_iv %, open_interest, underlying_price) rows."""
    cols = ["expiry_ms", "strike", "option_type", "mark_iv", "open_interest", "underlying_price"]
    return pd.DataFrame(rows, columns=cols)


def hand_gamma(f: float, k: float, t: float, sigma: float) -> float:
    vt = sigma * math.sqrt(t)
    d1 = (math.log(f / k) + vt * vt / 2) / vt
    return math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi) / (f * vt)


def test_gex_of_a_one_option_book_by_hand():
    # The code's formula and unit: GEX = sign × OI × Γ × F² × 0.01, "USD per 1% move".
    assert opt.GEX_UNIT == "USD per 1% move"
    f, k, oi, iv = 100_000.0, 105_000.0, 250.0, 50.0
    book = chain([(EXP, k, "C", iv, oi, f)])
    gex = opt.gex_by_strike(book, f, AT)
    assert list(gex.columns) == ["strike", "call_gex", "put_gex", "net_gex"]
    gamma = hand_gamma(f, k, 30 / 365, 0.5)
    # dealer delta change (coins) for a 1 % move is OI × Γ × (0.01 F); × F in USD
    expected = oi * gamma * (0.01 * f) * f
    # unit check without Γ: the actual change of the book's delta over a ±0.5 % move, in USD
    moved = (opt.bs_delta(f * 1.005, k, 30 / 365, 0.5, True)
             - opt.bs_delta(f * 0.995, k, 30 / 365, 0.5, True))
    assert float(oi * moved * f) == pytest.approx(expected, rel=1e-3)
    assert gex["call_gex"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert gex["put_gex"].iloc[0] == 0.0
    assert gex["net_gex"].iloc[0] == pytest.approx(expected, rel=1e-9)
    # the same for a put: negative under the default convention, positive once flipped
    put_book = chain([(EXP, k, "P", iv, oi, f)])
    put = opt.gex_by_strike(put_book, f, AT)
    assert put["put_gex"].iloc[0] == pytest.approx(-expected, rel=1e-9)
    flipped = opt.DealerConvention(flipped=True)
    assert opt.gex_by_strike(put_book, f, AT, flipped)["put_gex"].iloc[0] == pytest.approx(
        expected, rel=1e-9)
    assert opt.gex_by_strike(book, f, AT, flipped)["call_gex"].iloc[0] == pytest.approx(
        -expected, rel=1e-9)
    assert opt.DEFAULT_DEALER.call_sign == 1.0 and opt.DEFAULT_DEALER.put_sign == -1.0
    assert "long calls" in opt.DEFAULT_DEALER.label and "short calls" in flipped.label


def test_gex_sums_expiries_at_a_strike_and_drops_unvaluable_rows():
    f = 100_000.0
    rows = [(EXP, 100_000.0, "C", 50.0, 10.0, f), (EXP + 60 * DAY, 100_000.0, "C", 50.0, 10.0, f),
            (AT - DAY, 90_000.0, "P", 50.0, 999.0, f),  # expired
            (EXP, 95_000.0, "P", np.nan, 999.0, f),  # no IV
            (EXP, 97_000.0, "P", 0.0, 999.0, f),  # zero IV
            (EXP, 99_000.0, "P", 50.0, np.nan, f)]  # OI unknown
    gex = opt.gex_by_strike(chain(rows), f, AT)
    assert list(gex["strike"]) == [100_000.0]
    expected = 10 * f * f * 0.01 * (hand_gamma(f, f, 30 / 365, 0.5)
                                     + hand_gamma(f, f, 90 / 365, 0.5))
    assert gex["call_gex"].iloc[0] == pytest.approx(expected, rel=1e-9)
    empty = opt.gex_by_strike(chain([]), f, AT)
    assert list(empty.columns) == ["strike", "call_gex", "put_gex", "net_gex"] and not len(empty)


def test_gex_is_valued_at_the_snapshot_time_not_the_wall_clock():
    f, k = 100_000.0, 100_000.0
    book = chain([(EXP, k, "C", 60.0, 100.0, f)])
    early = opt.gex_by_strike(book, f, AT)["call_gex"].iloc[0]  # 30 days left
    late_at = EXP - int(7.5 * DAY)  # 7.5 days left
    late = opt.gex_by_strike(book, f, late_at)["call_gex"].iloc[0]
    assert early == pytest.approx(100 * f * f * 0.01 * hand_gamma(f, k, 30 / 365, 0.6), rel=1e-9)
    assert late == pytest.approx(100 * f * f * 0.01 * hand_gamma(f, k, 7.5 / 365, 0.6), rel=1e-9)
    assert late > early  # ATM gamma grows into expiry
    # once the snapshot is past the expiry the option is left out
    assert not len(opt.gex_by_strike(book, f, EXP + 1))


def test_zero_gamma_level_of_a_two_strike_book():
    # A put at K1 and a call at K2, same expiry, IV and OI: net GEX ∝ φ(d1(S,K2)) − φ(d1(S,K1))
    # (the S² and σ√T factors are common), zero where d1(S,K1) = −d1(S,K2):
    # S* = √(K1 K2) · exp(−σ²T/2).
    k1, k2, iv, t = 90_000.0, 110_000.0, 50.0, 30 / 365
    spot = 100_000.0
    book = chain([(EXP, k1, "P", iv, 500.0, spot), (EXP, k2, "C", iv, 500.0, spot)])
    expected = math.sqrt(k1 * k2) * math.exp(-0.25 * t / 2)
    level = opt.zero_gamma_level(book, spot, AT)
    assert level == pytest.approx(expected, rel=1e-9)
    profile = opt.gex_profile(book, np.array([k1, level, k2]), AT)
    assert profile[0] < 0 < profile[2]
    assert abs(profile[1]) < 1e-6 * max(abs(profile[0]), abs(profile[2]))
    # flipping the convention flips the profile, not the level
    flipped = opt.DealerConvention(flipped=True)
    assert opt.gex_profile(book, np.array([k1, k2]), AT, flipped) == pytest.approx(
        -opt.gex_profile(book, np.array([k1, k2]), AT))
    assert opt.zero_gamma_level(book, spot, AT, flipped) == pytest.approx(expected, rel=1e-9)
    # a one-sided book never crosses zero
    calls_only = chain([(EXP, k2, "C", iv, 500.0, spot)])
    assert opt.zero_gamma_level(calls_only, spot, AT) is None
    assert opt.zero_gamma_level(chain([]), spot, AT) is None


def scipy_gamma(f: float, k: float, t: float, sigma: float) -> float:
    """Black-76 gamma d²V/dF² with scipy's normal: φ(d1) / (F σ √T)."""
    vt = sigma * math.sqrt(t)
    return norm.pdf((math.log(f / k) + vt * vt / 2) / vt) / (f * vt)


# Two expiries whose forwards differ from each other and from the index (contango).
INDEX = 100_000.0
F_FRONT, F_BACK = 100_500.0, 102_000.0
T_FRONT, T_BACK = 30 / 365, 90 / 365
BASIS_BOOK = [(EXP, 95_000.0, "P", 55.0, 300.0, F_FRONT),
              (EXP + 60 * DAY, 110_000.0, "C", 50.0, 200.0, F_BACK)]


def basis_gex_by_hand(s: float) -> tuple[float, float]:
    """(put GEX, call GEX) with each expiry on its own forward moved with the index to s."""
    f1, f2 = F_FRONT * s / INDEX, F_BACK * s / INDEX
    put = -300 * scipy_gamma(f1, 95_000.0, T_FRONT, 0.55) * f1 ** 2 * 0.01
    call = 200 * scipy_gamma(f2, 110_000.0, T_BACK, 0.50) * f2 ** 2 * 0.01
    return put, call


def test_each_expiry_is_valued_on_its_own_forward():
    # The old code scaled by the FRONT forward (F_i × S / F_front): at S = index the front sat on
    # the index (100000, not 100500) and the back on 101492.5 (not 102000), so both legs missed.
    book = chain(BASIS_BOOK)
    gex = opt.gex_by_strike(book, INDEX, AT)
    put, call = basis_gex_by_hand(INDEX)
    assert gex["put_gex"].iloc[0] == pytest.approx(put, rel=1e-9)
    assert gex["call_gex"].iloc[-1] == pytest.approx(call, rel=1e-9)
    # at a hypothetical underlying S' every expiry moves by S' / index; `index` says where from
    moved = opt.gex_by_strike(book, 93_000.0, AT, index=INDEX)
    put, call = basis_gex_by_hand(93_000.0)
    assert moved["put_gex"].iloc[0] == pytest.approx(put, rel=1e-9)
    assert moved["call_gex"].iloc[-1] == pytest.approx(call, rel=1e-9)
    # the profile is the same sum at each spot
    spots = np.array([90_000.0, INDEX, 108_000.0])
    assert opt.gex_profile(book, spots, AT, index=INDEX) == pytest.approx(
        [sum(basis_gex_by_hand(x)) for x in spots], rel=1e-9)


def test_the_gamma_flip_uses_each_expirys_own_forward():
    # A put on the front and a call on the back: the flip S* solves put(S*) + call(S*) = 0 with
    # each expiry on F_i × S*/index; a root-find on the hand formula (scipy's brentq, here near
    # 115.7k) is the independent route.
    from scipy.optimize import brentq

    book = chain(BASIS_BOOK)
    want = brentq(lambda x: sum(basis_gex_by_hand(x)), 105_000.0, 125_000.0, xtol=1e-6)
    assert opt.zero_gamma_level(book, INDEX, AT) == pytest.approx(want, rel=1e-9)
    # the front-forward scaling puts it elsewhere by more than a dollar
    front_scaled = brentq(lambda x: sum(basis_gex_by_hand(x * INDEX / F_FRONT)), 105_000.0,
                          125_000.0, xtol=1e-6)
    assert abs(front_scaled - want) > 100.0


def test_call_and_put_walls():
    spot = 100_000.0
    book = chain([(EXP, 90_000.0, "P", 50.0, 100.0, spot), (EXP, 95_000.0, "P", 50.0, 900.0, spot),
                  (EXP, 105_000.0, "C", 50.0, 800.0, spot),
                  (EXP, 120_000.0, "C", 50.0, 1000.0, spot)])  # more OI, far less gamma
    gex = opt.gex_by_strike(book, spot, AT)
    assert opt.call_wall(gex) == 105_000.0
    assert opt.put_wall(gex) == 95_000.0
    flipped = opt.gex_by_strike(book, spot, AT, opt.DealerConvention(flipped=True))
    assert opt.call_wall(flipped) == 105_000.0 and opt.put_wall(flipped) == 95_000.0
    assert opt.call_wall(gex.iloc[:0]) is None
    no_calls = opt.gex_by_strike(book[book["option_type"] == "P"], spot, AT)
    assert opt.call_wall(no_calls) is None


# -- the surface ---------------------------------------------------------------------------------
def strike_for_delta(f: float, delta: float, t: float, sigma: float) -> float:
    """The strike whose forward delta is `delta` (call if > 0, put if < 0) at vol `sigma`."""
    n1 = norm.ppf(delta if delta > 0 else 1.0 + delta)
    return f * math.exp(-n1 * sigma * math.sqrt(t) + sigma * sigma * t / 2)


def synthetic_expiry(expiry: int, f: float, atm: float, call_slope: float,
                     put_slope: float) -> list[tuple]:
    """IV linear in delta on each wing: call IV = atm + call_slope × (0.5 − Δ); put IV = atm +
    put_slope × (0.5 + Δ), strikes solved so each option has exactly that delta at its IV."""
    t = (expiry - AT) / YEAR
    rows = [(expiry, f, "C", atm, 1.0, f), (expiry, f, "P", atm, 1.0, f)]
    for d in (0.1, 0.2, 0.3, 0.4):
        iv = atm + call_slope * (0.5 - d)
        rows.append((expiry, strike_for_delta(f, d, t, iv / 100), "C", iv, 1.0, f))
        iv = atm + put_slope * (0.5 - d)
        rows.append((expiry, strike_for_delta(f, -d, t, iv / 100), "P", iv, 1.0, f))
    return rows


def test_risk_reversal_and_butterfly_of_a_known_smile():
    f = 100_000.0
    atm, call_slope, put_slope = 50.0, 4.0, 20.0
    rows = synthetic_expiry(EXP, f, atm, call_slope, put_slope)
    table = opt.risk_reversal_butterfly(chain(rows), AT)
    assert list(table.columns) == ["expiry_ms", "days", "atm_iv", "rr25", "bf25"]
    c25, p25 = atm + call_slope * 0.25, atm + put_slope * 0.25  # 51 and 55
    row = table.iloc[0]
    assert row["expiry_ms"] == EXP and row["days"] == pytest.approx(30.0)
    assert row["atm_iv"] == pytest.approx(atm)
    assert row["rr25"] == pytest.approx(c25 - p25, abs=1e-9)  # −4: puts over calls
    assert row["bf25"] == pytest.approx((c25 + p25) / 2 - atm, abs=1e-9)  # +3
    smile = opt.smile(chain(rows), EXP, AT)
    assert list(smile.columns) == ["strike", "log_moneyness", "delta", "mark_iv", "option_type"]
    assert np.all(np.diff(smile["strike"].to_numpy()) >= 0)
    calls = smile[smile["option_type"] == "C"]
    wing = calls[calls["strike"] > f]
    assert sorted(np.round(wing["delta"], 9)) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert opt.smile(chain(rows), EXP + DAY, AT).empty


def test_rr_bf_need_both_wings_to_span_25_delta():
    f = 100_000.0
    rows = [r for r in synthetic_expiry(EXP, f, 50.0, 4.0, 20.0)
            if not (r[2] == "P" and r[1] < strike_for_delta(f, -0.3, 30 / 365, 0.5))]
    assert opt.risk_reversal_butterfly(chain(rows), AT).empty


def test_atm_term_structure_and_constant_maturity():
    f = 100_000.0
    e1, e2 = AT + 10 * DAY, AT + 40 * DAY
    rows = (synthetic_expiry(e1, f, 60.0, 4.0, 20.0)
            + synthetic_expiry(e2, 101_000.0, 50.0, 2.0, 10.0))
    term = opt.atm_term_structure(chain(rows), f, AT)
    assert list(term["expiry_ms"]) == [e1, e2]
    assert term["days"].to_list() == pytest.approx([10.0, 40.0])
    assert term["atm_iv"].to_list() == pytest.approx([60.0, 50.0])
    skew = opt.risk_reversal_butterfly(chain(rows), AT)
    cm = opt.constant_maturity(skew, 30.0)
    # total variance σ²T linear in T between (10 d, 60²) and (40 d, 50²)
    var = 60.0 ** 2 * 10 + (50.0 ** 2 * 40 - 60.0 ** 2 * 10) * (20 / 30)
    assert cm["atm_iv"] == pytest.approx(math.sqrt(var / 30))
    rr1, rr2 = 4 * 0.25 - 20 * 0.25, 2 * 0.25 - 10 * 0.25
    assert cm["rr25"] == pytest.approx(rr1 + (rr2 - rr1) * 20 / 30)
    assert opt.constant_maturity(skew, 5.0) is None  # no extrapolation
    assert opt.constant_maturity(skew, 45.0) is None
    assert opt.constant_maturity(skew.iloc[:0], 30.0) is None


def wing_limited_chain() -> pd.DataFrame:
    """10 d (ATM 60), 20 d (ATM 56, put wing stops at 30Δ) and 40 d (ATM 50), forward 100000."""
    f = 100_000.0
    wing_limited = [r for r in synthetic_expiry(AT + 20 * DAY, f, 56.0, 4.0, 20.0)
                    if not (r[2] == "P" and r[1] < strike_for_delta(f, -0.3, 20 / 365, 0.56))]
    return chain(synthetic_expiry(AT + 10 * DAY, f, 60.0, 4.0, 20.0) + wing_limited
                 + synthetic_expiry(AT + 40 * DAY, f, 50.0, 2.0, 10.0))


def test_constant_maturity_atm_uses_every_expiry_with_an_atm_iv():
    # 10 d (ATM 60), 20 d (ATM 56, put wing stops short of 25Δ) and 40 d (ATM 50). The 20-day
    # expiry has an ATM IV but no RR/BF: the 30-day ATM brackets with 20 d and 40 d. By hand,
    # total variance w = σ²T (vol pts² × days): w20 = 56² × 20 = 62720, w40 = 50² × 40 = 100000,
    # w30 = 62720 + (100000 − 62720) × 10/20 = 81360, σ30 = √(81360 / 30) = √2712 = 52.0769...
    # The old code bracketed with 10 d and 40 d: √((36000 + 64000 × 20/30) / 30) = 51.2076...
    f = 100_000.0
    e1, e2, e3 = AT + 10 * DAY, AT + 20 * DAY, AT + 40 * DAY
    book = wing_limited_chain()
    term = opt.atm_term_structure(book, f, AT)
    skew = opt.risk_reversal_butterfly(book, AT)
    assert list(term["expiry_ms"]) == [e1, e2, e3]
    assert list(skew["expiry_ms"]) == [e1, e3]  # the 20-day wing is not quoted
    cm = opt.constant_maturity(skew, 30.0, term)
    assert cm["atm_iv"] == pytest.approx(math.sqrt(2712.0), rel=1e-9)
    assert math.sqrt(2712.0) == pytest.approx(52.0769, abs=1e-4)
    # RR/BF come from the wing-quoted expiries only: 10 d and 40 d, linear in days
    rr1, rr3 = 4 * 0.25 - 20 * 0.25, 2 * 0.25 - 10 * 0.25  # −4 and −2
    assert cm["rr25"] == pytest.approx(rr1 + (rr3 - rr1) * 20 / 30, abs=1e-9)
    # at 15 d the ATM brackets (10 d, 20 d): w = 36000 + (62720 − 36000) × 5/10 = 49360
    assert opt.constant_maturity(skew, 15.0, term)["atm_iv"] == pytest.approx(
        math.sqrt(49360 / 15), rel=1e-9)
    # ATM bracketed but the wing-quoted expiries are not: RR and BF unknown, ATM still given
    only_front_wings = opt.constant_maturity(skew.iloc[:1], 30.0, term)
    assert only_front_wings["atm_iv"] == pytest.approx(math.sqrt(2712.0), rel=1e-9)
    assert math.isnan(only_front_wings["rr25"]) and math.isnan(only_front_wings["bf25"])
    assert opt.constant_maturity(skew, 45.0, term) is None  # no extrapolation


def test_skew_history_30d_atm_includes_wing_limited_expiries():
    # The same chain through the derived series: 52.0769 (20 d and 40 d), not 51.2076 (10 d and
    # 40 d, the old result when the 20-day expiry was dropped for its missing 25Δ put).
    from models.series import Snapshot
    from models.volatility import skew_history

    class OneChain:
        def latest_snapshot(self, series_id, at_ms=None):
            if at_ms is not None and at_ms < AT:
                return None
            return Snapshot("options.btc", AT, wing_limited_chain(), {"index_price": 100_000.0})

    history = skew_history(OneChain(), "options.btc")
    assert history["atm_iv"].to_list() == pytest.approx([math.sqrt(2712.0)], rel=1e-9)


@pytest.mark.parametrize(("positioning", "call_sign", "put_sign"), [
    (opt.DealerPositioning.LONG_CALLS_SHORT_PUTS, 1.0, -1.0),
    (opt.DealerPositioning.SHORT_BOTH, -1.0, -1.0),
    (opt.DealerPositioning.LONG_BOTH, 1.0, 1.0)])
def test_dealer_positioning_signs_each_leg(positioning, call_sign, put_sign):
    # A put at 90k and a call at 110k (same expiry, IV, OI) plus a smaller call at 120k; the
    # size of each leg by hand, the sign from the positioning. The old toggle could only negate
    # both legs: it had no "short both" or "long both".
    spot, iv, t = 100_000.0, 50.0, 30 / 365
    book = chain([(EXP, 90_000.0, "P", iv, 500.0, spot), (EXP, 110_000.0, "C", iv, 500.0, spot),
                  (EXP, 120_000.0, "C", iv, 100.0, spot)])

    def size(k: float, oi: float, s: float = spot) -> float:
        return oi * scipy_gamma(s, k, t, 0.5) * s * s * 0.01

    assert (positioning.call_sign, positioning.put_sign) == (call_sign, put_sign)
    gex = opt.gex_by_strike(book, spot, AT, positioning)
    assert gex["put_gex"].to_list() == pytest.approx([put_sign * size(90_000.0, 500.0), 0, 0])
    assert gex["call_gex"].to_list() == pytest.approx(
        [0, call_sign * size(110_000.0, 500.0), call_sign * size(120_000.0, 100.0)])
    # the plain string value works too (what a settings file stores)
    pd.testing.assert_frame_equal(opt.gex_by_strike(book, spot, AT, str(positioning.value)), gex)
    # profile: the same signed sum at each spot
    spots = np.array([85_000.0, spot, 115_000.0])
    want = [put_sign * size(90_000.0, 500.0, s) + call_sign * (size(110_000.0, 500.0, s)
                                                               + size(120_000.0, 100.0, s))
            for s in spots]
    assert opt.gex_profile(book, spots, AT, positioning, index=spot) == pytest.approx(want)
    # flip: only opposite signs on the two legs can cross zero
    flip = opt.zero_gamma_level(book, spot, AT, positioning)
    if call_sign == put_sign:
        assert flip is None
    else:
        from scipy.optimize import brentq

        def net(s: float) -> float:
            return -size(90_000.0, 500.0, s) + size(110_000.0, 500.0, s) + size(120_000.0, 100.0, s)

        assert flip == pytest.approx(brentq(net, 90_000.0, 110_000.0, xtol=1e-6), rel=1e-9)
    # walls are the biggest legs by size whatever their sign
    assert opt.call_wall(gex) == 110_000.0 and opt.put_wall(gex) == 90_000.0
    assert positioning.label.startswith("dealers") and len(positioning.description) > 40


def test_the_legacy_flipped_toggle_still_negates_both_legs():
    legacy = opt.DealerConvention(flipped=True)
    assert (legacy.call_sign, legacy.put_sign) == (-1.0, 1.0)
    assert opt.DEFAULT_DEALER is opt.DealerPositioning.LONG_CALLS_SHORT_PUTS


# -- delta conventions for the 25Δ strikes -------------------------------------------------------
def scipy_delta(f: float, k: float, t: float, sigma: float, call: bool,
                premium_adjusted: bool) -> float:
    """Textbook forward delta N(d1) / N(d1) − 1, or premium-adjusted (K/F) N(d2) / −(K/F) N(−d2)."""
    vt = sigma * math.sqrt(t)
    d1 = (math.log(f / k) + vt * vt / 2) / vt
    d2 = d1 - vt
    if premium_adjusted:
        return k / f * norm.cdf(d2) if call else -k / f * norm.cdf(-d2)
    return norm.cdf(d1) if call else norm.cdf(d1) - 1.0


@pytest.mark.parametrize(("k", "sigma", "days", "call"), GRID[::3])
def test_premium_adjusted_delta_is_forward_delta_less_premium_over_forward(k, sigma, days, call):
    # Δ_pa = Δ − V/F, with V the scipy Black price: a second route to (K/F) N(d2).
    f, t = 100_000.0, days / 365.0
    ref = ref_greeks(f, k, t, sigma, call)
    pa = float(opt.bs_delta(f, k, t, sigma, call, opt.DeltaConvention.PREMIUM_ADJUSTED))
    assert pa == pytest.approx(ref["delta"] - ref["price"] / f, rel=1e-6, abs=1e-12)
    assert pa == pytest.approx(scipy_delta(f, k, t, sigma, call, True), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("ticker", DERIBIT_TICKERS, ids=lambda t: t["instrument_name"])
def test_premium_adjusted_delta_from_deribits_own_quote(ticker):
    # Deribit quotes the forward delta and the mark price in coin (= V/F): Δ_pa = Δ − price_coin.
    oid = opt.parse_instrument(ticker["instrument_name"])
    f = ticker["underlying_price"]
    t = float(opt.year_fraction(oid.expiry_ms, ticker["timestamp"]))
    pa = float(opt.bs_delta(f, oid.strike, t, ticker["mark_iv"] / 100, oid.is_call,
                            "premium_adjusted"))
    want = ticker["greeks"]["delta"] - ticker["mark_price"]
    assert pa == pytest.approx(want, abs=2e-4)  # 5-decimal delta and 4-decimal price prints


@pytest.mark.parametrize("convention", list(opt.DeltaConvention))
@pytest.mark.parametrize(("sigma", "days"), [(0.5, 30.0), (0.9, 7.0), (0.6, 180.0)])
def test_25_delta_strikes_match_a_scipy_root_find(convention, sigma, days):
    from scipy.optimize import brentq

    f, t = 100_000.0, days / 365.0
    pa = convention is opt.DeltaConvention.PREMIUM_ADJUSTED
    # independent: brentq on the textbook formula, calls above the forward, puts below it
    k_call = brentq(lambda k: scipy_delta(f, k, t, sigma, True, pa) - 0.25, f, 20 * f,
                    xtol=1e-8)
    k_put = brentq(lambda k: scipy_delta(f, k, t, sigma, False, pa) + 0.25, f / 20, f,
                   xtol=1e-8)
    assert opt.strike_at_delta(f, t, sigma, 0.25, convention) == pytest.approx(k_call, rel=1e-9)
    assert opt.strike_at_delta(f, t, sigma, -0.25, convention) == pytest.approx(k_put, rel=1e-9)
    if not pa:  # the forward call has a closed form: K = F exp(−N⁻¹(0.25) σ√T + σ²T/2)
        vt = sigma * math.sqrt(t)
        assert k_call == pytest.approx(f * math.exp(-norm.ppf(0.25) * vt + vt * vt / 2),
                                       rel=1e-9)
    else:  # the premium paid in coin moves both 25Δ strikes down (further OTM for the put)
        assert k_call < opt.strike_at_delta(f, t, sigma, 0.25)
        assert k_put < opt.strike_at_delta(f, t, sigma, -0.25)


def test_premium_adjusted_call_strike_is_on_the_falling_branch():
    # σ√T = 1.3: (K/F) N(d2) still rises just above K = F (0.2578 there, peak 0.2582 at
    # ln(K/F) ≈ 0.08) before it falls, so 0.25 has two strikes, one each side of the peak; the
    # 25Δ call is the out-of-the-money one (brentq beyond the peak found by scipy's minimiser).
    from scipy.optimize import brentq, minimize_scalar

    f, t, sigma = 100_000.0, 1.69, 1.0
    peak = minimize_scalar(lambda x: -scipy_delta(f, f * math.exp(x), t, sigma, True, True),
                           bounds=(-3, 3), method="bounded", options={"xatol": 1e-10}).x
    assert peak > 0
    k = brentq(lambda k: scipy_delta(f, k, t, sigma, True, True) - 0.25, f * math.exp(peak),
               50 * f, xtol=1e-6)
    inner = brentq(lambda k: scipy_delta(f, k, t, sigma, True, True) - 0.25, f / 50,
                   f * math.exp(peak), xtol=1e-6)
    assert inner < f < k  # the other root, which the 25Δ call is not
    assert opt.strike_at_delta(f, t, sigma, 0.25, "premium_adjusted") == pytest.approx(k,
                                                                                         rel=1e-9)
    assert math.isnan(opt.strike_at_delta(f, t, sigma, 0.0))
    assert math.isnan(opt.strike_at_delta(f, t, sigma, 0.6, "premium_adjusted"))  # above the peak


def test_risk_reversal_and_butterfly_under_premium_adjusted_delta():
    # The smile of `synthetic_expiry`, but with each strike solved (scipy's brentq) so the
    # option's PREMIUM-ADJUSTED delta at its own IV is exactly 0.1 … 0.4: then the 25Δ IVs are
    # again 51 (call) and 55 (put), RR −4 and BF +3, under that convention only.
    from scipy.optimize import brentq

    f, atm, call_slope, put_slope = 100_000.0, 50.0, 4.0, 20.0
    t = 30 / 365
    rows = [(EXP, f, "C", atm, 1.0, f), (EXP, f, "P", atm, 1.0, f)]
    for d in (0.1, 0.2, 0.3, 0.4):
        iv = atm + call_slope * (0.5 - d)
        k = brentq(lambda k, iv=iv, d=d: scipy_delta(f, k, t, iv / 100, True, True) - d, f,
                   10 * f, xtol=1e-7)
        rows.append((EXP, k, "C", iv, 1.0, f))
        iv = atm + put_slope * (0.5 - d)
        k = brentq(lambda k, iv=iv, d=d: scipy_delta(f, k, t, iv / 100, False, True) + d, f / 10,
                   f, xtol=1e-7)
        rows.append((EXP, k, "P", iv, 1.0, f))
    book = chain(rows)
    pa = opt.risk_reversal_butterfly(book, AT, opt.DeltaConvention.PREMIUM_ADJUSTED).iloc[0]
    assert pa["atm_iv"] == pytest.approx(atm)
    assert pa["rr25"] == pytest.approx(51.0 - 55.0, abs=1e-6)
    assert pa["bf25"] == pytest.approx((51.0 + 55.0) / 2 - atm, abs=1e-6)
    # the forward delta reads the same quotes at other strikes: a different RR
    fwd = opt.risk_reversal_butterfly(book, AT).iloc[0]
    assert abs(fwd["rr25"] - pa["rr25"]) > 0.05
    smile = opt.smile(book, EXP, AT, opt.DeltaConvention.PREMIUM_ADJUSTED)
    wing = smile[(smile["option_type"] == "C") & (smile["strike"] > f)]
    assert sorted(np.round(wing["delta"], 7)) == pytest.approx([0.1, 0.2, 0.3, 0.4])
