"""Workspace files: `<data dir>/workspaces/*.json` (the user's) and the shipped templates in
`resources/workspaces/` (read-only: saving over one writes a user copy, which then takes its
place in the list; deleting that copy brings the template back).

Blocking I/O, no Qt: the window calls these on workers. Writes are atomic (a temporary file
in the same folder, fsync, rename), user-only (0600); a symbolic link or anything but a regular
file where a workspace is read or written is refused, never followed (as settings.ini is).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from models.workspace import (
    Allowed,
    Workspace,
    WorkspaceError,
    check_name,
    file_stem,
    loads_workspace,
    same_name,
)
from services.config import data_dir
from services.resources import resources_dir
from services.safe_files import RefusedFile, read_regular_file, write_file_atomically

log = logging.getLogger(__name__)

#: a workspace is a few kilobytes (drawings add some); anything much larger is not one
MAX_WORKSPACE_BYTES = 2 << 20
SUFFIX = ".json"
#: the shipped templates, in menu order
SHIPPED_FILES = ("squeeze-watch", "squeeze-anatomy", "rotation", "options")


def shipped_dir() -> Path:
    return resources_dir() / "workspaces"


def default_dir() -> Path:
    return data_dir() / "workspaces"


@dataclass(frozen=True)
class WorkspaceEntry:
    name: str
    path: Path
    #: a shipped template with no user copy (read-only)
    shipped: bool = False
    description: str = ""


def load_workspace_file(path: str | os.PathLike[str],
                        allowed: Allowed | None = None) -> Workspace:
    """A workspace file read and validated; WorkspaceError names the file's problem."""
    return loads_workspace(_read_bytes(Path(path)), allowed)


def _read_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_WORKSPACE_BYTES, "workspace")
    except FileNotFoundError as e:
        raise WorkspaceError(f"{path}: no such file") from e
    except RefusedFile as e:
        raise WorkspaceError(str(e)) from e


def write_workspace_file(workspace: Workspace, path: str | os.PathLike[str]) -> Path:
    """Write atomically, user-only; a symbolic link or a folder at `path` is refused."""
    path = Path(path)
    text = workspace.dumps().encode("utf-8")
    if len(text) > MAX_WORKSPACE_BYTES:
        raise WorkspaceError(f"workspace {workspace.name!r} is over {MAX_WORKSPACE_BYTES:,} "
                             "bytes; not written")
    if path.is_symlink():
        raise WorkspaceError(f"{path} is a symbolic link; Rotor does not write through it")
    if path.exists() and not path.is_file():
        raise WorkspaceError(f"{path} is not a regular file; not overwritten")
    try:
        write_file_atomically(path, text, ".workspace-")
    except OSError as e:
        raise WorkspaceError(f"cannot write {path}: {e.strerror or e}") from e
    return path


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class WorkspaceStore:
    """The workspaces folder and the shipped templates. Thread-safe: one lock around each
    operation (an autosave and a rename may run on two workers)."""

    def __init__(self, folder: Path | None = None, shipped: Path | None = None,
                 allowed: Allowed | None = None) -> None:
        self._folder = folder
        self._shipped = shipped
        self.allowed = allowed
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        """The user's workspaces folder, created user-only on first use."""
        folder = self._folder if self._folder is not None else default_dir()
        if folder.is_symlink():
            raise WorkspaceError(f"{folder} is a symbolic link; Rotor does not follow it")
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise WorkspaceError(f"cannot create {folder}: {e.strerror or e}") from e
        return folder

    @property
    def shipped_folder(self) -> Path:
        return self._shipped if self._shipped is not None else shipped_dir()

    # -- listing ------------------------------------------------------------------------------
    def entries(self) -> list[WorkspaceEntry]:
        """The shipped templates first (a user copy in a template's place), then the user's
        workspaces by name. A file that cannot be read is left out (and logged)."""
        with self._lock:
            return self._entries()

    def _entries(self) -> list[WorkspaceEntry]:
        users = self._user_entries()
        out: list[WorkspaceEntry] = []
        for stem in SHIPPED_FILES:
            path = self.shipped_folder / f"{stem}{SUFFIX}"
            try:
                template = load_workspace_file(path)
            except WorkspaceError as e:
                log.warning("shipped workspace %s: %s", path, e)
                continue
            copy = next((u for u in users if same_name(u.name, template.name)), None)
            if copy is not None:
                users.remove(copy)
                out.append(copy)
            else:
                out.append(WorkspaceEntry(template.name, path, True, template.description))
        return out + sorted(users, key=lambda e: e.name.casefold())

    def _user_entries(self) -> list[WorkspaceEntry]:
        out: list[WorkspaceEntry] = []
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            try:
                workspace = load_workspace_file(path)
            except WorkspaceError as e:
                log.warning("workspace file left out: %s", e)
                continue
            if any(same_name(e.name, workspace.name) for e in out):
                log.warning("workspace file left out: %s repeats the name %r", path,
                            workspace.name)
                continue
            out.append(WorkspaceEntry(workspace.name, path, False, workspace.description))
        return out

    def find(self, name: str) -> WorkspaceEntry | None:
        with self._lock:
            return self._find(name)

    def _find(self, name: str) -> WorkspaceEntry | None:
        return next((e for e in self._entries() if same_name(e.name, name)), None)

    # -- reading and writing ------------------------------------------------------------------
    def read(self, name: str) -> Workspace:
        with self._lock:
            entry = self._find(name)
            if entry is None:
                raise WorkspaceError(f"no workspace called {name!r}")
            return load_workspace_file(entry.path, self.allowed)

    def write(self, workspace: Workspace) -> Path:
        """Save `workspace` under its name: over its user file, or a new one (a shipped
        template's name gets a user copy)."""
        with self._lock:
            return self._write(workspace)

    def _write(self, workspace: Workspace, replacing: Path | None = None) -> Path:
        entry = self._find(workspace.name)
        if entry is not None and not entry.shipped:
            path = entry.path
        elif replacing is not None:
            path = replacing
        else:
            path = self._new_path(workspace.name)
        return write_workspace_file(workspace, path)

    def _new_path(self, name: str) -> Path:
        stem = file_stem(name)
        path = self.folder / f"{stem}{SUFFIX}"
        n = 1
        while path.exists() or path.is_symlink():
            n += 1
            path = self.folder / f"{stem}-{n}{SUFFIX}"
        return path

    def rename(self, old: str, new: str) -> Workspace:
        """The user's workspace `old` now called `new` (its file keeps its place until the
        new one is written). A shipped template is not renamed: save a copy instead."""
        new = check_name(new)
        with self._lock:
            entry = self._find(old)
            if entry is None:
                raise WorkspaceError(f"no workspace called {old!r}")
            if entry.shipped:
                raise WorkspaceError(f"{entry.name!r} is shipped with Rotor and cannot be "
                                     "renamed; use Save as… to make your own copy")
            other = self._find(new)
            if other is not None and other.path != entry.path:
                raise WorkspaceError(f"a workspace called {other.name!r} already exists")
            workspace = load_workspace_file(entry.path, self.allowed).renamed(new)
            target = self._new_path(new)
            write_workspace_file(workspace, target)
            try:
                entry.path.unlink()
            except OSError as e:
                _unlink_quietly(str(target))
                raise WorkspaceError(f"cannot remove {entry.path}: {e.strerror or e}") from e
            return workspace

    def delete(self, name: str) -> WorkspaceEntry | None:
        """Remove the user's workspace `name`; what now answers to that name (the shipped
        template a user copy replaced), or None."""
        with self._lock:
            entry = self._find(name)
            if entry is None:
                raise WorkspaceError(f"no workspace called {name!r}")
            if entry.shipped:
                raise WorkspaceError(f"{entry.name!r} is shipped with Rotor and cannot be "
                                     "deleted")
            try:
                entry.path.unlink()
            except OSError as e:
                raise WorkspaceError(f"cannot delete {entry.path}: {e.strerror or e}") from e
            return self._find(name)

    def export(self, workspace: Workspace, path: str | os.PathLike[str]) -> Path:
        """A copy of `workspace` at `path` (anywhere the user chose)."""
        return write_workspace_file(workspace, path)

    def import_file(self, path: str | os.PathLike[str]) -> Workspace:
        """Read and validate a workspace file from anywhere (nothing is stored yet)."""
        return load_workspace_file(path, self.allowed)
