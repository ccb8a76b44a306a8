"""Headless commands (`main.py list | refresh | export`) on the same services and cache as the GUI.

They print plain lines for cron and scripts, and return an exit status instead of raising: a
failing venue is one line of output, never a traceback.

Exit status: 0 done; 2 the command cannot run as asked (unknown series, a bad date or a start
after the end, an `--out` that is empty, a directory, in a missing folder or cannot be opened);
1 it ran and failed (every series failed to refresh; writing the export failed part-way, e.g.
`--out /dev/full` or a full disk: ENOSPC is the file system's state, not the user's mistake,
and the same command succeeds once space is freed).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TextIO

import numpy as np

from models.catalog import CATALOG, derived_specs
from models.derived import stored_provenance
from services.app import AppServices
from services.refresh import refresh_series

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A user mistake (unknown series, bad date, an unusable --out): one line on stderr, exit
    status 2."""

    exit_status = 2


class OutputError(CommandError):
    """Writing the output failed part-way (a full disk, an I/O error): one line, exit status 1."""

    exit_status = 1


def parse_date_ms(text: str | None) -> int | None:
    """An ISO date or date-time (UTC unless it says otherwise) as epoch ms."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"invalid date {text!r} (use YYYY-MM-DD or an ISO date-time)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def parse_date_range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """`--start` and `--end` as epoch ms; a start after the end is an error, not an empty range."""
    start_ms, end_ms = parse_date_ms(start), parse_date_ms(end)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise CommandError(f"--start {start} is after --end {end}")
    return start_ms, end_ms


def iso_utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_list(out: TextIO = sys.stdout) -> int:
    """One series per line: id, source, symbol, kind, interval, unit (tab-separated)."""
    for spec in CATALOG.values():
        out.write(f"{spec.id}\t{spec.source}\t{spec.symbol}\t{spec.kind}\t{spec.interval}"
                  f"\t{spec.unit or '-'}\n")
    for spec in derived_specs().values():
        inputs = ",".join(spec.inputs)
        out.write(f"{spec.id}\tderived\t{inputs}\tderived\t{spec.interval or '-'}"
                  f"\t{spec.unit or '-'}\n")
    return 0


def _resolve(ids: Sequence[str]) -> list[str]:
    unknown = [i for i in ids if i not in CATALOG]
    if unknown:
        raise CommandError(f"unknown series: {', '.join(unknown)} (see `main.py list`)")
    return list(ids) if ids else list(CATALOG)


def cmd_refresh(services: AppServices, ids: Sequence[str], start: str | None, end: str | None,
                out: TextIO = sys.stdout) -> int:
    """Fetch into the cache; exit 1 only when every series failed."""
    series_ids = _resolve(ids)
    start_ms, end_ms = parse_date_range(start, end)
    if services.sources is None:
        out.write("demo mode: nothing to fetch (the demo dataset is already in its cache)\n")
        return 0
    if services.cache.read_only:
        raise CommandError(f"data folder {services.data_dir} is read-only: nothing can be "
                           "refreshed (make it writable, or point ROTOR_DATA_DIR elsewhere)")
    failures = 0
    total_requests = 0
    for series_id in series_ids:
        spec = CATALOG[series_id]
        try:
            result = refresh_series(spec, services.cache, services.sources,
                                    want_start_ms=start_ms, end_ms=end_ms)
        except Exception as e:  # a bug must not hide the other series' results
            log.exception("refresh %s crashed", series_id)
            failures += 1
            out.write(f"{series_id}\terror\tinternal error: {e.__class__.__name__}: {e} "
                      "(details in the log)\n")
            continue
        total_requests += result.requests
        if result.ok:
            via = f" via {result.venue}" if result.venue else ""
            via += f" ({result.note})" if result.note else ""
            dropped = f", {result.drop_summary}" if result.rows_dropped else ""
            out.write(f"{series_id}\tok\t+{result.rows_added} rows{dropped}"
                      f"\tlast {iso_utc(result.last_ms)}{via}\t{result.requests} requests\n")
        else:
            failures += 1
            dropped = f" ({result.drop_summary})" if result.rows_dropped else ""
            out.write(f"{series_id}\terror\t{result.error}{dropped}\n")
    out.write(f"# {len(series_ids) - failures}/{len(series_ids)} series ok, "
              f"{total_requests} requests\n")
    return 1 if failures == len(series_ids) else 0


def cmd_export(services: AppServices, series_id: str, out_path: str, start: str | None,
               end: str | None, out: TextIO = sys.stdout) -> int:
    """Write `time` (ISO-8601 UTC) then the series' own columns to a CSV file."""
    start_ms, end_ms = parse_date_range(start, end)
    check_out_path(out_path)
    derived = derived_specs()
    if series_id in CATALOG:
        spec = CATALOG[series_id]
        if spec.is_snapshot:
            return _export_snapshot(services, series_id, out_path, out)
        data = services.cache.read(series_id, start_ms, end_ms).select(spec.columns)
        rows = len(data)
        with _writing(out_path) as fh:
            writer = csv.writer(fh)
            writer.writerow(["time", *spec.columns])
            cols = [data[c] for c in spec.columns]
            for i, t in enumerate(data.time):
                writer.writerow([iso_utc(int(t)), *(_fmt(c[i]) for c in cols)])
        _write_sidecar(out_path, _stored_provenance(spec, data.last_ms))
    elif series_id in derived:
        spec_d = derived[series_id]
        result = spec_d.run(services.cache)
        frame = spec_d.extract(result)
        if spec_d.unit:  # a derived number names its unit in the file itself
            frame = frame.assign(unit=spec_d.unit)
        rows = _write_frame(frame, out_path, start_ms, end_ms)
        provenance = spec_d.provenance(result, _inputs_as_of(services, spec_d.inputs))
        sidecar = _write_sidecar(out_path, provenance.as_dict())
        out.write(f"{series_id} ({spec_d.unit or 'no unit'}): {rows} rows -> {out_path} "
                  f"(provenance: {sidecar})\n")
        return 0
    else:
        raise CommandError(f"unknown series: {series_id} (see `main.py list`)")
    out.write(f"{series_id}: {rows} rows -> {out_path}\n")
    return 0


def _export_snapshot(services: AppServices, series_id: str, out_path: str, out: TextIO) -> int:
    snap = services.cache.latest_snapshot(series_id)
    if snap is None:
        out.write(f"{series_id}: no snapshot cached yet (run `main.py refresh {series_id}`)\n")
        return 1
    frame = snap.frame.copy()
    frame.insert(0, "time", iso_utc(snap.time_ms))
    with _writing(out_path) as fh:
        frame.to_csv(fh, index=False)
    _write_sidecar(out_path, _stored_provenance(CATALOG[series_id], snap.time_ms))
    out.write(f"{series_id}: {len(frame)} rows at {iso_utc(snap.time_ms)} -> {out_path}\n")
    return 0


def check_out_path(out_path: str) -> None:
    """Refuse, before any work, an `--out` that cannot be the file asked for."""
    if not out_path.strip():
        raise CommandError("--out is empty: give the CSV file to write")
    path = Path(out_path)
    if path.is_dir():
        raise CommandError(f"--out {out_path} is a directory: give a file name")
    if not path.parent.is_dir():
        raise CommandError(f"--out {out_path}: the folder {path.parent} does not exist")
    if sidecar_path(out_path).is_dir():
        raise CommandError(f"{sidecar_path(out_path)} is a directory: the provenance cannot be "
                           "written beside the export")


@contextmanager
def _writing(out_path: str, what: str = "") -> Iterator[IO[str]]:
    """The file opened for writing: failing to open it is exit 2 (the path is unusable),
    failing part-way is exit 1 (a partial regular file is removed, not left looking whole)."""
    label = f"{what} {out_path}".strip()
    try:
        fh = open(out_path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise CommandError(f"cannot write {label}: {e.strerror or e}") from None
    try:
        with fh:
            yield fh
    except OSError as e:
        _remove_partial(out_path)
        raise OutputError(f"writing {label} failed: {e.strerror or e}") from None


def _remove_partial(out_path: str) -> None:
    try:
        if stat.S_ISREG(os.stat(out_path).st_mode):  # never a device such as /dev/full
            os.unlink(out_path)
    except OSError:
        pass


def sidecar_path(out_path: str) -> Path:
    """`prices.csv` -> `prices.provenance.json`, beside it."""
    path = Path(out_path)
    return path.with_name(path.stem + ".provenance.json")


def _write_sidecar(out_path: str, provenance: dict) -> Path:
    path = sidecar_path(out_path)
    provenance = {**provenance, "exported_at": iso_utc(int(datetime.now(UTC).timestamp() * 1000)),
                  "file": Path(out_path).name}
    with _writing(str(path), what="its provenance") as fh:
        fh.write(json.dumps(provenance, indent=2, ensure_ascii=False) + "\n")
    return path


def _stored_provenance(spec, as_of_ms: int | None) -> dict:
    """A stored series is what its venue served: say which venue, symbol and interval."""
    return stored_provenance(spec, as_of_ms)


def _inputs_as_of(services: AppServices, inputs: Sequence[str]) -> int | None:
    """The newest row (or snapshot) among a derived quantity's inputs."""
    newest = []
    for series_id in inputs:
        spec = CATALOG.get(series_id)
        if spec is None:
            continue
        if spec.is_snapshot:
            snap = services.cache.latest_snapshot(series_id)
            if snap is not None:
                newest.append(snap.time_ms)
        else:
            bounds = services.cache.bounds(series_id)
            if bounds is not None:
                newest.append(bounds[1])
    return max(newest, default=None)


def _write_frame(frame, out_path: str, start_ms: int | None, end_ms: int | None) -> int:
    import pandas as pd

    frame = frame.copy()
    if isinstance(frame.index, pd.DatetimeIndex):
        ms = frame.index.as_unit("ms").asi8
        keep = np.ones(len(frame), dtype=bool)
        if start_ms is not None:
            keep &= ms >= start_ms
        if end_ms is not None:
            keep &= ms <= end_ms
        frame = frame[keep]
        frame.insert(0, "time", [iso_utc(int(v)) for v in frame.index.as_unit("ms").asi8])
        frame = frame.reset_index(drop=True)
    with _writing(out_path) as fh:
        frame.to_csv(fh, index=False, float_format="%.10g")
    return len(frame)


def _fmt(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.10g}"


def cmd_alerts_backtest(services: AppServices, rules_file: str, start: str | None,
                        end: str | None, out: TextIO = sys.stdout) -> int:
    """When would each rule of `rules_file` have fired over the cached history: one line per
    firing (fired, true since, rule id, summary), then a count. docs/alerts.md."""
    from models.alerts import RuleError, backtest
    from services.alerts_files import load_rules_file

    start_ms, end_ms = parse_date_ms(start), parse_date_ms(end)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise CommandError(f"--from {start} is after --to {end}")
    # a bar still forming is known only at its close: nothing after now is evaluated
    now = services.now_ms_override or int(time.time() * 1000)
    end_ms = now if end_ms is None else min(end_ms, now)
    try:
        rules = load_rules_file(rules_file)
    except RuleError as e:
        raise CommandError(str(e)) from None
    firings = backtest(rules, services.cache, start_ms, end_ms)
    for f in firings:
        out.write(f"{iso_utc(f.fired_ms)}\t{f.rule_id}\ttrue since {iso_utc(f.true_since_ms)}"
                  f"\t{f.summary}\n")
    enabled = sum(r.enabled for r in rules)
    span = f" from {iso_utc(start_ms)}" if start_ms is not None else ""
    span += f" to {iso_utc(end_ms)}"
    synthetic = " (synthetic demo data)" if services.demo else ""
    out.write(f"# {len(firings)} firings of {enabled} enabled rules{span}{synthetic}\n")
    return 0
