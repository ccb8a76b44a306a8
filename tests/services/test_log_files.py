"""The log file: user-only (0600) after every rotation, and never written through a symlink."""

from __future__ import annotations

import logging
import os
import stat
from logging.handlers import RotatingFileHandler

import pytest

from services import logs


@pytest.fixture
def root_handlers():
    """Restore the root logger's handlers (setup_logging adds to them) and the umask."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    old_umask = os.umask(0o022)  # the usual umask: a plain open() would create 0644
    yield root
    os.umask(old_umask)
    for handler in root.handlers[:]:
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _file_handler(root: logging.Logger, path) -> RotatingFileHandler | None:
    return next((h for h in root.handlers if isinstance(h, RotatingFileHandler)
                 and h.baseFilename == str(path)), None)


def test_rotated_log_is_created_user_only(tmp_path, root_handlers):
    path = logs.setup_logging(tmp_path)
    handler = _file_handler(root_handlers, path)
    assert handler is not None
    handler.maxBytes = 200  # rotate after a couple of records
    for i in range(10):
        logging.getLogger("rotor.test").warning("record %d %s", i, "x" * 60)
    assert (path.parent / "rotor.log.1").exists()
    for file in (path, path.parent / "rotor.log.1"):
        assert stat.S_IMODE(os.stat(file).st_mode) == 0o600, file


def test_symlinked_log_file_is_refused_not_followed(tmp_path, root_handlers):
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "rotor.log").symlink_to(target)
    path = logs.setup_logging(tmp_path)
    logging.getLogger("rotor.test").warning("must not reach the symlink's target")
    assert target.read_text() == ""
    assert _file_handler(root_handlers, path) is None
    assert logs.log_file_problem and "symlink" in logs.log_file_problem


def test_symlinked_log_folder_is_refused(tmp_path, root_handlers):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "logs").symlink_to(elsewhere)
    logs.setup_logging(data)
    logging.getLogger("rotor.test").warning("must not reach the symlink's target")
    assert list(elsewhere.iterdir()) == []
    assert logs.log_file_problem and "symlink" in logs.log_file_problem
