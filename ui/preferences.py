"""The Settings dialog's choices in settings.ini: read back through the checks of
`models/preferences.py` (a hand-edited bad value falls back to its default and is logged), and
stored only once they pass them."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings

from models.preferences import (
    DEFAULT_TIME_ZONE,
    TIME_ZONES,
    PreferenceError,
    Preferences,
    all_venues,
    check_cadence,
    checked,
    polled_venues,
)
from ui.settings_file import read_setting

log = logging.getLogger(__name__)

KEY_TIME_ZONE = "display/time_zone"
KEY_DISABLED_VENUES = "venues/disabled"


def cadence_key(venue: str) -> str:
    return f"refresh/{venue}_seconds"


def load_preferences(settings: QSettings) -> Preferences:
    zone = read_setting(settings, KEY_TIME_ZONE, DEFAULT_TIME_ZONE, allowed=TIME_ZONES)
    cadence: dict[str, int] = {}
    for venue in polled_venues():
        seconds = read_setting(settings, cadence_key(venue), 0)
        if not seconds:
            continue  # 0 or missing: the catalog's cadence
        try:
            cadence[venue] = check_cadence(venue, seconds)
        except PreferenceError as e:
            log.warning("setting %s ignored: %s", cadence_key(venue), e)
    known = set(all_venues())
    disabled = frozenset(v for v in read_setting(settings, KEY_DISABLED_VENUES, [])
                         if v in known)
    return Preferences(zone, cadence, disabled)


def save_preferences(settings: QSettings, prefs: Preferences) -> None:
    """Store `prefs`; PreferenceError (nothing stored) when any value is out of bounds."""
    prefs = checked(prefs.time_zone, prefs.cadence_s, prefs.disabled_venues)
    settings.setValue(KEY_TIME_ZONE, prefs.time_zone)
    for venue in polled_venues():
        if venue in prefs.cadence_s:
            settings.setValue(cadence_key(venue), int(prefs.cadence_s[venue]))
        else:
            settings.remove(cadence_key(venue))
    # a plain list ("bybit, okx"); "" for none (Qt writes an empty list as @Invalid())
    settings.setValue(KEY_DISABLED_VENUES, sorted(prefs.disabled_venues) or "")
    settings.sync()
