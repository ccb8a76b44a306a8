"""The price dock's "Compress closed hours" toggle (docs/sessions-gaps.md).

On an intraday interval with an exchange-traded asset shown, the dock may squeeze its closed
hours out of the x axis. The axis (models/gap_axis.py: the calendars of the shown exchange-
traded assets, joined with their stored bars) and every shown series' pyramids on it are built
on a worker in one job; the panel draws what comes back. `time_map` (ui/charts/gap_axis.py) is
the identity while compression is off or not yet built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from models.catalog import INTERVAL_MS
from models.gap_axis import ASSET_CALENDARS, ROUND_THE_CLOCK, compress_all
from models.price_view import PreparedPrices
from ui.charts.gap_axis import TimeMap
from ui.settings_file import read_setting

if TYPE_CHECKING:
    from ui.panels.base import UiContext

SETTING = "prices/compress"
#: intervals whose bars sit inside sessions (1d and 1w bars are a session each already)
INTRADAY = ("1m", "5m", "15m", "1h", "4h")


def calendar_of(ctx: UiContext, stem: str) -> str | None:
    """The session calendar of an exchange-traded asset (None: it trades round the clock)."""
    if stem in ASSET_CALENDARS:
        return ASSET_CALENDARS[stem]
    symbol = ctx.symbols.find(stem) if ctx.symbols is not None else None
    calendar = getattr(symbol, "calendar", None)
    return calendar if calendar and calendar != ROUND_THE_CLOCK else None


class PriceGaps(QObject):
    """Builds and holds the compressed axis of the price dock's shown series."""

    #: the axis or the compressed pyramids changed (the map was the identity before, or is now)
    changed = Signal()

    def __init__(self, ctx: UiContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.time_map = TimeMap()
        self.enabled = bool(read_setting(ctx.settings, SETTING, False))
        self._compressed: dict[str, PreparedPrices] = {}
        self._request = 0
        self._wanted: tuple[Any, ...] | None = None

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.ctx.settings.setValue(SETTING, on)

    def calendars(self, stems: list[str]) -> dict[str, str]:
        return {s: c for s in stems if (c := calendar_of(self.ctx, s)) is not None}

    def available(self, interval: str, stems: list[str]) -> bool:
        """Compression means something here: intraday bars and an exchange-traded asset."""
        return interval in INTRADAY and bool(self.calendars(stems))

    def drawn(self, series_id: str, prepared: PreparedPrices) -> PreparedPrices | None:
        """What to draw for a series: `prepared` itself while the map is the identity; its
        compressed pyramids once built for this very data; None while they are being built."""
        if not self.time_map.active:
            return prepared
        done = self._compressed.get(series_id)
        return done if done is not None and done.source is prepared.source else None

    def refresh(self, interval: str, stems: list[str], prepared: dict[str, PreparedPrices],
                before_change: Callable[[], None] | None = None) -> None:
        """Build (on a worker) or drop the axis for what the dock shows now."""
        calendars = self.calendars(stems)
        if not (self.enabled and self.available(interval, stems)) or not prepared:
            self._wanted = None
            self._request += 1  # a job still running is no longer wanted
            if self.time_map.active:
                if before_change is not None:
                    before_change()
                self.time_map.axis = None
                self._compressed = {}
                self.changed.emit()
            return
        wanted = (interval, tuple(sorted(calendars.values())),
                  tuple((sid, id(p.source), p.ohlc is not None)  # candles come later
                        for sid, p in sorted(prepared.items())))
        if wanted == self._wanted:
            return
        self._wanted = wanted
        self._request += 1
        request = self._request
        exchange = [sid for sid in prepared if sid.split(".")[0] in calendars]

        def done(result: tuple[Any, dict[str, PreparedPrices]]) -> None:
            if request != self._request:
                return  # superseded
            if before_change is not None:
                before_change()
            self.time_map.axis, self._compressed = result
            self.changed.emit()

        self.ctx.scheduler.run("gapaxis:prices", compress_all,
                               sorted(set(calendars.values())), dict(prepared), exchange,
                               INTERVAL_MS[interval], on_result=done)
