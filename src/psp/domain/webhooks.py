"""Webhooks: endpoints, their signing secrets, the Standard Webhooks signature and the retry schedule.

Pure rules only: URLs are checked here as text and as addresses; resolving names and sending requests
happen in adapters. Signatures follow Standard Webhooks (https://www.standardwebhooks.com): the secret is
``whsec_`` + base64 of the key, the signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"`` and the
``webhook-signature`` header holds space-separated ``v1,<base64 HMAC-SHA256>`` signatures.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit
from uuid import UUID

from psp.lib.errors import ValidationFailed

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES: Final = 32
SIGNATURE_VERSION: Final = "v1"
DEFAULT_TOLERANCE_SECONDS: Final = 300
MAX_URL_LENGTH: Final = 2048
LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
MAX_ROTATION_OVERLAP: Final = timedelta(days=7)
DEFAULT_ROTATION_OVERLAP: Final = timedelta(hours=24)
GIVE_UP_AFTER: Final = timedelta(days=3)  # deliveries, and endpoints failing without a break
RESPONSE_EXCERPT_BYTES: Final = 256


class EndpointStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"  # failed continuously for GIVE_UP_AFTER: flagged, receives nothing


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # gave up after GIVE_UP_AFTER, or its endpoint was disabled


@dataclass(frozen=True)
class WebhookEndpoint:
    id: UUID
    merchant_id: UUID
    url: str
    enabled_events: tuple[str, ...]
    description: str
    mode: str  # the mode of the key that created it: live endpoints get the strict URL rules
    secret: str = field(repr=False)
    created_at: datetime
    status: EndpointStatus = EndpointStatus.ENABLED
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_expires_at: datetime | None = None
    failing_since: datetime | None = None
    disabled_reason: str | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, plus the previous one while a rotation's overlap lasts."""
        signing = [self.secret]
        if (
            self.previous_secret is not None
            and self.previous_secret_expires_at is not None
            and now < self.previous_secret_expires_at
        ):
            signing.append(self.previous_secret)
        return signing

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events


@dataclass(frozen=True)
class DeliveryAttempt:
    id: UUID
    delivery_id: UUID
    attempted_at: datetime
    status_code: int | None  # None: no HTTP answer (refused, time-out, forbidden address)
    latency_ms: int
    response_excerpt: str
    error: str | None


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one endpoint, with its attempts so far."""

    id: UUID
    merchant_id: UUID
    event_id: UUID
    endpoint_id: UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    attempt_log: tuple[DeliveryAttempt, ...] = ()


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for an attempt: everything needed to send it without another query."""

    id: UUID
    event_id: UUID
    endpoint: WebhookEndpoint
    body: bytes
    attempts: int  # made before this one
    retrying_since: datetime  # retries stop GIVE_UP_AFTER from here


# --- secrets and signatures -------------------------------------------------------------------------


def generate_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes: shown once, signs every delivery to its endpoint."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key_bytes(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the secret's key."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_headers(
    message_id: str, timestamp: int, body: bytes, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per secret (two during a rotation)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in signing_secrets),
    }


class WebhookVerificationError(Exception):
    """A delivery that must not be trusted: forged, altered, stale or malformed."""


def verify_signature(
    payload: bytes | str, headers: Mapping[str, str], secret: str, tolerance: int, now: float
) -> bytes:
    """Check a delivery's signature and freshness; return the payload, or raise WebhookVerificationError.

    ``headers`` may use any case. The timestamp must be within ``tolerance`` seconds of ``now`` (Unix
    seconds), which defeats replays of a captured delivery. Signatures are compared in constant time.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    raw_timestamp = lowered.get("webhook-timestamp")
    raw_signatures = lowered.get("webhook-signature")
    if not message_id or not raw_timestamp or not raw_signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance: stale or replayed")
    expected = sign(secret, message_id, timestamp, body).partition(",")[2].encode()
    for candidate in raw_signatures.split():
        version, _, signature = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(signature.encode(), expected):
            return body
    raise WebhookVerificationError("no signature matches: forged, altered or signed with another secret")


# --- URLs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointUrl:
    url: str
    scheme: str
    host: str  # without brackets for IPv6
    port: int

    @property
    def literal_address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_endpoint_url(url: str, mode: str) -> EndpointUrl:
    """Check a URL as text: https in live mode; http only for localhost in test mode; no credentials."""
    if len(url) > MAX_URL_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise _bad_url("url must be an absolute http(s) URL without spaces, at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise _bad_url("url is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise _bad_url("url must be an absolute http or https URL")
    if parts.username is not None or parts.password is not None:
        raise _bad_url("url must not carry credentials")
    if parts.fragment:
        raise _bad_url("url must not have a fragment")
    if parts.scheme == "http" and (mode == "live" or host not in LOCAL_HOSTS):
        raise _bad_url(
            "url must use https (http is allowed only for localhost, with a test key)", code="url_insecure"
        )
    default_port = 443 if parts.scheme == "https" else 80
    endpoint = EndpointUrl(url=url, scheme=parts.scheme, host=host, port=port or default_port)
    address = endpoint.literal_address
    if mode == "live" and address is not None and not is_public_address(address):
        raise forbidden_address()
    if mode == "live" and host == "localhost":
        raise forbidden_address()
    return endpoint


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Routable on the internet: not private, loopback, link-local, multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public_address(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


def all_public(addresses: Sequence[str]) -> bool:
    if not addresses:
        return False
    try:
        return all(is_public_address(ipaddress.ip_address(address.split("%")[0])) for address in addresses)
    except ValueError:
        return False


def forbidden_address() -> ValidationFailed:
    return _bad_url(
        "url must resolve to public addresses only in live mode (no private, loopback or link-local)",
        code="url_forbidden_address",
    )


def _bad_url(message: str, code: str = "url_invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, param="url")


# --- the retry schedule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff with jitter: ``base * factor**(n-1)``, capped, +-``jitter``; stops after 3 days.

    With the defaults (1 min, x4, capped at 24 h) the retries come after about 1 min, 4 min, 16 min, 1 h,
    4 h, 17 h, 24 h and 24 h: nine attempts over three days, then the delivery is marked failed.
    """

    base_seconds: float = 60.0
    factor: float = 4.0
    cap_seconds: float = 24 * 3600.0
    jitter: float = 0.2
    give_up_after: timedelta = GIVE_UP_AFTER
    rng: random.Random = field(default_factory=random.SystemRandom, compare=False, repr=False)

    def delay_after(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt."""
        ceiling = min(self.cap_seconds, self.base_seconds * self.factor ** (attempts - 1))
        spread = ceiling * self.jitter
        return timedelta(seconds=max(0.0, ceiling + self.rng.uniform(-spread, spread)))

    def next_attempt(self, first_attempt_at: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again after a failure, or None: past ``give_up_after`` since the first attempt."""
        at = now + self.delay_after(attempts)
        return None if at - first_attempt_at > self.give_up_after else at

    @classmethod
    def scaled(cls, base_seconds: float) -> RetrySchedule:
        """The same shape on another time scale (tests, demos): every interval scales with the base."""
        scale = base_seconds / 60.0
        return cls(
            base_seconds=base_seconds, cap_seconds=24 * 3600.0 * scale, give_up_after=GIVE_UP_AFTER * scale
        )
