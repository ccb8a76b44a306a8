#!/usr/bin/env python3
"""Build Rotor's bundled demo dataset (SYNTHETIC): `python tools/build_demo.py [--out DIR]`.

Every number is made up by a seeded random model, shaped after the crypto sell-off of early
February 2026: BTC −17 % over the four days to 2026-02-05 (close ≈ 60.7k), +10 % on 2026-02-06
(close 66.8k) while the S&P 500 gains 0.47 %; gold and silver roll over after a hard rally;
funding turns negative across venues and stays negative through the bounce (each venue's
current-funding table repeats its last settlement); open interest builds into the drop, flushes
at the low and keeps falling through the bounce (shorts closing); DVOL
peaks near 97; the BTC option chain piles call open interest at 70k–75k and puts at 60k–65k.

Reported liquidations (SYNTHETIC, last 32 days, btc and eth on Binance, Bybit, OKX, Deribit):
a quiet baseline that follows each hour's move, a long cascade into 5 Feb's low and short
liquidations elevated through the whole 6 Feb rebound, stored as stream-shaped events.

Output (byte-identical on every run with the same numpy):
  demo.npz             `<series id>/time` int64 epoch ms, `<series id>/<column>` float64;
                       `liqevents.<venue>.<asset>/time|side|qty|price` liquidation events
                       (side int8: 1 = a long liquidated, 0 = a short)
  snapshots.json.gz    option chains (daily for a week, 4-hourly over 4-6 Feb), hourly
                       current-funding tables for the last week, term structures, frames as
                       column lists; an item with "recorded_ms" is a later revision (a
                       correction) of the one before it with the same series and time

Conventions (what the live clients deliver, so the app cannot tell the difference):
  * crypto: 1h bars every hour, 1d bars at 00:00 UTC, volume in coins (base asset).
  * exchange assets (spx, ndx, vix, dxy, gold, silver) follow the NYSE calendar: no bars on
    weekends or NYSE holidays; 1h bars only in regular hours, stamped at :30 New York time
    (09:30 … 15:30, the last one a half hour; 09:30 … 12:30 on 13:00 early-close days), for
    futures and DXY too (a simplification: the real ones trade nearly around the clock).
    The E-mini futures (es, nq) keep CME Globex hours instead: 18:00 New York the evening
    before to 17:00 (23 bars stamped on the hour), dailies at 00:00 New York.
    Daily bars are stamped like Yahoo: indices (^GSPC, ^NDX, ^VIX) at 09:30 New York, futures
    and DX-Y.NYB at 00:00 New York, and are the aggregate of that session's 1h bars.
  * volume: positive for crypto and futures (gold, silver); NaN for indices and DXY (Yahoo
    sends null volume for them).
  * 1d OHLC = aggregate of the 1h bars of that day/session, for every asset, by construction.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import this checkout's models, not another one
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.basis import annualised_pct, cme_front_expiry_ms, front_quarterly
from models.basis import basis_pct as basis_of
from models.catalog import BASIS_VENUES, CME_BTC_ID, INTERVAL_MS, OI_VENUES
from models.catalog import FUNDING_VENUES as FUNDING_VENUE_KEYS
from models.ids import (
    basis_curve_id,
    basis_id,
    dvol_id,
    funding_id,
    funding_now_id,
    oi_id,
    options_id,
    premium_id,
    price_id,
    volmex_id,
)
from models.venues import VENUES

SEED = 20260206
MS_H = 3_600_000
MS_D = 86_400_000
EPOCH = dt.date(1970, 1, 1)
END_DAY = dt.date(2026, 2, 6)  # the last full UTC day; the dataset's "now" is its end
NOW_MS = ((END_DAY - EPOCH).days + 1) * MS_D
DAILY_DAYS = 5 * 365 + 1
HOURLY_DAYS = 120
FUNDING_DAYS = 90
OI_DAYS = 30
DVOL_DAYS = 365
START_DAY = END_DAY - dt.timedelta(days=DAILY_DAYS - 1)
N = DAILY_DAYS
FORMAT = "rotor-demo-snapshots/1"

CRYPTO = ("btc", "eth")
EXCHANGE = ("spx", "ndx", "gold", "silver", "dxy", "vix")
# the E-mini futures of the cash indices: Globex hours, their own 1h and 1d series
EMINI = {"es": "spx", "nq": "ndx"}
SESSION_OPEN_STAMPED = ("spx", "ndx", "vix")  # Yahoo stamps index dailies at the 09:30 open
DECIMALS = {"btc": 2, "eth": 2, "spx": 2, "ndx": 2, "vix": 2, "dxy": 3, "gold": 1, "silver": 3,
            "es": 2, "nq": 2}
EMINI_TICK = {"es": 0.25, "nq": 0.25}
# Every venue of the registry gets demo funding (and OI where it serves it): settlement hours
# and perp symbols as the registry says; a venue the model below does not tune gets defaults.
_REGISTRY = {v.key: v for v in VENUES}
FUNDING_VENUES = {v: INTERVAL_MS[_REGISTRY[v].funding_interval] // MS_H for v in FUNDING_VENUE_KEYS}
PERP_SYMBOLS = {v: _REGISTRY[v].perps for v in FUNDING_VENUE_KEYS}

# -- the NYSE calendar -----------------------------------------------------------------------
def _dates(text: str) -> frozenset[dt.date]:
    return frozenset(dt.date.fromisoformat(s) for s in text.split())


# Full-day closures 2021–2026 as NYSE published them (observed dates; New Year 2022 fell on a
# Saturday and was not observed; 2025-01-09 was the national day of mourning for J. Carter).
NYSE_HOLIDAYS = _dates(
    "2021-01-01 2021-01-18 2021-02-15 2021-04-02 2021-05-31 2021-07-05 2021-09-06 2021-11-25 "
    "2021-12-24 "
    "2022-01-17 2022-02-21 2022-04-15 2022-05-30 2022-06-20 2022-07-04 2022-09-05 2022-11-24 "
    "2022-12-26 "
    "2023-01-02 2023-01-16 2023-02-20 2023-04-07 2023-05-29 2023-06-19 2023-07-04 2023-09-04 "
    "2023-11-23 2023-12-25 "
    "2024-01-01 2024-01-15 2024-02-19 2024-03-29 2024-05-27 2024-06-19 2024-07-04 2024-09-02 "
    "2024-11-28 2024-12-25 "
    "2025-01-01 2025-01-09 2025-01-20 2025-02-17 2025-04-18 2025-05-26 2025-06-19 2025-07-04 "
    "2025-09-01 2025-11-27 2025-12-25 "
    "2026-01-01 2026-01-19 2026-02-16 2026-04-03 2026-05-25 2026-06-19 2026-07-03 2026-09-07 "
    "2026-11-26 2026-12-25")
# 13:00 New York early closes.
NYSE_EARLY_CLOSES = _dates(
    "2021-11-26 2022-11-25 2023-07-03 2023-11-24 2024-07-03 2024-11-29 2024-12-24 "
    "2025-07-03 2025-11-28 2025-12-24 2026-11-27 2026-12-24")


def is_trading_day(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in NYSE_HOLIDAYS


def ny_utc_offset_hours(d: dt.date) -> int:
    """New York's UTC offset on a date: US rules since 2007 (2nd Sunday of March to 1st Sunday of
    November). Written out so the build does not depend on the machine's tz database."""
    mar1, nov1 = dt.date(d.year, 3, 1), dt.date(d.year, 11, 1)
    dst_start = mar1 + dt.timedelta(days=(6 - mar1.weekday()) % 7 + 7)
    dst_end = nov1 + dt.timedelta(days=(6 - nov1.weekday()) % 7)
    return -4 if dst_start <= d < dst_end else -5


def day_ms(d: dt.date) -> int:
    return (d - EPOCH).days * MS_D


def ny_ms(d: dt.date, hours: float) -> int:
    """UTC epoch ms of `hours` after midnight New York time on date `d` (no trading on the
    Sunday DST switches, so a session never straddles one)."""
    return day_ms(d) + round((hours - ny_utc_offset_hours(d)) * MS_H)


# -- small numeric helpers -------------------------------------------------------------------
def didx(s: str) -> int:
    return (dt.date.fromisoformat(s) - START_DAY).days


def curve(points: list[tuple[str, float]]) -> np.ndarray:
    """A per-day value interpolated between dated points (flat beyond the ends)."""
    return np.interp(np.arange(N), [didx(d) for d, _ in points], [v for _, v in points])


def ou(rng: np.random.Generator, n: int, phi: float, sd: float,
       shocks: np.ndarray | None = None) -> np.ndarray:
    """AR(1) with stationary standard deviation `sd`, plus optional exogenous shocks."""
    e = rng.standard_normal(n) * sd * math.sqrt(1 - phi * phi)
    if shocks is not None:
        e = e + shocks
    x = np.empty(n)
    prev = rng.standard_normal() * sd
    for i in range(n):
        prev = phi * prev + e[i]
        x[i] = prev
    return x


def anchored(returns: np.ndarray, anchors: list[tuple[int, float]]) -> np.ndarray:
    """Cumulative log price through the anchor prices: each segment gets the constant drift that
    lands it on the next anchor, so the random shape (vol, correlation) survives. Beyond the last
    anchor the path runs free."""
    x = np.cumsum(returns)
    idx = np.array([i for i, _ in anchors])
    target = np.log([p for _, p in anchors])
    return x + np.interp(np.arange(len(x)), idx, target - x[idx])


def snap_to_session(i: int, trading: np.ndarray) -> int:
    while not trading[i]:
        i -= 1
    return i


def bridge(rng: np.random.Generator, start: np.ndarray, end: np.ndarray,
           var: np.ndarray) -> np.ndarray:
    """Brownian bridges from start to end (per row) with per-step variances `var`; returns the
    points after each step (the last column is exactly `end`)."""
    eps = rng.standard_normal(var.shape) * np.sqrt(var)
    w = np.cumsum(eps, axis=1)
    v = np.cumsum(var, axis=1)
    frac = v / v[:, -1:]
    return start[:, None] + frac * (end - start)[:, None] + w - frac * w[:, -1:]


def intrabar(rng: np.random.Generator, o: np.ndarray, c: np.ndarray, sd: np.ndarray,
             decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """High and low beyond the body by a random excursion; rounded, never inside the body."""
    hi = np.maximum(o, c) * np.exp(np.abs(rng.standard_normal(o.shape)) * sd * 0.5)
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.standard_normal(o.shape)) * sd * 0.5)
    hi = np.maximum(np.round(hi, decimals), np.maximum(o, c))
    lo = np.minimum(np.round(lo, decimals), np.minimum(o, c))
    return hi, lo


# -- anchors: approximate real levels, so the five years look like the years they are shaped after
PRICE_ANCHORS: dict[str, list[tuple[str, float]]] = {
    "btc": [
        ("2021-02-07", 39_000), ("2021-04-13", 63_500), ("2021-07-20", 29_800),
        ("2021-11-08", 67_500), ("2022-01-23", 36_000), ("2022-03-28", 47_100),
        ("2022-06-18", 19_000), ("2022-08-14", 24_300), ("2022-11-21", 15_800),
        ("2023-04-13", 30_400), ("2023-06-14", 25_100), ("2023-07-13", 31_400),
        ("2023-09-11", 25_200), ("2023-12-31", 42_300), ("2024-03-13", 73_000),
        ("2024-05-01", 57_000), ("2024-08-05", 54_000), ("2024-10-10", 60_500),
        ("2024-12-16", 106_000), ("2025-01-20", 102_000), ("2025-04-08", 76_300),
        ("2025-05-21", 109_600), ("2025-07-14", 120_000), ("2025-08-02", 113_000),
        ("2025-08-13", 123_300), ("2025-09-01", 109_000), ("2025-10-06", 124_700),
        ("2025-10-10", 113_000), ("2025-11-21", 85_000), ("2025-12-15", 87_500),
        ("2026-01-14", 95_500), ("2026-01-26", 87_500), ("2026-01-29", 84_000),
        ("2026-01-31", 78_500),
        # the episode, close by close
        ("2026-02-01", 73_150), ("2026-02-02", 71_000), ("2026-02-03", 68_400),
        ("2026-02-04", 66_300), ("2026-02-05", 60_700), ("2026-02-06", 66_800),
    ],
    "eth": [  # the episode itself follows BTC with a higher beta (no anchors after 01-31)
        ("2021-02-07", 1_600), ("2021-05-11", 4_150), ("2021-07-20", 1_790),
        ("2021-11-09", 4_800), ("2022-01-23", 2_400), ("2022-03-28", 3_330),
        ("2022-06-18", 990), ("2022-08-13", 1_980), ("2022-11-21", 1_100),
        ("2023-04-15", 2_100), ("2023-06-14", 1_640), ("2023-10-11", 1_560),
        ("2023-12-31", 2_280), ("2024-03-12", 4_050), ("2024-05-01", 2_970),
        ("2024-08-05", 2_420), ("2024-09-06", 2_230), ("2024-12-16", 4_000),
        ("2025-01-20", 3_300), ("2025-04-08", 1_470), ("2025-05-13", 2_680),
        ("2025-07-01", 2_400), ("2025-08-23", 4_780), ("2025-09-25", 3_870),
        ("2025-10-06", 4_680), ("2025-10-10", 3_830), ("2025-11-21", 2_770),
        ("2025-12-15", 3_100), ("2026-01-14", 3_350), ("2026-01-26", 2_900),
        ("2026-01-29", 2_800), ("2026-01-31", 2_520),
    ],
    "spx": [
        ("2021-02-08", 3_915), ("2021-12-31", 4_766), ("2022-01-03", 4_796),
        ("2022-06-16", 3_666), ("2022-08-16", 4_305), ("2022-10-12", 3_577),
        ("2023-02-02", 4_179), ("2023-03-13", 3_855), ("2023-07-31", 4_589),
        ("2023-10-27", 4_117), ("2023-12-29", 4_770), ("2024-03-28", 5_254),
        ("2024-04-19", 4_967), ("2024-07-16", 5_667), ("2024-08-05", 5_186),
        ("2024-12-06", 6_090), ("2025-01-10", 5_827), ("2025-02-19", 6_144),
        ("2025-04-08", 4_982), ("2025-05-13", 5_886), ("2025-06-30", 6_205),
        ("2025-08-29", 6_460), ("2025-10-08", 6_753), ("2025-10-10", 6_552),
        ("2025-10-28", 6_890), ("2025-11-20", 6_538), ("2025-12-11", 6_901),
        ("2026-01-12", 6_977), ("2026-01-20", 6_797), ("2026-01-27", 6_978),
        ("2026-02-02", 6_939), ("2026-02-03", 6_917), ("2026-02-04", 6_882),
        ("2026-02-05", 6_798.40), ("2026-02-06", 6_830.35),  # +0.47 %
    ],
    "ndx": [  # follows the S&P with a beta above one after the last anchor
        ("2021-02-08", 13_600), ("2021-11-19", 16_570), ("2022-06-16", 11_130),
        ("2022-08-16", 13_600), ("2022-12-28", 10_680), ("2023-07-18", 15_840),
        ("2023-10-26", 14_110), ("2023-12-28", 16_900), ("2024-07-10", 20_675),
        ("2024-08-07", 18_350), ("2024-12-16", 22_100), ("2025-04-08", 17_090),
        ("2025-06-30", 22_680), ("2025-10-29", 26_000), ("2025-11-20", 24_050),
        ("2026-01-12", 25_800), ("2026-01-30", 25_650),
    ],
    "gold": [
        ("2021-02-08", 1_830), ("2021-03-08", 1_680), ("2021-08-09", 1_730),
        ("2022-03-08", 2_040), ("2022-09-27", 1_630), ("2023-05-03", 2_040),
        ("2023-10-05", 1_820), ("2023-12-27", 2_080), ("2024-04-12", 2_370),
        ("2024-06-07", 2_310), ("2024-10-30", 2_800), ("2024-12-30", 2_610),
        ("2025-04-21", 3_430), ("2025-06-30", 3_300), ("2025-08-29", 3_520),
        ("2025-10-17", 4_250), ("2025-10-28", 3_960), ("2025-12-26", 4_550),
        ("2026-01-13", 4_600), ("2026-01-28", 5_350), ("2026-01-30", 4_750),
        ("2026-02-02", 4_660), ("2026-02-06", 4_930),
    ],
    "silver": [  # beta to gold after the last anchor
        ("2021-02-08", 27.5), ("2021-06-01", 28.3), ("2021-09-29", 21.6),
        ("2022-03-08", 26.5), ("2022-09-01", 17.8), ("2023-04-13", 25.8),
        ("2023-10-03", 20.7), ("2024-02-28", 22.5), ("2024-05-20", 32.0),
        ("2024-08-07", 26.5), ("2024-10-22", 34.8), ("2024-12-30", 28.9),
        ("2025-04-08", 29.5), ("2025-07-14", 39.0), ("2025-10-16", 53.0),
        ("2025-11-05", 47.5), ("2025-12-26", 79.0), ("2026-01-13", 86.0),
        ("2026-01-28", 112.0), ("2026-01-30", 80.0),
    ],
    "dxy": [
        ("2021-02-08", 90.9), ("2021-05-25", 89.7), ("2021-11-24", 96.8),
        ("2022-05-12", 104.9), ("2022-09-27", 114.1), ("2023-01-26", 101.8),
        ("2023-07-14", 99.9), ("2023-10-03", 107.0), ("2023-12-27", 100.9),
        ("2024-04-16", 106.3), ("2024-09-27", 100.4), ("2025-01-13", 109.9),
        ("2025-04-21", 98.3), ("2025-07-01", 96.4), ("2025-09-16", 96.6),
        ("2025-11-05", 100.2), ("2025-12-31", 98.2), ("2026-01-27", 95.9),
        ("2026-02-06", 97.6),
    ],
    "vix": [
        ("2021-02-08", 21.2), ("2021-03-04", 28.6), ("2021-06-25", 15.6),
        ("2021-12-01", 27.2), ("2022-03-07", 36.5), ("2022-06-13", 34.0),
        ("2022-08-16", 19.7), ("2022-10-12", 33.6), ("2023-03-13", 26.5),
        ("2023-07-14", 12.5), ("2023-10-20", 21.7), ("2023-12-22", 13.0),
        ("2024-04-19", 18.7), ("2024-07-11", 12.4), ("2024-08-05", 38.6),
        ("2024-09-30", 16.7), ("2024-12-18", 27.6), ("2025-01-24", 14.9),
        ("2025-04-08", 52.3), ("2025-05-16", 17.2), ("2025-08-29", 15.4),
        ("2025-10-10", 21.7), ("2025-11-20", 26.4), ("2025-12-24", 13.5),
        ("2026-01-20", 20.1), ("2026-01-27", 16.3), ("2026-01-30", 16.9),
        ("2026-02-02", 17.4), ("2026-02-03", 18.6), ("2026-02-04", 19.2),
        ("2026-02-05", 21.8), ("2026-02-06", 20.4),
    ],
}
EPISODE_START = didx("2026-02-01")


# -- daily model -----------------------------------------------------------------------------
def daily_model(rng: np.random.Generator, trading: np.ndarray) -> tuple[dict, dict]:
    """Latent log closes on every calendar day (exchange assets barely move on closed days) and
    each asset's daily volatility. Correlations come from shared shocks; BTC's loading on the
    equity shock drifts through time (0.2–0.55) and fades out during the episode."""
    names = ("eq", "cr", "usd", "au", "ndx", "eth", "ag", "vix")
    z = {k: rng.standard_normal(N) for k in names}
    closed = np.where(trading, 1.0, 0.3)  # news still arrives on a closed day; prices barely
    sv_eq = np.exp(ou(rng, N, 0.97, 0.25) - 0.03)
    sv_cr = np.exp(ou(rng, N, 0.98, 0.3) - 0.045)
    sv_m = np.exp(ou(rng, N, 0.98, 0.25) - 0.03)

    anchors = {k: [(didx(d), p) for d, p in v] for k, v in PRICE_ANCHORS.items()}
    for k in EXCHANGE:
        anchors[k] = [(snap_to_session(i, trading), p) for i, p in anchors[k]]

    x: dict[str, np.ndarray] = {}
    sig: dict[str, np.ndarray] = {}
    # VIX first: the S&P's daily vol follows it (realised runs a little under implied).
    r_vix = 0.065 * (-0.7 * z["eq"] + 0.714 * z["vix"]) * sv_eq * closed
    x["vix"] = anchored(r_vix, anchors["vix"])
    sig["vix"] = np.full(N, 0.065)
    vix_prev = np.exp(np.concatenate([[x["vix"][0]], x["vix"][:-1]]))
    sig["spx"] = 0.75 * vix_prev / 100 / math.sqrt(252) * closed
    x["spx"] = anchored(sig["spx"] * z["eq"], anchors["spx"])
    r_spx = np.diff(x["spx"], prepend=x["spx"][0] - sig["spx"][0] * z["eq"][0])
    sig["ndx"] = 1.3 * sig["spx"]
    x["ndx"] = anchored(1.2 * r_spx + 0.5 * sig["spx"] * z["ndx"], anchors["ndx"])

    rho = curve([("2021-02-07", 0.3), ("2021-09-01", 0.25), ("2022-01-15", 0.45),
                 ("2022-06-15", 0.55), ("2022-12-15", 0.45), ("2023-03-15", 0.25),
                 ("2023-06-15", 0.25), ("2024-01-15", 0.3), ("2024-08-01", 0.45),
                 ("2025-01-15", 0.35), ("2025-04-15", 0.5), ("2025-09-15", 0.3),
                 ("2025-12-15", 0.35), ("2026-01-10", 0.35), ("2026-01-25", 0.0),
                 ("2026-02-06", -0.1)])
    rho = np.clip(rho + 0.08 * np.tanh(ou(rng, N, 0.985, 1.0)), -0.2, 0.8)
    btc_vol = curve([("2021-02-07", 80), ("2021-06-01", 95), ("2022-01-01", 65),
                     ("2022-06-15", 80), ("2023-01-01", 45), ("2023-09-01", 35),
                     ("2024-03-01", 60), ("2024-09-01", 45), ("2025-03-01", 50),
                     ("2025-07-01", 35), ("2025-11-01", 45), ("2026-01-15", 45),
                     ("2026-02-06", 70)])
    weekend = np.array([(START_DAY + dt.timedelta(days=i)).weekday() >= 5 for i in range(N)])
    sig["btc"] = btc_vol / 100 / math.sqrt(365) * sv_cr * np.where(weekend, 0.75, 1.0)
    btc_std = rho * z["eq"] + np.sqrt(1 - rho * rho) * z["cr"]
    x["btc"] = anchored(sig["btc"] * btc_std, anchors["btc"])
    r_btc = np.diff(x["btc"], prepend=x["btc"][0] - sig["btc"][0] * btc_std[0])
    # ETH: beta 1.25 on BTC's realised returns, 1.35 with little of its own noise in the episode.
    episode = np.arange(N) >= EPISODE_START
    beta = np.where(episode, 1.35, 1.25)
    idio = np.where(episode, 0.2, 0.7)
    sig["eth"] = 1.45 * sig["btc"]
    x["eth"] = anchored(beta * r_btc + idio * sig["btc"] * z["eth"], anchors["eth"])

    gold_vol = curve([("2021-02-07", 16), ("2022-03-08", 20), ("2023-06-01", 13),
                      ("2024-06-01", 15), ("2025-04-15", 22), ("2025-09-01", 17),
                      ("2025-10-20", 28), ("2025-12-15", 22), ("2026-01-20", 30),
                      ("2026-02-06", 40)])
    sig["gold"] = gold_vol / 100 / math.sqrt(252) * sv_m * closed
    gold_std = 0.1 * z["eq"] - 0.3 * z["usd"] + 0.949 * z["au"]
    x["gold"] = anchored(sig["gold"] * gold_std, anchors["gold"])
    r_gold = np.diff(x["gold"], prepend=x["gold"][0] - sig["gold"][0] * gold_std[0])
    sig["silver"] = 1.9 * sig["gold"]
    x["silver"] = anchored(1.45 * r_gold + 1.25 * sig["gold"] * z["ag"], anchors["silver"])

    sig["dxy"] = 0.07 / math.sqrt(252) * sv_m * closed
    x["dxy"] = anchored(sig["dxy"] * z["usd"], anchors["dxy"])
    return x, sig


# -- intraday --------------------------------------------------------------------------------
def crypto_hours(rng: np.random.Generator, x: np.ndarray, sig: np.ndarray, decimals: int,
                 base_volume: np.ndarray, waypoint: tuple[int, int, float] | None = None):
    """24 hourly bars per UTC day, bridged from the previous daily close to this one."""
    h = np.arange(24)
    # busier around the US open and the Asian morning
    w = 1 + 0.45 * np.exp(-((h - 14.5) / 2.5) ** 2) + 0.15 * np.exp(-((h - 1.5) / 2) ** 2)
    w2 = w * w / np.mean(w * w)
    var = (sig[:, None] ** 2 / 24) * w2[None, :]
    prev = np.concatenate([[x[0] - sig[0] * rng.standard_normal()], x[:-1]])
    pts = bridge(rng, prev, x, var)
    if waypoint is not None:  # pin an intraday point (the low of the sell-off) with a tent
        day, k, price = waypoint
        tent = np.concatenate([np.linspace(0, 1, k + 1)[1:], np.linspace(1, 0, 25 - k)[1:]])
        pts[day] += (math.log(price) - pts[day, k - 1]) * tent
    pts = np.concatenate([prev[:, None], pts], axis=1)  # (N, 25): open point, then 24 closes
    c = np.round(np.exp(pts[:, 1:]).ravel(), decimals)
    o = np.concatenate([[round(math.exp(pts[0, 0]), decimals)], c[:-1]])
    sd = np.sqrt(var).ravel()
    hi, lo = intrabar(rng, o, c, sd, decimals)
    ret = np.abs(np.diff(pts, axis=1)).ravel()
    seas = np.tile(w / w.mean(), N)
    vol = (np.repeat(base_volume, 24) * seas * np.exp(0.3 * rng.standard_normal(N * 24))
           * (0.5 + 0.6 * ret / sd))
    vol = np.round(vol, 3)
    t = np.repeat(np.arange(N, dtype=np.int64) * MS_D + day_ms(START_DAY), 24) \
        + np.tile(np.arange(24, dtype=np.int64) * MS_H, N)
    return t, {"open": o, "high": hi, "low": lo, "close": c, "volume": vol}, pts


def exchange_sessions(rng: np.random.Generator, stem: str, x: np.ndarray, sig: np.ndarray,
                      sessions: np.ndarray, early: np.ndarray, base_volume: float | None):
    """Regular-hours 1h bars (09:30 … 15:30 New York) per session, bridged from an opening gap to
    the session's close; returns flat bars plus each bar's session number."""
    ns = len(sessions)
    nbar = np.where(early[sessions], 4, 7)
    # U-shaped intraday variance; the last bar of a session is a half hour
    full = np.array([1.4, 1.0, 0.85, 0.8, 0.85, 1.0, 0.6])
    short = np.array([1.4, 1.0, 0.85, 0.5, 0, 0, 0])
    wv = np.where((nbar == 4)[:, None], short[None, :], full[None, :])
    wv = wv / wv.sum(axis=1, keepdims=True)
    s = sig[sessions]
    close = x[sessions]
    prev = np.concatenate([[close[0] - s[0] * rng.standard_normal()], close[:-1]])
    gap = 0.3 * (close - prev) + 0.3 * s * rng.standard_normal(ns)
    opn = prev + gap
    var = np.maximum(wv, 1e-12) * (0.8 * s[:, None]) ** 2
    pts = bridge(rng, opn, close, var)
    mask = np.arange(7)[None, :] < nbar[:, None]
    dec = DECIMALS[stem]
    c_full = np.round(np.exp(pts), dec)
    o_full = np.concatenate([np.round(np.exp(opn), dec)[:, None], c_full[:, :-1]], axis=1)
    # a session's close is its last bar's close, also on early-close days
    c = c_full[mask]
    o = o_full[mask]
    sd = np.sqrt(var)[mask]
    hi, lo = intrabar(rng, o, c, sd, dec)
    sess_of_bar = np.repeat(np.arange(ns), nbar)
    k = np.concatenate([np.arange(n) for n in nbar])
    dates = [START_DAY + dt.timedelta(days=int(i)) for i in sessions]
    t = np.array([ny_ms(dates[si], 9.5 + kk) for si, kk in zip(sess_of_bar, k, strict=True)],
                 dtype=np.int64)
    if base_volume is None:
        vol = np.full(len(t), np.nan)
    else:
        ret = np.abs(np.log(c / o))
        vol = np.round(base_volume * wv[mask] * 7 * np.exp(0.3 * rng.standard_normal(len(t)))
                       * (0.5 + 0.6 * ret / sd))
        vol = np.maximum(vol, 1.0)
    return t, {"open": o, "high": hi, "low": lo, "close": c, "volume": vol}, sess_of_bar


def globex_hours(rng: np.random.Generator, stem: str, x: np.ndarray, sig: np.ndarray,
                 sessions: np.ndarray, early: np.ndarray, base_volume: float):
    """E-mini 1h bars on CME Globex hours: a session for trade date d runs from 18:00 New York
    the evening before to 17:00 on d (23 bars, stamped on the hour; 13:00 on early-close days),
    bridged from the previous session's close to the cash index's close times the futures'
    carry. NYSE holidays have no session here (Globex trades a short one: a simplification)."""
    ns = len(sessions)
    nbar = np.where(early[sessions], 19, 23)
    hours = np.arange(23) + 18  # 18:00 .. 16:00 next day (New York)
    # quiet overnight, busy in the cash session (09:30-16:00 New York)
    w = np.where((hours >= 33) & (hours <= 39), 1.0, 0.22)
    w = np.where(hours == 33, 0.7, w)
    wv = np.where(np.arange(23)[None, :] < nbar[:, None], w[None, :], 0.0)
    wv = wv / wv.sum(axis=1, keepdims=True)
    carry = 0.0035 + 0.0004 * rng.standard_normal(ns)  # futures over cash, in log points
    close = x[sessions] + carry
    s = sig[sessions]
    prev = np.concatenate([[close[0] - s[0] * rng.standard_normal()], close[:-1]])
    var = np.maximum(wv, 1e-12) * s[:, None] ** 2
    pts = bridge(rng, prev, close, var)
    mask = np.arange(23)[None, :] < nbar[:, None]
    tick = EMINI_TICK[stem]
    c_full = np.round(np.exp(pts) / tick) * tick
    o_full = np.concatenate([(np.round(np.exp(prev) / tick) * tick)[:, None], c_full[:, :-1]],
                            axis=1)
    c, o, sd = c_full[mask], o_full[mask], np.sqrt(var)[mask]
    hi, lo = intrabar(rng, o, c, sd, DECIMALS[stem])
    hi = np.maximum(np.ceil(hi / tick) * tick, np.maximum(o, c))
    lo = np.minimum(np.floor(lo / tick) * tick, np.minimum(o, c))
    sess_of_bar = np.repeat(np.arange(ns), nbar)
    k = np.concatenate([np.arange(n) for n in nbar])
    eves = [START_DAY + dt.timedelta(days=int(i) - 1) for i in sessions]
    t = np.array([ny_ms(eves[si], 18 + kk) for si, kk in zip(sess_of_bar, k, strict=True)],
                 dtype=np.int64)
    ret = np.abs(np.log(c / o))
    vol = np.round(base_volume * wv[mask] * np.exp(0.3 * rng.standard_normal(len(t)))
                   * (0.5 + 0.6 * ret / sd))
    return t, {"open": o, "high": hi, "low": lo, "close": c,
               "volume": np.maximum(vol, 1.0)}, sess_of_bar


def aggregate(groups: np.ndarray, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Daily OHLCV from consecutive groups of bars (group ids ascending)."""
    starts = np.flatnonzero(np.diff(groups, prepend=-1))
    ends = np.append(starts[1:], len(groups)) - 1
    return {
        "open": cols["open"][starts],
        "high": np.maximum.reduceat(cols["high"], starts),
        "low": np.minimum.reduceat(cols["low"], starts),
        "close": cols["close"][ends],
        "volume": np.add.reduceat(cols["volume"], starts),
    }


def last_days(t: np.ndarray, cols: dict[str, np.ndarray], days: int):
    keep = (t >= NOW_MS - days * MS_D) & (t < NOW_MS)
    return t[keep], {k: v[keep] for k, v in cols.items()}


# -- implied vol, funding, open interest -----------------------------------------------------
def hour_index(ms: int) -> int:
    return (ms - day_ms(START_DAY)) // MS_H


def dvol_series(rng: np.random.Generator, logp_pts: np.ndarray, anchors: list[tuple[int, float]],
                peak: tuple[int, float], leverage: float, sd: float):
    """Hourly DVOL: an anchored level, plus a mean-reverting part that jumps when price falls;
    that part is tapered to zero at the peak so the peak lands where it is pinned."""
    n = DVOL_DAYS * 24
    h0 = N * 24 - n
    ret = np.diff(logp_pts)[h0:h0 + n]  # hourly log returns of the underlying
    idx = np.array([a - h0 for a, _ in anchors])
    base = np.interp(np.arange(n), idx, np.log([v for _, v in anchors]))
    u = ou(rng, n, math.exp(-1 / 48), sd, shocks=-leverage * ret)
    tp = peak[0] - h0
    taper = 1 - np.exp(-(((np.arange(n) - tp) / 30.0) ** 2))
    close = np.round(np.exp(base + u * taper), 2)
    o = np.concatenate([[close[0]], close[:-1]])
    hi, lo = intrabar(rng, o, close, np.full(n, 0.006), 2)
    t = (h0 + np.arange(n, dtype=np.int64)) * MS_H + day_ms(START_DAY)
    return t, {"open": o, "high": hi, "low": lo, "close": close}


def premium_paths(rng: np.random.Generator, logp_hour: np.ndarray, h0: int, n: int,
                  venues: dict[str, float], beta: float) -> dict[str, np.ndarray]:
    """Perp premium (fraction per 8h) at each hour boundary: rises with momentum, collapses in
    a sell-off (shorts crowd in, most of all deep below the two-week high, and stay crowded
    through the first bounce), plus common and venue-specific noise."""
    back = 14 * 24
    lp = logp_hour[h0 - back:h0 + n]
    now = lp[back:]
    r72 = now - lp[back - 72:-72]
    r24 = now - lp[back - 24:-24]
    drawdown = now - np.lib.stride_tricks.sliding_window_view(lp, back + 1).max(axis=1)
    common = (0.00005 + (0.0015 * r72 + 0.0003 * r24 + 0.0016 * drawdown) / beta
              + ou(rng, n, math.exp(-1 / 24), 0.00012))
    return {v: common * (1.25 if v == "hyperliquid" else 1.0)
            + ou(rng, n, math.exp(-1 / 6), sd) for v, sd in venues.items()}


def venue_rate(venue: str, p: np.ndarray) -> np.ndarray:
    """The venue's funding formula on a premium (per 8h) → rate per that venue's interval."""
    if venue == "deribit":  # a ±0.025 % dead zone, no interest component, paid per hour
        return (np.maximum(0, p - 0.00025) + np.minimum(0, p + 0.00025)) / 8
    rate = p + np.clip(0.0001 - p, -0.0005, 0.0005)  # premium + clamp(interest − premium)
    return rate * (FUNDING_VENUES[venue] / 8)  # paid per the venue's interval


def funding_series(rng: np.random.Generator, logp_hour: np.ndarray, beta: float):
    """Funding per venue; `beta` scales price moves down to BTC-sized ones (ETH moves more for
    the same crowding)."""
    pre = 7  # the first 8h settlement averages the premium of the hours before the window
    assert max(FUNDING_VENUES.values()) <= pre + 1, "a longer interval needs a longer lead-in"
    n = FUNDING_DAYS * 24 + pre
    h0 = hour_index(NOW_MS) - n  # hour boundaries h0 .. h0+n-1 (the last one < now)
    tuned = {"binance": 0.00004, "bybit": 0.00005, "okx": 0.00006, "deribit": 0.0001,
             "hyperliquid": 0.00012}
    noise = {v: tuned.get(v, 0.0001) for v in FUNDING_VENUES}
    prem = premium_paths(rng, logp_hour, h0, n, noise, beta)
    t_all = (h0 + np.arange(n, dtype=np.int64)) * MS_H + day_ms(START_DAY)
    out, premium_now = {}, {}
    for venue, interval in FUNDING_VENUES.items():
        p = prem[venue]
        if interval > 1:
            # settled every `interval` hours from 00 UTC (00/08/16 for 8h) on the premium
            # averaged over the hours before
            settle = np.flatnonzero((t_all % (interval * MS_H) == 0) & (np.arange(n) >= pre))
            avg = np.array([p[i - interval + 1:i + 1].mean() for i in settle])
            t = t_all[settle]
        else:
            avg, t = p[pre:], t_all[pre:]
        rate = np.round(venue_rate(venue, avg), 8)
        out[venue] = (t, rate, float(interval))
        premium_now[venue] = float(p[-1])
    return out, premium_now, (t_all, prem)


def apr(rate: np.ndarray | float, interval_hours: float) -> np.ndarray | float:
    return rate * (365 * 24 / interval_hours) * 100.0


def oi_path(rng: np.random.Generator, base: float) -> np.ndarray:
    """Hourly open interest (coins) over the last 30 days: builds into the drop, flushes as
    longs are liquidated into the low (2026-02-05 21:00), then keeps falling through the 6 Feb
    rebound as shorts close (the squeeze: price up, open interest down)."""
    n = OI_DAYS * 24
    h0 = hour_index(NOW_MS) - n
    pts = [("2026-01-08T00", 0.92), ("2026-01-15T00", 0.95), ("2026-01-22T00", 0.93),
           ("2026-01-28T00", 0.97), ("2026-02-01T00", 1.0), ("2026-02-03T00", 1.05),
           ("2026-02-05T12", 1.09), ("2026-02-05T21", 0.97), ("2026-02-06T23", 0.885)]
    idx = [hour_index(day_ms(dt.date.fromisoformat(s[:10])) + int(s[11:]) * MS_H) - h0
           for s, _ in pts]
    level = np.interp(np.arange(n), idx, np.log([v for _, v in pts]))
    return base * np.exp(level + ou(rng, n, math.exp(-1 / 24), 0.012))


# -- reported liquidations (stream-shaped events) --------------------------------------------
LIQ_DAYS = 32  # the 6 Feb rebound against a full 30 days before it
# Each venue's share of the reported flow (Binance's feed is throttled to one order per second
# per symbol, so it reports less than Bybit's complete one), and its size step in base coin.
LIQ_VENUE_SHARE = {"bybit": 1.0, "binance": 0.7, "okx": 0.5, "deribit": 0.25}
LIQ_QTY_STEP = {"binance": 0.001, "bybit": 0.001, "okx": None, "deribit": None}
OKX_CT_VAL = {"btc": 0.01, "eth": 0.1}  # contracts: sz × ctVal
LIQ_MEDIAN_USD = {"btc": 80_000.0, "eth": 50_000.0}
LIQ_BASE_PER_HOUR = {"long": 2.5, "short": 2.0}  # on the busiest venue, before the episode


def _hour_of(text: str) -> int:
    return hour_index(day_ms(dt.date.fromisoformat(text[:10])) + int(text[11:]) * MS_H)


def liquidation_intensity(logp_hour: np.ndarray, h0: int, n: int) -> dict[str, np.ndarray]:
    """Expected reports per hour on the busiest venue, per liquidated side: a quiet baseline
    that follows the hour's move (falls liquidate longs, rises shorts), the long cascade into
    5 Feb's low and the short squeeze of the 6 Feb rebound."""
    r = np.diff(logp_hour[h0:h0 + n + 1])
    sigma = float(np.median(np.abs(r))) / 0.6745 or 0.005
    z = np.clip(r / sigma, -4.0, 4.0)
    long_mult = np.exp(0.45 * np.clip(-z, 0.0, None))
    short_mult = np.exp(0.45 * np.clip(z, 0.0, None))
    hours = np.arange(h0, h0 + n)
    low = _hour_of("2026-02-05T21")
    cascade = np.where((hours >= _hour_of("2026-02-02T00")) & (hours < low - 24), 3.0, 1.0)
    cascade = np.where((hours >= low - 24) & (hours < low - 6), 7.0, cascade)
    cascade = np.where((hours >= low - 6) & (hours <= low), 22.0, cascade)
    squeeze = np.where((hours > low) & (hours < _hour_of("2026-02-06T00")), 6.0, 1.0)
    squeeze = np.where((hours >= _hour_of("2026-02-06T00")) & (hours <= _hour_of("2026-02-06T23")),
                       14.0, squeeze)
    return {"long": LIQ_BASE_PER_HOUR["long"] * long_mult * cascade,
            "short": LIQ_BASE_PER_HOUR["short"] * short_mult * squeeze,
            "size_long": np.where(cascade > 1.0, 1.8, 1.0),
            "size_short": np.where(squeeze > 1.0, 1.8, 1.0)}


def liquidation_events(rng: np.random.Generator, stem: str, venue: str, logp_hour: np.ndarray
                       ) -> dict[str, np.ndarray]:
    """One venue's reported liquidations of one asset over the last LIQ_DAYS days, as its
    stream would deliver them: time, liquidated side (1 long, 0 short), size in base coin on
    the venue's step, and its price (a forced sell fills below the market, a bankruptcy price
    lies beyond it)."""
    n = LIQ_DAYS * 24
    h0 = hour_index(NOW_MS) - n
    lam = liquidation_intensity(logp_hour, h0, n)
    share = LIQ_VENUE_SHARE[venue]
    times, sides, usd = [], [], []
    for side_code, side in ((1, "long"), (0, "short")):
        counts = rng.poisson(lam[side] * share)
        hour = np.repeat(np.arange(n), counts)
        t = (NOW_MS - n * MS_H) + hour * MS_H + rng.integers(0, MS_H, len(hour))
        size = LIQ_MEDIAN_USD[stem] * np.exp(rng.normal(0.0, 1.2, len(hour))) \
            * lam[f"size_{side}"][hour]
        times.append(t)
        sides.append(np.full(len(hour), side_code, dtype=np.int8))
        usd.append(size)
    t = np.concatenate(times).astype(np.int64)
    side = np.concatenate(sides)
    usd = np.concatenate(usd)
    order = np.argsort(t, kind="stable")
    t, side, usd = t[order], side[order], usd[order]
    # the price at the event: the hourly log path interpolated, then the venue's price kind
    pos = (t - day_ms(START_DAY)) / MS_H
    mark = np.exp(np.interp(pos, np.arange(len(logp_hour)), logp_hour))
    away = np.where(side == 1, -1.0, 1.0)  # a long's forced sell is below the market
    offset = {"binance": 0.0008, "bybit": 0.006, "okx": 0.006, "deribit": 0.0}[venue]
    price = np.round(mark * (1.0 + away * offset * rng.uniform(0.5, 1.5, len(t))), 1)
    if venue == "okx":
        qty = np.maximum(1, np.round(usd / price / OKX_CT_VAL[stem])) * OKX_CT_VAL[stem]
    elif venue == "deribit":
        # Deribit's perpetual trades in USD: amount in steps of $10 (BTC) or $1 (ETH)
        step = 10.0 if stem == "btc" else 1.0
        qty = np.maximum(step, np.round(usd / step) * step) / price
    else:
        qty_step = LIQ_QTY_STEP[venue]
        qty = np.maximum(qty_step, np.round(usd / price / qty_step) * qty_step)
    return {"time": t, "side": side, "qty": qty, "price": price}


# -- option chains ---------------------------------------------------------------------------
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def last_friday(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    d = nxt - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() - 4) % 7)


def expiries(t_ms: int) -> list[dt.date]:
    """Deribit-style: the next two weekly Fridays, the next two month-ends and the quarterlies
    after them, six in all; each expires at 08:00 UTC."""
    def alive(d: dt.date) -> bool:
        return day_ms(d) + 8 * MS_H > t_ms

    today = dt.date(1970, 1, 1) + dt.timedelta(days=t_ms // MS_D)
    fridays = [today + dt.timedelta(days=i) for i in range(0, 21)
               if (today + dt.timedelta(days=i)).weekday() == 4]
    out = [d for d in fridays if alive(d)][:2]
    months = []
    y, m = today.year, today.month
    for _ in range(14):
        d = last_friday(y, m)
        if alive(d):
            months.append(d)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    out += [d for d in months if d not in out][:2]
    out += [d for d in months if d.month % 3 == 0 and d not in out]
    return sorted(set(out))[:6]


def norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def black76(f: np.ndarray, k: np.ndarray, t: np.ndarray, sigma: np.ndarray,
            call: np.ndarray) -> np.ndarray:
    sq = sigma * np.sqrt(t)
    d1 = (np.log(f / k) + 0.5 * sq * sq) / sq
    d2 = d1 - sq
    c = f * norm_cdf(d1) - k * norm_cdf(d2)
    p = k * norm_cdf(-d2) - f * norm_cdf(-d1)
    return np.where(call, c, p)


OPTION_SETUP = {
    # strike steps by days to expiry, OI hump centres (× spot), OI spikes by strike, scale
    "btc": {"steps": ((40, 1000), (120, 2500), (10_000, 5000)), "long_run": 52.0,
            "call_centre": 74_000, "put_centre": 62_000, "oi_scale": 2_400.0, "put_weight": 1.25,
            "call_spikes": {70_000: 0.7, 72_000: 0.4, 73_000: 1.0, 75_000: 1.6, 80_000: 0.6,
                            85_000: 0.35, 90_000: 0.45, 100_000: 0.8},
            "put_spikes": {50_000: 0.6, 55_000: 0.6, 60_000: 1.6, 62_000: 0.7, 63_000: 0.4,
                           64_000: 0.5, 65_000: 1.3}},
    "eth": {"steps": ((40, 50), (120, 100), (10_000, 250)), "long_run": 68.0,
            "call_centre": 2_500, "put_centre": 1_950, "oi_scale": 22_000.0, "put_weight": 1.25,
            "call_spikes": {2_400: 0.6, 2_500: 1.5, 2_600: 0.5, 2_750: 0.4, 3_000: 0.9},
            "put_spikes": {1_500: 0.6, 1_800: 1.2, 1_900: 0.5, 2_000: 1.5}},
}


def option_chain(rng: np.random.Generator, asset: str, t_ms: int, spot: float, dvol: float,
                 put_build: float) -> list[dict]:
    cfg = OPTION_SETUP[asset]
    currency = asset.upper()
    rows = []
    stress = min(max((dvol - 45) / 45, 0.0), 1.0)
    skew = -(0.035 + 0.10 * stress)  # puts richer, much richer in the sell-off
    curv = 0.035 + 0.015 * stress
    basis = 0.045 - 0.03 * stress  # annualised contango, flatter under stress
    tau = 20 / 365

    def g(t: float) -> float:
        return (1 - math.exp(-t / tau)) / (t / tau)

    for exp_d in expiries(t_ms):
        exp_ms = day_ms(exp_d) + 8 * MS_H
        t_y = (exp_ms - t_ms) / (365 * MS_D)
        days = t_y * 365
        step = next(s for limit, s in cfg["steps"] if days <= limit)
        lowest = max(round(spot / step) * step - 12 * step, step)  # 25 strikes, all above 0
        strikes = (lowest + step * np.arange(25)).astype(float)
        fwd = round(spot * math.exp(basis * t_y), 2)
        atm = cfg["long_run"] + (dvol - cfg["long_run"]) * g(t_y) / g(30 / 365)
        m = np.clip(np.log(strikes / fwd) / (atm / 100 * math.sqrt(t_y)), -3.0, 3.0)
        iv = atm * (1 + skew * m + curv * m * m)
        iv = np.round(np.maximum(iv, 0.5 * atm) + 0.3 * rng.standard_normal(len(strikes)), 2)
        kind = "weekly" if exp_d.day < 22 else ("quarterly" if exp_d.month % 3 == 0
                                                else "monthly")
        weight = {"weekly": 0.35, "monthly": 1.0, "quarterly": 1.6}[kind] * (
            1.0 if days < 200 else 0.6)
        for ot in ("C", "P"):
            centre_k = cfg["call_centre"] if ot == "C" else cfg["put_centre"]
            spikes = cfg["call_spikes"] if ot == "C" else cfg["put_spikes"]
            hump = np.exp(-0.5 * (np.log(strikes / centre_k) / 0.16) ** 2)
            spike = np.array([spikes.get(int(k), 0.0) for k in strikes])
            side = 1.0
            if ot == "P":  # puts bought into the sell-off outweigh calls: flip above spot
                spike = spike * put_build
                side = cfg["put_weight"]
            oi = cfg["oi_scale"] * weight * side * (0.05 + hump + spike) \
                * np.exp(0.25 * rng.standard_normal(len(strikes)))
            oi = np.round(oi, 1)
            call = np.full(len(strikes), ot == "C")
            mark = black76(np.full(len(strikes), fwd), strikes, np.full(len(strikes), t_y),
                           iv / 100, call) / fwd
            mark = np.round(np.maximum(mark, 0.0001), 8)
            tick = np.where(mark < 0.005, 0.0001, 0.0005)
            half = np.maximum(0.5 * tick, 0.015 * mark + 0.00005)
            bid = np.round(np.floor((mark - half) / tick) * tick, 4)
            ask = np.round(np.ceil((mark + half) / tick) * tick, 4)
            for i, k in enumerate(strikes):
                name = f"{currency}-{exp_d.day}{MONTHS[exp_d.month - 1]}{exp_d.year % 100:02d}" \
                       f"-{int(k)}-{ot}"
                rows.append({
                    "instrument_name": name, "expiry_ms": exp_ms, "strike": float(k),
                    "option_type": ot, "mark_iv": float(iv[i]), "open_interest": float(oi[i]),
                    "underlying_price": fwd, "mark_price": float(mark[i]),
                    "bid_price": float(bid[i]) if bid[i] > 0 else None,
                    "ask_price": float(ask[i]),
                })
    rows.sort(key=lambda r: (r["expiry_ms"], r["strike"], r["option_type"]))
    return rows


# -- premium, basis, CME (models/basis.py for the conventions) --------------------------------
PREMIUM_DAYS = 3  # minute rows, as the streams record them (kept short: the npz size)
BASIS_DAYS = 14  # a row per 5-minute poll
BASIS_STEP_MS = 300_000
CURVE_DAYS = 7  # a term-structure snapshot a day
#: the venues' front-quarterly APR sits a little apart (points of APR)
BASIS_OFFSET = {"deribit": 0.35, "binance": 0.0, "okx": -0.2}


def minute_index(rng: np.random.Generator, logp_hour: np.ndarray, days: int) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """The spot index every minute over the last `days`: the hourly path, with a Brownian
    bridge inside each hour (so it passes through every hourly close)."""
    hours = days * 24
    h0 = hour_index(NOW_MS) - hours
    lp = logp_hour[h0:h0 + hours + 1]
    walk = np.cumsum(rng.normal(0.0, 0.0004, (hours, 60)), axis=1)
    bridge = walk - walk[:, -1:] * (np.arange(1, 61) / 60.0)
    ramp = lp[:-1, None] + (lp[1:] - lp[:-1])[:, None] * (np.arange(1, 61) / 60.0)
    logs = np.concatenate([[lp[0]], (ramp + bridge).ravel()[:-1]])
    t = NOW_MS - hours * MS_H + np.arange(hours * 60, dtype=np.int64) * 60_000
    return t, np.exp(logs)


def quarterly_expiries(t_ms: int, count: int) -> list[int]:
    """The next `count` quarterly expiries (last Friday of Mar/Jun/Sep/Dec, 08:00 UTC)."""
    out = []
    today = EPOCH + dt.timedelta(days=t_ms // MS_D)
    y, m = today.year, today.month
    while len(out) < count:
        if m % 3 == 0:
            e = day_ms(last_friday(y, m)) + 8 * MS_H
            if e > t_ms:
                out.append(e)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def sentiment_apr(premium_hourly: tuple[np.ndarray, dict[str, np.ndarray]],
                  t: np.ndarray) -> np.ndarray:
    """The crowd's funding, as an APR, averaged over venues and smoothed over a day, at t."""
    t_h, prem = premium_hourly
    mean = np.mean([p for p in prem.values()], axis=0)
    smooth = np.empty_like(mean)
    alpha = 1 - math.exp(-1 / 24)
    acc = mean[0]
    for i, v in enumerate(mean):
        acc += alpha * (v - acc)
        smooth[i] = acc
    return np.interp(t, t_h, smooth) * 3 * 365 * 100  # per 8h -> APR %


def front_apr_path(rng: np.random.Generator, sentiment: np.ndarray, level: float,
                   swing: float, phi: float, sd: float) -> np.ndarray:
    """Front-quarterly APR %: carry compresses toward zero when funding turns negative."""
    return level + swing * np.tanh(sentiment / 40.0) + ou(rng, len(sentiment), phi, sd)


def premium_rows(rng: np.random.Generator, t_min: np.ndarray, index: np.ndarray,
                 premium_hourly: tuple[np.ndarray, dict[str, np.ndarray]], venue: str
                 ) -> dict[str, np.ndarray]:
    """A venue's perp premium each minute: its hourly premium path (the one its funding is
    built from, so negative funding is a perp below its index) plus minute noise."""
    t_h, prem = premium_hourly
    p = np.interp(t_min, t_h, prem[venue]) + ou(rng, len(t_min), math.exp(-1 / 30), 0.00002)
    idx = np.round(index, 2)
    mark = np.round(index * (1 + p), 2)
    # rounded to 1e-6 %: far below a tick, and the file compresses
    return {"mark": mark, "index": idx, "premium_pct": np.round((mark - idx) / idx * 100.0, 6)}


def basis_rows(t: np.ndarray, index: np.ndarray, apr: np.ndarray) -> dict[str, np.ndarray]:
    """Stored BASIS rows: the front quarterly priced at `apr`, the row's numbers recomputed
    from the rounded prices exactly as the clients compute them."""
    expiry = np.array([front_quarterly(quarterly_expiries(int(x), 2), int(x)) for x in t],
                      dtype=np.int64)
    days = (expiry - t) / MS_D
    idx = np.round(index, 2)
    fut = np.round(index * (1 + apr / 100 * days / 365), 1)
    b = basis_of(fut, idx)
    return {"future_price": fut, "index_price": idx, "days_to_expiry": days,
            "basis_pct": np.round(b, 6), "apr_pct": np.round(annualised_pct(b, days), 6)}


def listed_expiries(venue: str, t_ms: int) -> list[int]:
    if venue == "deribit":
        return [day_ms(d) + 8 * MS_H for d in expiries(t_ms)]
    if venue == "binance":  # CURRENT_QUARTER, NEXT_QUARTER
        return quarterly_expiries(t_ms, 2)
    today = EPOCH + dt.timedelta(days=t_ms // MS_D)  # OKX: this/next week, quarter, next quarter
    fridays = [day_ms(today + dt.timedelta(days=i)) + 8 * MS_H for i in range(15)
               if (today + dt.timedelta(days=i)).weekday() == 4]
    return sorted(set([f for f in fridays if f > t_ms][:2] + quarterly_expiries(t_ms, 2)))


def instrument_name(venue: str, stem: str, expiry_ms: int) -> str:
    d = EPOCH + dt.timedelta(days=expiry_ms // MS_D)
    if venue == "deribit":
        return f"{stem.upper()}-{d.day}{MONTHS[d.month - 1]}{d.year % 100:02d}"
    if venue == "binance":
        return f"{stem.upper()}USDT_{d:%y%m%d}"
    return f"{stem.upper()}-USD-{d:%y%m%d}"


def curve_frame(rng: np.random.Generator, stem: str, t_ms: int, index: float,
                front_apr: dict[str, float]) -> dict[str, list]:
    """Every venue's listed futures at t: APR rising with the log of days from the front
    quarterly's (contango), short expiries noisier."""
    rows = []
    for venue, apr0 in front_apr.items():
        listed = listed_expiries(venue, t_ms)
        d_front = (front_quarterly(listed, t_ms) - t_ms) / MS_D
        for e in listed:
            days = (e - t_ms) / MS_D
            apr = apr0 + 0.9 * math.log(days / d_front) + rng.normal(0, 0.6 / math.sqrt(days))
            rows.append({"venue": venue, "instrument": instrument_name(venue, stem, e),
                         "expiry_ms": e, "future_price": round(index * (1 + apr / 100 * days
                                                                        / 365), 1),
                         "index_price": round(index, 2), "time_ms": t_ms})
    return columns_of(rows)


def cme_open(t_ms: np.ndarray) -> np.ndarray:
    """CME Globex hours for Bitcoin futures in UTC, winter time throughout (a simplification):
    Sunday 23:00 to Friday 22:00, with the daily halt 22:00–23:00; holidays not modelled."""
    days = t_ms // MS_D
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hour = (t_ms % MS_D) // MS_H
    return (((weekday <= 3) & (hour != 22)) | ((weekday == 4) & (hour < 22))
            | ((weekday == 6) & (hour == 23)))


def cme_bars(rng: np.random.Generator, spot: dict[str, np.ndarray], t: np.ndarray,
             sentiment: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """BTC=F hourly: spot's bar scaled by the front month's carry (CME's basis runs richer
    than the crypto venues'), in 5-dollar ticks, volume in contracts of 5 BTC."""
    apr = 7.5 + 5.0 * np.tanh(sentiment / 40.0) + ou(rng, len(t), math.exp(-1 / 12), 0.4)
    close_ms = t + MS_H
    days = (np.array([cme_front_expiry_ms(int(x)) for x in close_ms]) - close_ms) / MS_D
    factor = 1 + apr / 100 * days / 365
    keep = cme_open(t)
    cols = {k: np.round(spot[k] * factor / 5) * 5 for k in ("open", "high", "low", "close")}
    cols["volume"] = np.maximum(1.0, np.round(spot["volume"] * 0.01))
    return t[keep], {k: v[keep] for k, v in cols.items()}


FUNDING_NOW_HOURS = 7 * 24  # a current-funding table every hour of the last week
CHAIN_STEP_MS = 4 * MS_H  # the 4-hourly chains over 4-6 Feb (the last 72 hours)
CHAIN_STEPS = 18
# One chain the venue served again later with other numbers (its put open interest at the
# 60k strikes had been counted once per book side): the cache keeps both revisions and replay
# shows the one known at its time (docs/replay.md, "As of").
CORRECTED_CHAIN_MS = NOW_MS - 60_000 - 7 * CHAIN_STEP_MS  # 2026-02-05 19:59 UTC
CORRECTED_RECORDED_MS = CORRECTED_CHAIN_MS + 3 * MS_H + 60_000  # 2026-02-05 23:00 UTC


def corrected_chain(first: dict) -> dict:
    """The later revision of `first`: put open interest at 58k-62k halved (a double count the
    venue fixed), everything else as served the first time."""
    frame = {c: list(v) for c, v in first["frame"].items()}
    for i, (kind, strike) in enumerate(zip(frame["option_type"], frame["strike"], strict=True)):
        if kind == "P" and 58_000 <= strike <= 62_000:
            frame["open_interest"][i] = round(frame["open_interest"][i] / 2, 1)
    return {**first, "recorded_ms": CORRECTED_RECORDED_MS, "frame": frame}


def columns_of(rows: list[dict]) -> dict[str, list]:
    return {c: [r[c] for r in rows] for c in rows[0]}


# -- build -----------------------------------------------------------------------------------
def build() -> tuple[dict[str, np.ndarray], dict]:
    def stream(name: str, key: int = 0) -> np.random.Generator:
        # one seeded stream per part, so retuning one part leaves the others' numbers alone
        return np.random.default_rng([SEED, zlib.crc32(name.encode()), key])

    dates = [START_DAY + dt.timedelta(days=i) for i in range(N)]
    trading = np.array([is_trading_day(d) for d in dates])
    early = np.array([d in NYSE_EARLY_CLOSES for d in dates])
    x, sig = daily_model(stream("daily"), trading)
    arrays: dict[str, np.ndarray] = {}

    def put(series_id: str, t: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        arrays[f"{series_id}/time"] = np.asarray(t, dtype=np.int64)
        for k, v in cols.items():
            arrays[f"{series_id}/{k}"] = np.asarray(v, dtype=np.float64)

    # crypto: hourly for all five years (so daily = aggregate of hourly), 120 days stored
    btc_base_vol = curve([("2021-02-07", 2500), ("2022-06-15", 3000), ("2023-03-01", 4000),
                          ("2023-09-01", 1200), ("2024-03-01", 2000), ("2025-06-01", 600),
                          ("2026-01-01", 700), ("2026-02-06", 1100)])
    low_hour = 21  # the sell-off's low: 2026-02-05 21:00 UTC
    logp_pts = {}
    for stem in CRYPTO:
        waypoint = (EPISODE_START + 4, low_hour, 60_100.0) if stem == "btc" else None
        base = btc_base_vol * (18.0 if stem == "eth" else 1.0)
        t, cols, pts = crypto_hours(stream("hours", CRYPTO.index(stem)), x[stem], sig[stem],
                                    DECIMALS[stem], base, waypoint)
        logp_pts[stem] = np.concatenate([pts[:1, 0], pts[:, 1:].ravel()])  # N*24+1 points
        daily = aggregate(np.repeat(np.arange(N), 24), cols)
        put(price_id(stem, "1d"), np.arange(N, dtype=np.int64) * MS_D + day_ms(START_DAY), daily)
        put(price_id(stem, "1h"), *last_days(t, cols, HOURLY_DAYS))

    sessions = np.flatnonzero(trading)
    futures_vol = {"gold": 18_000.0, "silver": 6_000.0}
    for stem in EXCHANGE:
        t, cols, sess = exchange_sessions(stream("sessions", EXCHANGE.index(stem)), stem,
                                          x[stem], sig[stem], sessions, early,
                                          futures_vol.get(stem))
        daily = aggregate(sess, cols)
        hours = 9.5 if stem in SESSION_OPEN_STAMPED else 0.0
        t_daily = np.array([ny_ms(dates[i], hours) for i in sessions], dtype=np.int64)
        put(price_id(stem, "1d"), t_daily, daily)
        first = day_ms(END_DAY - dt.timedelta(days=HOURLY_DAYS - 1))
        keep = t >= first
        put(price_id(stem, "1h"), t[keep], {k: v[keep] for k, v in cols.items()})
    # the E-mini futures: contracts a day, ES ~1.4M, NQ ~0.55M
    emini_volume = {"es": 1_400_000.0, "nq": 550_000.0}
    for i, (stem, cash) in enumerate(EMINI.items()):
        t, cols, sess = globex_hours(stream("globex", i), stem, x[cash], sig[cash], sessions,
                                     early, emini_volume[stem])
        t_daily = np.array([ny_ms(dates[j], 0.0) for j in sessions], dtype=np.int64)
        put(price_id(stem, "1d"), t_daily, aggregate(sess, cols))
        first = day_ms(END_DAY - dt.timedelta(days=HOURLY_DAYS - 1))
        keep = t >= first
        put(price_id(stem, "1h"), t[keep], {k: v[keep] for k, v in cols.items()})

    # DVOL, peaking at the hour of the BTC low
    h_low = hour_index(day_ms(END_DAY - dt.timedelta(days=1)) + low_hour * MS_H)
    dv_anchor = [("2025-02-07", 55), ("2025-03-03", 62), ("2025-03-28", 52), ("2025-04-08", 66),
                 ("2025-05-10", 48), ("2025-06-22", 42), ("2025-07-25", 38), ("2025-09-01", 37),
                 ("2025-09-28", 35), ("2025-10-10", 55), ("2025-10-20", 48), ("2025-11-21", 60),
                 ("2025-12-10", 48), ("2025-12-31", 42), ("2026-01-15", 40), ("2026-01-29", 45),
                 ("2026-01-31", 50), ("2026-02-02", 55), ("2026-02-04", 66)]
    peaks = {"btc": 97.0, "eth": 118.0}
    ends = {"btc": 74.0, "eth": 92.0}
    dvol_close = {}
    for stem in CRYPTO:
        ratio = 1.0 if stem == "btc" else 1.3
        anchors = [(didx(d) * 24, v * ratio) for d, v in dv_anchor]
        anchors += [(h_low, peaks[stem]), (N * 24 - 1, ends[stem])]
        t, cols = dvol_series(stream("dvol", CRYPTO.index(stem)), logp_pts[stem], anchors,
                              (h_low, peaks[stem]), leverage=1.6, sd=0.06)
        dvol_close[stem] = (t, cols["close"])
        put(dvol_id(stem), t, cols)
        # Volmex BVIV/EVIV: another 30-day implied-vol index over more venues; it tracks DVOL
        # within a couple of vol points, with its own slow drift (AR(1) on the ratio).
        rng = stream("volmex", CRYPTO.index(stem))
        drift = np.zeros(len(t))
        shocks = rng.normal(0.0, 0.002, len(t))
        for i in range(1, len(t)):
            drift[i] = 0.995 * drift[i - 1] + shocks[i]
        ratio_v = 1.0 + drift
        put(volmex_id(stem), t, {k: np.round(v * ratio_v, 2) for k, v in cols.items()})

    # funding (90 days) and open interest (30 days)
    snapshots = []
    snap_ms = NOW_MS - 60_000  # the chains and current funding as fetched at 23:59 UTC
    oi_hist = {}
    oi_base = {("binance", "btc"): 85_000, ("bybit", "btc"): 52_000,
               ("binance", "eth"): 2_150_000, ("bybit", "eth"): 1_050_000}
    for stem in CRYPTO:
        close_hour = np.exp(logp_pts[stem])  # price at every hour boundary
        for venue in (v for v in OI_VENUES if stem in PERP_SYMBOLS[v]):
            base = oi_base.get((venue, stem), 40_000 * (25 if stem == "eth" else 1))
            oi = oi_path(stream(f"oi.{venue}", CRYPTO.index(stem)), base)
            oi = np.round(oi, 3)
            t = NOW_MS - OI_DAYS * MS_D + np.arange(len(oi), dtype=np.int64) * MS_H
            px = close_hour[np.array([hour_index(int(v)) for v in t])]
            put(oi_id(venue, stem), t, {"open_interest": oi,
                                           "open_interest_usd": np.round(oi * px, 2)})
            oi_hist[(venue, stem)] = (t, oi)
        funding, _premium_now, premium_hourly = funding_series(
            stream("funding", CRYPTO.index(stem)), logp_pts[stem],
            beta=1.0 if stem == "btc" else 1.35)
        # venues without OI history: a level that flushes like Binance's and Bybit's
        flush = oi_path(stream("oi.other", CRYPTO.index(stem)), 1.0)
        t_oi = NOW_MS - OI_DAYS * MS_D + np.arange(len(flush), dtype=np.int64) * MS_H
        other_oi = {"okx": 30_000.0, "deribit": 11_500.0, "hyperliquid": 24_000.0}
        t_prem, prem = premium_hourly
        for venue, (t, rate, interval) in funding.items():
            if stem not in PERP_SYMBOLS[venue]:
                continue
            put(funding_id(venue, stem), t, {
                "rate": rate, "interval_hours": np.full(len(t), interval),
                "apr_pct": apr(rate, interval)})
            # The "now" table as fetched at :59 every hour of the last week: it shows the last
            # settled rate (so it tells the history's story), the perp at its premium of the
            # hour, and the open interest of the hour (the venue's OI history where it has one).
            for back in range(FUNDING_NOW_HOURS - 1, -1, -1):
                t_now = snap_ms - back * MS_H
                settled = int(np.searchsorted(t, t_now, "right")) - 1
                hour = t_now - t_now % MS_H
                spot = float(close_hour[hour_index(hour + MS_H)])
                premium = float(prem[venue][int(np.searchsorted(t_prem, hour))])
                mark = round(spot * (1 + premium), 2)  # the perp trades at its premium
                if (venue, stem) in oi_hist:
                    t_v, oi_v = oi_hist[(venue, stem)]
                    oi = float(oi_v[int(np.searchsorted(t_v, t_now, "right")) - 1])
                else:
                    j = int(np.searchsorted(t_oi, t_now, "right")) - 1
                    oi = round(other_oi.get(venue, 10_000.0) * float(flush[j])
                               * (26.0 if stem == "eth" else 1.0), 3)
                rate_now = float(rate[settled])
                frame = {"rate": [rate_now], "interval_hours": [interval],
                         "apr_pct": [float(apr(rate_now, interval))],
                         "next_funding_ms": [int(t[settled] + interval * MS_H)],
                         "mark_price": [mark], "index_price": [round(spot, 2)],
                         "open_interest": [oi], "open_interest_usd": [round(oi * mark, 2)]}
                snapshots.append({
                    "series_id": funding_now_id(venue, stem), "time_ms": t_now,
                    "meta": {"venue": venue, "symbol": PERP_SYMBOLS[venue][stem],
                             "synthetic": True},
                    "frame": frame})

        # option chains: one per day for the last week (skew history), the newest at "now",
        # and one every 4 hours over 4-6 Feb (the gamma levels through the sell-off and rebound)
        t_dv, dv = dvol_close[stem]
        daily = [(snap_ms - back * MS_D, f"options.{stem}", back) for back in range(6, -1, -1)]
        four_hourly = [(snap_ms - k * CHAIN_STEP_MS, f"options4h.{stem}", k)
                       for k in range(1, CHAIN_STEPS) if (k * CHAIN_STEP_MS) % MS_D]
        for t_snap, part, key in sorted(daily + four_hourly):
            spot_t = float(close_hour[hour_index(t_snap - t_snap % MS_H + MS_H)])
            dvol_t = float(dv[np.searchsorted(t_dv, t_snap, "right") - 1])
            # put open interest builds through the week of the sell-off
            rows = option_chain(stream(part, key), stem, t_snap, spot_t, dvol_t,
                                put_build=1.0 - 0.06 * (snap_ms - t_snap) / MS_D)
            snapshots.append({
                "series_id": options_id(stem), "time_ms": t_snap,
                "meta": {"index_price": round(spot_t, 2), "currency": stem.upper(),
                         "venue": "deribit", "synthetic": True},
                "frame": columns_of(rows)})
            if stem == "btc" and t_snap == CORRECTED_CHAIN_MS:
                snapshots.append(corrected_chain(snapshots[-1]))
        # premium (minute rows, last week), front-quarterly basis (5-minute polls, last month),
        # a term structure a day (last week); all from the same minute index
        t_min, index = minute_index(stream("index", CRYPTO.index(stem)), logp_pts[stem],
                                    BASIS_DAYS)
        recent = t_min >= NOW_MS - PREMIUM_DAYS * MS_D
        for venue in FUNDING_VENUES:
            if stem in PERP_SYMBOLS[venue]:
                put(premium_id(venue, stem), t_min[recent],
                    premium_rows(stream(f"premium.{venue}", CRYPTO.index(stem)), t_min[recent],
                                 index[recent], premium_hourly, venue))
        polls = slice(None, None, BASIS_STEP_MS // 60_000)
        t_poll, index_poll = t_min[polls], index[polls]
        mood = sentiment_apr(premium_hourly, t_poll.astype(float))
        front = {}
        for venue in BASIS_VENUES:
            front[venue] = front_apr_path(stream(f"basis.{venue}", CRYPTO.index(stem)), mood,
                                          5.5 + BASIS_OFFSET.get(venue, 0.0), 4.5,
                                          math.exp(-1 / 24), 0.12)
            put(basis_id(venue, stem), t_poll, basis_rows(t_poll, index_poll, front[venue]))
        for back in range(CURVE_DAYS - 1, -1, -1):
            t_snap = snap_ms - back * MS_D
            i = int(np.searchsorted(t_poll, t_snap, "right")) - 1
            j = int(np.searchsorted(t_min, t_snap, "right")) - 1
            snapshots.append({
                "series_id": basis_curve_id(stem), "time_ms": t_snap,
                "meta": {"venues": list(BASIS_VENUES), "synthetic": True},
                "frame": curve_frame(stream(f"curve.{stem}", back), stem, t_snap,
                                     float(index[j]), {v: float(a[i]) for v, a in
                                                       front.items()})})
        if stem == "btc":
            hourly_t = arrays[f"{price_id('btc', '1h')}/time"]
            spot = {k: arrays[f"{price_id('btc', '1h')}/{k}"]
                    for k in ("open", "high", "low", "close", "volume")}
            put(CME_BTC_ID, *cme_bars(stream("cme"), spot, hourly_t,
                                      sentiment_apr(premium_hourly, hourly_t.astype(float))))
    # reported liquidations, per venue: events as the streams deliver them (`liqevents.*`);
    # the app stores them through Cache.add_liquidations, which builds the liq.* buckets
    for stem in CRYPTO:
        for venue in LIQ_VENUE_SHARE:
            events = liquidation_events(stream(f"liq.{venue}", CRYPTO.index(stem)), stem, venue,
                                        logp_pts[stem])
            key = f"liqevents.{venue}.{stem}"
            arrays[f"{key}/time"] = events["time"]
            arrays[f"{key}/side"] = events["side"]
            arrays[f"{key}/qty"] = events["qty"].astype(np.float64)
            arrays[f"{key}/price"] = events["price"].astype(np.float64)
    doc = {"format": FORMAT, "now_ms": NOW_MS, "snapshots": snapshots}
    return arrays, doc


# -- writing (deterministic bytes: fixed zip timestamps, gzip mtime 0) -----------------------
def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def write_snapshots(path: Path, doc: dict) -> None:
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False, sort_keys=False)
    path.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=here / "resources" / "demo",
                        help="output folder (default: resources/demo)")
    args = parser.parse_args(argv)
    arrays, doc = build()
    args.out.mkdir(parents=True, exist_ok=True)
    write_npz(args.out / "demo.npz", arrays)
    write_snapshots(args.out / "snapshots.json.gz", doc)
    size = sum((args.out / f).stat().st_size for f in ("demo.npz", "snapshots.json.gz"))
    print(f"wrote {len(arrays)} arrays and {len(doc['snapshots'])} snapshots to {args.out} "
          f"({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
