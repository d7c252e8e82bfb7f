"""The embedded server's tuning: sized from the machine, never trading away durability."""

from __future__ import annotations

from pathlib import Path

from psp.data_sources.postgres.embedded import TUNING_FILE, tuning_settings, write_tuning

GIB = 1024**3


def test_shared_buffers_take_an_eighth_of_memory_between_128_mb_and_1_gb() -> None:
    assert tuning_settings(512 * 1024**2)["shared_buffers"] == "128MB"
    assert tuning_settings(2 * GIB)["shared_buffers"] == "256MB"
    assert tuning_settings(64 * GIB)["shared_buffers"] == "1024MB"


def test_the_tuning_leaves_every_durability_setting_at_its_safe_default() -> None:
    durability = {"fsync", "synchronous_commit", "full_page_writes", "wal_level"}
    assert not durability & set(tuning_settings(8 * GIB))


def test_the_tuning_is_written_once_and_included_once(tmp_path: Path) -> None:
    (tmp_path / "postgresql.conf").write_text("max_connections = 100\n")
    write_tuning(tmp_path)
    write_tuning(tmp_path)
    conf = (tmp_path / "postgresql.conf").read_text()
    assert conf.count(TUNING_FILE) == 1
    assert conf.startswith("max_connections = 100\n")
    assert "wal_buffers = '64MB'" in (tmp_path / TUNING_FILE).read_text()
