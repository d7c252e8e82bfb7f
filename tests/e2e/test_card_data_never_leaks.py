"""The canaries: a distinctive card number and CVV, API keys (valid and not) and a webhook signing secret
go in; they must come out nowhere.

Not in any response, not in any log line (at DEBUG, SQL statements and their parameters included), not
in any row of any table. A 15-digit number cannot turn up by chance; a 3- or 4-digit CVV easily can (in
a UUID, a hash, a duration), so the CVV is looked for as a value would be written: quoted or assigned.
"""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Any

import structlog
from flask.testing import FlaskClient
from sqlalchemy import text

from psp.bootstrap import Container
from psp.domain.cards import luhn_is_valid
from psp.services.merchants import Onboarded
from psp.transporters.rest.app import create_app
from tests.e2e.support import DECLINED_CARD, auth, transaction_body

CANARY_NUMBER = "379154321987651"  # an amex number, Luhn-valid, found nowhere else
CANARY_SPACED = "3791 543219 87651"
CANARY_CVC = "9173"
DECLINED_CVC = "582"


def test_the_canary_number_is_a_valid_amex_card() -> None:
    assert luhn_is_valid(CANARY_NUMBER)


def every_row_as_json(container: Container) -> str:
    """Every row of every table, plus every bytea value as text (JSON shows those as hex, which would
    hide a plaintext stored in them, like a stored response body)."""
    with container.engine.connect() as connection:
        tables = connection.execute(
            text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        ).scalars()
        binary = connection.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = 'bytea'"
            )
        ).all()
        # Table and column names come from the catalogue, not from input.
        queries = [text(f'SELECT row_to_json(t)::text FROM "{table}" t') for table in tables]  # noqa: S608
        queries += [
            text(f'SELECT encode("{column}", \'escape\') FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608
            for table, column in binary
        ]
        return "\n".join(row for query in queries for row in connection.execute(query).scalars())


def leaks(haystack: str, number: str, cvc: str) -> list[str]:
    digits = number.replace(" ", "")
    found = [digits] if digits in haystack else []
    found += [form for form in (f'"{cvc}"', f"'{cvc}'", f"={cvc}") if form in haystack]
    return found


def post(client: FlaskClient, merchant: Onboarded, body: Any) -> str:
    response = client.post("/v1/transactions", json=body, headers=auth(merchant))
    assert response.status_code < 500 or response.status_code == 500
    return f"{response.status_code} {dict(response.headers)} {response.get_data(as_text=True)}"


class ExplodingAcquirer:
    def authorize(self, *_: object) -> object:
        raise RuntimeError("acquirer bug")


def test_no_card_number_or_cvv_reaches_a_response_a_log_or_a_table(
    captured_log: io.StringIO, client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    canary = {"card_number": CANARY_SPACED, "card_verification_code": CANARY_CVC}
    responses = [
        post(client, merchant, transaction_body(**canary)),
        post(client, merchant, transaction_body(**canary, payment_method="debit_card", amount=77)),
        post(client, merchant, transaction_body(**canary, card_expiration_date="01/20")),
        post(client, merchant, transaction_body(**canary, amount="12")),
        post(
            client,
            merchant,
            transaction_body(card_number=int(CANARY_NUMBER), card_verification_code=int(CANARY_CVC)),
        ),
        post(client, merchant, transaction_body(**canary, card_pan=CANARY_NUMBER)),
        post(client, merchant, transaction_body(card_number=CANARY_NUMBER, card_verification_code="12")),
        post(
            client, merchant, transaction_body(card_number=DECLINED_CARD, card_verification_code=DECLINED_CVC)
        ),
    ]
    container.acquirer = ExplodingAcquirer()  # type: ignore[assignment]
    crashing = create_app(container).test_client()
    crashed = crashing.post("/v1/transactions", json=transaction_body(**canary), headers=auth(merchant))
    assert crashed.status_code == 500

    everything_logged = captured_log.getvalue()
    assert "http.unhandled_error" in everything_logged  # the traceback was logged...
    assert "INSERT INTO transactions" in everything_logged  # ...and so were the SQL statements
    bodies = "\n".join(responses) + crashed.get_data(as_text=True)
    stored = every_row_as_json(container)
    assert "379154" in stored  # the first six are kept, as intended
    for haystack in (bodies, everything_logged, stored):
        assert leaks(haystack, CANARY_NUMBER, CANARY_CVC) == []
        assert leaks(haystack, DECLINED_CARD, DECLINED_CVC) == []


# --- secrets: API keys (valid and not) and webhook signing secrets ------------------------------------

CANARY_WRONG_KEY = "sk_live_CanaryWrongKey7f3a9c1e5b2d8f4a6c0e9b7d"
CANARY_WEBHOOK_SECRET = "whsec_CanaryWebhookSecret3e8b1d6f9a2c5e7b0d4f"


class SecretLeakingAcquirer:
    """An adapter bug that puts secrets and a card number into an exception's message."""

    def authorize(self, *_: object) -> object:
        raise RuntimeError(f"upstream refused {CANARY_WEBHOOK_SECRET} for card {CANARY_NUMBER}")


def test_no_api_key_or_webhook_secret_reaches_a_log_or_a_table(
    captured_log: io.StringIO, client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    key = merchant.key.secret_key
    wrong = {"Authorization": f"Bearer {CANARY_WRONG_KEY}"}
    requests = [
        client.get("/v1/transactions", headers=auth(merchant)),
        client.post("/v1/transactions", json=transaction_body(), headers=auth(merchant)),
        client.post("/v1/transactions", json={"amount": "x"}, headers=auth(merchant)),
        client.get(f"/v1/transactions?starting_after={key}", headers=auth(merchant)),
        client.get(f"/v1/payables?transaction_id={CANARY_WEBHOOK_SECRET}", headers=auth(merchant)),
        client.get(f"/v1/balance?api_key={key}&secret={CANARY_WEBHOOK_SECRET}", headers=auth(merchant)),
        client.get(f"/v1/transactions/{key}", headers=auth(merchant)),
        client.get("/v1/balance", headers=wrong),
        client.get(f"/v1/balance?key={CANARY_WRONG_KEY}", headers=wrong),
        client.get("/v1/balance", headers={"Authorization": CANARY_WRONG_KEY}),
        client.get("/healthz", headers={"Request-Id": CANARY_WEBHOOK_SECRET[:40]}),
        client.get("/v1/balance", headers={**auth(merchant), "X-Webhook-Secret": CANARY_WEBHOOK_SECRET}),
    ]
    container.acquirer = SecretLeakingAcquirer()  # type: ignore[assignment]
    crashed = (
        create_app(container)
        .test_client()
        .post("/v1/transactions", json=transaction_body(), headers=auth(merchant))
    )
    # Signing secrets psp makes itself: created and rotated with an Idempotency-Key (so the responses that
    # show them are stored for replay), each request replayed once.
    made = []
    idempotent = {**auth(merchant), "Idempotency-Key": "canary-create"}
    hook = {"url": "http://localhost:9/hooks", "enabled_events": ["*"]}
    for _ in range(2):
        made.append(client.post("/v1/webhook_endpoints", json=hook, headers=idempotent))
    rotate = f"/v1/webhook_endpoints/{made[0].get_json()['id']}/rotate_secret"
    for _ in range(2):
        made.append(
            client.post(
                rotate,
                json={"overlap_seconds": 3600},
                headers={**auth(merchant), "Idempotency-Key": "canary-rot"},
            )
        )
    assert [response.status_code for response in made] == [201, 201, 200, 200]
    assert made[1].headers["Idempotent-Replayed"] == made[3].headers["Idempotent-Replayed"] == "true"
    signing_secrets = {response.get_json()["secret"] for response in made}
    assert len(signing_secrets) == 2
    assert all(secret.startswith("whsec_") for secret in signing_secrets)
    # Whatever code logs them by mistake, in a field or in a message, through structlog or the stdlib.
    structlog.get_logger("psp.test").warning(
        "webhook.delivery_failed", webhook_secret=CANARY_WEBHOOK_SECRET, note=f"signed with {key}"
    )
    logging.getLogger("psp.test").warning("retrying with %s and %s", CANARY_WRONG_KEY, CANARY_WEBHOOK_SECRET)

    everything_logged = captured_log.getvalue()
    assert all(response.status_code < 500 for response in requests)
    assert crashed.status_code == 500
    assert "upstream refused whsec_[redacted] for card [redacted]" in everything_logged  # the traceback
    assert "sk_live_[redacted]" in everything_logged
    assert "whsec_[redacted]" in everything_logged
    stored = every_row_as_json(container)
    assert '"key":"canary-create"' in stored  # the stored responses are there, and looked into
    assert '"key":"canary-rot"' in stored
    made_secrets = [part for secret in signing_secrets for part in (secret, secret.removeprefix("whsec_"))]
    for canary in (key, CANARY_WRONG_KEY, CANARY_WEBHOOK_SECRET, CANARY_NUMBER, *made_secrets):
        assert canary not in everything_logged, canary[:8]
        assert canary not in stored, canary[:8]
    assert crashed.get_data(as_text=True).count(CANARY_WEBHOOK_SECRET) == 0


def test_api_keys_are_stored_only_as_their_sha256_and_a_short_prefix(
    client: FlaskClient, container: Container, merchant: Onboarded
) -> None:
    key = merchant.key.secret_key
    assert client.get("/v1/balance", headers=auth(merchant)).status_code == 200

    with container.engine.connect() as connection:
        row = connection.execute(text("SELECT prefix, key_hash FROM api_keys")).one()
    stored = every_row_as_json(container)

    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(row.prefix)
    assert len(row.prefix) == len("sk_test_") + 4  # 4 of 43 random characters: useless to a guesser
    assert key not in stored
    assert key[len("sk_test_") :] not in stored
