"""Shared test setup: offscreen Qt, an isolated data dir, no route to the internet."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import json
from pathlib import Path

import pytest

from services.config import ENV_VARS

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
# A loopback port nothing listens on: a test that forgot to point a client at its server fails
# with "connection refused" instead of reaching the internet.
DEAD_URL = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path_factory.mktemp("rotor-data")
    monkeypatch.setenv("ROTOR_DATA_DIR", str(data))
    for var in ENV_VARS.values():
        monkeypatch.setenv(var, DEAD_URL)
    monkeypatch.setenv("ROTOR_STREAMS", "off")  # a window test opts in with a fake hub
    monkeypatch.setenv("ROTOR_MINUTE_BACKFILL", "off")  # likewise (ui/backfill.py)
    return data


@pytest.fixture
def data_dir(_isolated_env: Path) -> Path:
    return _isolated_env


@pytest.fixture
def cache(tmp_path: Path):
    from services.cache import Cache

    c = Cache(tmp_path / "cache.sqlite")
    yield c
    c.close()


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory):
    """The demo dataset stored in a real cache file, as `main.py --demo` stores it (one per
    test module: filling it takes a second or two)."""
    from services.cache import Cache
    from services.demo import populate_cache

    c = Cache(tmp_path_factory.mktemp("demo") / "demo.sqlite")
    populate_cache(c)
    yield c
    c.close()


def shared_fixture(relative: str) -> object:
    """A recorded payload from ../shared/fixtures (skips when the folder is not beside us)."""
    path = SHARED_FIXTURES / relative
    if not path.exists():
        pytest.skip(f"shared fixture {relative} not found beside the repository")
    return json.loads(path.read_text())


@pytest.fixture
def endpoints_for(httpserver):
    """Endpoints with every venue pointed at the loopback test server."""
    from services.config import DEFAULT_URLS, Endpoints

    base = httpserver.url_for("/").rstrip("/")
    return Endpoints({name: base for name in DEFAULT_URLS})
