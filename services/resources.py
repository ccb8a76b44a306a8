"""Where the bundled files are, in a checkout, an editable install or an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resources_dir() -> Path:
    # A regular package on disk (wheels are unpacked by pip), so its files have real paths.
    return Path(str(resources.files("resources")))


def demo_dir() -> Path:
    return resources_dir() / "demo"


def icon_path() -> Path:
    return resources_dir() / "icons" / "rotor.svg"
