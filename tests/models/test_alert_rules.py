"""Alert rules as JSON: parsing, every problem named with its place, round trips, the RuleBook
section."""

from __future__ import annotations

import copy

import pytest

from models.alerts import (
    RULES_FORMAT,
    RULES_VERSION,
    ActiveHours,
    AllOf,
    AnyOf,
    Compare,
    Count,
    Cross,
    Firing,
    Liquidations,
    Operand,
    RegimeEntered,
    RuleBook,
    RuleError,
    format_duration,
    parse_duration_ms,
    rule_from_json,
    rule_operands,
    rule_to_json,
    rules_file_from_json,
    rules_file_to_json,
    validate_rule_json,
)

CLOSE = {"series": "btc.1h", "column": "close"}
FLIP = {"derived": "gammalevels.btc", "column": "gamma_flip"}

EVERY_TYPE = {
    "id": "every-type", "name": "Every condition type",
    "when": {"all": [
        {"type": "above", "operand": CLOSE, "value": 100_000, "hysteresis": 500},
        {"type": "below", "operand": CLOSE, "value": FLIP},
        {"any": [
            {"type": "cross_above", "operand": CLOSE, "value": FLIP, "within": "1h"},
            {"type": "cross_below", "operand": CLOSE, "value": 90_000, "label": "my level"},
        ]},
        {"type": "change", "operand": CLOSE, "window": "4h", "by": 2.5, "unit": "pct",
         "direction": "down"},
        {"type": "count", "family": "funding.*.btc", "column": "rate", "direction": "below",
         "value": 0, "at_least": 3},
        {"type": "decoupling", "pair": "btc_spx", "direction": "up", "within": "1d"},
        {"type": "liquidations", "asset": "btc", "side": "short", "window": "1h",
         "over_usd": 50_000_000},
        {"type": "regime_entered", "asset": "btc", "regime": "short_squeeze"},
    ]},
    "rearm": {"type": "below", "operand": CLOSE, "value": 99_000},
    "cooldown": "12h",
    "active_hours": {"start": "22:00", "end": "06:00", "days": [0, 1, 2], "zone":
                     "Europe/London"},
    "delivery": {"notify": True, "sound": True,
                 "webhook": {"url": "https://hooks.example.com/path-token",
                             "headers": {"X-Key": "hunter2"}}},
}


def test_every_condition_type_parses_and_round_trips():
    assert validate_rule_json(EVERY_TYPE) == []
    rule = rule_from_json(EVERY_TYPE)
    assert isinstance(rule.when, AllOf) and len(rule.when.items) == 8
    above = rule.when.items[0]
    assert above == Compare("above", Operand("series", "btc.1h", "close"), 100_000.0, 500.0)
    cross = rule.when.items[2].items[0]
    assert isinstance(rule.when.items[2], AnyOf)
    assert cross == Cross("above", Operand("series", "btc.1h", "close"),
                          Operand("derived", "gammalevels.btc", "gamma_flip"), 0.0, 3_600_000)
    count = rule.when.items[4]
    assert isinstance(count, Count) and count.at_least == 3
    assert {op.id for op in count.operands} == {
        "funding.binance.btc", "funding.bybit.btc", "funding.okx.btc", "funding.deribit.btc",
        "funding.hyperliquid.btc"}
    liq = rule.when.items[6]
    assert isinstance(liq, Liquidations)
    assert {op.id for op in liq.operands} == {"liq.binance.btc", "liq.bybit.btc",
                                              "liq.okx.btc", "liq.deribit.btc"}
    assert {op.column for op in liq.operands} == {"short_usd"}
    assert rule.when.items[7] == RegimeEntered("btc", "short_squeeze", 0)
    assert rule.cooldown_ms == 12 * 3_600_000
    assert rule.active_hours == ActiveHours("22:00", "06:00", (0, 1, 2), "Europe/London")
    assert rule.delivery.webhook_headers == {"X-Key": "hunter2"}
    assert "hunter2" not in repr(rule) and "path-token" not in repr(rule)  # reprs reach logs
    again = rule_from_json(rule_to_json(rule))
    assert again == rule
    assert rule_to_json(rule)["version"] == RULES_VERSION
    ops = rule_operands(rule)
    assert Operand("derived", "regime.btc", "regime") in ops
    assert Operand("derived", "decoupling.btc_spx", "btc_ret") in ops
    assert rule.subject == "btc"


def _with(path: list, value, base=EVERY_TYPE):
    obj = copy.deepcopy(base)
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize(("path", "value", "message"), [
    (["when", "all", 0, "value"], "abc", "rule 'every-type': when.all[0].value: not a number"),
    (["when", "all", 2, "any", 1, "operand"], {"series": "nope.1h", "column": "close"},
     "when.all[2].any[1].operand: unknown series 'nope.1h'"),
    (["when", "all", 1, "value"], {"derived": "fundingavg.btc", "column": "apr_pct"},
     "when.all[1].value: derived 'fundingavg.btc' cannot be alerted on"),
    (["when", "all", 0, "operand"], {"series": "btc.1h", "column": "vwap"},
     "'btc.1h' has no column 'vwap'"),
    (["when", "all", 3, "window"], "4 hours", "when.all[3].window: '4 hours' is no duration"),
    (["when", "all", 4, "at_least"], 9, "when.all[4].at_least: 9 but 'funding.*.btc' has only 5"),
    (["when", "all", 5, "direction"], "sideways", "when.all[5].direction: 'sideways' is not"),
    (["when", "all", 6, "side"], "left", "when.all[6].side: 'left' is not one of"),
    (["when", "all", 7, "regime"], "moon", "when.all[7].regime: 'moon' is not one of"),
    (["when", "all", 7, "type"], "regime_entred", "when.all[7].type: 'regime_entred' is no "
                                                  "condition type"),
    (["cooldown"], "soon", "rule 'every-type': cooldown: 'soon' is no duration"),
    (["active_hours", "start"], "25:00", "active_hours.start: a time \"HH:MM\""),
    (["active_hours", "zone"], "Mars/Base", "active_hours.zone: 'Mars/Base' is no time zone"),
    (["delivery", "webhook", "url"], "http://hooks.example.com/x",
     "delivery.webhook.url: webhooks must use https://"),
    (["version"], 2, "version: 2 was written by a newer Rotor"),
    (["id"], "", "rule: id: 1-64 of letters"),
    (["colour"], "red", "colour: unknown key"),
])
def test_a_problem_says_what_and_where(path, value, message):
    problems = validate_rule_json(_with(path, value))
    assert any(message in p for p in problems), problems
    with pytest.raises(RuleError, match="rule"):
        rule_from_json(_with(path, value))


def test_every_problem_is_listed_not_only_the_first():
    bad = _with(["when", "all", 0, "value"], "abc")
    bad["cooldown"] = "soon"
    bad["when"]["all"][6]["over_usd"] = -1
    problems = validate_rule_json(bad)
    assert len(problems) == 3, problems
    assert "when.all[6].over_usd: must be at least 0" in problems[1]


def test_webhook_problems_never_repeat_the_url():
    bad = _with(["delivery", "webhook", "url"], "http://user:secret-token@hooks.example.com/k")
    problems = validate_rule_json(bad)
    assert problems and not any("secret-token" in p for p in problems)
    creds = _with(["delivery", "webhook", "url"], "https://user:tok@hooks.example.com/k")
    assert any("credentials" in p and "tok" not in p.replace("token", "")
               for p in validate_rule_json(creds))


def test_durations():
    assert parse_duration_ms("90s") == 90_000
    assert parse_duration_ms("1.5h") == 5_400_000
    assert parse_duration_ms("1w") == 7 * 86_400_000
    assert parse_duration_ms(0) == 0
    assert format_duration(5_400_000) == "90m"
    with pytest.raises(ValueError):
        parse_duration_ms("-1h")


def test_active_hours_wrap_past_midnight_and_belong_to_the_day_they_start():
    hours = ActiveHours("22:00", "06:00", (0,), "UTC")  # Monday night into Tuesday morning
    monday = 1_769_990_400_000  # 2026-02-02 00:00 UTC, a Monday
    h = 3_600_000
    assert hours.contains(monday + 23 * h)
    assert hours.contains(monday + 24 * h + 5 * h)  # Tuesday 05:00
    assert not hours.contains(monday + 24 * h + 6 * h)
    assert not hours.contains(monday + 5 * h)  # Monday 05:00 belongs to Sunday night
    london = ActiveHours("08:00", "09:00", (0,), "Europe/London")
    summer_monday = 1_785_110_400_000  # 2026-07-27 00:00 UTC, BST = UTC+1
    assert london.contains(summer_monday + 7 * h) and not london.contains(summer_monday + 8 * h)


def test_rules_file_and_rulebook_section():
    rule = rule_from_json(EVERY_TYPE)
    other = rule_from_json({**EVERY_TYPE, "id": "second", "name": "Second"})
    data = rules_file_to_json([rule, other])
    assert data["format"] == RULES_FORMAT
    assert rules_file_from_json(data) == [rule, other]
    book = RuleBook()
    calls = []
    book.add_listener(lambda: calls.append(1))
    book.load_json(data)
    assert [r.id for r in book.rules] == ["every-type", "second"] and calls == [1]
    book.set_rule(other)  # unchanged: no change told
    assert calls == [1]
    book.remove("every-type")
    assert [r.id for r in book] == ["second"] and calls == [1, 1]
    twice = rules_file_to_json([rule, rule])
    assert any("used twice" in p for p in RuleBook.problems(twice))
    with pytest.raises(ValueError, match="used twice"):
        RuleBook.validate_json(twice)
    with pytest.raises(RuleError):
        book.load_json({"format": "nope", "version": 1, "rules": []})
    assert [r.id for r in book] == ["second"]  # all or nothing


def test_firing_round_trips_through_json():
    firing = Firing("r", "Rule", 1_000, 2_000, None, "BTC above 100,000", {"btc.1h:close": 1.5},
                    "btc")
    assert Firing.from_json(firing.to_json()) == firing
