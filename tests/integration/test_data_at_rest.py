"""Webhook signing secrets and stored idempotent responses are sealed in their rows, yet psp signs with the
real secrets and replays responses byte for byte; a sealed value moved to another row does not open; a
key rotation keeps old rows readable and ``psp jobs reencrypt-data`` reseals them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, text

from psp.bootstrap import Container, bootstrap
from psp.data_sources.encryption import DecryptionError, key_id
from psp.data_sources.postgres.engine import build_engine
from psp.data_sources.postgres.migrations import alembic_config
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.transporters.cli import main
from psp.transporters.rest.app import create_app
from psp.webhooks import verify
from tests.conftest import settings_for_tests
from tests.databases import create_database
from tests.integration.support import pay
from tests.integration.webhooks.receiver import Receiver, running
from tests.integration.webhooks.support import principal_of, register, worker_running

NEW_KEY = bytes(range(100, 132))


def auth(merchant: Onboarded, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {merchant.key.secret_key}"}
    return headers if key is None else {**headers, "Idempotency-Key": key}


def raw_rows(engine: Engine, query: str) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(query))]


def stored_bytes(engine: Engine) -> bytes:
    """Every sealed column of both tables, concatenated: where a plaintext would show if one leaked."""
    rows = raw_rows(engine, "SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints")
    rows += raw_rows(engine, "SELECT response_body_sealed FROM idempotency_keys")
    return b"".join(bytes(value) for row in rows for value in row.values() if value is not None)


@pytest.fixture
def rotated_container(container: Container) -> Iterator[Container]:
    """psp after a key rotation: a new current key, the previous one listed as old."""
    old = base64.b64encode(container.settings.data_encryption_key).decode()
    settings = settings_for_tests(
        PSP_DATA_ENCRYPTION_KEY=base64.b64encode(NEW_KEY).decode(), PSP_DATA_ENCRYPTION_OLD_KEYS=old
    )
    rotated = bootstrap(settings, database_url=container.database_url, application_name="psp-test")
    yield rotated
    rotated.close()


def test_endpoint_rows_hold_sealed_secrets_yet_deliveries_verify_with_the_current_and_previous_one(
    container: Container, merchant: Onboarded
) -> None:
    with running(Receiver()) as receiver:
        first = register(container, merchant, receiver.url)
        rotated = service.rotate_secret(
            principal_of(merchant), first.id, timedelta(hours=1), uow=container.uow(), clock=container.clock
        )
        pay(container, merchant)
        with worker_running(container):
            [delivery] = receiver.wait_for(1)

    [row] = raw_rows(container.engine, "SELECT * FROM webhook_endpoints")
    sealed = stored_bytes(container.engine)
    for secret in (first.secret, rotated.secret):
        assert secret.encode() not in sealed
        assert secret.removeprefix("whsec_").encode() not in sealed
        assert base64.b64decode(secret.removeprefix("whsec_")) not in sealed
    assert "secret" not in row
    assert "previous_secret" not in row
    assert bytes(row["secret_sealed"])[1:5] == key_id(container.settings.data_encryption_key)
    # Both secrets came back out of their sealed columns to sign the delivery:
    assert verify(delivery.body, delivery.headers, rotated.secret) == delivery.body
    assert verify(delivery.body, delivery.headers, first.secret) == delivery.body


def test_an_idempotent_response_is_stored_sealed_and_replayed_byte_for_byte(
    container: Container, merchant: Onboarded
) -> None:
    client = create_app(container).test_client()
    body = {"url": "http://localhost:9/hooks", "enabled_events": ["*"]}

    first = client.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "create-1"))
    replay = client.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "create-1"))

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_data() == first.get_data()
    secret = json.loads(first.get_data())["secret"]
    [row] = raw_rows(container.engine, "SELECT * FROM idempotency_keys")
    assert "response_body" not in row
    sealed = bytes(row["response_body_sealed"])  # type: ignore[arg-type]
    assert secret.encode() not in sealed
    assert first.get_data()[:40] not in sealed
    assert len(sealed) == len(first.get_data()) + 33  # header, nonce, tag: no room for a copy in clear


def test_a_sealed_secret_copied_into_another_endpoint_or_column_does_not_open(
    container: Container, merchant: Onboarded, other_merchant: Onboarded
) -> None:
    mine = register(container, merchant, "http://localhost:9/a")
    theirs = register(container, other_merchant, "http://localhost:9/b")
    with container.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE webhook_endpoints SET secret_sealed = "
                "(SELECT secret_sealed FROM webhook_endpoints WHERE id = :mine) WHERE id = :theirs"
            ),
            {"mine": mine.id, "theirs": theirs.id},
        )

    with container.uow() as uow, pytest.raises(DecryptionError, match="failed authentication"):
        uow.webhook_endpoints.get(other_merchant.merchant.id, theirs.id)
    with container.uow() as uow:  # the original still opens
        assert uow.webhook_endpoints.get(merchant.merchant.id, mine.id) == mine


def test_a_stored_response_copied_to_another_key_does_not_replay(
    container: Container, merchant: Onboarded
) -> None:
    client = create_app(container).test_client()
    body = {"url": "http://localhost:9/hooks", "enabled_events": ["*"]}
    client.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "key-a"))
    client.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "key-b"))
    with container.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE idempotency_keys SET response_body_sealed = "
                "(SELECT response_body_sealed FROM idempotency_keys WHERE key = 'key-a') WHERE key = 'key-b'"
            )
        )

    [row] = raw_rows(container.engine, "SELECT request_fingerprint FROM idempotency_keys WHERE key = 'key-b'")
    fingerprint = str(row["request_fingerprint"])

    with container.uow() as uow, pytest.raises(DecryptionError, match="failed authentication"):
        uow.idempotency_keys.claim(
            merchant.merchant.id, "key-b", fingerprint, now=container.clock(), lock_for_seconds=60
        )


def test_the_database_refuses_a_secret_or_response_that_is_not_sealed(
    container: Container, merchant: Onboarded
) -> None:
    endpoint = register(container, merchant, "http://localhost:9/a")

    for statement in (
        "UPDATE webhook_endpoints SET secret_sealed = convert_to('whsec_abc', 'UTF8')",
        "UPDATE webhook_endpoints SET previous_secret_sealed = convert_to('whsec_abc', 'UTF8'), "
        "previous_secret_expires_at = now()",
        "INSERT INTO idempotency_keys (merchant_id, key, request_fingerprint, state, response_status, "
        "response_body_sealed, locked_until, created_at) VALUES "
        "(:merchant, 'k', 'f', 'completed', 201, convert_to('{\"secret\": 1}', 'UTF8'), now(), now())",
    ):
        with container.engine.begin() as connection, pytest.raises(Exception, match="check constraint"):
            connection.execute(text(statement), {"merchant": merchant.merchant.id})
    with container.uow() as uow:
        assert uow.webhook_endpoints.get(merchant.merchant.id, endpoint.id) == endpoint


def test_after_a_key_rotation_old_rows_open_new_rows_use_the_new_key_and_reencryption_retires_the_old(
    container: Container, rotated_container: Container, merchant: Onboarded
) -> None:
    client = create_app(container).test_client()
    body = {"url": "http://localhost:9/hooks", "enabled_events": ["*"]}
    before = client.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "before"))
    endpoint_id = UUID(before.get_json()["id"])
    old_id, new_id = key_id(container.settings.data_encryption_key), key_id(NEW_KEY)

    after = create_app(rotated_container).test_client()
    replay = after.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "before"))
    fresh = after.post("/v1/webhook_endpoints", json=body, headers=auth(merchant, "after"))
    with rotated_container.uow() as uow:
        found = uow.webhook_endpoints.get(merchant.merchant.id, endpoint_id)

    assert replay.get_data() == before.get_data()  # sealed under the old key, opened with it
    assert found is not None
    assert found.secret == before.get_json()["secret"]
    assert fresh.status_code == 201
    prefixes = {
        row["key"]: bytes(row["response_body_sealed"])[1:5]  # type: ignore[arg-type]
        for row in raw_rows(container.engine, "SELECT key, response_body_sealed FROM idempotency_keys")
    }
    assert prefixes == {"before": old_id, "after": new_id}

    report = rotated_container.reseal_data()
    again = rotated_container.reseal_data()

    assert (report.webhook_endpoints, report.idempotency_responses) == (1, 1)  # only the old key's
    assert (again.webhook_endpoints, again.idempotency_responses) == (0, 0)
    new_only = bootstrap(
        settings_for_tests(PSP_DATA_ENCRYPTION_KEY=base64.b64encode(NEW_KEY).decode()),
        database_url=container.database_url,
        application_name="psp-test",
    )
    try:
        retired = create_app(new_only).test_client()
        assert retired.post(
            "/v1/webhook_endpoints", json=body, headers=auth(merchant, "before")
        ).get_data() == (before.get_data())
        with new_only.uow() as uow:
            assert uow.webhook_endpoints.get(merchant.merchant.id, endpoint_id) == found
    finally:
        new_only.close()


def test_the_migration_seals_the_plaintext_rows_it_finds(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_database(server_url, "psp_seal_migration")
    monkeypatch.setenv("PSP_DATA_ENCRYPTION_KEY", base64.b64encode(NEW_KEY).decode())
    command.upgrade(alembic_config(url), "7c3e9a1d5b20")  # webhooks, before sealing
    engine = build_engine(url, pool_size=1)
    merchant, endpoint = UUID(int=1), UUID(int=2)
    secret, previous = "whsec_" + "A" * 43 + "=", "whsec_" + "B" * 43 + "="
    response = b'{"id": "we_1", "secret": "' + secret.encode() + b'"}'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO merchants (id, name, default_currency, debit_fee_bps, credit_fee_bps, "
                "created_at) VALUES (:m, 'Acme', 'BRL', 300, 500, now())"
            ),
            {"m": merchant},
        )
        connection.execute(
            text(
                "INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, description, mode, "
                "secret, previous_secret, previous_secret_expires_at, status, created_at) VALUES (:e, :m, "
                "'https://example.com/h', ARRAY['*'], '', 'test', :s, :p, now() + interval '1 hour', "
                "'enabled', now())"
            ),
            {"e": endpoint, "m": merchant, "s": secret, "p": previous},
        )
        connection.execute(
            text(
                "INSERT INTO idempotency_keys (merchant_id, key, request_fingerprint, state, "
                "response_status, response_body, locked_until, created_at, completed_at) "
                "VALUES (:m, 'k1', 'f', 'completed', 201, :b, now(), now(), now()), "
                "(:m, 'k2', 'f', 'in_progress', NULL, NULL, now(), now(), NULL)"
            ),
            {"m": merchant, "b": response},
        )
    try:
        command.upgrade(alembic_config(url), "head")
        migrated = bootstrap(
            settings_for_tests(PSP_DATA_ENCRYPTION_KEY=base64.b64encode(NEW_KEY).decode()),
            database_url=url,
            application_name="psp-test",
        )
        try:
            with migrated.uow() as uow:
                found = uow.webhook_endpoints.get(merchant, endpoint)
                replayed = uow.idempotency_keys.claim(
                    merchant, "k1", "f", now=migrated.clock(), lock_for_seconds=1
                )
        finally:
            migrated.close()
        assert stored_bytes(engine).count(b"whsec_") == 0
        assert found is not None
        assert (found.secret, found.previous_secret) == (secret, previous)
        assert replayed.response is not None
        assert replayed.response.body == response

        command.downgrade(alembic_config(url), "7c3e9a1d5b20")  # and back, to plaintext
        [row] = raw_rows(engine, "SELECT secret, previous_secret FROM webhook_endpoints")
        assert row == {"secret": secret, "previous_secret": previous}
        [body] = raw_rows(engine, "SELECT response_body FROM idempotency_keys WHERE key = 'k1'")
        assert bytes(body["response_body"]) == response  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_psp_jobs_reencrypt_data_reseals_under_the_new_key_and_says_how_many(
    container: Container, merchant: Onboarded
) -> None:
    endpoint = register(container, merchant, "http://localhost:9/a")
    old = base64.b64encode(container.settings.data_encryption_key).decode()
    environment = {
        "PSP_ENV": "test",
        "PSP_DATABASE_URL": container.database_url,
        "PSP_LOG_FORMAT": "json",
        "PSP_DATA_ENCRYPTION_KEY": base64.b64encode(NEW_KEY).decode(),
        "PSP_DATA_ENCRYPTION_OLD_KEYS": old,
    }

    first = CliRunner().invoke(main, ["jobs", "reencrypt-data"], env=environment)
    second = CliRunner().invoke(main, ["jobs", "reencrypt-data"], env=environment)

    assert first.exit_code == 0, first.output
    assert first.output == (
        f"Resealed with data key {key_id(NEW_KEY).hex()}: 1 webhook endpoint(s), 0 stored response(s).\n"
    )
    assert "0 webhook endpoint(s), 0 stored response(s)." in second.output
    [row] = raw_rows(container.engine, "SELECT secret_sealed FROM webhook_endpoints")
    assert bytes(row["secret_sealed"])[1:5] == key_id(NEW_KEY)  # type: ignore[arg-type]
    assert old not in first.output
    # The old key alone no longer opens it:
    with container.uow() as uow, pytest.raises(DecryptionError, match=key_id(NEW_KEY).hex()):
        uow.webhook_endpoints.get(merchant.merchant.id, endpoint.id)
