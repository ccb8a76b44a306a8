"""Series ids, built and parsed in one place.

An id names cache rows, exports and CLI arguments, so its spelling is stable:

| kind         | id                          | example               |
|--------------|-----------------------------|-----------------------|
| price        | `<asset>.<interval>`        | `btc.1h`, `spx.1d`    |
| funding      | `funding.<venue>.<asset>`   | `funding.okx.btc`     |
| funding now  | `fundingnow.<venue>.<asset>`| `fundingnow.okx.btc`  |
| open interest| `oi.<venue>.<asset>`        | `oi.binance.eth`      |
| DVOL         | `dvol.<asset>`              | `dvol.btc`            |
| Volmex index | `<b|e>viv.<asset>`          | `bviv.btc`            |
| option chain | `options.<asset>`           | `options.eth`         |
| liquidations | `liq.<venue>.<asset>`       | `liq.bybit.btc`       |
| perp premium | `premium.<venue>.<asset>`   | `premium.okx.btc`     |
| futures basis| `basis.<venue>.<asset>`     | `basis.deribit.btc`   |
| basis curve  | `basiscurve.<asset>`        | `basiscurve.btc`      |

Everything else builds ids with these functions and reads them back with `parse_series_id`:
nothing else formats or splits an id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IdKind(StrEnum):
    PRICE = "price"
    FUNDING = "funding"
    FUNDING_NOW = "fundingnow"
    OPEN_INTEREST = "oi"
    DVOL = "dvol"
    VOLMEX = "volmex"
    OPTIONS = "options"
    LIQUIDATIONS = "liq"  # reported liquidations per minute, from the venue's stream
    PREMIUM = "premium"  # perpetual mark against index
    BASIS = "basis"  # dated futures' annualised basis, history (front quarterly)
    BASIS_CURVE = "basiscurve"  # snapshot: the dated futures' term structure


_VENUE_KINDS = {IdKind.FUNDING.value: IdKind.FUNDING,
                IdKind.FUNDING_NOW.value: IdKind.FUNDING_NOW,
                IdKind.OPEN_INTEREST.value: IdKind.OPEN_INTEREST,
                IdKind.LIQUIDATIONS.value: IdKind.LIQUIDATIONS,
                IdKind.PREMIUM.value: IdKind.PREMIUM,
                IdKind.BASIS.value: IdKind.BASIS}
_ASSET_KINDS = {IdKind.DVOL.value: IdKind.DVOL, IdKind.OPTIONS.value: IdKind.OPTIONS,
                IdKind.BASIS_CURVE.value: IdKind.BASIS_CURVE}


@dataclass(frozen=True)
class SeriesId:
    kind: IdKind
    asset: str
    venue: str = ""
    interval: str = ""

    def __str__(self) -> str:
        if self.kind is IdKind.PRICE:
            return f"{self.asset}.{self.interval}"
        if self.kind in _VENUE_KINDS.values():
            return f"{self.kind.value}.{self.venue}.{self.asset}"
        if self.kind is IdKind.VOLMEX:
            return volmex_id(self.asset)
        return f"{self.kind.value}.{self.asset}"


def price_id(asset: str, interval: str) -> str:
    return str(SeriesId(IdKind.PRICE, asset, interval=interval))


def funding_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.FUNDING, asset, venue=venue))


def funding_now_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.FUNDING_NOW, asset, venue=venue))


def oi_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.OPEN_INTEREST, asset, venue=venue))


def dvol_id(asset: str) -> str:
    return str(SeriesId(IdKind.DVOL, asset))


def options_id(asset: str) -> str:
    return str(SeriesId(IdKind.OPTIONS, asset))


def liq_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.LIQUIDATIONS, asset, venue=venue))


def premium_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.PREMIUM, asset, venue=venue))


def basis_id(venue: str, asset: str) -> str:
    return str(SeriesId(IdKind.BASIS, asset, venue=venue))


def basis_curve_id(asset: str) -> str:
    return str(SeriesId(IdKind.BASIS_CURVE, asset))


def volmex_id(asset: str) -> str:
    """Volmex names its indices BVIV / EVIV after the asset's initial."""
    return f"{asset[0]}viv.{asset}"


def parse_series_id(text: str) -> SeriesId:
    """The parts of a stored series' id; ValueError for anything not of the forms above."""
    parts = text.split(".")
    if len(parts) == 3 and parts[0] in _VENUE_KINDS and all(parts):
        return SeriesId(_VENUE_KINDS[parts[0]], parts[2], venue=parts[1])
    if len(parts) == 2 and all(parts):
        head, tail = parts
        if head in _ASSET_KINDS:
            return SeriesId(_ASSET_KINDS[head], tail)
        if head == volmex_id(tail).split(".")[0]:
            return SeriesId(IdKind.VOLMEX, tail)
        if head not in _VENUE_KINDS:
            return SeriesId(IdKind.PRICE, head, interval=tail)
    raise ValueError(f"not a series id: {text!r}")
