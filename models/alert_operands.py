"""What an alert rule reads: a column of a stored series or of a derived quantity, as the values
known at each moment (docs/alerts.md "Known time").

A stored row is known at stamp + `models.asof.known_delay_ms` (a bar at its close, a settlement
or reading at its stamp). A derived quantity is computed by its `models.derived.DERIVED` spec and
each of its rows gets the known time of the inputs it was made from (`DERIVED_KNOWN`): the
squeeze regime of the bar opened at h is known at h + 1 h, a decoupling session once the daily
bars of its date are known (the S&P 500's bar, stamped at the open, a day after its stamp), the
gamma levels at their chain snapshot's time.
Derived ids without an entry here cannot be alerted on (their rows have no honest known time,
e.g. the hourly funding average, whose hour is settled up to eight hours later).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.asof import known_times
from models.catalog import CATALOG, find_spec

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

SERIES = "series"
DERIVED = "derived"
KINDS = (SERIES, DERIVED)


@dataclass(frozen=True, order=True)
class Operand:
    """One column of a stored series ("series", "btc.1h", "close") or of a derived quantity
    ("derived", "gammalevels.btc", "gamma_flip")."""

    kind: str
    id: str
    column: str

    @property
    def key(self) -> str:
        """How a firing's values name it: "btc.1h:close"."""
        return f"{self.id}:{self.column}"

    def to_json(self) -> dict[str, str]:
        return {self.kind: self.id, "column": self.column}

    @property
    def asset(self) -> str | None:
        """The asset stem the id names, where it names one ("btc" of "liq.okx.btc")."""
        if self.kind == SERIES:
            from models.ids import parse_series_id

            try:
                return parse_series_id(self.id).asset
            except ValueError:
                return None
        parts = self.id.split(".")
        return parts[1].split("_")[0] if len(parts) >= 2 else None


@dataclass(frozen=True, eq=False)
class OperandSeries:
    """An operand's values and when each became known (int64 ms, sorted ascending)."""

    known_ms: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "known_ms", np.asarray(self.known_ms, dtype=np.int64))
        object.__setattr__(self, "values", np.asarray(self.values, dtype=np.float64))
        if self.known_ms.shape != self.values.shape or self.known_ms.ndim != 1:
            raise ValueError("known_ms and values must be 1-d arrays of one length")

    def __len__(self) -> int:
        return len(self.known_ms)

    @classmethod
    def empty(cls) -> OperandSeries:
        return cls(np.empty(0, dtype=np.int64), np.empty(0))


@dataclass(frozen=True)
class DerivedKnown:
    """How the rows of a derived id become known: stamp + `delay_ms`; or, for a session-close
    stamp (`session_peer`: the peer whose daily bars the session reads), once the daily bars of
    the session's UTC date are known under models/asof.py: the peer's bar of that date (stamped
    at the exchange open, or 00:00) + 1 day, and BTC's daily bar at the next 00:00 UTC."""

    columns: tuple[str, ...]
    delay_ms: int = 0
    session_peer: int | None = None  # which dot-part of the id names the pair "btc_<peer>"
    why: str = ""


_REGIME_COLUMNS = ("regime", "close", "price_change_pct", "funding_apr_pct", "oi_coins",
                   "oi_change_pct", "long_liq_usd", "short_liq_usd", "long_liq_ratio",
                   "short_liq_ratio")

#: derived id pattern -> known-time rule (checked against each extract in
#: tests/models/test_alert_operands.py)
DERIVED_KNOWN: dict[str, DerivedKnown] = {
    r"regime\.[a-z0-9]+": DerivedKnown(_REGIME_COLUMNS, MS_PER_HOUR,
                                       why="an hourly bar's regime is known at its close"),
    r"gammalevels\.[a-z0-9]+": DerivedKnown(("spot", "gamma_flip", "call_wall", "put_wall"), 0,
                                            why="levels of a chain snapshot, at its time"),
    r"liqtotals\.[a-z0-9]+": DerivedKnown(("total_long_usd", "total_short_usd"), MS_PER_HOUR,
                                          why="an hour's liquidations are known at its end"),
    r"squeezebasis\.[a-z0-9]+": DerivedKnown(("premium_pct", "front_apr_pct"), MS_PER_HOUR,
                                             why="an hour's mean, known at its end"),
    r"cmebasis\.btc": DerivedKnown(("apr_pct", "basis_pct"), MS_PER_HOUR,
                                   why="an hourly bar's close, known at its end"),
    r"ivrv\.[a-z0-9]+\.\d+": DerivedKnown(("spread", "iv", "rv"), 0,
                                          why="stamped when both inputs are known"),
    r"rv\.[a-z0-9]+\.\d+": DerivedKnown(("rv",), MS_PER_DAY,
                                        why="the daily bar's close, a day after its open"),
    r"skew30\.[a-z0-9]+": DerivedKnown(("atm_iv", "rr25", "bf25"), 0,
                                       why="of a chain snapshot, at its time"),
    r"liqbursts\.[a-z0-9]+": DerivedKnown(("usd",), MS_PER_HOUR,
                                          why="an hour's total, known at its end"),
    r"decoupling\.btc_spx": DerivedKnown(("btc_ret", "peer_ret", "z", "corr"), 0, 1,
                                         "a session is known once its daily bars are"),
    r"corr\.btc_[a-z0-9]+\.\d+": DerivedKnown(("corr",), 0, 1,
                                              "a session is known once its daily bars are"),
    r"beta\.btc_spx\.\d+": DerivedKnown(("beta",), 0, 1,
                                        "a session is known once its daily bars are"),
}
_DERIVED_RES = [(re.compile(p + r"\Z"), k) for p, k in DERIVED_KNOWN.items()]


def derived_known(derived_id: str) -> DerivedKnown | None:
    for pattern, known in _DERIVED_RES:
        if pattern.match(derived_id):
            return known
    return None


_SERIES_KINDS = ("candles", "vol_index", "funding", "open_interest", "liquidations", "premium",
                 "basis")


def operand_problem(op: Operand) -> str | None:
    """Why `op` cannot be alerted on (None: it can). Cheap: the editor calls it per keystroke."""
    if op.kind == SERIES:
        spec = find_spec(op.id)
        if spec is None:
            return f"unknown series {op.id!r} (see `main.py list`)"
        if spec.is_snapshot:
            return f"{op.id!r} is a snapshot, not a series of rows"
        if op.column not in spec.columns:
            return f"{op.id!r} has no column {op.column!r} (one of {', '.join(spec.columns)})"
        return None
    if op.kind == DERIVED:
        known = derived_known(op.id)
        if known is None:
            return (f"derived {op.id!r} cannot be alerted on (supported: gammalevels.<asset>, "
                    "regime.<asset>, liqtotals.<asset>, liqbursts.<asset>, "
                    "squeezebasis.<asset>, cmebasis.btc, rv.<asset>.<days>, "
                    "ivrv.<asset>.<days>, skew30.<asset>, decoupling.btc_spx, "
                    "corr.btc_<peer>.<n>, beta.btc_spx.<n>)")
        from models.catalog import derived_specs

        if op.id not in derived_specs():
            return f"unknown derived id {op.id!r} (see `main.py list`)"
        if op.column not in known.columns:
            return (f"{op.id!r} has no column {op.column!r} (one of "
                    f"{', '.join(known.columns)})")
        return None
    return f"operand kind {op.kind!r} (series or derived)"


def family_ids(pattern: str) -> list[str]:
    """The catalog's series ids matching `pattern`, '*' standing for one id part
    ("funding.*.btc": every venue's BTC funding)."""
    if "*" not in pattern:
        return [pattern] if pattern in CATALOG else []
    regex = re.compile(re.escape(pattern).replace(r"\*", r"[^.]+") + r"\Z")
    return [i for i in CATALOG if regex.match(i)]


# -- sampling -----------------------------------------------------------------------------------
def _frame_times(frame: Any) -> np.ndarray:
    index = frame.index
    if len(index) == 0:
        return np.empty(0, dtype=np.int64)
    return np.asarray(index.as_unit("ms").asi8, dtype=np.int64)


def _session_known(stamps: np.ndarray, peer_daily: Any) -> np.ndarray:
    """When each session (stamped at its close) is known: its UTC date's daily bars closed —
    BTC's at the next 00:00 UTC, the peer's at its own stamp + 1 day. Without the peer's bars
    (`peer_daily` None or missing the date) the latest a bar of that date can close: 00:00 UTC
    two days after."""
    day = stamps // MS_PER_DAY * MS_PER_DAY
    known = day + 2 * MS_PER_DAY
    if peer_daily is not None and len(peer_daily):
        times = np.asarray(peer_daily.time, dtype=np.int64)
        i = np.searchsorted(times // MS_PER_DAY * MS_PER_DAY, day, side="right") - 1
        same = (i >= 0) & (times[np.maximum(i, 0)] // MS_PER_DAY * MS_PER_DAY == day)
        peer_known = times[np.maximum(i, 0)] + MS_PER_DAY
        known = np.where(same, np.maximum(peer_known, day + MS_PER_DAY), known)
    return known


def _peer_of(derived_id: str) -> str:
    return derived_id.split(".")[1].split("_", 1)[1]


def _known_of_derived(derived_id: str, stamps: np.ndarray, loader: Any = None) -> np.ndarray:
    known = derived_known(derived_id)
    assert known is not None
    if known.session_peer is not None:
        from models.ids import price_id

        peer = loader.read(price_id(_peer_of(derived_id), "1d")) if loader is not None \
            else None
        return _session_known(stamps, peer)
    return stamps + known.delay_ms


def _from_frame(op: Operand, frame: Any, loader: Any = None) -> OperandSeries:
    if frame is None or len(frame) == 0 or op.column not in frame.columns:
        return OperandSeries.empty()
    stamps = _frame_times(frame)
    known = _known_of_derived(op.id, stamps, loader)
    values = frame[op.column].to_numpy(dtype=np.float64, na_value=np.nan)
    order = np.argsort(known, kind="stable")
    return OperandSeries(known[order], values[order])


def operand_from_result(op: Operand, result: Any, loader: Any = None) -> OperandSeries:
    """A derived operand from its analysis result already computed (the window's derived
    feeds: alerts read the same result the dock draws). `loader`: the one the result was
    computed from; the rotation quantities (decoupling, corr, beta) need it for the exact time
    a session is known (without it, the latest its daily bars can close)."""
    from models.catalog import derived_specs

    if op.kind != DERIVED:
        raise ValueError(f"{op.key}: not a derived operand")
    return _from_frame(op, derived_specs()[op.id].extract(result), loader)


def series_operand(op: Operand, data: Any) -> OperandSeries:
    """A stored operand from its `SeriesData` (rows known at stamp + the series' delay)."""
    if not len(data) or op.column not in data.columns:
        return OperandSeries.empty()
    return OperandSeries(known_times(op.id, data.time), np.asarray(data[op.column], np.float64))


def sample_operand(op: Operand, loader: Any) -> OperandSeries:
    """`op`'s values over what `loader` (a models.analyses.DataLoader) holds, each at its
    known time."""
    return sample_operands([op], loader)[op]


def sample_operands(ops: Iterable[Operand], loader: Any) -> Mapping[Operand, OperandSeries]:
    """Several operands, reading each series and running each derived analysis once."""
    from models.catalog import derived_specs

    out: dict[Operand, OperandSeries] = {}
    series_cache: dict[str, Any] = {}
    frames: dict[str, Any] = {}
    for op in sorted(set(ops)):
        if op.kind == SERIES:
            if op.id not in series_cache:
                series_cache[op.id] = loader.read(op.id)
            out[op] = series_operand(op, series_cache[op.id])
        else:
            if op.id not in frames:
                frames[op.id] = derived_specs()[op.id].compute(loader)
            out[op] = _from_frame(op, frames[op.id], loader)
    return out
