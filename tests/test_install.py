"""A real install: the wheel ships the demo dataset and the icon, installs into a fresh virtual
environment outside the source tree, and `rotor --demo --screenshot` works from there; the Linux
desktop entry; the one-line message when Qt's xcb plugin cannot load."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from services import desktop_entry
from services.resources import demo_dir, icon_path
from services.workspaces import SHIPPED_FILES
from ui import platform_check

ROOT = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    """The checkout without its build leftovers, so the build starts clean."""
    shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"))
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = _source_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    (path,) = out.glob("rotor-*.whl")
    return path


def test_the_wheel_ships_the_demo_dataset_and_the_icon(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for bundled in ("resources/demo/demo.npz", "resources/demo/snapshots.json.gz",
                    "resources/demo/README.md", "resources/icons/rotor.svg", "main.py",
                    *(f"resources/workspaces/{stem}.json" for stem in SHIPPED_FILES),
                    "resources/alerts/squeeze.json", "resources/alerts/combined.json"):
        assert bundled in names, bundled
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "rotor = main:main" in text  # console: --version and the commands print
    assert "[gui_scripts]" in text and "rotorw = main:main" in text


def test_installed_wheel_runs_the_demo_outside_the_source_tree(wheel: Path, tmp_path: Path):
    # The venv sees this interpreter's packages (PySide6, pandas …: no download in CI) but gets
    # Rotor only from the wheel; the checks below prove where Rotor was imported from.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", "--ignore-installed", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", ROTOR_DATA_DIR=str(tmp_path / "data"))

    where = subprocess.run(
        [str(python), "-c", "import main, services.resources as r; "
         "print(main.__file__); print(r.demo_dir())"],
        cwd=run_dir, env=env, capture_output=True, text=True, timeout=60, check=True)
    main_file, demo = where.stdout.split()
    assert Path(main_file).is_relative_to(env_dir)
    assert Path(demo).is_relative_to(env_dir) and (Path(demo) / "demo.npz").is_file()

    rotor = env_dir / "bin" / "rotor"
    shown = subprocess.run([str(rotor), "--version"], cwd=run_dir, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0 and shown.stdout.strip() == "rotor 0.1.0"

    png = tmp_path / "shot.png"
    shot = subprocess.run([str(rotor), "--demo", "--screenshot", str(png)], cwd=run_dir,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "no data" not in shot.stderr


def test_bundled_files_are_found_through_the_package():
    assert (demo_dir() / "demo.npz").is_file()
    assert icon_path().read_text().startswith("<?xml")


# -- the Linux desktop entry -----------------------------------------------------------------
def test_desktop_entry_installs_and_removes(tmp_path: Path):
    command = ["/opt/rotor env/bin/rotor"]
    written = desktop_entry.install_desktop_entry(tmp_path, command)
    desktop, icon = desktop_entry.entry_paths(tmp_path)
    assert written == [desktop, icon]
    assert desktop == tmp_path / "applications" / "rotor.desktop"
    assert icon.read_bytes() == icon_path().read_bytes()

    parsed = configparser.ConfigParser(interpolation=None)
    parsed.optionxform = str  # keys are case-sensitive in desktop entries
    parsed.read_string(desktop.read_text())
    entry = parsed["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Rotor"
    assert entry["Icon"] == "rotor" and entry["Terminal"] == "false"
    # The spec's Exec quoting: an argument with a space is double-quoted.
    assert entry["Exec"] == '"/opt/rotor env/bin/rotor"'
    assert "Finance" in entry["Categories"].split(";")

    assert desktop_entry.remove_desktop_entry(tmp_path) == [desktop, icon]
    assert not desktop.exists() and not icon.exists()


def test_xdg_data_home_rules():
    assert desktop_entry.data_home({"XDG_DATA_HOME": "/x/share", "HOME": "/h"}) == \
        Path("/x/share")
    # Unset or relative: ~/.local/share (the XDG Base Directory spec).
    assert desktop_entry.data_home({"XDG_DATA_HOME": "rel", "HOME": "/h"}) == \
        Path("/h/.local/share")
    assert desktop_entry.data_home({"HOME": "/h"}) == Path("/h/.local/share")


def test_install_desktop_command(tmp_path: Path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "install-desktop"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "applications" / "rotor.desktop").is_file()
    assert (tmp_path / "icons/hicolor/scalable/apps/rotor.svg").is_file()


# -- Qt's platform plugin on a minimal Linux desktop -----------------------------------------
def test_which_platform_qt_will_use():
    assert platform_check.uses_xcb({}, "linux")
    assert platform_check.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not platform_check.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not platform_check.uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    assert not platform_check.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not platform_check.uses_xcb({}, "darwin")


def test_the_loader_message_names_the_package():
    # glibc's dlopen message, as Python's ctypes passes it on.
    message = ("/x/PySide6/Qt/plugins/platforms/libqxcb.so: libxcb-cursor.so.0: cannot open "
               "shared object file: No such file or directory")
    assert platform_check.missing_library(message) == "libxcb-cursor.so.0"
    hint = platform_check.install_hint("libxcb-cursor.so.0")
    assert "sudo apt-get install libxcb-cursor0" in hint and "xcb-util-cursor" in hint
    assert "\n" not in hint
    assert "libfoo.so.9 is missing" in platform_check.install_hint("libfoo.so.9")


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to build the plugin")
def test_a_plugin_missing_a_library_is_named_in_one_line(tmp_path: Path):
    # A stand-in plugin linked against a library that is then taken away: the real loader fails
    # the way it does on a desktop without a package (a name no system has, since this machine
    # may have every xcb library installed).
    lib = "librotor-absent.so.0"
    (tmp_path / "stub.c").write_text("void absent_stub(void) {}\n")
    (tmp_path / "plugin.c").write_text("void absent_stub(void);\nvoid plugin(void) "
                                       "{ absent_stub(); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,-soname,{lib}", "-o", lib, "stub.c"],
                   cwd=tmp_path, check=True)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", "libqxcb.so", "plugin.c", "-L.",
                    f"-l:{lib}"], cwd=tmp_path, check=True)
    (tmp_path / lib).unlink()
    problem = platform_check.check_plugin(tmp_path / "libqxcb.so")
    assert problem is not None and f"{lib} is missing" in problem and "\n" not in problem
    assert platform_check.check_plugin(tmp_path / "nothing.so") is not None


def test_no_display_is_one_line_and_exit_2(tmp_path: Path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--demo"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and sys.platform == "linux"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rotor: error: no display"), done.stderr
