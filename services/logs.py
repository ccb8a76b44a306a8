"""Logging to a user-only rotating file, and hooks that send any uncaught exception there.

An exception on the GUI thread or in a worker must end up in the log and in front of the user
(non-modal), never as a silent death or a frozen window.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

LOG_FILE = "rotor.log"
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def setup_logging(folder: Path, *, console: bool = False, level: int = logging.INFO) -> Path:
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = logs / LOG_FILE
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    root = logging.getLogger()
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path
               for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        root.addHandler(handler)
    if console and not any(type(h) is logging.StreamHandler for h in root.handlers):
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("rotor: %(levelname)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return path


def install_excepthooks(notify: Callable[[str], None]) -> None:
    """Log every uncaught exception (GUI thread and plain threads) and tell the user."""
    log = logging.getLogger("rotor.uncaught")

    def hook(exc_type: type[BaseException], exc: BaseException,
             tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("uncaught exception", exc_info=(exc_type, exc, tb))
        try:
            notify(f"Unexpected error: {exc_type.__name__}: {exc} (details in the log)")
        except Exception:
            log.exception("could not show the error")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not None and args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
