"""The user's own symbols in the window: the search box that adds one, and the glue that makes the
list's series watched. The list itself is a section of the current workspace (ui/workspaces.py).

- `AddSymbolDialog`: a search field whose completer offers Binance spot pairs (the venue's
  list, cached a day: services/symbols.py) and "Yahoo: <text>"; the choice is checked at its
  venue on a worker and added to `ctx.symbols`, or refused with one message.
- `SymbolSync`: after each change of the list, registers it (models/symbols.py) and tells the
  scheduler which series to watch or drop. It listens first, so the panels that follow the list
  find the new series and names already there.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from models.catalog import BASE_PRICE_INTERVALS
from models.ids import price_id
from models.symbols import SymbolList, register_user_symbols
from services.config import Endpoints
from services.symbols import (
    BinancePair,
    PairList,
    SymbolChoice,
    binance_pairs,
    check_symbol,
    search_pairs,
)
from ui import theme
from ui.scheduler import Scheduler
from ui.time_display import format_time, zone_label

YAHOO_PREFIX = "Yahoo: "


def symbol_series_ids(symbols: SymbolList) -> list[str]:
    """The user's series every window watches (the finer and coarser intervals are watched when
    a dock shows them)."""
    return [price_id(stem, interval) for stem in symbols.stems()
            for interval in BASE_PRICE_INTERVALS]


class SymbolSync(QObject):
    """The registry and the scheduler follow the list (create it before any panel listens)."""

    def __init__(self, symbols: SymbolList, scheduler: Scheduler,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.symbols = symbols
        self.scheduler = scheduler
        self._watched: list[str] = []
        symbols.add_listener(self._on_changed)
        self._on_changed()

    def _on_changed(self) -> None:
        register_user_symbols(self.symbols)
        ids = symbol_series_ids(self.symbols)
        gone = [i for i in self._watched if i not in ids]
        new = [i for i in ids if i not in self._watched]
        self._watched = ids
        if gone:
            self.scheduler.unwatch(gone)
        if new:
            self.scheduler.watch_more(new)

    def close(self) -> None:
        self.symbols.remove_listener(self._on_changed)


def _load_pairs(cache: Any) -> PairList:
    return binance_pairs(cache, Endpoints.from_env(), int(time.time() * 1000))


def _check(venue: str, symbol: str, cache: Any) -> SymbolChoice:
    return check_symbol(venue, symbol, cache, Endpoints.from_env(), int(time.time() * 1000))


def pair_choice(pair: BinancePair) -> str:
    """A pair as the completer lists it: "SOLUSDT · SOL/USDT · Binance"."""
    state = "" if pair.trading else f" ({pair.status.lower()})"
    return f"{pair.symbol} · {pair.base}/{pair.quote} · Binance{state}"


def parse_choice(text: str, pairs: tuple[BinancePair, ...]) -> tuple[str, str]:
    """(venue, symbol) for what the search field holds: "Yahoo: X" is Yahoo's X, a listed
    Binance pair (as typed or as the completer wrote it) is Binance's, anything else Yahoo's."""
    text = text.strip()
    if text.lower().startswith(YAHOO_PREFIX.lower().strip()):
        return "yahoo", text.split(":", 1)[1].strip()
    head = text.split(" · ")[0].strip()
    if text.endswith(" · Binance") or " · Binance (" in text:
        return "binance", head
    wanted = head.replace("/", "").upper()
    if any(p.symbol == wanted for p in pairs):
        return "binance", wanted
    return "yahoo", head


class AddSymbolDialog(QDialog):
    """Search, pick, check, add. One message says what happened."""

    symbolAdded = Signal(str)  # the new symbol's stem

    def __init__(self, symbols: SymbolList, scheduler: Scheduler,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addSymbolDialog")
        self.setWindowTitle("Add a symbol")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.symbols = symbols
        self.scheduler = scheduler
        self.pairs: tuple[BinancePair, ...] = ()
        self.busy = False
        self.search = QLineEdit()
        self.search.setObjectName("symbolSearch")
        self.search.setPlaceholderText("A Binance pair (SOLUSDT, sol/usdt) or a Yahoo ticker "
                                       "(AAPL, ES=F, ^FTSE)")
        self.search.setMinimumWidth(380)
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setMaxVisibleItems(12)
        self.search.setCompleter(self.completer)
        self.search.textEdited.connect(self._on_edited)
        self.completer.activated.connect(self._on_picked)
        self.search.returnPressed.connect(self.submit)
        self.pairs_state = QLabel("Loading Binance's pair list…")
        self.pairs_state.setObjectName("pairsState")
        self.pairs_state.setWordWrap(True)
        self.pairs_state.setStyleSheet(f"color: {theme.MUTED};")
        self.message = QLabel(" ")
        self.message.setObjectName("symbolMessage")
        self.message.setWordWrap(True)
        # Room for two lines from the start: a refusal never squeezes the rest of the dialog.
        self.message.setMinimumHeight(2 * self.message.fontMetrics().lineSpacing() + 4)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox()
        self.add_button = buttons.addButton("Add", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setAutoDefault(False)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.add_button.clicked.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        hint = QLabel("Binance spot pairs come from the venue's list (kept a day); a Yahoo "
                      "ticker is checked with one request. A symbol joins the price chart, "
                      "movers and rotation.")
        hint.setWordWrap(True)
        hint.setStyleSheet(f"color: {theme.MUTED};")
        layout.addWidget(hint)
        layout.addWidget(self.search)
        layout.addWidget(self.pairs_state)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self._load_pairs()

    # -- the Binance list -----------------------------------------------------------------------
    def _load_pairs(self) -> None:
        services = self.scheduler.services
        if services is None:
            self._list_state("Binance's pair list loads once Rotor has opened its cache; "
                             "Yahoo tickers can be added now.", theme.MUTED)
            return
        self.scheduler.run("symbols:pairs", _load_pairs, services.cache,
                           on_result=self._on_pairs, on_error=self._on_pairs_failed)

    def _on_pairs(self, listed: PairList) -> None:
        self.pairs = listed.pairs
        trading = sum(p.trading for p in listed.pairs)
        self._list_state(listed.note or f"Binance: {trading:,} spot pairs trading (list of "
                         f"{format_time(listed.fetched_ms, '%Y-%m-%d %H:%M')} {zone_label()}).",
                         theme.WARNING if listed.note else theme.MUTED)
        if self.search.text().strip():
            self._on_edited(self.search.text())

    def _on_pairs_failed(self, exc: Exception) -> None:
        self._list_state(f"Binance's pair list is not available ({exc}); Yahoo tickers can "
                         "still be added.", theme.WARNING)

    def _list_state(self, text: str, color: str) -> None:
        self.pairs_state.setText(text)
        self.pairs_state.setStyleSheet(f"color: {color};")

    # -- searching ------------------------------------------------------------------------------
    def choices(self, text: str) -> list[str]:
        text = text.strip()
        if not text or text.lower().startswith("yahoo:"):
            return [text] if text else []
        return [*(pair_choice(p) for p in search_pairs(self.pairs, text)),
                f"{YAHOO_PREFIX}{text.upper()}"]

    def _on_edited(self, text: str) -> None:
        self.model.setStringList(self.choices(text))
        if text.strip() and self.search.hasFocus():
            self.completer.complete()

    def _on_picked(self, text: str) -> None:
        self.search.setText(text)
        self.submit()

    # -- adding ---------------------------------------------------------------------------------
    def submit(self) -> None:
        text = self.search.text().strip()
        if not text or self.busy:
            return
        venue, symbol = parse_choice(text, self.pairs)
        if not symbol:
            return
        known = self.symbols.find_symbol(venue, symbol.upper())
        if known is not None:
            self._say(f"{known.name} ({known.symbol}) is already in your symbols.",
                      theme.WARNING)
            return
        services = self.scheduler.services
        if venue == "binance" and services is None:
            self._say("Rotor is still opening its cache; try again in a moment.", theme.WARNING)
            return
        self.busy = True
        self.add_button.setEnabled(False)
        self._say(f"Checking {symbol} on {'Binance' if venue == 'binance' else 'Yahoo'}…",
                  theme.MUTED)
        self.scheduler.run("symbols:check", _check, venue, symbol,
                           services.cache if services is not None else None,
                           on_result=self._on_checked, on_error=self._on_refused)

    def _on_checked(self, choice: SymbolChoice) -> None:
        self.busy = False
        self.add_button.setEnabled(True)
        if self.symbols.find_symbol(choice.venue, choice.symbol) is not None:
            self._say(f"{choice.symbol} is already in your symbols.", theme.WARNING)
            return
        try:
            made = self.symbols.make(choice.venue, choice.symbol, choice.name, choice.calendar,
                                     currency=choice.currency, exchange=choice.exchange,
                                     instrument=choice.instrument)
            self.symbols.add(made)
        except ValueError as e:
            self._say(str(e), theme.DOWN)
            return
        demo = " Demo data: its bars load when you go live (File → Go live)." \
            if self.scheduler.demo else ""
        self._say(f"Added {made.name} ({made.symbol}).{demo}", theme.UP)
        self.symbolAdded.emit(made.stem)
        self.search.clear()

    def _on_refused(self, exc: Exception) -> None:
        self.busy = False
        self.add_button.setEnabled(True)
        self._say(str(exc), theme.DOWN)

    def _say(self, text: str, color: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color};")


def open_add_symbol(symbols: SymbolList, scheduler: Scheduler,
                    parent: QWidget) -> AddSymbolDialog:
    """The dialog, one per window: raised if it is open already."""
    window = parent.window()
    found = window.findChild(AddSymbolDialog, "addSymbolDialog")
    if found is not None:
        found.raise_()
        found.activateWindow()
        return found
    dialog = AddSymbolDialog(symbols, scheduler, window)
    dialog.show()
    dialog.search.setFocus()
    return dialog
