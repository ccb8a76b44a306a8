"""What a rule reads and when each value became known: stored rows at stamp + their delay,
each supported derived quantity at the moment an as-of computation first shows that row."""

from __future__ import annotations

import numpy as np
import pytest

from models.alert_operands import (
    DERIVED_KNOWN,
    Operand,
    OperandSeries,
    derived_known,
    family_ids,
    operand_from_result,
    operand_problem,
    sample_operand,
    sample_operands,
)
from models.asof import AsOfLoader
from models.series import SeriesData

H = 3_600_000
T0 = 1_767_571_200_000


class Loader:
    def __init__(self, series):
        self.series = series

    def read(self, series_id, start_ms=None, end_ms=None):
        data = self.series.get(series_id, SeriesData.empty())
        return data.between(start_ms, end_ms) if len(data) else data


def test_stored_rows_are_known_when_their_span_ends():
    t = T0 + np.arange(3) * H
    loader = Loader({
        "btc.1h": SeriesData(t, {"close": np.array([1.0, 2.0, 3.0])}),
        "funding.okx.btc": SeriesData(t, {"rate": np.array([1e-4, -1e-4, 2e-4])}),
        "liq.okx.btc": SeriesData(t, {"short_usd": np.array([5.0, 6.0, 7.0])}),
    })
    close = sample_operand(Operand("series", "btc.1h", "close"), loader)
    assert close.known_ms.tolist() == (t + H).tolist()  # a bar at its close
    funding = sample_operand(Operand("series", "funding.okx.btc", "rate"), loader)
    assert funding.known_ms.tolist() == t.tolist()  # a settlement at its stamp
    liq = sample_operand(Operand("series", "liq.okx.btc", "short_usd"), loader)
    assert liq.known_ms.tolist() == (t + 60_000).tolist()  # a minute bucket at its end
    assert liq.values.tolist() == [5.0, 6.0, 7.0]
    missing = sample_operand(Operand("series", "eth.1h", "close"), loader)
    assert len(missing) == 0


def test_operand_problems_and_families():
    assert operand_problem(Operand("series", "btc.1h", "close")) is None
    assert "snapshot" in operand_problem(Operand("series", "options.btc", "x"))
    assert "cannot be alerted on" in operand_problem(Operand("derived", "movers", "x"))
    assert "no column" in operand_problem(Operand("derived", "regime.btc", "nope"))
    assert sorted(family_ids("funding.*.btc")) == [
        "funding.binance.btc", "funding.bybit.btc", "funding.deribit.btc",
        "funding.hyperliquid.btc", "funding.okx.btc"]
    assert family_ids("btc.1h") == ["btc.1h"] and family_ids("nope.*") == []
    with pytest.raises(ValueError):
        OperandSeries(np.arange(3), np.arange(2.0))



# one column of each supported derived id, and whether its value is final when first known
# (an hour's liquidation total grows until the hour ends: known, i.e. final, at its end)
CASES = [("regime.btc", "regime"), ("gammalevels.btc", "gamma_flip"),
         ("decoupling.btc_spx", "btc_ret"), ("liqtotals.btc", "total_short_usd"),
         ("squeezebasis.btc", "premium_pct"), ("cmebasis.btc", "apr_pct"),
         ("ivrv.btc.30", "spread"), ("corr.btc_spx.60", "corr"), ("beta.btc_spx.60", "beta"),
         ("rv.btc.30", "rv"), ("skew30.btc", "rr25"), ("liqbursts.btc", "usd")]


def test_every_supported_derived_id_is_covered():
    assert {next(p for p in DERIVED_KNOWN if derived_known(i) is DERIVED_KNOWN[p])
            for i, _ in CASES} == set(DERIVED_KNOWN)


@pytest.mark.parametrize(("derived_id", "column"), CASES)
def test_a_derived_row_is_known_exactly_when_an_as_of_computation_has_it(demo_cache,
                                                                         derived_id, column):
    """At its known time k the row is there with its final value; a millisecond before, the
    as-of computation does not have it (or has it incomplete: the hour still running)."""
    from models.derived import DERIVED

    spec = DERIVED[derived_id]
    full = spec.compute(demo_cache)
    stamps = full.index.as_unit("ms").asi8
    op = Operand("derived", derived_id, column)
    series = sample_operand(op, demo_cache)
    assert len(series) == len(full)
    i = len(stamps) - 3  # a late row: all of its inputs are in the demo
    stamp = int(stamps[i])
    assert np.array_equal(series.values, full[column].to_numpy(float), equal_nan=True)
    k = int(series.known_ms[i])  # rows keep their order: known times rise with the stamps
    assert k >= stamp

    def row(t):
        frame = spec.compute(AsOfLoader(demo_cache, t))
        hit = frame[column][frame.index.as_unit("ms").asi8 == stamp]
        return hit.tolist()

    assert row(k) == pytest.approx([full[column].iloc[i]])
    before = row(k - 1)
    assert before == [] or before != pytest.approx([full[column].iloc[i]])
    # the result the window's feed computed gives the same times
    again = operand_from_result(op, spec.run(demo_cache), demo_cache)
    assert again.known_ms.tolist() == series.known_ms.tolist()


def test_a_session_without_its_peer_bars_is_known_at_the_latest_they_can_close():
    from models.alert_operands import _session_known

    close = np.array([1_770_238_800_000])  # 2026-02-04 21:00 UTC
    assert _session_known(close, None).tolist() == [1_770_336_000_000]  # 6 Feb 00:00
    spx = SeriesData(np.array([1_770_215_400_000]), {"close": np.array([1.0])})  # 14:30
    assert _session_known(close, spx).tolist() == [1_770_215_400_000 + 86_400_000]


def test_sample_operands_runs_each_analysis_once(demo_cache, monkeypatch):
    from models.derived import DERIVED

    calls = []
    spec = DERIVED["gammalevels.btc"]
    original = spec.compute
    monkeypatch.setattr(type(spec), "compute", lambda self, loader: calls.append(self.id)
                        or original(loader))
    ops = [Operand("derived", "gammalevels.btc", c) for c in ("gamma_flip", "call_wall")]
    out = sample_operands(ops, demo_cache)
    assert calls == ["gammalevels.btc"] and set(out) == set(ops)
