"""Smoke: the app as a user starts it, headless, making its own screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_screenshot_opens_paints_and_exits_zero(tmp_path):
    target = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ROTOR_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(ROOT / "main.py"), "--demo", "--screenshot",
                          str(target)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "panels had no data" not in out.stderr
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a painted window, not a blank one
