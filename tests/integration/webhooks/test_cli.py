"""``psp events redeliver`` and ``psp worker webhooks --once`` as an operator runs them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from psp.bootstrap import Container
from psp.domain.pagination import PageRequest
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.transporters.cli import main
from tests.integration.support import pay
from tests.integration.webhooks.receiver import Receiver, running
from tests.integration.webhooks.support import principal_of, register

pytestmark = pytest.mark.usefixtures("restored_logging")


def test_the_worker_delivers_once_and_an_operator_replays_events_since_a_moment_to_one_endpoint(
    container: Container, merchant: Onboarded, database_url: str
) -> None:
    environment = {"PSP_ENV": "test", "PSP_DATABASE_URL": database_url, "PSP_LOG_FORMAT": "json"}
    with running(Receiver()) as receiver, running(Receiver()) as other:
        endpoint = register(container, merchant, receiver.url)
        register(container, merchant, other.url)
        pay(container, merchant)
        pay(container, merchant)

        delivered = CliRunner().invoke(main, ["worker", "webhooks", "--once"], env=environment)
        assert delivered.exit_code == 0, delivered.output
        assert (len(receiver.requests), len(other.requests)) == (2, 2)

        replayed = CliRunner().invoke(
            main,
            ["events", "redeliver", "--since", "2000-01-01", "--endpoint", str(endpoint.id)],
            env=environment,
        )
        assert replayed.exit_code == 0, replayed.output
        assert "Scheduled 2 delivery(ies)" in replayed.stdout
        CliRunner().invoke(main, ["worker", "webhooks", "--once"], env=environment)

    assert (len(receiver.requests), len(other.requests)) == (4, 2)
    events = service.list_events(principal_of(merchant), None, PageRequest(), uow=container.uow()).items
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(event.id) for event in events}


def test_replaying_to_an_unknown_endpoint_fails_with_a_message(
    container: Container, database_url: str
) -> None:
    environment = {"PSP_ENV": "test", "PSP_DATABASE_URL": database_url, "PSP_LOG_FORMAT": "json"}

    result = CliRunner().invoke(
        main,
        [
            "events",
            "redeliver",
            "--since",
            "2026-01-01",
            "--endpoint",
            "019345ab-0000-7000-8000-000000000004",
        ],
        env=environment,
    )

    assert result.exit_code == 1
    assert "no such webhook endpoint" in result.output
