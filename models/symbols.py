"""The trader's own symbols: a Binance spot pair or a Yahoo ticker beside the built-in assets.

A `UserSymbol` says where its bars come from (venue and the venue's symbol), what it is called,
how it trades (`calendar`: "24/7" for crypto, "24/5" for currencies, else the exchange-calendars
code of its exchange) and the stem of its series ids (`<stem>.1h`, `<stem>.1d`). `SymbolList` is
the ordered list a workspace saves (the "symbols" section: docs/symbols.md).

`register_user_symbols` makes a list visible to the rest of the app in one step: the catalog
serves their price series (`models.catalog.find_spec`) and the asset lookups (`short_name`,
`asset_color` …) know their names and colours. No Qt, no I/O.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.assets import ASSETS, Asset, AssetClass, set_user_assets
from models.catalog import (
    CANDLES,
    PRICE_INTERVALS,
    SYMBOL_RE,
    SeriesSpec,
    price_extra,
    price_history_days,
    price_max_days,
    set_user_specs,
    validate_series_id,
)
from models.ids import IdKind, price_id
from models.venues import find_venue

SECTION = "symbols"
VENUES = ("binance", "yahoo")
CRYPTO_CALENDAR = "24/7"
FX_CALENDAR = "24/5"
#: the calendar of US-hours markets: rotation measures them on NYSE sessions like the built-ins
NYSE_CALENDAR = "XNYS"
MAX_SYMBOLS = 24
MAX_NAME = 60

# Yahoo's `meta.exchangeName` → the exchange-calendars code whose sessions the symbol trades.
# Shenzhen (SHZ) keeps Shanghai's hours and holidays (exchange-calendars has no XSHE).
# US equities, ETFs and indices (Nasdaq NMS/NGM/NCM/NIM, NYSE NYQ, Arca PCX, American ASE, Cboe
# BTS/CXI, S&P's SNP, Dow Jones DJI) trade NYSE hours. US futures (CME, CBOT, NYMEX, COMEX, ICE
# US NYB) trade ~23 h on Globex; Yahoo gives one daily bar per trading date, and the built-in
# gold, silver and dollar-index futures are measured on NYSE sessions: user futures join them on
# XNYS (same frame, same sessions) rather than CMES, whose 17:00 Chicago closes would never line
# up with the other peers' closes.
YAHOO_CALENDARS: dict[str, str] = {
    **dict.fromkeys(("NMS", "NGM", "NCM", "NAS", "NIM", "NYQ", "NYS", "PCX", "ASE", "BTS",
                     "CXI", "SNP", "DJI", "WCB", "PNK", "OQB", "OQX"), NYSE_CALENDAR),
    **dict.fromkeys(("CME", "CBT", "NYM", "CMX", "NYB"), NYSE_CALENDAR),
    "LSE": "XLON", "IOB": "XLON", "GER": "XETR", "FRA": "XFRA", "STU": "XSTU", "DUS": "XDUS",
    "HAM": "XHAM", "PAR": "XPAR", "AMS": "XAMS", "BRU": "XBRU", "LIS": "XLIS", "MIL": "XMIL",
    "MCE": "XMAD", "EBS": "XSWX", "VIE": "XWBO", "STO": "XSTO", "CPH": "XCSE", "HEL": "XHEL",
    "OSL": "XOSL", "ISE": "XDUB", "WSE": "XWAR", "TOR": "XTSE", "VAN": "XTSE", "SAO": "BVMF",
    "MEX": "XMEX", "JPX": "XTKS", "OSA": "XTKS", "HKG": "XHKG", "SHH": "XSHG", "SHZ": "XSHG",
    "KSC": "XKRX", "KOE": "XKRX", "TAI": "XTAI", "SES": "XSES", "ASX": "XASX", "NZE": "XNZE",
    "BSE": "XBOM", "JNB": "XJSE", "TLV": "XTAE", "IST": "XIST", "SAU": "XSAU",
}
#: Yahoo instrument types that trade around the clock (crypto) or through the week (currencies)
_YAHOO_ROUND_THE_CLOCK = {"CRYPTOCURRENCY": CRYPTO_CALENDAR, "CURRENCY": FX_CALENDAR}

# Colours of user symbols (dark theme, light theme), distinct from every built-in asset's by
# CIEDE2000 ≥ 12 and readable on both backgrounds (tests/models/test_symbols.py checks it).
# Green and red come last: beside the movers' up and down numbers they read as a move.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#ba68c8", "#6a1b9a"),
    ("#a7ffeb", "#01579b"),
    ("#dce775", "#4e342e"),
    ("#90a4ae", "#283593"),
    ("#81c784", "#2e7d32"),
    ("#e57373", "#ad1457"),
)

#: words an id already gives a meaning to, and panel keys that share the stems' namespace
RESERVED_STEMS = frozenset({k.value for k in IdKind} | {"compare", "bviv", "eviv", "demo",
                                                         "symbols"})
STEM_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
_KNOWN_KEYS = ("venue", "symbol", "stem", "name", "calendar", "currency", "exchange",
               "instrument", "color")


def calendar_for_yahoo(exchange_name: str, instrument_type: str) -> str | None:
    """The calendar a Yahoo symbol trades: round the clock for crypto and currencies, else its
    exchange's (None: an exchange this table does not know)."""
    kind = (instrument_type or "").upper()
    if kind in _YAHOO_ROUND_THE_CLOCK:
        return _YAHOO_ROUND_THE_CLOCK[kind]
    return YAHOO_CALENDARS.get((exchange_name or "").upper())


def _valid_calendar(calendar: str) -> bool:
    return calendar in (CRYPTO_CALENDAR, FX_CALENDAR) or bool(re.fullmatch(r"[A-Z]{4}",
                                                                        calendar or ""))


def stem_candidate(venue: str, symbol: str) -> str:
    """A stem spelled from the venue's symbol: "SOLUSDT" → "solusdt", "^FTSE" → "ftse-idx",
    "ES=F" → "es-f", "BRK.B" → "brk-b"."""
    text = symbol.lower()
    suffix = "-idx" if text.startswith("^") else ""
    text = re.sub(r"[^a-z0-9]+", "-", text.lstrip("^")).strip("-")
    return (text + suffix)[:32].strip("-") or venue


def check_stem(stem: str, taken: Iterable[str] = ()) -> str:
    """Raise ValueError when `stem` could not name series: bad characters (the series-id rule,
    no dot, no path or SQL characters), a built-in asset's stem, a reserved word, or taken."""
    if not isinstance(stem, str) or not STEM_RE.match(stem):
        raise ValueError(f"stem {stem!r}: use 1-32 of a-z, 0-9, '-' and '_'")
    for interval in PRICE_INTERVALS:
        validate_series_id(price_id(stem, interval))
    if stem in ASSETS:
        raise ValueError(f"stem {stem!r} is a built-in asset")
    if stem in RESERVED_STEMS:
        raise ValueError(f"stem {stem!r} is reserved")
    if stem in set(taken):
        raise ValueError(f"stem {stem!r} is used twice")
    return stem


@dataclass(frozen=True)
class UserSymbol:
    venue: str  # "binance" or "yahoo"
    symbol: str  # as the venue spells it: SOLUSDT, AAPL, ES=F, ^FTSE
    stem: str  # of its series ids: solusdt.1h
    name: str  # what the trader reads: "SOL/USDT", "Apple Inc."
    calendar: str  # "24/7", "24/5" or an exchange-calendars code (XNYS, XLON …)
    currency: str = ""  # what its price is quoted in (USDT, USD, GBp)
    exchange: str = ""  # Yahoo's exchange name (NMS, CME …); "" for Binance
    instrument: str = ""  # Yahoo's instrument type (EQUITY, FUTURE …); "SPOT" for Binance
    color: int = 0  # index into PALETTE
    extra: Mapping[str, Any] = field(default_factory=dict)  # unknown keys, written back

    @property
    def trades_24_7(self) -> bool:
        return self.calendar == CRYPTO_CALENDAR

    @property
    def short(self) -> str:
        """For tight labels: the pair's base/quote or the ticker."""
        return self.name if self.venue == "binance" else self.symbol.lstrip("^")

    @property
    def colors(self) -> tuple[str, str]:
        return PALETTE[self.color % len(PALETTE)]

    @property
    def feed_param(self) -> tuple[str, str]:
        """(stem, calendar): what movers and rotation need to know of it."""
        return self.stem, self.calendar

    def as_asset(self) -> Asset:
        if self.trades_24_7:
            kind = AssetClass.CRYPTO
        elif self.calendar == FX_CALENDAR:
            kind = AssetClass.FX
        else:
            kind = AssetClass.EXCHANGE_TRADED
        dark, light = self.colors
        return Asset(self.stem, self.name, self.short, self.symbol.lstrip("^")[:10], dark, kind,
                     light)

    def price_specs(self) -> list[SeriesSpec]:
        """Its bars at every interval, polled and backfilled like the venue's built-in series."""
        venue = find_venue(self.venue)
        assert venue is not None
        out = []
        for interval in PRICE_INTERVALS:
            out.append(SeriesSpec(
                id=price_id(self.stem, interval), kind=CANDLES, source=venue.key,
                symbol=self.symbol, interval=interval, label=f"{self.name} ({self.symbol})",
                asset=self.name, unit=self.currency,
                history_days=price_history_days(interval, crypto=self.trades_24_7),
                poll_seconds=venue.candle_poll_seconds,
                max_history_days=price_max_days(venue, interval),
                extra={"user_symbol": True, **price_extra(venue, interval)}))
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"venue": self.venue, "symbol": self.symbol, "stem": self.stem,
                               "name": self.name, "calendar": self.calendar,
                               "currency": self.currency, "exchange": self.exchange,
                               "instrument": self.instrument, "color": self.color}
        out.update({k: copy.deepcopy(v) for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "symbol") -> UserSymbol:
        """One item, checked field by field; ValueError names the field."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        for key in ("venue", "symbol", "stem", "name", "calendar"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"{where}.{key}: expected text")
        for key in ("currency", "exchange", "instrument"):
            if not isinstance(data.get(key, ""), str) or len(data.get(key, "")) > 40:
                raise ValueError(f"{where}.{key}: expected text of at most 40 characters")
        if data["venue"] not in VENUES:
            raise ValueError(f"{where}.venue: {data['venue']!r} is not one of {', '.join(VENUES)}")
        if not SYMBOL_RE.match(data["symbol"]):
            raise ValueError(f"{where}.symbol: {data['symbol']!r} has characters a venue "
                             "symbol never has")
        name = data["name"]
        if not name.strip() or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise ValueError(f"{where}.name: 1-{MAX_NAME} printable characters")
        if not _valid_calendar(data["calendar"]):
            raise ValueError(f"{where}.calendar: {data['calendar']!r} is neither 24/7, 24/5 "
                             "nor an exchange code such as XNYS")
        color = data.get("color", 0)
        if isinstance(color, bool) or not isinstance(color, int) or not \
                0 <= color < len(PALETTE):
            raise ValueError(f"{where}.color: expected 0..{len(PALETTE) - 1}")
        try:
            check_stem(data["stem"])
        except ValueError as e:
            raise ValueError(f"{where}.stem: {e}") from None
        extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in _KNOWN_KEYS}
        return cls(data["venue"], data["symbol"], data["stem"], name.strip(),
                   data["calendar"], data.get("currency", ""), data.get("exchange", ""),
                   data.get("instrument", ""), color, extra)


class SymbolList:
    """The user's symbols in the order added: the workspace section "symbols"."""

    def __init__(self, symbols: Iterable[UserSymbol] = ()) -> None:
        self._items: list[UserSymbol] = []
        self._listeners: list[Callable[[], None]] = []
        items = list(symbols)
        if items:
            self.validate_json([s.to_json() for s in items])
            self._items = items

    # -- reading ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[UserSymbol]:
        return iter(tuple(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def stems(self) -> tuple[str, ...]:
        return tuple(s.stem for s in self._items)

    def find(self, stem: str) -> UserSymbol | None:
        return next((s for s in self._items if s.stem == stem), None)

    def find_symbol(self, venue: str, symbol: str) -> UserSymbol | None:
        return next((s for s in self._items if s.venue == venue and s.symbol == symbol), None)

    def feed_param(self) -> tuple[tuple[str, str], ...]:
        """((stem, calendar), …): the parameter the movers and rotation feeds take."""
        return tuple(s.feed_param for s in self._items)

    # -- editing ------------------------------------------------------------------------------
    def make(self, venue: str, symbol: str, name: str, calendar: str, *, currency: str = "",
             exchange: str = "", instrument: str = "") -> UserSymbol:
        """A new symbol for this list: its stem spelled from the venue's symbol (prefixed by
        the venue when that spelling is a built-in's or taken), the least used colour."""
        taken = set(self.stems())
        stem = stem_candidate(venue, symbol)
        try:
            check_stem(stem, taken)
        except ValueError:
            stem = f"{venue[0]}-{stem}"[:32]
            check_stem(stem, taken)
        used = [s.color for s in self._items]
        color = min(range(len(PALETTE)), key=lambda i: (used.count(i), i))
        made = UserSymbol(venue, symbol, stem, name.strip()[:MAX_NAME] or symbol, calendar,
                          currency[:40], exchange[:40], instrument[:40], color)
        UserSymbol.from_json(made.to_json())  # the same rules as a loaded one
        return made

    def add(self, symbol: UserSymbol) -> None:
        if self.find_symbol(symbol.venue, symbol.symbol) is not None:
            raise ValueError(f"{symbol.symbol} ({symbol.venue}) is already in the list")
        self.validate_json([*(s.to_json() for s in self._items), symbol.to_json()])
        self._items.append(symbol)
        self._notify()

    def remove(self, stem: str) -> bool:
        before = len(self._items)
        self._items = [s for s in self._items if s.stem != stem]
        if len(self._items) == before:
            return False
        self._notify()
        return True

    # -- the workspace section ------------------------------------------------------------------
    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self._items]

    @classmethod
    def validate_json(cls, data: Any) -> None:
        cls._parse(data)

    @classmethod
    def _parse(cls, data: Any) -> list[UserSymbol]:
        if not isinstance(data, list):
            raise ValueError(f"{SECTION}: expected a list, got {type(data).__name__}")
        if len(data) > MAX_SYMBOLS:
            raise ValueError(f"{SECTION}: {len(data)} symbols, at most {MAX_SYMBOLS}")
        items: list[UserSymbol] = []
        for i, raw in enumerate(data):
            item = UserSymbol.from_json(raw, f"{SECTION}[{i}]")
            if item.stem in {s.stem for s in items}:
                raise ValueError(f"{SECTION}[{i}].stem: {item.stem!r} is used twice")
            if any(s.venue == item.venue and s.symbol == item.symbol for s in items):
                raise ValueError(f"{SECTION}[{i}]: {item.symbol} ({item.venue}) is listed twice")
            items.append(item)
        return items

    def load_json(self, data: Any) -> None:
        items = self._parse(data)  # all or nothing
        self._items = items
        self._notify()

    def add_listener(self, callback: Callable[[], None]) -> None:
        if callback not in self._listeners:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()


def register_user_symbols(symbols: Iterable[UserSymbol]) -> None:
    """Make these the user symbols the app knows (catalog specs and asset names/colours),
    replacing the previous ones. Each registry is swapped whole: a worker reading it meanwhile
    sees the old or the new set, never a half-built one."""
    items = list(symbols)
    set_user_specs([spec for s in items for spec in s.price_specs()])
    set_user_assets([s.as_asset() for s in items])
