"""One stream writer per data folder: `streams.lock`, an exclusive `flock` held while streaming.

The recorder and a window on the same data folder would otherwise both stream the same venues
into the same cache. Whoever takes the lock streams and writes stream rows; the other reads them
from the cache (both may still write REST refreshes: SQLite WAL and a busy timeout make that
safe, docs/streams.md). The kernel drops the lock when the holder dies, so a crashed recorder
never leaves a stale lock; the pid in the file only says who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

LOCK_FILE = "streams.lock"


class StreamLock:
    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def _open(self) -> int:
        # user-only; O_NOFOLLOW: a symlink planted where the lock goes is refused
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process (or another `StreamLock`
        in this one) holds it. A folder that cannot be written raises `OSError`."""
        if self._fd is not None:
            return True
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock

    def holder(self) -> int | None:
        """The pid holding the lock; None when nobody streams into this folder, or when the
        holder has not written its pid yet."""
        if self._fd is not None:
            return os.getpid()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                pass  # held: read who holds it
            else:
                return None
            # the holder writes its pid just after taking the lock: read in that instant, the
            # file is still empty and the caller says "another process" (whether the folder is
            # free is decided by `acquire`, never by this)
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        finally:
            os.close(fd)

    def __enter__(self) -> StreamLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
