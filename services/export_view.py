"""Export what a dock shows: one CSV per plotted series, each with its JSON provenance sidecar.

`write_plotted` writes the files (on a worker in the window, in the process for
`main.py export-view`); `export_view` is the headless route: a dock's choices from a workspace,
its series computed from the cache by the same builders the docks use (`models/export_view.py`).
The CSV format is `main.py export`'s: `time` in ISO-8601 UTC (bars stamped at their open), then
the values with 10 significant digits, an empty cell for a missing value.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.dock_choices import resolve_choices
from models.export_view import TIME_DOCKS, PlottedSeries, dock_series, safe_file_name
from services.commands import (
    CommandError,
    _fmt,
    _write_sidecar,
    _writing,
    iso_utc,
    parse_date_range,
    sidecar_path,
)


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return _fmt(float(value))
    return str(value)


def file_stems(series: Sequence[PlottedSeries]) -> list[str]:
    """The file stem each series is written under: its safe name, `-2` … for a repeat."""
    stems: list[str] = []
    for item in series:
        stem = base = safe_file_name(item.name)
        n = 2
        while stem in stems:
            stem, n = f"{base}-{n}", n + 1
        stems.append(stem)
    return stems


def existing_files(series: Sequence[PlottedSeries], out_dir: str | Path) -> list[str]:
    """The files an export of `series` into `out_dir` would replace (CSV and sidecar)."""
    folder = Path(out_dir)
    names = [name for stem in file_stems(series)
             for name in (f"{stem}.csv", sidecar_path(str(folder / f"{stem}.csv")).name)]
    return [name for name in names if (folder / name).exists()]


def write_plotted(series: Sequence[PlottedSeries], out_dir: str | Path,
                  x_range: tuple[float, float] | None = None) -> list[Path]:
    """Each series clipped to `x_range` (seconds; time series only) as `<name>.csv` in
    `out_dir` with `<name>.provenance.json` beside it; the paths of the CSV files. Two series of
    one name (never, in the docks) would get `-2` … suffixes rather than overwrite each other."""
    folder = Path(out_dir)
    if not folder.is_dir():
        raise CommandError(f"--out {out_dir}: not a folder (create it first)")
    written: list[Path] = []
    for item, stem in zip(series, file_stems(series), strict=True):
        shown = item.clipped(*x_range) if x_range is not None else item
        path = folder / f"{stem}.csv"
        with _writing(str(path)) as fh:
            writer = csv.writer(fh)
            names = list(shown.columns)
            writer.writerow(["time", *names] if shown.timed else names)
            columns = [shown.columns[c] for c in names]
            for i in range(len(shown)):
                row = [_cell(c[i]) for c in columns]
                if shown.timed:
                    row.insert(0, iso_utc(int(shown.time_ms[i])))
                writer.writerow(row)
        provenance = dict(shown.provenance)
        if shown.timed:
            provenance["rows"] = len(shown)
            if x_range is not None:  # an open end (±inf) is None
                provenance["window"] = {"start": _edge(x_range[0]), "end": _edge(x_range[1])}
        _write_sidecar(str(path), provenance)
        written.append(path)
    return written


def export_view(services: Any, dock_key: str, choices: Mapping[str, Any], out_dir: str | Path,
                start_ms: int | None, end_ms: int | None,
                symbols: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """The files `dock_key` would export in the window for `choices` over [start_ms, end_ms]
    (either end missing: the dock's own range choice, ending at the data's end). `symbols`:
    the user's symbols as (stem, calendar) (models/symbols.py: SymbolList.feed_param), already
    registered (`register_user_symbols`)."""
    stems = tuple(stem for stem, _calendar in symbols)
    try:
        resolved = resolve_choices(dock_key, choices, stems)
    except ValueError as e:
        raise CommandError(str(e)) from None
    resolved["symbols"] = stems
    resolved["user_peers"] = tuple(symbols)
    folder = Path(out_dir)
    if not str(out_dir).strip():
        raise CommandError("--out is empty: give the folder to write into")
    if not folder.is_dir():
        raise CommandError(f"--out {out_dir}: no such folder (create it first)")
    asked = None
    if dock_key in TIME_DOCKS and (start_ms is not None or end_ms is not None):
        asked = (start_ms / 1e3 if start_ms is not None else -np.inf,
                 end_ms / 1e3 if end_ms is not None else np.inf)
    try:
        view = dock_series(services.cache, dock_key, resolved, asked)
    except ValueError as e:
        raise CommandError(str(e)) from None
    x_range = None
    if dock_key in TIME_DOCKS:
        default = view.default_range or (-np.inf, np.inf)
        x_range = (default[0] if asked is None or not np.isfinite(asked[0]) else asked[0],
                   default[1] if asked is None or not np.isfinite(asked[1]) else asked[1])
    rows = sum(len(s.clipped(*x_range)) if x_range else len(s) for s in view.series)
    if not rows:
        where = "" if x_range is None else \
            f" between {_when(x_range[0])} and {_when(x_range[1])}"
        raise CommandError(f"{dock_key}: nothing to export{where} (no cached data there: "
                           "`main.py refresh`, or another --start/--end)")
    return write_plotted(view.series, folder, x_range)


def _edge(seconds: float) -> str | None:
    return iso_utc(int(seconds * 1000)) if np.isfinite(seconds) else None


def _when(seconds: float) -> str:
    return iso_utc(int(seconds * 1000)) if np.isfinite(seconds) else "the open end"


def _read_workspace(workspace: str) -> Any:
    """`workspace`: a workspace file's path, or the name of a saved or shipped workspace
    (services/workspaces.py), validated as an import is."""
    from services.workspaces import WorkspaceStore, load_workspace_file

    try:
        if os.path.exists(workspace) or os.sep in workspace or workspace.endswith(".json"):
            return load_workspace_file(workspace)
        store = WorkspaceStore()
        if store.find(workspace) is None:
            names = ", ".join(e.name for e in store.entries())
            raise CommandError(f"no workspace named {workspace!r} (saved and shipped: {names}); "
                               "or give a workspace file's path")
        return store.read(workspace)
    except ValueError as e:  # WorkspaceError: the message names the file's problem
        raise CommandError(f"workspace {workspace}: {e}") from None


def _workspace_symbols(workspace: Any, name: str) -> tuple[tuple[str, str], ...]:
    """The workspace's own symbols, registered (their series ids and names become known), as
    the feeds take them; none when the workspace has no symbols section."""
    from models.symbols import SymbolList, register_user_symbols

    data = workspace.sections.get("symbols")
    if data is None:
        return ()
    symbols = SymbolList()
    try:
        symbols.load_json(data)
    except ValueError as e:
        raise CommandError(f"workspace {name}: symbols: {e}") from None
    register_user_symbols(symbols)
    return symbols.feed_param()


def cmd_export_view(services: Any, workspace: str, dock: str, out_dir: str,
                    start: str | None, end: str | None, out: Any) -> int:
    """`main.py export-view WORKSPACE DOCK --out DIR [--start --end]`."""
    start_ms, end_ms = parse_date_range(start, end)
    try:
        resolve_choices(dock, {})
    except ValueError as e:  # an unknown dock before the workspace is read
        raise CommandError(str(e)) from None
    read = _read_workspace(workspace)
    symbols = _workspace_symbols(read, workspace)
    paths = export_view(services, dock, read.docks.get(dock, {}), out_dir, start_ms, end_ms,
                        symbols)
    for path in paths:
        out.write(f"{dock}: {path}\n")
    return 0
