"""The data folder's size and clearing one stored series (run on workers by the dialog)."""

from __future__ import annotations

import os

from models.series import SeriesData
from services.storage import clear_series, folder_size, format_bytes, stored_series


def test_folder_size_counts_regular_files_and_follows_no_link(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 100)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "b.log").write_bytes(b"y" * 2000)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"z" * 50_000)
    os.symlink(outside / "big", tmp_path / "link-to-file")
    os.symlink(outside, tmp_path / "link-to-dir")
    assert folder_size(tmp_path) == 100 + 2000


def test_bytes_in_words():
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KB"
    assert format_bytes(5 * 1024 ** 2) == "5.0 MB"
    assert format_bytes(3 * 1024 ** 3 + 512 * 1024 ** 2) == "3.5 GB"


def test_clearing_a_series_deletes_it_and_only_it(cache):
    rows = SeriesData.from_rows([0, 3_600_000], rate=[0.0001, 0.0002],
                                interval_hours=[8.0, 8.0], apr_pct=[10.95, 21.9])
    cache.upsert("funding.bybit.btc", rows)
    cache.upsert("funding.okx.btc", rows)
    assert stored_series(cache) == ["funding.bybit.btc", "funding.okx.btc"]
    assert clear_series(cache, "funding.bybit.btc") == "funding.bybit.btc"
    assert stored_series(cache) == ["funding.okx.btc"]
    assert len(cache.read("funding.okx.btc")) == 2
