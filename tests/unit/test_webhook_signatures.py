"""Signing and verifying deliveries: Standard Webhooks compatible, constant-time, stale and forged refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from psp.domain.webhooks import (
    RetrySchedule,
    generate_secret,
    parse_endpoint_url,
    sign,
    signature_headers,
    verify_signature,
)
from psp.lib.errors import ValidationFailed
from psp.lib.logging import drop_sensitive_fields, redact_secret_values
from psp.webhooks import WebhookVerificationError, verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/gK8Ek7bX5A="
BODY = b'{"id":"evt","type":"transaction.approved","data":{"object":{"amount":2500}}}'
NOW = 1_800_000_000


def headers_for(
    body: bytes, *secrets: str, timestamp: int = NOW, message_id: str = "msg_1"
) -> dict[str, str]:
    return signature_headers(message_id, timestamp, body, list(secrets or (SECRET,)))


def test_a_signature_is_the_base64_hmac_sha256_of_id_timestamp_and_body_under_the_decoded_key() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1800000000." + BODY, hashlib.sha256).digest()).decode()

    assert sign(SECRET, "msg_1", NOW, BODY) == f"v1,{expected}"


def test_psp_signatures_verify_with_the_standard_webhooks_reference_library() -> None:
    headers = headers_for(BODY, timestamp=int(datetime.now(UTC).timestamp()))

    assert standardwebhooks.Webhook(SECRET).verify(BODY.decode(), headers) is not None


def test_the_reference_librarys_signatures_verify_with_psp() -> None:
    moment = datetime.now(UTC)
    signature = standardwebhooks.Webhook(SECRET).sign("msg_9", moment, BODY.decode())
    headers = {
        "webhook-id": "msg_9",
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }

    assert verify(BODY, headers, SECRET) == BODY


def test_a_genuine_delivery_verifies_whatever_the_header_case() -> None:
    headers = {name.title(): value for name, value in headers_for(BODY).items()}

    assert verify_signature(BODY, headers, SECRET, 300, NOW + 10) == BODY


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b"2500", b"9999")), id="altered body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_2"}, b), id="other id"),
        pytest.param(lambda h, b: (headers_for(b, generate_secret()), b), id="signed with another secret"),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b), id="made-up signature"),
        pytest.param(
            lambda h, b: ({**h, "webhook-signature": h["webhook-signature"].replace("v1", "v2")}, b),
            id="unknown version",
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), id="no signature"
        ),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), id="timestamp not a number"),
    ],
)
def test_a_forged_or_altered_delivery_fails_verification(tamper: object) -> None:
    headers, body = tamper(headers_for(BODY), BODY)  # type: ignore[operator]

    with pytest.raises(WebhookVerificationError):
        verify_signature(body, headers, SECRET, 300, NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_replayed_delivery_outside_the_tolerance_fails_even_with_a_valid_signature(age: int) -> None:
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_signature(BODY, headers_for(BODY), SECRET, 300, NOW + age)


def test_during_a_rotation_either_secret_verifies_the_same_delivery() -> None:
    new = generate_secret()
    headers = headers_for(BODY, new, SECRET)

    assert headers["webhook-signature"].count("v1,") == 2
    assert verify_signature(BODY, headers, SECRET, 300, NOW) == BODY
    assert verify_signature(BODY, headers, new, 300, NOW) == BODY


def test_secrets_are_whsec_prefixed_32_random_bytes_and_never_repeat() -> None:
    secrets = {generate_secret() for _ in range(100)}

    assert len(secrets) == 100
    assert all(len(base64.b64decode(s.removeprefix("whsec_"))) == 32 for s in secrets)


def test_the_default_schedule_retries_about_nine_times_over_three_days_then_gives_up() -> None:
    schedule = RetrySchedule(rng=random.Random(7))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    now, attempts = start, 1
    while (next_at := schedule.next_attempt(start, attempts, now)) is not None:
        assert next_at > now
        now, attempts = next_at, attempts + 1

    assert 8 <= attempts <= 10
    assert timedelta(days=2) < now - start <= timedelta(days=3)


def test_retry_delays_grow_exponentially_within_their_jitter() -> None:
    schedule = RetrySchedule(rng=random.Random(1))
    for attempts, ceiling in [(1, 60), (2, 240), (3, 960), (9, 86_400)]:
        delay = schedule.delay_after(attempts).total_seconds()
        assert ceiling * 0.8 <= delay <= ceiling * 1.2


@pytest.mark.parametrize(
    ("url", "mode"),
    [
        ("https://shop.example.com/hooks", "live"),
        ("https://93.184.216.34:8443/hooks", "live"),
        ("http://localhost:3000/hooks", "test"),
        ("http://127.0.0.1/hooks", "test"),
        ("https://10.0.0.5/hooks", "test"),
    ],
)
def test_acceptable_endpoint_urls(url: str, mode: str) -> None:
    assert parse_endpoint_url(url, mode).url == url


@pytest.mark.parametrize(
    ("url", "mode", "code"),
    [
        ("http://shop.example.com/hooks", "live", "url_insecure"),
        ("http://shop.example.com/hooks", "test", "url_insecure"),
        ("http://localhost/hooks", "live", "url_insecure"),
        ("https://localhost/hooks", "live", "url_forbidden_address"),
        ("https://127.0.0.1/hooks", "live", "url_forbidden_address"),
        ("https://10.1.2.3/hooks", "live", "url_forbidden_address"),
        ("https://192.168.0.1/hooks", "live", "url_forbidden_address"),
        ("https://169.254.169.254/latest/meta-data", "live", "url_forbidden_address"),
        ("https://[::1]/hooks", "live", "url_forbidden_address"),
        ("https://[::ffff:10.0.0.1]/hooks", "live", "url_forbidden_address"),
        ("https://[fe80::1]/hooks", "live", "url_forbidden_address"),
        ("ftp://shop.example.com/", "test", "url_invalid"),
        ("https://user:pass@shop.example.com/", "test", "url_invalid"),
        ("https:///nohost", "test", "url_invalid"),
        ("https://shop.example.com:99999/", "test", "url_invalid"),
        ("https://shop.example.com/a b", "test", "url_invalid"),
    ],
)
def test_refused_endpoint_urls(url: str, mode: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_endpoint_url(url, mode)

    assert refused.value.code == code
    assert refused.value.param == "url"


def test_a_webhook_secret_in_any_logged_value_is_redacted() -> None:
    fields = {"event": "x", "detail": f"bad {SECRET} here", "secret": SECRET}
    logged = redact_secret_values(None, "info", drop_sensitive_fields(None, "info", fields))

    assert SECRET not in repr(logged)
    assert logged["detail"] == "bad whsec_[redacted] here"
