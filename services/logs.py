"""Logging to a user-only rotating file, and hooks that send any uncaught exception there.

An exception on the GUI thread or in a worker must end up in the log and in front of the user
(non-modal), never as a silent death or a frozen window.
"""

from __future__ import annotations

import errno
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

#: why the log file could not be used (a symlink, a read-only folder), or None
log_file_problem: str | None = None


class PrivateRotatingFileHandler(RotatingFileHandler):
    """Every file it opens, the first and each one after a rotation, is created 0600 and never
    through a symlink (O_NOFOLLOW)."""

    def _open(self):  # type: ignore[override]
        flags = os.O_CREAT | os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
        fd = os.open(self.baseFilename, flags, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup_logging(folder: Path, *, console: bool = False, level: int = logging.INFO) -> Path:
    """Log to `folder/logs/rotor.log`. A symlink there, or a folder that cannot be written, is
    refused with one warning (on stderr when `console`) and logging goes on without the file."""
    global log_file_problem
    logs = folder / "logs"
    path = logs / LOG_FILE
    root = logging.getLogger()
    log_file_problem = None
    if not any(isinstance(h, RotatingFileHandler) and Path(h.baseFilename) == path
               for h in root.handlers):
        try:
            handler = _open_log_file(logs, path)
        except OSError as e:
            log_file_problem = f"not logging to {path}: {e.strerror or e}"
        else:
            handler.setFormatter(logging.Formatter(_FORMAT))
            root.addHandler(handler)
    if console and not any(type(h) is logging.StreamHandler for h in root.handlers):
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("rotor: %(levelname)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    if log_file_problem is not None:
        if not console:
            # The headless commands print their own one-line errors: no stray warnings.
            root.addHandler(logging.NullHandler())
        logging.getLogger(__name__).warning(log_file_problem)
    return path


def _open_log_file(logs: Path, path: Path) -> PrivateRotatingFileHandler:
    for candidate in (logs, path):
        if candidate.is_symlink():
            raise OSError(errno.ELOOP, "a symlink; Rotor does not follow symlinks for its log",
                          str(candidate))
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    return PrivateRotatingFileHandler(path, maxBytes=2_000_000, backupCount=3,
                                      encoding="utf-8")


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
