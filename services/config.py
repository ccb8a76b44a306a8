"""Where things live: venue base URLs (overridable by environment) and the data directory."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from models.venues import VENUES
from services.errors import CacheReadOnly, InsecureEndpoint

log = logging.getLogger(__name__)

APP_NAME = "Rotor"

# Derived from the venue registry (models/venues.py): venue key -> default base URL / its
# environment override.
DEFAULT_URLS: dict[str, str] = {v.key: v.base_url for v in VENUES}
ENV_VARS: dict[str, str] = {v.key: v.env_var for v in VENUES}


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(name: str, url: str) -> str:
    """HTTPS always; plain http only for a loopback override (tests, a local proxy)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return url.rstrip("/")
    raise InsecureEndpoint(f"{name} base URL must be https:// (got {url!r}); plain http is "
                           "accepted only on loopback", venue=name)


@dataclass(frozen=True)
class Endpoints:
    urls: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_URLS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Endpoints:
        env = os.environ if environ is None else environ
        urls = {}
        for name, default in DEFAULT_URLS.items():
            urls[name] = check_base_url(name, env.get(ENV_VARS[name]) or default)
        plain = sorted(n for n, u in urls.items() if u.startswith("http://"))
        if plain:
            log.warning("plain http on loopback for %s (tests or a local proxy only)",
                        ", ".join(plain))
        return cls(urls)

    def __getitem__(self, name: str) -> str:
        return self.urls[name]


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """ROTOR_DATA_DIR, else the user's data dir; created readable by the user only."""
    env = os.environ if environ is None else environ
    raw = env.get("ROTOR_DATA_DIR")
    if raw:
        path = Path(raw).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir(APP_NAME, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:  # one line for the user, not a traceback
        raise CacheReadOnly(f"cannot create the data folder {path}: {e.strerror or e}") from e
    try:
        path.chmod(0o700)
    except OSError:  # a directory we do not own: leave it, the files inside are still 0600
        pass
    return path


def log_dir(environ: Mapping[str, str] | None = None) -> Path:
    path = data_dir(environ) / "logs"
    path.mkdir(exist_ok=True, mode=0o700)
    return path
