"""`main.py list | refresh | export` as a user runs them: real processes, a loopback venue."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug import Response

from services.config import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
H = 3_600_000


def run_main(*args: str, env: dict[str, str] | None = None,
             timeout: float = 90) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=full_env,
                          check=False)


def venue_env(httpserver) -> dict[str, str]:
    base = httpserver.url_for("/").rstrip("/")
    return {var: base for var in ENV_VARS.values()}


def klines_handler(request):
    start, end = int(request.args["startTime"]), int(request.args["endTime"])
    first = max(start + (-start) % H, 1_767_225_600_000)  # 2026-01-01
    rows = [[t, "100.5", "102", "99", "101.25", "5", t + H - 1, "500", 7, "2", "200", "0"]
            for t in range(first, min(end, 1_767_225_600_000 + 47 * H) + 1, H)][:1000]
    return Response(json.dumps(rows), content_type="application/json")


def test_list_prints_every_series_with_source_symbol_kind_interval():
    out = run_main("list")
    assert out.returncode == 0, out.stderr
    lines = {line.split("\t")[0]: line.split("\t") for line in out.stdout.splitlines()}
    assert lines["btc.1h"] == ["btc.1h", "binance", "BTCUSDT", "candles", "1h", "USD"]
    assert lines["spx.1d"] == ["spx.1d", "yahoo", "^GSPC", "candles", "1d", "USD"]
    assert "funding.okx.btc" in lines and "dvol.btc" in lines
    assert lines["gex.btc"][1] == "derived" and lines["gex.btc"][-1] == "USD per 1% move"
    for derived in ("corr.btc_spx.60", "beta.btc_spx.60", "ratio.btc_gold", "rv.btc.30",
                    "skew30.btc"):
        assert lines[derived][1] == "derived", derived


def test_demo_exports_funding_open_interest_and_gex_with_their_columns(tmp_path):
    def export(series_id):
        target = tmp_path / f"{series_id}.csv"
        out = run_main("--demo", "export", series_id, "--out", str(target))
        assert out.returncode == 0, out.stderr
        return target.read_text().splitlines()

    assert export("funding.okx.btc")[0] == "time,rate,interval_hours,apr_pct"
    assert export("oi.binance.btc")[0] == "time,open_interest,open_interest_usd"
    gex = export("gex.btc")
    assert gex[0] == "strike,call_gex,put_gex,net_gex,unit"
    _strike, call, put, net, unit = gex[1].split(",")
    assert unit == "USD per 1% move" and float(net) == pytest.approx(float(call) + float(put))


def test_bad_arguments_get_one_line_and_status_2():
    out = run_main("export", "btc.1h")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "--out" in out.stderr
    out = run_main("refresh", "no.such.series")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "rotor: error: unknown series: no.such.series (see `main.py list`)")
    out = run_main("refresh", "btc.1h", "--start", "yesterday")
    assert out.returncode == 2 and "invalid date" in out.stderr


def test_refresh_then_export_csv_with_utc_times(httpserver, tmp_path):
    httpserver.expect_request("/api/v3/klines").respond_with_handler(klines_handler)
    env = venue_env(httpserver)
    out = run_main("refresh", "btc.1h", "--start", "2026-01-01", "--end", "2026-01-03", env=env)
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[0].split("\t")
    assert line[:3] == ["btc.1h", "ok", "+48 rows"]
    assert "2026-01-02T23:00:00Z" in line[3]
    assert "Traceback" not in out.stderr

    target = tmp_path / "btc.csv"
    out = run_main("export", "btc.1h", "--out", str(target), "--start", "2026-01-02", env=env)
    assert out.returncode == 0, out.stderr
    with target.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time", "open", "high", "low", "close", "volume"]
    assert rows[1] == ["2026-01-02T00:00:00Z", "100.5", "102", "99", "101.25", "5"]
    assert len(rows) == 1 + 24


def test_refresh_failing_venue_is_a_message_not_a_traceback(httpserver):
    httpserver.expect_request("/api/v3/klines").respond_with_data("<html>down</html>",
                                                                 status=503,
                                                                 content_type="text/html")
    httpserver.expect_request("/v8/finance/chart/^GSPC").respond_with_json(
        {"chart": {"result": None,
                   "error": {"code": "Not Found", "description": "No data found"}}},
        status=404)
    out = run_main("refresh", "btc.1h", "--start", "2026-01-01", env=venue_env(httpserver))
    assert out.returncode == 1  # every series failed
    assert out.stdout.startswith("btc.1h\terror\t")
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout


@pytest.mark.parametrize("url", ["http://example.com", "ftp://127.0.0.1"])
def test_insecure_base_url_is_refused(url):
    out = run_main("refresh", "btc.1h", env={"ROTOR_BINANCE_SPOT_URL": url})
    assert out.returncode == 2
    assert "https://" in out.stderr


def _one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rotor: error: "), out.stderr
    return lines[0]


@pytest.mark.parametrize(("where", "says"), [
    ("directory", "is a directory"),
    ("missing parent", "does not exist"),
    ("empty", "--out is empty"),
])
def test_an_unusable_out_is_one_line_and_status_2(tmp_path, where, says):
    out_arg = {"directory": str(tmp_path), "missing parent": str(tmp_path / "no" / "x.csv"),
               "empty": ""}[where]
    out = run_main("--demo", "export", "btc.1h", "--out", out_arg)
    assert out.returncode == 2
    assert says in _one_error_line(out)
    assert not (tmp_path / "no").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("series_id", ["btc.1h", "gex.btc", "options.btc"])
def test_a_full_disk_while_exporting_is_one_line_and_status_1(series_id):
    """ENOSPC: the arguments were fine and the file system failed (status 1, documented in
    services/commands.py); /dev/full stays what it is."""
    out = run_main("--demo", "export", series_id, "--out", "/dev/full")
    assert out.returncode == 1
    assert "No space left on device" in _one_error_line(out)
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")
    assert not os.path.lexists("/dev/full.provenance.json")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_failing_provenance_write_is_one_line_and_status_1(tmp_path):
    target = tmp_path / "btc.csv"
    (tmp_path / "btc.provenance.json").symlink_to("/dev/full")
    out = run_main("--demo", "export", "btc.1h", "--out", str(target))
    assert out.returncode == 1
    line = _one_error_line(out)
    assert "provenance" in line and "No space left on device" in line


def test_a_provenance_path_that_is_a_directory_is_refused_before_writing(tmp_path):
    target = tmp_path / "btc.csv"
    (tmp_path / "btc.provenance.json").mkdir()
    out = run_main("--demo", "export", "btc.1h", "--out", str(target))
    assert out.returncode == 2
    assert "provenance" in _one_error_line(out)
    assert not target.exists()


def test_export_start_after_end_is_an_error(tmp_path):
    target = tmp_path / "btc.csv"
    out = run_main("--demo", "export", "btc.1h", "--out", str(target),
                   "--start", "2026-02-10", "--end", "2026-02-01")
    assert out.returncode == 2
    assert "--start 2026-02-10 is after --end 2026-02-01" in _one_error_line(out)
    assert not target.exists()


def test_refresh_start_after_end_is_an_error_not_ok_zero_rows(httpserver):
    httpserver.expect_request("/api/v3/klines").respond_with_handler(klines_handler)
    out = run_main("refresh", "btc.1h", "--start", "2026-01-03", "--end", "2026-01-01",
                   env=venue_env(httpserver))
    assert out.returncode == 2
    assert "is after --end" in _one_error_line(out)
    assert "ok" not in out.stdout
    assert len(httpserver.log) == 0
