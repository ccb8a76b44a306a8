"""Readability at 1366 × 768 (issue #13, item 4): axes, labels, titles, tables, readouts."""

from __future__ import annotations

import math

import pytest

from ui.derived_feeds import DerivedFeeds
from ui.panels.base import UiContext
from ui.scheduler import Scheduler
from ui.store import DataStore


@pytest.fixture
def ctx(settings):
    store = DataStore()
    scheduler = Scheduler()
    return UiContext(store, scheduler, settings,
                     DerivedFeeds(store, scheduler, settings, held=False))


@pytest.fixture
def make_panel(qtbot, ctx):
    made = []

    def make(cls, width=1000, height=700):
        panel = cls(ctx)
        qtbot.addWidget(panel)
        panel.resize(width, height)
        panel.show()
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.shutdown()


def test_log_price_axis_reads_70k(make_panel):
    from ui.panels.prices import PricesPanel

    panel = make_panel(PricesPanel)
    panel.log_box.setChecked(True)
    axis = panel._plots["btc"].getAxis("left")
    assert axis.logMode
    assert axis.tickStrings([math.log10(70_000), 5.0], 1.0, None) == ["70k", "100k"]


def test_gex_axes_read_dollars(make_panel):
    from ui.panels.options import OptionsPanel

    panel = make_panel(OptionsPanel)
    for plot in (panel.gex_plot, panel.profile_plot):
        assert plot.getAxis("left").tickStrings([-4e7, 4e7], 1.0, 2e7) == ["-$40M", "$40M"]
    assert panel.gex_plot.getAxis("bottom").tickStrings([70_000, 80_000], 1.0, 10_000) == [
        "70k", "80k"]
