"""Rotor: cross-asset rotation charts for traders.

    python main.py                      the window (live data, cache first)
    python main.py --demo               the window with the bundled synthetic dataset
    python main.py --screenshot F.png   open, wait for data (≤ 20 s), save a PNG, exit
    python main.py --workspace NAME     open the window in that workspace (Workspaces menu)
    python main.py list                 the series Rotor knows
    python main.py refresh [SERIES ...] [--start DATE] [--end DATE]
    python main.py export SERIES --out FILE.csv [--start DATE] [--end DATE]
    python main.py export-view WORKSPACE DOCK --out DIR [--start DATE] [--end DATE]
                                        what a dock shows, one CSV per series (docs/export.md)
    python main.py record [--for DURATION] [--rules FILE]
                                        stream every venue into the cache, no window
                                        (30m, 2h, 1d; default: until Ctrl-C or SIGTERM), and
                                        evaluate alert rules on every stored row
    python main.py install-desktop [--remove]   a Linux application-menu entry with an icon
    python main.py --version

Installed (`pip install .`), the same is `rotor …`.

Exit status: 0 done, 2 the command cannot run as asked (bad arguments, an unusable --out),
1 it ran and failed (every series failed; the export's write failed part-way, e.g. a full disk).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_T0 = float(os.environ.get("ROTOR_T0") or time.time())
_MARKERS = os.environ.get("ROTOR_STARTUP_MARKERS") == "1"
SCREENSHOT_TIMEOUT_S = 20.0


def mark(name: str) -> None:
    """Start-up timing markers for bench/ (printed only when asked for)."""
    if _MARKERS:
        print(f"ROTOR_MARK {name} {(time.time() - _T0) * 1000:.1f}", flush=True)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2
        sys.stderr.write(f"rotor: error: {message}\n")
        raise SystemExit(2)


def version() -> str:
    """The installed distribution's version (pyproject.toml's, through the install)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("rotor")
    except PackageNotFoundError:  # a checkout run without any install
        return "unknown (not installed)"


class _PrintVersion(argparse.Action):
    # Looked up only when asked for: importlib.metadata is not free on every start.
    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"{parser.prog} {version()}")
        raise SystemExit(0)


def build_parser() -> argparse.ArgumentParser:
    prog = "rotor" if os.path.basename(sys.argv[0]).startswith("rotor") else "main.py"
    parser = _Parser(prog=prog, description="Rotor: cross-asset rotation charts for traders")
    parser.add_argument("--version", action=_PrintVersion, nargs=0,
                        help="print the version and exit")
    parser.add_argument("--demo", action="store_true",
                        help="use the bundled synthetic demo dataset (no network)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="open the window, wait for data, save a PNG and exit")
    parser.add_argument("--workspace", metavar="NAME",
                        help="open the window in this workspace (e.g. \"Squeeze watch\")")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("list", help="print every series id with its source, symbol, kind, interval")
    refresh = sub.add_parser("refresh", help="fetch series into the cache")
    refresh.add_argument("series", nargs="*", help="series ids (default: all)")
    refresh.add_argument("--start", help="oldest date to have (YYYY-MM-DD, UTC)")
    refresh.add_argument("--end", help="newest date to fetch (YYYY-MM-DD, UTC)")
    export = sub.add_parser("export", help="write a series from the cache to CSV")
    export.add_argument("series", help="series id")
    export.add_argument("--out", required=True, help="CSV file to write")
    export.add_argument("--start", help="from date (YYYY-MM-DD, UTC)")
    export.add_argument("--end", help="to date (YYYY-MM-DD, UTC)")
    view = sub.add_parser("export-view", help="write what a dock shows (one CSV per plotted "
                                              "series, with provenance) for a workspace's choices")
    view.add_argument("view_workspace", metavar="WORKSPACE",
                      help="a workspace's name (saved or shipped) or a workspace JSON file")
    view.add_argument("dock", help="dock key: prices, funding, open_interest, volatility, "
                                   "rotation, basis, squeeze, options, movers, liquidations")
    view.add_argument("--out", required=True, help="folder to write the CSV files into")
    view.add_argument("--start", help="from date (YYYY-MM-DD, UTC; default: the dock's range)")
    view.add_argument("--end", help="to date (YYYY-MM-DD, UTC; default: the data's end)")
    record = sub.add_parser("record", help="stream every venue into the cache without a window "
                                           "(docs/streams.md); Ctrl-C or SIGTERM stops")
    record.add_argument("--for", dest="duration", metavar="DURATION",
                        help="how long: 30m, 2h, 1d (default: until stopped)")
    record.add_argument("--flush-every", type=float, default=1.0, metavar="SECONDS",
                        help="how often stream rows are written to the cache (default 1)")
    record.add_argument("--rules", metavar="FILE",
                        help="alert rules to evaluate on every stored row (a rules file; "
                             "default: the rules of the workspace the window used last)")
    alerts = sub.add_parser("alerts", help="back-test alert rules over the cached history "
                                           "(docs/alerts.md)")
    alerts.add_argument("--backtest", required=True, metavar="RULEFILE",
                        help="a rules file (resources/alerts/*.json has examples)")
    alerts.add_argument("--from", dest="start", help="first firing date (YYYY-MM-DD, UTC)")
    alerts.add_argument("--to", dest="end", help="last date evaluated (YYYY-MM-DD, UTC)")
    alerts.add_argument("--demo", dest="alerts_demo", action="store_true",
                        help="over the bundled synthetic demo dataset")
    desktop = sub.add_parser("install-desktop",
                             help="add Rotor to the Linux application menu (desktop entry, icon)")
    desktop.add_argument("--remove", action="store_true", help="take the entry away again")
    return parser


def run_install_desktop(args: argparse.Namespace) -> int:
    from services import desktop_entry

    try:
        if args.remove:
            files = desktop_entry.remove_desktop_entry()
            print("removed " + (", ".join(map(str, files)) or "nothing (no entry installed)"))
        else:
            files = desktop_entry.install_desktop_entry()
            print("installed " + ", ".join(map(str, files)))
    except OSError as e:
        sys.stderr.write(f"rotor: error: {e}\n")
        return 1
    return 0


def run_command(args: argparse.Namespace) -> int:
    from services import commands
    from services.app import open_demo, open_live
    from services.config import data_dir
    from services.errors import ServiceError
    from services.logs import setup_logging

    if args.command == "list":
        return commands.cmd_list()
    if args.command == "install-desktop":
        return run_install_desktop(args)
    try:
        # Logging first: what opening the cache logs goes to the file, not to stderr.
        setup_logging(data_dir(), console=False)
        demo = args.demo or getattr(args, "alerts_demo", False)
        services = open_demo() if demo else open_live()
    except ServiceError as e:  # an insecure base URL override, a full disk, a symlinked cache
        sys.stderr.write(f"rotor: error: {e}\n")
        return 2
    try:
        if args.command == "refresh":
            return commands.cmd_refresh(services, args.series, args.start, args.end)
        if args.command == "record":
            from services.recorder import RecordError, cmd_record

            try:
                return cmd_record(services, args.duration, args.flush_every,
                                  rules_path=args.rules)
            except RecordError as e:
                sys.stderr.write(f"rotor: error: {e}\n")
                return e.exit_status
        if args.command == "alerts":
            return commands.cmd_alerts_backtest(services, args.backtest, args.start, args.end)
        if args.command == "export-view":
            from services.export_view import cmd_export_view

            return cmd_export_view(services, args.view_workspace, args.dock, args.out, args.start,
                                   args.end, sys.stdout)
        return commands.cmd_export(services, args.series, args.out, args.start, args.end)
    except commands.CommandError as e:  # exit status 2 or 1: see services/commands.py
        sys.stderr.write(f"rotor: error: {e}\n")
        return e.exit_status
    finally:
        services.close()


def run_gui(args: argparse.Namespace) -> int:
    from ui.platform_check import preflight

    problem = preflight()
    if problem is not None:  # Qt would abort with several lines; say what to do in one
        sys.stderr.write(f"rotor: error: {problem}\n")
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    import ui  # noqa: F401  (pins the Qt binding before pyqtgraph loads)
    from services.app import freeze_startup_heap
    from services.config import Endpoints, data_dir
    from services.errors import ServiceError
    from services.logs import install_excepthooks, setup_logging
    from ui.main_window import MainWindow
    from ui.settings_file import SettingsError, open_settings

    mark("imports")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Rotor")
    app.setDesktopFileName("rotor")  # Wayland and docks match the window to rotor.desktop
    from services.resources import icon_path

    app.setWindowIcon(QIcon(str(icon_path())))  # read lazily, when the window first shows it
    try:
        folder = data_dir()
    except ServiceError as e:  # a data folder that cannot be created
        sys.stderr.write(f"rotor: error: {e}\n")
        return 2
    setup_logging(folder, console=True)
    if not args.demo:
        try:  # as the commands do: an insecure base URL override stops here, not in a worker
            Endpoints.from_env()
        except ServiceError as e:
            sys.stderr.write(f"rotor: error: {e}\n")
            return 2
    try:
        settings = open_settings(str(folder / "settings.ini"))
    except SettingsError as e:
        sys.stderr.write(f"rotor: error: {e}\n")
        return 2
    try:
        window = MainWindow(settings, demo=args.demo, workspace=args.workspace,
                            workspace_dir=folder / "workspaces")
    except ServiceError as e:
        sys.stderr.write(f"rotor: error: {e}\n")
        return 2
    install_excepthooks(window.scheduler.noticeRaised.emit)  # queued to the GUI thread
    window.allPanelsBuilt.connect(freeze_startup_heap)
    mark("window_built")
    window.scheduler.servicesReady.connect(lambda _s: mark("cache_read"))

    window.panels["prices"].firstDataPaint.connect(lambda: mark("first_chart_painted"))

    def on_all_painted() -> None:
        mark("all_docks_painted")
        if os.environ.get("ROTOR_EXIT_AFTER_PAINT") == "1":
            QTimer.singleShot(0, window.close)

    window.allDocksPainted.connect(on_all_painted)

    if args.screenshot:
        _schedule_screenshot(window, args.screenshot)
    window.show()
    code = app.exec()
    if window.workers_left:
        # A request still blocked in a socket read: the cache is consistent (every write is one
        # transaction), so leave now rather than hang the user's exit.
        sys.stdout.flush()
        os._exit(code)
    return code


def _schedule_screenshot(window, path: str) -> None:
    from PySide6.QtCore import QTimer

    started = time.monotonic()
    timer = QTimer(window)
    timer.setInterval(100)

    def check() -> None:
        waited = time.monotonic() - started
        ready = window.panels_have_data() and window.workspaces.is_started
        if not ready and waited < SCREENSHOT_TIMEOUT_S:
            return
        timer.stop()
        if waited >= SCREENSHOT_TIMEOUT_S:
            sys.stderr.write("rotor: warning: panels had no data after "
                             f"{SCREENSHOT_TIMEOUT_S:.0f} s; saving what is shown\n")
        # Let the last data paint before grabbing.
        QTimer.singleShot(400, lambda: _grab(window, path))

    timer.timeout.connect(check)
    timer.start()


def _grab(window, path: str) -> None:
    ok = window.grab().save(path)
    if ok:
        print(f"screenshot saved to {path}")
    else:
        sys.stderr.write(f"rotor: error: could not write {path}\n")
    window.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is not None:
        if args.screenshot:
            build_parser().error("--screenshot cannot be combined with a command")
        if args.workspace:
            build_parser().error("--workspace cannot be combined with a command")
        return run_command(args)
    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
