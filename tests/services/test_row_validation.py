"""Every row is checked before it is stored: finite, in range, not in the future, one value per
time. What is refused is counted in the refresh result, logged, and printed by `main.py refresh`.
"""

from __future__ import annotations

import io
import json
import logging

import numpy as np
import pandas as pd
import pytest
from werkzeug import Response

from models.catalog import get_spec
from models.series import FUTURE_TOLERANCE_MS, Snapshot, check_rows
from services.app import AppServices
from services.commands import cmd_export, cmd_refresh
from services.config import DEFAULT_URLS, Endpoints
from services.refresh import refresh_series
from services.sources import Sources
from tests.services.test_binance import kline
from tests.services.test_deribit import chain_rows, serve_chain

H = 3_600_000
YEAR_2100_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
NOW = 1000 * H


# -- the check itself (counts worked out by hand) ------------------------------------------------
def test_check_rows_drops_non_finite_out_of_range_and_future_rows():
    t = np.array([1, 2, 3, 4, 5, 6]) * H
    check = check_rows(t, {"close": np.array([10.0, np.inf, -1.0, 12.0, np.nan, 13.0]),
                           "volume": np.array([1.0, 1.0, 1.0, -np.inf, 2.0, 3.0])},
                       now=5 * H)
    # row 2: close inf; row 3: close <= 0; row 4: volume -inf; row 6: 1 h in the future (> 10 min)
    assert check.reasons == {"non-finite close": 1, "close out of range": 1,
                             "non-finite volume": 1, "future time": 1}
    assert check.rows_dropped == 4
    assert list(check.data.time) == [1 * H, 5 * H]  # a NaN close is "unknown", not bad
    assert check.summary() == ("4 dropped: 1 close out of range, 1 future time, "
                               "1 non-finite close, 1 non-finite volume")


def test_future_tolerance_is_ten_minutes_plus_one_bar():
    now = 100 * H
    edge = now + FUTURE_TOLERANCE_MS + H
    check = check_rows(np.array([edge, edge + 1]), {"close": np.array([1.0, 1.0])}, now=now,
                       interval_ms=H)
    assert list(check.data.time) == [edge] and check.reasons == {"future time": 1}


def test_ranges_of_funding_and_open_interest():
    check = check_rows(np.array([1, 2, 3]) * H, {"rate": np.array([0.0001, -1.5, 0.99])},
                       now=10 * H)
    assert check.reasons == {"rate out of range": 1} and list(check.data["rate"]) == [1e-4, .99]
    check = check_rows(np.array([1, 2]) * H, {"open_interest": np.array([0.0, -3.0])},
                       now=10 * H)
    assert check.reasons == {"open_interest out of range": 1}


def test_repeated_times_keep_the_last_and_count_only_differing_repeats():
    t = np.array([3, 1, 1, 2, 2, 2]) * H
    close = np.array([30.0, 10.0, 10.0, 20.0, 21.0, 22.0])
    check = check_rows(t, {"close": close}, now=10 * H)
    # time 1: identical repeat (not counted); time 2: 20 and 21 differ from the kept 22
    assert check.reasons == {"duplicate time, different values": 2}
    assert list(check.data.time) == [H, 2 * H, 3 * H]
    assert list(check.data["close"]) == [10.0, 22.0, 30.0]


# -- the refresh road against a loopback Binance ---------------------------------------------
def _sources(httpserver) -> Sources:
    base = httpserver.url_for("/").rstrip("/")
    return Sources(Endpoints({name: base for name in DEFAULT_URLS}))


def _serve_bad_klines(httpserver) -> None:
    good = [kline(t) for t in range(990 * H, 1000 * H + 1, H)]  # 11 rows
    infinite_volume = kline(985 * H)
    infinite_volume[5] = "Infinity"
    first, second = kline(986 * H, close=100.0), kline(986 * H, close=105.0)  # same time
    future = kline(YEAR_2100_MS)
    rows = [infinite_volume, first, second, *good, future]

    def handler(request):
        start = int(request.args["startTime"])
        body = [r for r in rows if r[0] >= start][:1000] if start <= 986 * H else []
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v3/klines").respond_with_handler(handler)


def test_refresh_refuses_bad_rows_and_counts_them(httpserver, cache, caplog):
    _serve_bad_klines(httpserver)
    btc = get_spec("btc.1h")
    with caplog.at_level(logging.WARNING, logger="services.refresh"):
        result = refresh_series(btc, cache, _sources(httpserver), want_start_ms=980 * H, now=NOW)
    assert result.ok
    assert result.drop_reasons == {"non-finite volume": 1, "future time": 1,
                                   "duplicate time, different values": 1}
    assert result.rows_dropped == 3
    stored = cache.read("btc.1h")
    assert list(stored.time) == [986 * H, *range(990 * H, 1000 * H + 1, H)]  # 12 rows
    assert result.rows_added == 12
    assert stored["close"][0] == 105.0  # the later repeat, as before, but now counted
    assert np.isfinite(stored["volume"]).all()
    assert "3 dropped" in caplog.text


def test_cli_refresh_line_says_what_was_dropped(httpserver, cache):
    _serve_bad_klines(httpserver)
    services = AppServices(cache, _sources(httpserver), False, cache.path.parent)
    out = io.StringIO()
    # the CLI's "now" is the wall clock: the 2100 row is in its future too
    assert cmd_refresh(services, ["btc.1h"], "1970-02-10", None, out) == 0
    line = out.getvalue().splitlines()[0]
    assert line.startswith("btc.1h\tok\t+12 rows, 3 dropped: 1 duplicate time, different "
                           "values, 1 future time, 1 non-finite volume\t"), line


# -- future snapshots -------------------------------------------------------------------------
def test_a_chain_stamped_in_2100_is_refused(httpserver, cache):
    serve_chain(httpserver, chain_rows(), stamp=YEAR_2100_MS)
    spec = get_spec("options.btc")
    result = refresh_series(spec, cache, _sources(httpserver))
    assert not result.ok and "in the future" in str(result.error)
    assert result.rows_dropped == 1 and result.drop_reasons == {"future time": 1}
    assert len(cache.snapshot_times("options.btc")) == 0


def _snapshot(time_ms: int, strike: float) -> Snapshot:
    return Snapshot("options.btc", time_ms, pd.DataFrame({"strike": [strike]}))


def test_a_stored_future_snapshot_is_not_served(cache, tmp_path):
    cache.put_snapshot(_snapshot(YEAR_2100_MS, 1.0))  # stored before rows were checked
    cache.put_snapshot(_snapshot(NOW, 2.0))
    latest = cache.latest_snapshot("options.btc", now=NOW)
    assert latest is not None and latest.time_ms == NOW
    # the wall clock by default: today is before 2100, so the real newest chain is served
    assert cache.latest_snapshot("options.btc").time_ms == NOW
    services = AppServices(cache, None, False, tmp_path)
    out_csv = tmp_path / "chain.csv"
    assert cmd_export(services, "options.btc", str(out_csv), None, None, io.StringIO()) == 0
    assert "2100" not in out_csv.read_text() and "2.0" in out_csv.read_text()


@pytest.mark.parametrize("stamp_offset_ms", [FUTURE_TOLERANCE_MS - 1000])
def test_a_chain_just_inside_the_tolerance_is_kept(httpserver, cache, stamp_offset_ms):
    from models.series import now_ms

    serve_chain(httpserver, chain_rows(), stamp=now_ms() + stamp_offset_ms)
    result = refresh_series(get_spec("options.btc"), cache, _sources(httpserver))
    assert result.ok and result.rows_added == 1 and result.rows_dropped == 0
