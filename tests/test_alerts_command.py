"""`main.py alerts --backtest RULEFILE`: one line per firing, a count, clear errors."""

from __future__ import annotations

import io
import json

import pytest

from services.app import AppServices
from services.cache import Cache
from services.commands import CommandError, cmd_alerts_backtest
from tests.test_commands import ROOT, run_main


def test_backtest_of_the_shipped_squeeze_rules_on_the_demo():
    out = run_main("alerts", "--backtest", str(ROOT / "resources/alerts/squeeze.json"),
                   "--demo", "--from", "2026-01-06", "--to", "2026-02-07")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["2026-02-06T02:00:00Z", "btc-short-squeeze",
                                       "true since 2026-02-06T02:00:00Z"]
    assert lines[-1] == ("# 1 firings of 2 enabled rules from 2026-01-06T00:00:00Z to "
                         "2026-02-07T00:00:00Z (synthetic demo data)")


@pytest.fixture
def services(tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    yield AppServices(cache, None, False, tmp_path, now_ms_override=1_770_422_400_000)
    cache.close()


def test_a_bad_rules_file_or_range_is_one_line(services, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "rotor-alert-rules", "version": 1, "rules": [
        {"id": "x", "when": {"type": "above", "operand": {"series": "btc.1h",
                                                           "column": "close"},
                             "value": "high"}}]}))
    with pytest.raises(CommandError) as e:
        cmd_alerts_backtest(services, str(bad), None, None, io.StringIO())
    assert str(e.value) == f"{bad}: rules[0] rule 'x': when.value: not a number: 'high'"
    assert e.value.exit_status == 2
    with pytest.raises(CommandError, match="--from 2026-02-07 is after --to 2026-02-01"):
        cmd_alerts_backtest(services, str(bad), "2026-02-07", "2026-02-01", io.StringIO())
    with pytest.raises(CommandError, match="no such file"):
        cmd_alerts_backtest(services, str(tmp_path / "none.json"), None, None, io.StringIO())


def test_an_empty_cache_backtests_to_no_firings(services):
    out = io.StringIO()
    assert cmd_alerts_backtest(services, str(ROOT / "resources/alerts/funding.json"), None,
                               None, out) == 0
    assert out.getvalue() == "# 0 firings of 1 enabled rules to 2026-02-07T00:00:00Z\n"
