"""The ``psp`` command line over the real test database (click's CliRunner, in process)."""

from __future__ import annotations

import json
import subprocess
import sys
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from psp.bootstrap import Container
from psp.lib.errors import AuthenticationFailed
from psp.services.merchants import Onboarded, authenticate
from psp.transporters.cli import main

pytestmark = pytest.mark.usefixtures("restored_logging")


@pytest.fixture
def psp(database_url: str) -> PspRunner:
    return PspRunner(database_url)


class PspRunner:
    """Runs ``psp`` commands with nothing but PSP_* variables, as an operator would."""

    def __init__(self, database_url: str) -> None:
        self.environment = {"PSP_ENV": "test", "PSP_DATABASE_URL": database_url, "PSP_LOG_FORMAT": "json"}

    def __call__(self, *args: str, **settings: str) -> Result:
        return CliRunner().invoke(main, list(args), env={**self.environment, **settings})


def test_merchants_create_with_json_prints_only_the_id_and_a_key_that_authenticates(
    container: Container, psp: PspRunner
) -> None:
    result = psp("merchants", "create", "--name", "Initech", "--json")

    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert set(created) == {"id", "secret_key"}
    assert created["secret_key"].startswith("sk_test_")
    principal = authenticate(created["secret_key"], uow=container.uow())
    assert principal.merchant_id == UUID(created["id"])


def test_merchants_create_names_the_merchant_and_shows_the_key_once(
    container: Container, psp: PspRunner
) -> None:
    result = psp("merchants", "create", "--name", "Initech", "--currency", "usd", "--mode", "live")

    assert result.exit_code == 0, result.output
    assert "Initech, USD" in result.stdout
    assert "sk_live_" in result.stdout
    assert "sk_live_" not in result.stderr  # logs never carry the key


def test_merchants_create_refuses_an_unknown_currency(container: Container, psp: PspRunner) -> None:
    result = psp("merchants", "create", "--name", "Initech", "--currency", "XYZ")

    assert result.exit_code == 2
    assert "--currency" in result.stderr


def test_a_second_key_authenticates_and_a_revoked_key_no_longer_does(
    container: Container, merchant: Onboarded, psp: PspRunner
) -> None:
    merchant_id = str(merchant.merchant.id)

    created = psp("merchants", "keys", "create", "--merchant", merchant_id)
    revoked = psp(
        "merchants", "keys", "revoke", "--merchant", merchant_id, "--key", str(merchant.key.api_key.id)
    )

    assert created.exit_code == 0, created.output
    new_key = next(word for word in created.stdout.split() if word.startswith("sk_test_"))
    assert authenticate(new_key, uow=container.uow()).merchant_id == merchant.merchant.id
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(AuthenticationFailed):
        authenticate(merchant.key.secret_key, uow=container.uow())


def test_revoking_a_key_the_merchant_does_not_have_fails_with_a_message(
    container: Container, merchant: Onboarded, other_merchant: Onboarded, psp: PspRunner
) -> None:
    result = psp(
        "merchants",
        "keys",
        "revoke",
        "--merchant",
        str(merchant.merchant.id),
        "--key",
        str(other_merchant.key.api_key.id),
    )

    assert result.exit_code == 1
    assert "no active key" in result.stderr
    assert authenticate(other_merchant.key.secret_key, uow=container.uow())


def test_db_check_passes_on_a_migrated_database(psp: PspRunner) -> None:
    result = psp("db", "check")

    assert result.exit_code == 0, result.output
    assert "matches" in result.stdout


def test_db_upgrade_on_an_up_to_date_database_changes_nothing(psp: PspRunner) -> None:
    result = psp("db", "upgrade")

    assert result.exit_code == 0, result.output


def test_queues_redrive_revives_dead_lettered_events(
    container: Container, merchant: Onboarded, psp: PspRunner
) -> None:
    with container.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox (id, event_type, merchant_id, aggregate_id, payload, created_at, "
                "visible_at, receive_count, dead_at) VALUES (gen_random_uuid(), 'transaction.approved', "
                ":merchant, gen_random_uuid(), '{}', now(), now(), 5, now())"
            ),
            {"merchant": merchant.merchant.id},
        )

    result = psp("queues", "redrive")

    assert result.exit_code == 0, result.output
    assert "Redrove 1 dead-lettered event(s)." in result.stdout


def test_a_malformed_setting_exits_2_with_one_line_naming_the_variable(psp: PspRunner) -> None:
    result = psp("db", "check", PSP_PORT="abc")

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "PSP_PORT" in result.stderr
    assert "Traceback" not in result.output


def test_the_installed_command_reports_a_bad_setting_the_same_way(database_url: str) -> None:
    environment = {
        "PSP_ENV": "test",
        "PSP_DATABASE_URL": database_url,
        "PSP_SETTLEMENT_TIMEZONE": "Mars/Base",
    }

    completed = subprocess.run(
        [sys.executable, "-m", "psp.transporters.cli", "jobs", "settle"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert completed.returncode == 2
    assert "PSP_SETTLEMENT_TIMEZONE" in completed.stderr
    assert completed.stdout == ""
