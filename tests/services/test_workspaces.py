"""Workspace files (services/workspaces.py): atomic user-only writes, symlinks refused, the size
cap, the shipped templates as read-only, rename and delete, export and import."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from models.workspace import FORMAT, VERSION, Workspace, WorkspaceError
from services import workspaces
from services.workspaces import (
    MAX_WORKSPACE_BYTES,
    WorkspaceStore,
    load_workspace_file,
    shipped_dir,
    write_workspace_file,
)

SHIPPED_NAMES = ["Squeeze watch", "Squeeze anatomy", "Rotation", "Options"]


@pytest.fixture
def store(tmp_path: Path) -> WorkspaceStore:
    return WorkspaceStore(tmp_path / "workspaces")


def mine(name: str = "Mine", **docks) -> Workspace:
    return Workspace(name=name, docks=docks or {"prices": {"interval": "1d"}})


def test_the_default_folder_is_in_the_data_dir(data_dir: Path):
    assert WorkspaceStore().folder == data_dir / "workspaces"
    assert stat.S_IMODE((data_dir / "workspaces").stat().st_mode) == 0o700


def test_a_write_is_user_only_and_reads_back_equal(store: WorkspaceStore):
    path = store.write(mine())
    assert path.parent == store.folder and path.name == "mine.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.read("mine").to_json() == mine().to_json()  # names match regardless of case
    assert [p.name for p in store.folder.iterdir()] == ["mine.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file(store: WorkspaceStore, monkeypatch):
    path = store.write(mine(prices={"interval": "1d"}))
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workspaces.os, "fsync", full_disk)
    with pytest.raises(WorkspaceError, match="No space left on device"):
        store.write(mine(prices={"interval": "1h"}))
    assert path.read_bytes() == before
    assert [p.name for p in store.folder.iterdir()] == ["mine.json"]


def test_symlinks_are_refused_for_reading_and_writing(store: WorkspaceStore, tmp_path: Path):
    target = tmp_path / "elsewhere.json"
    target.write_text(mine().dumps())
    link = store.folder / "linked.json"
    link.symlink_to(target)
    with pytest.raises(WorkspaceError, match="symbolic link"):
        load_workspace_file(link)
    with pytest.raises(WorkspaceError, match="symbolic link"):
        write_workspace_file(mine(), link)
    assert json.loads(target.read_text())["name"] == "Mine"  # untouched
    assert [e.name for e in store.entries()] == SHIPPED_NAMES  # left out of the list


def test_a_file_over_the_cap_or_not_a_file_is_refused(tmp_path: Path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_WORKSPACE_BYTES + 1))
    with pytest.raises(WorkspaceError, match="not a Rotor workspace"):
        load_workspace_file(big)
    with pytest.raises(WorkspaceError, match="not a regular file"):
        load_workspace_file(tmp_path)
    with pytest.raises(WorkspaceError, match="no such file"):
        load_workspace_file(tmp_path / "missing.json")


def test_the_list_has_the_shipped_ones_first_then_the_users_by_name(store: WorkspaceStore):
    store.write(mine("zeta"))
    store.write(mine("Alpha"))
    (store.folder / "broken.json").write_text("{not json")
    entries = store.entries()
    assert [e.name for e in entries] == [*SHIPPED_NAMES, "Alpha", "zeta"]
    assert [e.shipped for e in entries] == [True] * len(SHIPPED_NAMES) + [False, False]


def test_saving_over_a_shipped_workspace_writes_a_user_copy(store: WorkspaceStore):
    template = shipped_dir() / "rotation.json"
    before = template.read_bytes()
    changed = store.read("Rotation")
    changed.docks["prices"]["range_key"] = "1Y"
    path = store.write(changed)
    assert path.parent == store.folder
    assert template.read_bytes() == before  # the template is never written
    entry = store.find("Rotation")
    assert entry is not None and not entry.shipped and entry.path == path
    assert [e.name for e in store.entries()] == SHIPPED_NAMES  # in the template's place
    assert store.read("Rotation").docks["prices"]["range_key"] == "1Y"
    # Deleting the copy brings the template back.
    back = store.delete("Rotation")
    assert back is not None and back.shipped
    assert store.read("Rotation").docks["prices"]["range_key"] == "6M"


def test_shipped_ones_cannot_be_deleted_or_renamed(store: WorkspaceStore):
    with pytest.raises(WorkspaceError, match="shipped with Rotor and cannot be deleted"):
        store.delete("Options")
    with pytest.raises(WorkspaceError, match="cannot be renamed"):
        store.rename("Options", "Mine")
    assert (shipped_dir() / "options.json").exists()


def test_rename_moves_the_file_and_refuses_a_taken_name(store: WorkspaceStore):
    old = store.write(mine("Mine"))
    store.write(mine("Other"))
    renamed = store.rename("Mine", "Swing trades")
    assert renamed.name == "Swing trades"
    assert not old.exists()
    assert (store.folder / "swing-trades.json").exists()
    assert store.read("Swing trades").docks == mine().docks
    with pytest.raises(WorkspaceError, match="a workspace called 'Other' already exists"):
        store.rename("Swing trades", "other")
    with pytest.raises(WorkspaceError, match="a workspace called 'Rotation' already exists"):
        store.rename("Swing trades", "Rotation")
    with pytest.raises(WorkspaceError, match="no / or"):
        store.rename("Swing trades", "a/b")
    assert [e.name for e in store.entries()][-2:] == ["Other", "Swing trades"]


def test_names_that_make_the_same_file_name_get_their_own_files(store: WorkspaceStore):
    a = store.write(mine("Foo bar"))
    b = store.write(mine("Foo-bar"))
    assert a != b and a.exists() and b.exists()
    assert store.read("Foo bar").name == "Foo bar" and store.read("Foo-bar").name == "Foo-bar"


def test_export_then_import_keeps_unknown_keys(store: WorkspaceStore, tmp_path: Path):
    data = {"format": FORMAT, "version": VERSION, "name": "From a friend",
            "plugin_state": {"x": [1, 2]},
            "docks": {"prices": {"interval": "1d", "later_choice": True}},
            "sections": {"alerts": [{"at": 70000}]}}
    source = tmp_path / "friend.json"
    source.write_text(json.dumps(data))
    imported = store.import_file(source)
    out = tmp_path / "out" / "exported.json"
    out.parent.mkdir()
    store.export(imported, out)
    written = json.loads(out.read_text())
    assert written["plugin_state"] == {"x": [1, 2]}
    assert written["docks"]["prices"]["later_choice"] is True
    assert written["sections"] == {"alerts": [{"at": 70000}]}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_import_checks_the_allowed_values(tmp_path: Path):
    store = WorkspaceStore(tmp_path / "ws", allowed={"prices": {"mode": ("stacked",)}})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": FORMAT, "version": 1, "name": "x",
                                "docks": {"prices": {"mode": "sideways"}}}))
    with pytest.raises(WorkspaceError, match=r'docks\.prices\.mode: "sideways" is not a valid'):
        store.import_file(path)
    assert not any(store.folder.iterdir())
