"""The embedded server's tuning: sized from the machine, never trading away durability."""

from __future__ import annotations

from pathlib import Path

import pytest

from psp.data_sources.postgres.embedded import (
    TUNING_FILE,
    container_memory_limit_bytes,
    tuning_settings,
    write_tuning,
)

GIB = 1024**3


def test_shared_buffers_take_a_quarter_of_memory_between_128_mb_and_4_gb() -> None:
    assert tuning_settings(256 * 1024**2)["shared_buffers"] == "128MB"
    assert tuning_settings(2 * GIB)["shared_buffers"] == "512MB"
    assert tuning_settings(8 * GIB)["shared_buffers"] == "2048MB"
    assert tuning_settings(64 * GIB)["shared_buffers"] == "4096MB"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "2147483648\n"}, 2 * GIB),  # cgroup v2
        ({"memory.max": "max\n"}, None),
        ({"memory/memory.limit_in_bytes": "1073741824\n"}, GIB),  # cgroup v1
        ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1's "no limit"
        ({}, None),  # no cgroup files: not in a container, or not Linux
    ],
)
def test_a_containers_memory_limit_is_read_from_its_cgroup(
    tmp_path: Path, files: dict[str, str], expected: int | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert container_memory_limit_bytes(tmp_path) == expected


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
