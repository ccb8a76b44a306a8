"""A small file of the user's (settings, a workspace): read without following a symbolic link in
its place, without blocking on a FIFO and without reading more than it can be; written
atomically and user-only, so a crash or a full disk leaves the previous file whole."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class RefusedFile(ValueError):
    """The file is not one Rotor reads; the message names why."""

    def __init__(self, message: str, symlink: bool = False) -> None:
        super().__init__(message)
        self.symlink = symlink


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes`. FileNotFoundError when it is
    missing; RefusedFile for a symbolic link, anything but a regular file, an unreadable or a
    larger one (`what` names what it should have been: "settings file", "workspace")."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as e:
        if os.path.islink(path):
            raise RefusedFile(f"{path} is a symbolic link; Rotor does not follow it",
                              symlink=True) from e
        raise RefusedFile(f"cannot read {path}: {e.strerror or e}") from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a FIFO, a device
        os.close(fd)
        raise RefusedFile(f"{path} is not a regular file; Rotor does not read it")
    with os.fdopen(fd, "rb") as file:
        raw = file.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise RefusedFile(f"{path} is over {max_bytes:,} bytes, not a Rotor {what}")
    return raw


def write_file_atomically(path: str | os.PathLike[str], content: bytes, prefix: str) -> None:
    """`content` into `path` through a temporary file (created 0600) that replaces it once
    written and synced; the folder is synced after, so the rename survives a power cut. The
    temporary file never stays behind; OSError as the system raised it."""
    folder = Path(path).parent
    fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (OSError, AttributeError):  # not POSIX
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
