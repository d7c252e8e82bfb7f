"""`psp jobs prune-idempotency-keys` forgets keys older than PSP_IDEMPOTENCY_KEY_TTL_DAYS, only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from psp.bootstrap import Container
from psp.services import idempotency
from psp.services.merchants import Onboarded
from psp.transporters.cli import main

pytestmark = pytest.mark.usefixtures("restored_logging")


def test_prune_deletes_the_keys_older_than_the_ttl_and_says_how_many(
    container: Container, merchant: Onboarded, database_url: str
) -> None:
    now = datetime.now(UTC)
    for key, age in (("old-1", 31), ("old-2", 45), ("recent", 29)):
        idempotency.claim_key(
            merchant.merchant.id,
            key,
            "f" * 64,
            uow=container.uow(),
            clock=lambda age=age: now - timedelta(days=age),
        )

    result = CliRunner().invoke(
        main,
        ["jobs", "prune-idempotency-keys"],
        env={"PSP_ENV": "test", "PSP_DATABASE_URL": database_url, "PSP_IDEMPOTENCY_KEY_TTL_DAYS": "30"},
    )

    assert result.exit_code == 0, result.output
    assert "Pruned 2 idempotency key(s) older than 30 day(s)." in result.stdout
    with container.engine.connect() as connection:
        keys = connection.execute(text("SELECT key FROM idempotency_keys")).scalars().all()
    assert keys == ["recent"]
