"""Finding and checking the trader's own symbols (models/symbols.py), without Qt.

- Binance spot: the venue's pair list, `GET /api/v3/exchangeInfo?permissions=SPOT&
  showPermissionSets=false` (weight 20; every SPOT pair with its `status`: TRADING, BREAK,
  HALT …; the per-symbol `permissions` list has been empty since `permissionSets` replaced it,
  so the SPOT filter is asked of the server). Kept in the SQLite cache as a snapshot
  (PAIRS_ID, stamped with its fetch time) and fetched again when older than a day.
- Yahoo: one chart request (`range=5d&interval=1d`) checks a ticker and gives its name,
  exchange, currency and instrument type (`chart.result[0].meta`). An unknown ticker answers
  HTTP 404 with `chart.error` "Not Found"; a delisted one may answer a result with no
  timestamps.

Unknown, delisted or halted symbols raise `SymbolRefused` with one sentence; nothing is stored.
Every call here does network or disk I/O: run it on a worker. The clients (requests, pandas)
are imported by the calls that use them: the window imports this module at start-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from models.catalog import SYMBOL_RE
from models.series import MS_PER_DAY, Snapshot
from models.symbols import calendar_for_yahoo
from services.config import Endpoints
from services.errors import BadPayload, ServiceError, SymbolRefused, UnknownSymbol

if TYPE_CHECKING:
    from services.cache import Cache

PAIRS_ID = "symbols.binance"  # the pair list's snapshot id in the cache
PAIRS_MAX_AGE_MS = MS_PER_DAY
TRADING = "TRADING"
SEARCH_LIMIT = 40
# The quotes most pairs trade against, most liquid first: SOL finds SOLUSDT before SOLBTC.
_QUOTE_RANK = {q: i for i, q in enumerate(("USDT", "USDC", "FDUSD", "BTC", "ETH", "EUR"))}


@dataclass(frozen=True)
class BinancePair:
    symbol: str  # SOLUSDT
    base: str  # SOL
    quote: str  # USDT
    status: str  # TRADING, BREAK, HALT …

    @property
    def trading(self) -> bool:
        return self.status == TRADING


@dataclass(frozen=True)
class PairList:
    pairs: tuple[BinancePair, ...]
    fetched_ms: int  # when the venue sent it
    note: str = ""  # set when a refresh failed and an older list is served


@dataclass(frozen=True)
class YahooQuote:
    symbol: str
    name: str
    exchange: str  # meta.exchangeName: NMS, CME …
    full_exchange: str  # meta.fullExchangeName: NasdaqGS, CME
    currency: str
    instrument: str  # meta.instrumentType: EQUITY, FUTURE, INDEX, ETF, CURRENCY …
    calendar: str  # models.symbols: 24/7, 24/5 or an exchange-calendars code


# -- Binance: the pair list ---------------------------------------------------------------------
def parse_exchange_info(payload: Any) -> tuple[BinancePair, ...]:
    """`symbols[]` of an exchangeInfo answer as pairs; BadPayload when it is not that shape.
    Items whose symbol Rotor could not use (characters outside SYMBOL_RE) are left out."""
    if not isinstance(payload, dict) or not isinstance(payload.get("symbols"), list):
        raise BadPayload("exchangeInfo: no 'symbols' list", venue="binance")
    pairs = []
    for item in payload["symbols"]:
        if not isinstance(item, dict):
            raise BadPayload("exchangeInfo: a symbol is not an object", venue="binance")
        fields = [item.get(k) for k in ("symbol", "baseAsset", "quoteAsset", "status")]
        if not all(isinstance(f, str) and f for f in fields):
            raise BadPayload("exchangeInfo: a symbol lacks symbol, baseAsset, quoteAsset or "
                             "status", venue="binance")
        if item.get("isSpotTradingAllowed") is False or not SYMBOL_RE.match(fields[0]):
            continue
        pairs.append(BinancePair(*fields))
    if not pairs:
        raise BadPayload("exchangeInfo: no spot pairs", venue="binance")
    return tuple(pairs)


_ITEMS_AT = b'"symbols":[{"symbol":"'
_ITEM_SEP = b'},{"symbol":"'


def decode_exchange_info(content: bytes) -> Any:
    """The exchangeInfo body as JSON, its `symbols` decoded one item at a time.

    The whole list is ~2-6 MB: one `json.loads` of it holds the GIL for ~0.15 s, a stall of the
    window. Items start with their "symbol" key (the documented order), so the list splits
    there into small loads, between which the GUI thread gets the GIL. Anything else (an error
    body, another key order, a key after the list) takes the plain `json.loads`, which also
    raises for a truncated body."""
    start = content.find(_ITEMS_AT)
    end = content.rstrip().rfind(b"}]")
    if start < 0 or end < start:
        return json.loads(content)
    try:
        envelope = json.loads(content[:start] + b'"symbols":[]' + content[end + 2:])
        parts = content[start + len(b'"symbols":['):end + 1].split(_ITEM_SEP)
        last = len(parts) - 1
        items = [json.loads((b'{"symbol":"' if i else b"") + part + (b"}" if i < last else b""))
                 for i, part in enumerate(parts)]
    except ValueError:
        return json.loads(content)
    if not isinstance(envelope, dict):
        return json.loads(content)
    envelope["symbols"] = items
    return envelope


def fetch_pairs(endpoints: Endpoints) -> tuple[BinancePair, ...]:
    from services.binance import BinanceClient  # requests and pandas: on the worker only

    class PairListClient(BinanceClient):
        def decode_json(self, content: bytes) -> Any:
            return decode_exchange_info(content)

    client = PairListClient(endpoints)
    try:
        payload = client.get_json("/api/v3/exchangeInfo",
                                  {"permissions": "SPOT", "showPermissionSets": "false"})
    finally:
        client.close()
    return parse_exchange_info(payload)


def cached_pairs(cache: Cache) -> PairList | None:
    snap = cache.latest_snapshot(PAIRS_ID)
    if snap is None or snap.frame.empty:
        return None
    frame = snap.frame
    pairs = tuple(BinancePair(str(s), str(b), str(q), str(t)) for s, b, q, t in zip(
        frame["symbol"], frame["base"], frame["quote"], frame["status"], strict=True))
    return PairList(pairs, snap.time_ms)


def store_pairs(cache: Cache, pairs: tuple[BinancePair, ...], fetched_ms: int) -> None:
    import pandas as pd

    frame = pd.DataFrame({"symbol": [p.symbol for p in pairs], "base": [p.base for p in pairs],
                          "quote": [p.quote for p in pairs],
                          "status": [p.status for p in pairs]})
    cache.put_snapshot(Snapshot(PAIRS_ID, fetched_ms, frame, {"source": "binance"}))


def binance_pairs(cache: Cache, endpoints: Endpoints, now_ms: int, *,
                  force: bool = False) -> PairList:
    """The pair list: the cached one while younger than a day, else fetched and stored. When
    the fetch fails an older cached list is served with a note; without one the error rises."""
    cached = cached_pairs(cache)
    if cached is not None and not force and now_ms - cached.fetched_ms < PAIRS_MAX_AGE_MS:
        return cached
    try:
        pairs = fetch_pairs(endpoints)
    except ServiceError as e:
        if cached is None:
            raise
        return PairList(cached.pairs, cached.fetched_ms,
                        f"Binance's pair list could not be refreshed ({e}); using the one "
                        "from the cache")
    note = ""
    try:
        store_pairs(cache, pairs, now_ms)
    except ServiceError as e:  # a full or read-only disk: the list still serves this session
        note = f"Binance's pair list could not be cached ({e})"
    return PairList(pairs, now_ms, note)


def search_pairs(pairs: tuple[BinancePair, ...], text: str,
                 limit: int = SEARCH_LIMIT) -> list[BinancePair]:
    """Pairs whose symbol, base or quote starts with `text` (case-insensitive): trading ones
    first, then an exact symbol, then the symbol's own prefix, then by quote (USDT first),
    then by symbol."""
    needle = "".join(text.split()).replace("/", "").upper()
    if not needle:
        return []
    found = [p for p in pairs if p.symbol.startswith(needle) or p.base.startswith(needle)
             or p.quote.startswith(needle)]
    found.sort(key=lambda p: (not p.trading, p.symbol != needle,
                              not p.symbol.startswith(needle),
                              _QUOTE_RANK.get(p.quote, len(_QUOTE_RANK)), p.symbol))
    return found[:limit]


def check_binance(pairs: tuple[BinancePair, ...], symbol: str) -> BinancePair:
    """The pair, if Binance lists it and it is trading; else SymbolRefused."""
    wanted = symbol.strip().replace("/", "").upper()
    pair = next((p for p in pairs if p.symbol == wanted), None)
    if pair is None:
        raise SymbolRefused(f"Binance has no spot pair {wanted or symbol!r}.")
    if not pair.trading:
        raise SymbolRefused(f"Binance's {pair.symbol} is not trading (status {pair.status}): "
                            "delisted or halted pairs are not added.")
    return pair


# -- Yahoo: one chart request -------------------------------------------------------------------
def check_yahoo(endpoints: Endpoints, symbol: str) -> YahooQuote:
    """One chart request; the ticker's meta if Yahoo knows it and has recent bars."""
    wanted = symbol.strip().upper()
    if not SYMBOL_RE.match(wanted):
        raise SymbolRefused(f"{symbol!r} is not a ticker (letters, digits and ^ = . - _ only).")
    from services.yahoo import YahooClient  # requests and pandas: on the worker only

    client = YahooClient(endpoints)
    try:
        payload = client.get_json(f"/v8/finance/chart/{quote(wanted, safe='')}",
                                  {"range": "5d", "interval": "1d"}, max_bytes=1 << 20)
    except UnknownSymbol as e:
        raise SymbolRefused(f"Yahoo does not know {wanted} ({e.message}).") from e
    finally:
        client.close()
    chart = payload.get("chart") if isinstance(payload, dict) else None
    if not isinstance(chart, dict):
        raise BadPayload("chart: missing 'chart' object", venue="yahoo")
    results = chart.get("result")
    if not results:
        raise SymbolRefused(f"Yahoo has no data for {wanted}: unknown or delisted.")
    result = results[0] if isinstance(results, list) else None
    meta = result.get("meta") if isinstance(result, dict) else None
    if not isinstance(meta, dict):
        raise BadPayload("chart: result without meta", venue="yahoo")
    if not result.get("timestamp"):
        raise SymbolRefused(f"Yahoo has no bars for {wanted} in the last 5 days: delisted or "
                            "not trading.")
    text = {k: str(meta.get(k) or "") for k in ("symbol", "exchangeName", "fullExchangeName",
                                                "currency", "instrumentType", "longName",
                                                "shortName")}
    calendar = calendar_for_yahoo(text["exchangeName"], text["instrumentType"])
    if calendar is None:
        raise SymbolRefused(f"{wanted} trades on {text['fullExchangeName'] or text['exchangeName']}"
                            f" ({text['exchangeName']}), whose trading calendar Rotor does not "
                            "know.")
    reported = text["symbol"].upper()
    return YahooQuote(reported if SYMBOL_RE.match(reported) else wanted,
                      text["longName"] or text["shortName"] or wanted, text["exchangeName"],
                      text["fullExchangeName"], text["currency"], text["instrumentType"],
                      calendar)


# -- one request from the search box --------------------------------------------------------------
@dataclass(frozen=True)
class SymbolChoice:
    """A symbol checked at its venue: what `SymbolList.make` needs."""

    venue: str
    symbol: str
    name: str
    calendar: str
    currency: str
    exchange: str
    instrument: str
    note: str = ""


def check_symbol(venue: str, symbol: str, cache: Cache, endpoints: Endpoints,
                 now_ms: int) -> SymbolChoice:
    """On a worker: the symbol as its venue knows it, or SymbolRefused (unknown, delisted, not
    trading), or the ServiceError of a venue that could not be asked."""
    if venue == "binance":
        listed = binance_pairs(cache, endpoints, now_ms)
        pair = check_binance(listed.pairs, symbol)
        return SymbolChoice("binance", pair.symbol, f"{pair.base}/{pair.quote}", "24/7",
                            pair.quote, "", "SPOT", listed.note)
    if venue == "yahoo":
        found = check_yahoo(endpoints, symbol)
        return SymbolChoice("yahoo", found.symbol, found.name, found.calendar, found.currency,
                            found.exchange, found.instrument)
    raise SymbolRefused(f"{venue!r} is not a venue symbols are added from (binance, yahoo).")
