"""Alert rules evaluated by `main.py record`, with no window (docs/alert-delivery.md).

After every flush of the stream hub (and every REST gap fill) the recorder hands over the ids
of the series it stored. A sampler thread reads back, over the cache, each operand those series
feed (`sample_operands`: a stored column at its known time, a derived quantity through the same
analysis a dock runs) and submits it to the `AlertService`. Each firing is then logged in the
alert log, printed as one line, and posted to the rule's webhook. At start every operand is read
once, so what was stored while nothing ran is evaluated too.

The rules come from `--rules FILE`, or else from the "alerts" section of the workspace the
window used last (the `workspaces/current` setting of settings.ini).
"""

from __future__ import annotations

import configparser
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from models.alerts import Firing, Operand, Rule, RuleBook, RuleError, sample_operands
from models.series import now_ms
from services.alert_log import AlertLog
from services.alert_service import CATCH_UP_MS, AlertService, WebhookSink
from services.webhook import DeliveryResult

log = logging.getLogger(__name__)

RECORDER_STATE_KEY = "recorder"
#: a derived operand's analysis re-runs at most this often on stored rows (the window's feeds
#: recompute live changes at most every 15 s too)
DERIVED_EVERY_S = 15.0
SETTINGS_FILE = "settings.ini"
#: settings.ini: section and key of the workspace in use (ui/workspaces.py CURRENT_SETTING)
CURRENT_WORKSPACE = ("workspaces", "current")


class RulesUnavailable(Exception):
    """The rules asked for cannot be read: one line for the user."""


def current_workspace_name(folder: Path) -> str | None:
    """The name of the workspace the window used last, read from settings.ini without Qt (the
    file holds plain strings only: ui/settings_file.py screens it)."""
    from services.safe_files import RefusedFile, read_regular_file

    try:
        raw = read_regular_file(folder / SETTINGS_FILE, 1 << 20, "settings file")
    except (FileNotFoundError, RefusedFile):
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(raw.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    section, key = CURRENT_WORKSPACE
    name = parser.get(section, key, fallback="").strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':  # Qt quotes a value holding a comma
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name or None


def record_rules(rules_path: str | None, folder: Path) -> tuple[list[Rule], str]:
    """The rules `record` evaluates and a phrase saying where they came from. `--rules FILE`
    that cannot be read raises `RulesUnavailable`; a last-used workspace without rules (or
    unreadable) gives no rules and says why."""
    if rules_path is not None:
        from services.alerts_files import load_rules_file

        try:
            return load_rules_file(rules_path), f"from {rules_path}"
        except RuleError as e:
            raise RulesUnavailable(f"--rules: {e}") from None
    name = current_workspace_name(folder)
    if name is None:
        return [], "none (no workspace used yet; give --rules FILE)"
    from services.workspaces import WorkspaceStore

    store = WorkspaceStore(folder / "workspaces")
    try:
        if store.find(name) is None:
            return [], f"none (the last workspace, {name!r}, is not found)"
        workspace = store.read(name)
    except (ValueError, OSError) as e:
        return [], f"none (workspace {name!r}: {e})"
    data = workspace.sections.get("alerts")
    if data is None:
        return [], f"none (workspace {name!r} has no alert rules)"
    book = RuleBook()
    try:
        book.load_json(data)
    except ValueError as e:
        return [], f"none (workspace {name!r}: alerts: {e})"
    return list(book.rules), f"from workspace {name!r}"


def readers_by_series(ops: Iterable[Operand]) -> dict[str, frozenset[Operand]]:
    """Stored series id -> the operands that read it (a derived quantity reads its analysis'
    inputs)."""
    from models.catalog import derived_specs

    readers: dict[str, set[Operand]] = {}
    for op in ops:
        ids = (op.id,) if op.kind == "series" else derived_specs()[op.id].inputs
        for sid in ids:
            readers.setdefault(sid, set()).add(op)
    return {sid: frozenset(v) for sid, v in readers.items()}


def _iso(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def firing_line(firing: Firing) -> str:
    """One printed line per firing: when it was noticed, the rule, the data times, the
    summary."""
    since = (f", true since {_stamp(firing.true_since_ms)}"
             if firing.true_since_ms < firing.fired_ms else "")
    return (f"{_iso(firing.noticed_ms)} ALERT {firing.rule_name} [{firing.rule_id}] fired "
            f"{_stamp(firing.fired_ms)}{since}: {firing.summary}")


class RecorderAlerts:
    """Rule evaluation for the recorder: `stored(series_ids)` from any thread.

    A stored operand is read back at once; a derived one re-runs its analysis at most every
    `derived_every_s` (as the window's live feeds do, docs/architecture.md): the premium and the
    liquidations are stored every second, and a regime or a decoupling analysis costs about
    0.1-0.3 s on a year of data. What waits is evaluated when its time comes, and on close."""

    def __init__(self, cache, rules: Iterable[Rule], *, alert_log: AlertLog | None,
                 out: TextIO = sys.stdout, webhook_verify: bool | str = True,
                 clock: Callable[[], int] = now_ms,
                 catch_up_ms: int | None = CATCH_UP_MS,
                 derived_every_s: float = DERIVED_EVERY_S) -> None:
        self._cache = cache
        self.out = out
        self._out_lock = threading.Lock()
        self.printed = 0
        self.webhooks = WebhookSink(verify=webhook_verify, on_result=self._webhook_result)
        self.service = AlertService(rules, alert_log, [self._print, self.webhooks], clock,
                                    state_key=RECORDER_STATE_KEY, catch_up_ms=catch_up_ms)
        self._readers = readers_by_series(self.service.needs())
        self._derived_every_s = derived_every_s
        self._cond = threading.Condition()
        self._touched: set[str] = set()
        # derived id -> its operands, waiting for their analysis' next turn
        self._deferred: dict[str, set[Operand]] = {}
        self._last_run: dict[str, float] = {}  # derived id -> monotonic time of its last run
        self._busy = False
        self._stopping = False
        self.sample_errors = 0
        self._thread = threading.Thread(target=self._run, name="alert-sampler", daemon=True)

    def rest_inputs(self) -> list[str]:
        """The stored series the rules read that a REST refresh can bring up to date (the
        recorder polls them)."""
        from models.catalog import CATALOG

        return sorted(sid for sid in self._readers
                      if sid in CATALOG and CATALOG[sid].extra.get("rest_history") is not False)

    def start(self) -> None:
        """Start, and evaluate what the cache holds already."""
        self._thread.start()
        self.stored(self._readers)

    def stored(self, series_ids: Iterable[str]) -> None:
        """Rows of `series_ids` were stored (called from the hub's writer and the gap filler)."""
        wanted = {sid for sid in series_ids if sid in self._readers}
        if not wanted:
            return
        with self._cond:
            self._touched |= wanted
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Every stored batch so far sampled (derived operands waiting their turn included),
        evaluated and printed (webhooks not waited for); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._touched or self._busy or self._deferred:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(remaining)
        return self.service.wait_idle(max(0.0, deadline - time.monotonic()))

    def close(self, timeout_s: float = 5.0) -> bool:
        """Evaluate what is waiting, then stop (the webhooks in flight get the rest of
        `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        return self.service.close(max(0.0, deadline - time.monotonic()))

    def _next_turn(self) -> float | None:
        if not self._deferred:
            return None
        return min(self._last_run.get(i, 0.0) for i in self._deferred) + self._derived_every_s

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._touched or self._stopping):
                    turn = self._next_turn()
                    if turn is not None and turn <= time.monotonic():
                        break
                    self._cond.wait(None if turn is None else turn - time.monotonic())
                if self._stopping and not (self._touched or self._deferred):
                    return
                touched, self._touched = self._touched, set()
                final = self._stopping
                self._busy = True
            try:
                self._sample(touched, final)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _sample(self, touched: set[str], final: bool) -> None:
        ops = set().union(*(self._readers[sid] for sid in touched))
        by_id: dict[str, set[Operand]] = {}
        for op in ops:
            by_id.setdefault(op.id, set()).add(op)
        with self._cond:
            for op_id, waiting in self._deferred.items():
                by_id.setdefault(op_id, set()).update(waiting)
        updates = {}
        now = time.monotonic()
        for op_id, group in sorted(by_id.items()):
            derived = next(iter(group)).kind != "series"
            if derived and not final and \
                    now - self._last_run.get(op_id, -math.inf) < self._derived_every_s:
                with self._cond:
                    self._deferred.setdefault(op_id, set()).update(group)
                continue
            with self._cond:
                self._deferred.pop(op_id, None)
            if derived:
                self._last_run[op_id] = now
            try:  # one failing analysis must not keep the others from being evaluated
                sampled = sample_operands(group, self._cache)
            except Exception as e:  # noqa: BLE001
                self.sample_errors += 1
                log.warning("alert input %s not read: %s: %s", op_id, type(e).__name__, e)
                continue
            updates.update((op, sampled[op]) for op in group)
        if updates:
            self.service.submit_many(updates)  # together: evaluated in the order rows were known

    def _write(self, line: str) -> None:
        with self._out_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def _print(self, firing: Firing) -> None:
        self.printed += 1
        self._write(firing_line(firing))

    def _webhook_result(self, firing: Firing, result: DeliveryResult) -> None:
        if not result.ok:  # the error text is secret-free (services/webhook.py)
            self._write(f"{_iso(now_ms())} webhook of rule {firing.rule_id} not delivered: "
                        f"{result.error}")
