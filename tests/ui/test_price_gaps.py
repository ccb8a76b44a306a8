"""The price dock with closed hours compressed (ui/price_gaps.py, ui/charts/gap_axis.py): the
readout's time is the bar's time across a weekend and a daylight-saving change, ticks say true
times, and the time link to the other docks stays in real time."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from models.gap_axis import calendar_windows
from models.series import MS_PER_HOUR
from tests.ui.prices_helpers import candles, shown_prices_panel
from ui.charts.gap_axis import BreakMarks


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def stamp(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") + " UTC"


# ES on CME hours over a weekend (6-8 Feb) and over the US switch to summer time (8 Mar), BTC
# every hour; closes numbered so each bar's readout is its own.
ES_HOURS = np.concatenate([
    np.concatenate([np.arange(s, e, MS_PER_HOUR, dtype=np.int64)
                    for s, e in calendar_windows("CMES", ms(a), ms(b))])
    for a, b in (("2026-02-04T00:00", "2026-02-10T00:00"),
                 ("2026-03-04T00:00", "2026-03-10T00:00"))])
BTC_HOURS = np.arange(ms("2026-02-04T00:00"), ms("2026-03-10T00:00"), MS_PER_HOUR)


@pytest.fixture
def panel(qtbot, settings):
    settings.setValue("prices/compress", True)
    p = shown_prices_panel(qtbot, settings, 1200, 700)
    p.choose("mode", "compare")
    for stem in ("btc", "es"):
        p.asset_boxes[stem].setChecked(True)
    for stem in [s for s in p.visible if s not in ("btc", "es")]:
        p.asset_boxes[stem].setChecked(False)
    p.ctx.store.set_series("es.1h", candles(ES_HOURS, 5000 + np.arange(len(ES_HOURS))))
    p.ctx.store.set_series("btc.1h", candles(BTC_HOURS, 60_000 + np.arange(len(BTC_HOURS))))
    qtbot.waitUntil(lambda: p.time_map.active, timeout=10_000)
    yield p
    p.shutdown()


def test_readout_time_is_the_bar_time_across_a_weekend_and_a_dst_change(panel):
    tm = panel.time_map
    assert panel.compress_action.isEnabled() and panel.compress_action.isChecked()
    x_es = np.asarray(tm.to_x_s(ES_HOURS / 1e3))
    february = int(np.searchsorted(ES_HOURS, ms("2026-02-10T00:00")))
    assert np.all(np.diff(x_es[:february]) == 3600)  # contiguous over every break
    # the bars either side of each break, and every 7th bar
    k_weekend = int(np.searchsorted(ES_HOURS, ms("2026-02-08T23:00")))
    k_dst = int(np.searchsorted(ES_HOURS, ms("2026-03-08T22:00")))  # Sunday 17:00 CDT
    picks = sorted({*range(0, len(ES_HOURS), 7), k_weekend - 1, k_weekend, k_dst - 1, k_dst})
    for i in picks:
        panel._on_crosshair(float(x_es[i]) + 1800)  # the middle of the bar as drawn
        text = panel.readout.text()
        assert stamp(int(ES_HOURS[i])) in text, (i, stamp(int(ES_HOURS[i])), text)
        assert f"({5000 + i:,})" in text  # ES's own close of that bar
    # the weekend's BTC bars are not drawn, but BTC's readout at Monday's open is that hour's
    panel._on_crosshair(float(x_es[k_weekend]) + 1800)
    j = int(np.searchsorted(BTC_HOURS, ms("2026-02-08T23:00")))
    assert f"({60_000 + j:,})" in panel.readout.text()
    drawn_x, _ = panel._curves["btc"].getData()
    assert len(drawn_x) < len(BTC_HOURS)


def test_time_link_ticks_and_breaks_speak_real_time(panel, qtbot):
    link, tm = panel.ctx.time_link, panel.time_map
    plot = next(iter(panel._plots.values()))
    plot.setXRange(*tm.x_range(ms("2026-02-05T12:00") / 1e3, ms("2026-02-09T12:00") / 1e3),
                   padding=0)
    link.publish(panel.key)
    assert link.user_range == pytest.approx((ms("2026-02-05T12:00") / 1e3,
                                             ms("2026-02-09T12:00") / 1e3))
    assert panel.plotted_x_range() == pytest.approx(link.user_range)
    # the cursor: ours goes out as real time, another dock's comes in at our x
    moved = []
    link.cursorMoved.connect(moved.append)
    x_monday = tm.to_x_s(ms("2026-02-09T01:00") / 1e3)
    panel.crosshair._show(x_monday, 100.0, plot)
    assert moved[-1] == pytest.approx(ms("2026-02-09T01:00") / 1e3)
    link.move(ms("2026-02-06T15:00") / 1e3)
    assert panel.crosshair.x == pytest.approx(tm.to_x_s(ms("2026-02-06T15:00") / 1e3))
    assert stamp(ms("2026-02-06T15:00")) in panel.readout.text()
    # ticks sit at open instants and are labelled with them
    axis = plot.getAxis("bottom")
    x0, x1 = plot.vb.viewRange()[0]
    levels = axis.tickValues(x0, x1, 1000)
    values = [v for _spacing, vs in levels for v in vs]
    assert values and all(x0 <= v <= x1 for v in values)
    real = np.asarray(tm.to_real_s(values))
    assert tm.axis.is_open(np.round(real * 1e3).astype(np.int64)).all()
    spacing, first = next((s, vs) for s, vs in levels if vs)
    labels = axis.tickStrings(first, 1.0, spacing)
    expected = super(type(axis), axis).tickStrings(list(tm.to_real_s(first)), 1.0, spacing)
    assert labels == expected
    # a marker at each break in view: Friday's close and the daily halts
    marks = next(i for i in plot.items if isinstance(i, BreakMarks))
    xb = marks.visible_breaks()
    assert tm.to_x_s(ms("2026-02-06T22:00") / 1e3) in set(xb)
    assert len(xb) == 2  # Thursday's daily halt (22:00 UTC) and Friday's close


def test_turning_compression_off_puts_the_bars_back_at_their_real_times(panel, qtbot):
    real = panel.plotted_x_range()
    panel.compress_action.setChecked(False)
    qtbot.waitUntil(lambda: not panel.time_map.active, timeout=5000)
    x, _y = panel._curves["es"].getData()
    finite = x[np.isfinite(_y)]
    assert set(finite) <= set(ES_HOURS / 1e3)  # drawn at the bars' own stamps again
    assert panel.plotted_x_range() == pytest.approx(real)  # the same span of real time
    assert not any(isinstance(i, BreakMarks) for i in next(iter(panel._plots.values())).items)
    assert not panel.gaps.enabled and panel.ctx.settings.value("prices/compress") in (
        False, "false")


def test_intraday_views_show_the_futures_for_a_cash_index_shown_alone(qtbot, settings):
    p = shown_prices_panel(qtbot, settings, 900, 600)  # BTC, S&P 500, Nasdaq 100, gold
    try:
        plots = dict(p._plots)
        p.choose("interval", "1m")  # 1h to 1m is no crossing: the trader's choice stays
        assert p.visible == ["btc", "spx", "ndx", "gold"] and p._plots == plots  # no rebuild
        p.choose("interval", "1d")
        assert p.visible == ["btc", "spx", "ndx", "gold"]
        p.choose("interval", "15m")
        assert p.visible == ["btc", "es", "nq", "gold"]
        assert p.asset_boxes["es"].isChecked() and not p.asset_boxes["spx"].isChecked()
        assert set(p._plots) == {"btc", "es", "nq", "gold"}
        p.asset_boxes["spx"].setChecked(True)  # the cash index stays choosable intraday
        p.choose("interval", "1h")
        assert "spx" in p.visible and "es" in p.visible
        p.choose("interval", "1w")
        # ES ticked with its index stays; NQ, alone, becomes the Nasdaq 100 again
        assert set(p.visible) == {"btc", "spx", "es", "ndx", "gold"}
    finally:
        p.shutdown()
