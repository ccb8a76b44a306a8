"""The shipped example rules: every file loads, and on the stored demo the squeeze rule fires on
the 6 Feb 2026 rebound and on no day of the quiet month before."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import numpy as np
import pytest

from models.alerts import RuleError, backtest, rule_operands, rules_file_to_json
from services.alerts_files import (
    load_rules_file,
    save_rules_file,
    shipped_rules,
    shipped_rules_dir,
)

DAY = 86_400_000
REBOUND = 1_770_336_000_000  # 2026-02-06 00:00 UTC



def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def test_every_shipped_rule_loads_with_a_unique_id_and_reads_what_it_names():
    rules = shipped_rules()
    assert len(rules) >= 6
    assert len({r.id for r in rules}) == len(rules)
    files = sorted(p.name for p in shipped_rules_dir().glob("*.json"))
    assert {"squeeze.json", "funding.json", "gamma-flip.json", "liquidations.json"} <= set(files)
    assert all(r.subject == "btc" for r in rules)
    ids = {op.id for r in rules for op in rule_operands(r)}
    assert {"regime.btc", "gammalevels.btc", "funding.okx.btc", "liq.binance.btc",
            "decoupling.btc_spx"} <= ids


def test_the_squeeze_rule_fires_on_the_rebound_and_not_in_the_quiet_month(demo_cache):
    squeeze = [r for r in shipped_rules() if r.id == "btc-short-squeeze"]
    firings = backtest(squeeze, demo_cache, REBOUND - 31 * DAY)
    assert [_day(f.fired_ms) for f in firings] == ["2026-02-06"]
    (firing,) = firings
    # the regime of the bar opened at h is known at its close: the firing is on the hour,
    # one hour after the first squeezed bar's open
    from models.derived import DERIVED

    regime = DERIVED["regime.btc"].compute(demo_cache)["regime"]
    opens = regime.index.as_unit("ms").asi8
    first = int(opens[np.flatnonzero((regime.to_numpy() == 1) & (opens >= REBOUND))[0]])
    assert firing.fired_ms == firing.true_since_ms == first + 3_600_000
    assert not ((regime.to_numpy() == 1) & (opens >= REBOUND - 30 * DAY) &
                (opens < REBOUND)).any()  # an independent look: no squeezed bar before
    assert firing.noticed_ms is None and firing.asset == "btc"
    # live, at the firing moment, the regime computed from what was known then says the same
    from models.asof import AsOfLoader

    live = DERIVED["regime.btc"].compute(AsOfLoader(demo_cache, firing.fired_ms))["regime"]
    assert live.iloc[-1] == 1 and live.index[-1].value // 1_000_000 == first
    assert live.iloc[-2] != 1  # entered at that bar


def test_the_other_shipped_rules_on_the_demo(demo_cache):
    firings = backtest(shipped_rules(), demo_cache, REBOUND - 7 * DAY, REBOUND + DAY)
    by_rule: dict[str, list[str]] = {}
    for f in firings:
        by_rule.setdefault(f.rule_id, []).append(_day(f.fired_ms))
        assert f.true_since_ms <= f.fired_ms
    # the 4 Feb slide under the flip of the 3 Feb chain (68,071), and the rebound's short
    # liquidations; the sell-off's long liquidations the day before
    assert by_rule["btc-cross-below-gamma-flip"] == ["2026-02-04"]
    assert set(by_rule["btc-short-liquidations-50m"]) == {"2026-02-06"}
    assert set(by_rule["btc-long-liquidations-50m"]) == {"2026-02-05"}
    crossed = next(f for f in firings if f.rule_id == "btc-cross-below-gamma-flip")
    assert crossed.values["btc.1h:close"] < crossed.values["gammalevels.btc:gamma_flip"]
    liq = next(f for f in firings if f.rule_id == "btc-short-liquidations-50m")
    assert "short liquidations $" in liq.summary


def test_rules_files_round_trip_and_bad_files_name_the_file(tmp_path):
    rules = shipped_rules()
    path = tmp_path / "mine.json"
    save_rules_file(path, rules)
    assert load_rules_file(path) == rules
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    single = tmp_path / "one.json"
    single.write_text(json.dumps(rules_file_to_json(rules[:1])["rules"][0]))
    assert load_rules_file(single) == rules[:1]  # a file of one rule object
    broken = tmp_path / "broken.json"
    broken.write_text("{\"format\": ")
    with pytest.raises(RuleError, match=r"broken\.json: not JSON \(line 1"):
        load_rules_file(broken)
    bad = tmp_path / "bad.json"
    data = rules_file_to_json(rules[:1])
    data["rules"][0]["cooldown"] = "later"
    bad.write_text(json.dumps(data))
    with pytest.raises(RuleError, match=r"bad\.json: rules\[0\] rule 'btc-squeeze-setup': "
                                        r"cooldown: 'later' is no duration"):
        load_rules_file(bad)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.raises(RuleError, match="symbolic link"):
        load_rules_file(link)
