"""The window fits a 1366×768 laptop and half of a 1920 screen, healthy and with venues failing:
tool rows wrap, status chips collapse into one summary, the first size follows the screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize

from models.catalog import CATALOG
from models.status import SourceState
from services.errors import NetworkError
from ui.status_bar import summary_text
from ui.window_fit import fitted_size

MAX_MIN_WIDTH = 1280  # issue #13: half of a 1920 screen, a 1366 laptop with room to spare
LAPTOP = QSize(1366, 768 - 28)  # what a 768 px screen leaves below a task bar


def _built_window(make_window, qtbot):
    window = make_window(demo=True)
    window.show()
    for key in window.docks:
        window.build_panel(key)
    qtbot.waitUntil(lambda: window.scheduler.cache_read_done, timeout=20000)
    return window


def _fail(window, sources: set[str]) -> None:
    tracker = window.scheduler.tracker
    now = window.scheduler.now_ms()
    for series_id in tracker.watched:
        source = CATALOG[series_id].source
        if source in sources:
            tracker.on_failure(series_id, NetworkError("connection refused", venue=source), now)


def _sources(window) -> set[str]:
    return {CATALOG[i].source for i in window.scheduler.tracker.watched}


def test_the_window_fits_a_laptop_healthy_and_with_every_venue_failing(make_window, qtbot):
    window = _built_window(make_window, qtbot)
    healthy = window.minimumSizeHint()
    assert healthy.width() <= MAX_MIN_WIDTH
    _fail(window, _sources(window))
    qtbot.wait(50)
    failing = window.minimumSizeHint()
    assert failing.width() <= MAX_MIN_WIDTH, f"minimum width {failing.width()} px"
    assert failing.height() <= LAPTOP.height()
    window.resize(LAPTOP)
    qtbot.waitUntil(lambda: window.size() == LAPTOP, timeout=2000)
    # eight sources do not fit beside each other in 1366 px: one summary chip says it
    strip = window.status.strip
    assert strip.collapsed and strip.summary.isVisible()
    assert not any(chip.isVisible() for chip in strip.chips.values())
    assert "8 venues failing" in window.status.summary_text()
    assert "Bybit: network" in strip.summary.toolTip()


def test_two_failing_venues_are_summarised_worst_first(make_window, qtbot):
    window = _built_window(make_window, qtbot)
    _fail(window, {"bybit", "yahoo"})
    qtbot.wait(50)
    window.resize(QSize(560, LAPTOP.height()))  # too narrow even for the two failing chips
    qtbot.waitUntil(lambda: window.width() == 560, timeout=2000)
    assert window.status.strip.collapsed
    assert "✖ 2 venues failing · ◆ 6 demo" in window.status.summary_text()


def test_failing_chips_stay_in_full_beside_a_summary_of_the_rest(make_window, qtbot):
    window = _built_window(make_window, qtbot)
    _fail(window, {"bybit", "okx"})
    strip = window.status.strip
    failing = [strip.chips[name] for name in ("Bybit", "OKX")]
    wide_enough = sum(c.sizeHint().width() for c in failing) + 260  # the rest's summary too
    assert wide_enough < strip.full_width()
    window.resize(QSize(wide_enough + 40, LAPTOP.height()))
    qtbot.waitUntil(lambda: strip.collapsed and all(c.isVisible() for c in failing),
                    timeout=2000)
    assert [name for name, c in strip.chips.items() if c.isVisible()] == ["Bybit", "OKX"]
    assert "network" in failing[0].text() and "retry" in failing[0].text()
    assert strip.summary.isVisible() and "6 venues demo" in strip.summary.text()
    assert strip.summary.x() > max(c.x() for c in failing)  # after the chips it leaves out
    # Narrower still: one summary for all.
    window.resize(QSize(500, LAPTOP.height()))
    qtbot.waitUntil(lambda: not any(c.isVisible() for c in failing), timeout=2000)
    assert "✖ 2 venues failing · ◆ 6 demo" in strip.summary.text()


def test_chips_show_in_full_when_they_fit(make_window, qtbot):
    window = _built_window(make_window, qtbot)
    strip = window.status.strip
    window.resize(QSize(strip.full_width() + 200, LAPTOP.height()))
    qtbot.waitUntil(lambda: not strip.collapsed, timeout=2000)
    assert all(chip.isVisible() for chip in strip.chips.values())


def test_summary_words():
    assert summary_text([SourceState.OK] * 5 + [SourceState.ERROR] * 2) == \
        "✖ 2 venues failing · ● 5 ok"
    assert summary_text([SourceState.STALE, SourceState.OK]) == "◐ 1 venue stale · ● 1 ok"


def test_the_first_size_follows_the_screen(make_window, qtbot):
    window = make_window(start=False)
    area = window.screen().availableGeometry()
    # offscreen, the screen is 800 px wide: the old fixed 1600×950 did not fit it
    assert area.width() < 1600
    assert window.width() <= area.width() and window.height() <= area.height()


def test_the_preferred_size_shrinks_to_the_screen():
    laptop = QRect(0, 0, 1366, 740)
    assert fitted_size(QSize(1600, 950), laptop) == QSize(1366, 740)
    assert fitted_size(QSize(1600, 950), QRect(0, 0, 2560, 1400)) == QSize(1600, 950)
    assert fitted_size(QSize(1600, 950), laptop, QSize(2, 30)) == QSize(1364, 710)


def test_a_restored_geometry_larger_than_the_screen_is_clamped(make_window, settings, qtbot):
    """Qt's restoreGeometry does this; the check keeps it so if the restore code changes."""
    big = make_window(start=False)
    big.show()
    qtbot.waitExposed(big)
    area = big.screen().availableGeometry()
    big.setGeometry(area.left() + 400, area.top() + 300, area.width() + 600, area.height() + 300)
    big.close()
    again = make_window(start=False)
    geometry = again.geometry()
    assert area.contains(geometry), (area, geometry)


def test_a_flow_row_asks_for_its_widest_control_and_wraps(qtbot):
    from PySide6.QtWidgets import QLabel, QToolButton, QWidget

    from ui.flow_layout import FlowLayout
    from ui.panels.base import elastic

    host = QWidget()
    qtbot.addWidget(host)
    row = FlowLayout(host)
    buttons = [QToolButton(text=f"button {i}") for i in range(6)]
    for button in buttons:
        button.setFixedSize(100, 24)
        row.addWidget(button)
    row.addSpacing(10)
    note = elastic(QLabel("a long elastic note that takes what is left"))
    row.addWidget(note, 1)
    assert row.minimumSize().width() == 100  # the widest control, not 6 × 100 + spacing
    assert row.sizeHint().width() == 6 * 100 + 10 + 7 * 4  # one line: all side by side
    assert row.heightForWidth(1000) == 24  # one line: 630 px of buttons, the note the rest
    note_h = note.sizeHint().height()
    # 2 buttons a line (3 lines), the spacing fits after the last; the note gets a line
    assert row.heightForWidth(250) == 3 * 24 + note_h + 3 * 2
    host.resize(250, 100)
    row.setGeometry(QRect(0, 0, 250, 100))
    assert [b.geometry().topLeft().toTuple() for b in buttons[:3]] == [(0, 0), (104, 0), (0, 26)]
    assert note.geometry() == QRect(0, 3 * 26, 250, note_h)
