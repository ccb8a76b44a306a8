"""The benchmark's subprocess machinery on one tiny case: keys and finite numbers, no timings."""

from __future__ import annotations

import math

from bench.__main__ import spawn

FRAME_KEYS = ("median_ms", "p95_ms", "max_ms", "first_paint_ms", "paints_per_pan", "frames")


def test_tiny_line_case_runs_in_a_subprocess_and_reports_json() -> None:
    res = spawn(["--case", "line", "--contender", "defaults", "--n", "10000", "--frames", "5"],
                60.0)
    assert res["status"] == "ok", res
    assert res["contender"] == "defaults"
    assert res["n"] == 10000
    assert res["view"] == "out"
    assert res["frames"] == 5
    for key in (*FRAME_KEYS, "setup_to_first_paint_ms", "peak_rss_mb", "wall_s"):
        value = res[key]
        assert isinstance(value, int | float), (key, value)
        assert math.isfinite(value), (key, value)
        assert value >= 0, (key, value)
    assert res["paints_per_pan"] >= 1


def test_stacked_grid_case_and_the_startup_baselines_report_json() -> None:
    res = spawn(["--case", "stacked", "--contender", "rotor", "--n", "10000", "--frames", "3"],
                60.0)
    assert res["status"] == "ok", res
    assert (res["grid"], res["plots"], res["frames"]) == ("rotor", 4, 3)
    assert all(math.isfinite(res[k]) and res[k] >= 0 for k in FRAME_KEYS)
    chart = spawn(["--case", "minimal_chart", "--reps", "1"], 60.0)
    imports = spawn(["--case", "import_baseline", "--reps", "1"], 60.0)
    assert chart["status"] == imports["status"] == "ok"
    assert chart["median_ms"] > 0 and imports["median_ms"] > 0  # timed in the child, no exit


def test_ratios_and_targets_handle_missing_cases() -> None:
    from bench.suite import ratios, targets

    fake = {"line/rotor/1e+07/out": {"status": "ok", "median_ms": 2.0, "p95_ms": 3.0},
            "line/clippeak/1e+07/out": {"status": "ok", "median_ms": 10.0},
            "line/empty/1e+04/out": {"status": "ok", "median_ms": 1.0},
            "candles/rotor/1e+06/out": {"status": "missing"}}
    rat = ratios(fake)
    assert rat["vs_clippeak"] == 5.0
    assert rat["floor_ratio"] == 2.0
    assert rat["vs_finplot"] is None
    by_name = {t["target"]: t["result"] for t in targets(fake, rat)}
    assert by_name["G1 vs clipToView+peak"] == "pass"
    assert by_name["G5 1M candles out p95"] == "missing"


def test_drawings_case_reports_json() -> None:
    res = spawn(["--case", "drawings", "--contender", "rotor", "--n", "5", "--frames", "3",
                 "--size", "800x600"], 60.0)
    assert res["status"] == "ok", res
    assert (res["contender"], res["n"], res["plots"], res["frames"]) == ("rotor", 5, 4, 3)
    assert all(math.isfinite(res[k]) and res[k] >= 0 for k in FRAME_KEYS)


def test_resample_case_agrees_with_pandas_on_a_small_history() -> None:
    from bench.resample import resample

    res = resample(n=30_000, reps=1)
    assert res["agrees_with_pandas"] is True
    assert res["bars"] >= 30_000 // 60 and res["complete_bars"] <= res["bars"]
    assert res["resample_ms"]["median"] > 0 and res["pandas_over_rotor"] > 0


def test_indicators_case_reports_both_charts_and_their_ratio() -> None:
    from bench.suite import ratios

    res = spawn(["--case", "indicators", "--n", "20000", "--frames", "3", "--size", "800x600"],
                90.0)
    assert res["status"] == "ok", res
    assert res["indicators"] == ["sma50", "ema200", "vwap"] and res["compute_ms"] > 0
    for view in ("out", "in1"):
        for chart in ("price", "with_indicators"):
            assert all(math.isfinite(res[f"{view}/{chart}"][k]) for k in FRAME_KEYS)
        ratio = res[f"{view}/p95_ratio"]
        assert ratio == round(res[f"{view}/with_indicators"]["p95_ms"]
                              / res[f"{view}/price"]["p95_ms"], 3)
        assert ratios({"indicators": res})[f"indicators_{view}_p95_ratio"] == ratio


def test_price_dock_cases_report_json() -> None:
    res = spawn(["--case", "dock_pan", "--n", "20000", "--frames", "3", "--size", "800x600"],
                90.0)
    assert res["status"] == "ok", res
    assert (res["plots"], res["n"]) == (4, 20000)
    for key in ("four/out", "four/in1", "one/out", "one/in1"):
        assert all(math.isfinite(res[key][k]) and res[key][k] >= 0 for k in FRAME_KEYS)
        assert res[key]["paints_per_pan"] == 1  # a pan paints once, as the time link has it
    assert res["ratio_four_over_one/out"]["p95"] > 0
    switch = spawn(["--case", "minutes", "--n", "450000", "--reps", "1", "--size", "800x600"],
                   120.0)
    assert switch["status"] == "ok", switch
    run = switch["runs"][0]
    # the newest minutes are painted before (or, at worst, with) the whole history
    assert 0 < run["first_paint_ms"] <= run["full_history_paint_ms"]


def test_minutes_cached_case_paints_the_newest_minutes_before_the_whole_read() -> None:
    res = spawn(["--case", "minutes_cached", "--n", "300000", "--reps", "1", "--size",
                 "800x600"], 120.0)
    assert res["status"] == "ok", res
    run, whole = res["runs"][0], res["whole_read_first"]["runs"][0]
    assert 0 < run["first_paint_ms"] <= run["full_history_paint_ms"]
    assert whole["first_paint_ms"] > 0 and res["first_paint_over_whole_read_first"] > 0
