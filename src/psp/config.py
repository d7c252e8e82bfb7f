"""Typed settings, read once from ``PSP_*`` environment variables; bad values fail fast.

Every variable is declared once in ``SETTINGS`` below, with its default and a one-line description; the
README's configuration table is checked against this list by a test, so the two cannot drift.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from psp.lib.errors import ConfigurationError

ENVIRONMENTS = ("development", "test", "production")
QUEUE_BACKENDS = ("postgres", "sqs")
LOG_FORMATS = ("console", "json")
DATA_KEY_BYTES = 32  # AES-256


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PSP_ENV", "development", "`development`, `test` or `production`; production refuses unsafe defaults"
    ),
    Setting("PSP_DATABASE_URL", None, "PostgreSQL URL; unset: the embedded PostgreSQL under `PSP_DATA_DIR`"),
    Setting("PSP_DATA_DIR", ".psp", "where the embedded PostgreSQL keeps its data and `psp dev` its files"),
    Setting("PSP_HOST", "127.0.0.1", "address the API binds to"),
    Setting("PSP_PORT", "8000", "port the API listens on"),
    Setting("PSP_WEB_CONCURRENCY", "2", "gunicorn worker processes"),
    Setting("PSP_WEB_THREADS", "4", "threads per gunicorn worker"),
    Setting("PSP_DB_POOL_SIZE", "8", "database connections per process"),
    Setting("PSP_DB_STATEMENT_TIMEOUT_MS", "5000", "statement timeout for API queries, in milliseconds"),
    Setting("PSP_LOG_FORMAT", None, "`console` or `json`; default: console in development, json otherwise"),
    Setting("PSP_LOG_LEVEL", "INFO", "log level (DEBUG, INFO, WARNING, ERROR)"),
    Setting(
        "PSP_AUTH_CACHE_SECONDS",
        "10",
        "seconds an API process trusts a key it has seen valid without looking it up again (0: every request"
        " looks it up); a revoked key stops working within this time",
    ),
    Setting("PSP_MAX_BODY_BYTES", "65536", "largest request body accepted; larger answers 413"),
    Setting(
        "PSP_MAX_JSON_DEPTH",
        "32",
        "deepest nesting of arrays and objects accepted in a JSON body; deeper answers 400 `json_too_deep`",
    ),
    Setting(
        "PSP_TRUSTED_PROXY_HOPS",
        "0",
        "proxies in front of the API whose `X-Forwarded-For` entry names the client (1 behind the ALB); "
        "0 trusts none and uses the socket's peer address",
    ),
    Setting(
        "PSP_RATE_LIMIT_PER_KEY",
        "100",
        "requests per second one API key may make, per API process, once its burst is spent; "
        "more answer 429. 0 disables",
    ),
    Setting(
        "PSP_RATE_LIMIT_BURST",
        "200",
        "requests one API key may make at once, per API process, before `PSP_RATE_LIMIT_PER_KEY` applies",
    ),
    Setting(
        "PSP_AUTH_FAILURE_LIMIT",
        "20",
        "failed authentications (unknown or revoked key) allowed in a row per client address and per "
        "presented key, per API process; then 429 until one is earned back. 0 disables",
    ),
    Setting(
        "PSP_AUTH_FAILURE_REFILL_SECONDS",
        "30",
        "seconds to earn back one failed authentication once `PSP_AUTH_FAILURE_LIMIT` is spent",
    ),
    Setting(
        "PSP_QUEUE_BACKEND",
        "postgres",
        "`postgres` (outbox table as the queue) or `sqs` (relay to Amazon SQS)",
    ),
    Setting("PSP_SQS_ENDPOINT_URL", None, "SQS endpoint override (a local SQS server); unset: AWS"),
    Setting("PSP_AWS_REGION", "us-east-1", "AWS region of the SQS queues"),
    Setting("PSP_SQS_PAYABLES_QUEUE", "psp-payables", "name or URL of the payables queue"),
    Setting("PSP_SQS_PAYABLES_DLQ", "psp-payables-dlq", "name or URL of the payables dead-letter queue"),
    Setting(
        "PSP_SQS_WEBHOOKS_QUEUE", "psp-webhooks", "name or URL of the webhooks queue (events to deliver)"
    ),
    Setting("PSP_SQS_WEBHOOKS_DLQ", "psp-webhooks-dlq", "name or URL of the webhooks dead-letter queue"),
    Setting("PSP_WORKER_BATCH_SIZE", "500", "events a worker claims per batch (SQS: at most 10 per receive)"),
    Setting(
        "PSP_WORKER_VISIBILITY_TIMEOUT", "30", "seconds a claimed event stays invisible before redelivery"
    ),
    Setting("PSP_WORKER_MAX_RECEIVES", "5", "deliveries before an event is dead-lettered"),
    Setting("PSP_WORKER_POLL_INTERVAL", "0.2", "seconds an idle Postgres-queue worker waits between polls"),
    Setting(
        "PSP_WORKER_LINGER_MS",
        "100",
        "after a batch smaller than PSP_WORKER_BATCH_SIZE, the payables worker claims again no sooner "
        "than this many milliseconds after its last claim, so batches grow under load (fewer commits "
        "per event); adds at most this much to the pipeline lag",
    ),
    Setting(
        "PSP_CARD_FINGERPRINT_KEY", None, "secret key of the card fingerprint HMAC; required in production"
    ),
    Setting(
        "PSP_DATA_ENCRYPTION_KEY",
        None,
        "base64 of 32 random bytes: the AES-256-GCM key that seals webhook signing secrets and stored "
        "idempotent responses in the database; required in production",
    ),
    Setting(
        "PSP_DATA_ENCRYPTION_OLD_KEYS",
        None,
        "comma-separated base64 keys that were `PSP_DATA_ENCRYPTION_KEY` before a rotation: they still "
        "open what they sealed until `psp jobs reencrypt-data` has resealed it",
    ),
    Setting("PSP_DEFAULT_CURRENCY", "BRL", "currency of new merchants and of transactions that name none"),
    Setting("PSP_DEBIT_FEE_BPS", "300", "debit card fee for new merchants, in basis points (300 = 3%)"),
    Setting("PSP_CREDIT_FEE_BPS", "500", "credit card fee for new merchants, in basis points (500 = 5%)"),
    Setting("PSP_SETTLEMENT_TIMEZONE", "UTC", "IANA time zone in which D+N payment dates are counted"),
    Setting(
        "PSP_SETTLEMENT_TIME", "00:05", "local time (HH:MM, settlement time zone) of the daily settlement run"
    ),
    Setting("PSP_SETTLEMENT_CHUNK_SIZE", "10000", "payables settled per database transaction"),
    Setting(
        "PSP_SETTLEMENT_SETTLERS",
        "2",
        "chunks a settlement run settles side by side (one database connection each)",
    ),
    Setting("PSP_ACQUIRER", "simulator", "acquirer adapter; `simulator` is deterministic by card number"),
    Setting("PSP_WEBHOOK_CONCURRENCY", "16", "webhook deliveries one webhooks worker attempts at once"),
    Setting("PSP_WEBHOOK_TIMEOUT_SECONDS", "10", "seconds a webhook endpoint has to answer an attempt"),
    Setting(
        "PSP_WEBHOOK_RETRY_BASE_SECONDS",
        "60",
        "first retry delay; later ones grow x4 up to 24 h, for 3 days (all scale with it: tests, demos)",
    ),
    Setting(
        "PSP_SIMULATOR_FAILURE_RATE",
        "0",
        "fault injection: fraction (0-1) of simulator calls that fail before reaching the card network "
        "(503 `acquirer_unavailable`, nothing recorded); refused in production",
    ),
    Setting(
        "PSP_SIMULATOR_TIMEOUT_RATE",
        "0",
        "fault injection: fraction (0-1) of simulator authorisations that time out (202 `processing`, "
        "resolved later by `psp jobs resolve-processing`); refused in production",
    ),
    Setting(
        "PSP_SIMULATOR_LATENCY_MS",
        "0",
        "fault injection: each simulator call waits a random 0 to this many milliseconds; "
        "refused in production",
    ),
    Setting(
        "PSP_SIMULATOR_RESOLUTION_SECONDS",
        "60",
        "seconds after a simulated time-out until the simulator has the answer `resolve-processing` asks for",
    ),
    Setting(
        "PSP_WEBHOOK_METRICS_PORT",
        "0",
        "port on which `psp worker webhooks` serves its Prometheus metrics at /metrics (0: not served)",
    ),
    Setting(
        "PSP_IDEMPOTENCY_KEY_TTL_DAYS",
        "30",
        "days an `Idempotency-Key` and its stored response are kept before `psp jobs prune-idempotency-keys`",
    ),
)


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    web_concurrency: int
    web_threads: int
    db_pool_size: int
    db_statement_timeout_ms: int
    log_format: str
    log_level: str
    auth_cache_seconds: float
    max_body_bytes: int
    max_json_depth: int
    trusted_proxy_hops: int
    rate_limit_per_key: int
    rate_limit_burst: int
    auth_failure_limit: int
    auth_failure_refill_seconds: int
    queue_backend: str
    sqs_endpoint_url: str | None
    aws_region: str
    sqs_payables_queue: str
    sqs_payables_dlq: str
    sqs_webhooks_queue: str
    sqs_webhooks_dlq: str
    worker_batch_size: int
    worker_visibility_timeout: int
    worker_max_receives: int
    worker_poll_interval: float
    worker_linger_ms: int
    card_fingerprint_key: bytes = field(repr=False)
    data_encryption_key: bytes = field(repr=False)
    data_encryption_old_keys: tuple[bytes, ...] = field(repr=False)
    default_currency: str
    debit_fee_bps: int
    credit_fee_bps: int
    settlement_timezone: zoneinfo.ZoneInfo
    settlement_time: time
    settlement_chunk_size: int
    settlement_settlers: int
    acquirer: str
    simulator_failure_rate: float
    simulator_timeout_rate: float
    simulator_latency_ms: int
    simulator_resolution_seconds: int
    idempotency_key_ttl_days: int
    webhook_concurrency: int
    webhook_timeout_seconds: float
    webhook_retry_base_seconds: float
    webhook_metrics_port: int

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read, parse and check every ``PSP_*`` variable; raise ConfigurationError naming the bad one."""
        source = os.environ if environ is None else environ
        read = _Reader(source)
        env = read.choice("PSP_ENV", ENVIRONMENTS)
        fingerprint_key = read.optional("PSP_CARD_FINGERPRINT_KEY")
        if fingerprint_key is None and env == "production":
            raise ConfigurationError(
                "PSP_CARD_FINGERPRINT_KEY must be set in production", code="missing_setting"
            )
        if fingerprint_key is not None and len(fingerprint_key) < 16:
            raise ConfigurationError(
                "PSP_CARD_FINGERPRINT_KEY must be at least 16 characters", code="invalid_setting"
            )
        data_key = read.optional("PSP_DATA_ENCRYPTION_KEY")
        if data_key is None and env == "production":
            raise ConfigurationError(
                "PSP_DATA_ENCRYPTION_KEY must be set in production", code="missing_setting"
            )
        data_encryption_key = (
            _development_data_key() if data_key is None else _data_key(data_key, "PSP_DATA_ENCRYPTION_KEY")
        )
        if env == "production" and data_encryption_key == _development_data_key():
            raise ConfigurationError(
                "PSP_DATA_ENCRYPTION_KEY must not be the development key in production",
                code="invalid_setting",
            )
        old_keys = read.optional("PSP_DATA_ENCRYPTION_OLD_KEYS") or ""
        data_encryption_old_keys = tuple(
            _data_key(part, "PSP_DATA_ENCRYPTION_OLD_KEYS") for part in old_keys.split(",") if part.strip()
        )
        database_url = read.optional("PSP_DATABASE_URL")
        if database_url is None and env == "production":
            raise ConfigurationError("PSP_DATABASE_URL must be set in production", code="missing_setting")
        failure_rate = read.number("PSP_SIMULATOR_FAILURE_RATE", minimum=0.0, maximum=1.0)
        timeout_rate = read.number("PSP_SIMULATOR_TIMEOUT_RATE", minimum=0.0, maximum=1.0)
        latency_ms = read.integer("PSP_SIMULATOR_LATENCY_MS", minimum=0, maximum=60_000)
        if env == "production" and (failure_rate or timeout_rate or latency_ms):
            raise ConfigurationError(
                "PSP_SIMULATOR_FAILURE_RATE, PSP_SIMULATOR_TIMEOUT_RATE and PSP_SIMULATOR_LATENCY_MS "
                "inject faults and must stay 0 in production",
                code="invalid_setting",
            )
        settings = cls(
            env=env,
            database_url=database_url,
            data_dir=Path(read.text("PSP_DATA_DIR")).absolute(),
            host=read.text("PSP_HOST"),
            port=read.integer("PSP_PORT", minimum=1, maximum=65535),
            web_concurrency=read.integer("PSP_WEB_CONCURRENCY", minimum=1),
            web_threads=read.integer("PSP_WEB_THREADS", minimum=1),
            db_pool_size=read.integer("PSP_DB_POOL_SIZE", minimum=1),
            db_statement_timeout_ms=read.integer("PSP_DB_STATEMENT_TIMEOUT_MS", minimum=0),
            log_format=read.optional_choice("PSP_LOG_FORMAT", LOG_FORMATS)
            or ("console" if env == "development" else "json"),
            log_level=read.choice("PSP_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
            auth_cache_seconds=read.number("PSP_AUTH_CACHE_SECONDS", minimum=0.0),
            max_body_bytes=read.integer("PSP_MAX_BODY_BYTES", minimum=1024),
            max_json_depth=read.integer("PSP_MAX_JSON_DEPTH", minimum=1, maximum=1000),
            trusted_proxy_hops=read.integer("PSP_TRUSTED_PROXY_HOPS", minimum=0, maximum=10),
            rate_limit_per_key=read.integer("PSP_RATE_LIMIT_PER_KEY", minimum=0),
            rate_limit_burst=read.integer("PSP_RATE_LIMIT_BURST", minimum=1),
            auth_failure_limit=read.integer("PSP_AUTH_FAILURE_LIMIT", minimum=0),
            auth_failure_refill_seconds=read.integer("PSP_AUTH_FAILURE_REFILL_SECONDS", minimum=1),
            queue_backend=read.choice("PSP_QUEUE_BACKEND", QUEUE_BACKENDS),
            sqs_endpoint_url=read.optional("PSP_SQS_ENDPOINT_URL"),
            aws_region=read.text("PSP_AWS_REGION"),
            sqs_payables_queue=read.text("PSP_SQS_PAYABLES_QUEUE"),
            sqs_payables_dlq=read.text("PSP_SQS_PAYABLES_DLQ"),
            sqs_webhooks_queue=read.text("PSP_SQS_WEBHOOKS_QUEUE"),
            sqs_webhooks_dlq=read.text("PSP_SQS_WEBHOOKS_DLQ"),
            worker_batch_size=read.integer("PSP_WORKER_BATCH_SIZE", minimum=1, maximum=10_000),
            worker_visibility_timeout=read.integer("PSP_WORKER_VISIBILITY_TIMEOUT", minimum=1),
            worker_max_receives=read.integer("PSP_WORKER_MAX_RECEIVES", minimum=1),
            worker_poll_interval=read.number("PSP_WORKER_POLL_INTERVAL", minimum=0.0),
            worker_linger_ms=read.integer("PSP_WORKER_LINGER_MS", minimum=0, maximum=10_000),
            card_fingerprint_key=(fingerprint_key or _development_fingerprint_key()).encode(),
            data_encryption_key=data_encryption_key,
            data_encryption_old_keys=data_encryption_old_keys,
            default_currency=read.parsed("PSP_DEFAULT_CURRENCY", _currency_code),
            debit_fee_bps=read.integer("PSP_DEBIT_FEE_BPS", minimum=0, maximum=10_000),
            credit_fee_bps=read.integer("PSP_CREDIT_FEE_BPS", minimum=0, maximum=10_000),
            settlement_timezone=read.parsed("PSP_SETTLEMENT_TIMEZONE", zoneinfo.ZoneInfo),
            settlement_time=read.parsed("PSP_SETTLEMENT_TIME", _time_of_day),
            settlement_chunk_size=read.integer("PSP_SETTLEMENT_CHUNK_SIZE", minimum=1),
            settlement_settlers=read.integer("PSP_SETTLEMENT_SETTLERS", minimum=1, maximum=16),
            acquirer=read.choice("PSP_ACQUIRER", ("simulator",)),
            simulator_failure_rate=failure_rate,
            simulator_timeout_rate=timeout_rate,
            simulator_latency_ms=latency_ms,
            simulator_resolution_seconds=read.integer("PSP_SIMULATOR_RESOLUTION_SECONDS", minimum=0),
            idempotency_key_ttl_days=read.integer("PSP_IDEMPOTENCY_KEY_TTL_DAYS", minimum=1),
            webhook_concurrency=read.integer("PSP_WEBHOOK_CONCURRENCY", minimum=1, maximum=256),
            webhook_timeout_seconds=read.number("PSP_WEBHOOK_TIMEOUT_SECONDS", minimum=0.1),
            webhook_retry_base_seconds=read.number("PSP_WEBHOOK_RETRY_BASE_SECONDS", minimum=0.001),
            webhook_metrics_port=read.integer("PSP_WEBHOOK_METRICS_PORT", minimum=0, maximum=65535),
        )
        if settings.settlement_settlers > settings.db_pool_size:
            raise ConfigurationError(
                "PSP_SETTLEMENT_SETTLERS must not exceed PSP_DB_POOL_SIZE: each settler holds a connection",
                code="invalid_setting",
            )
        return settings


def _development_fingerprint_key() -> str:
    # Outside production a fixed key keeps fingerprints stable across restarts of a demo; production
    # refuses to start without a real one (see from_env).
    return "psp-development-fingerprint-key"


def _development_data_key() -> bytes:
    # Like the fingerprint key: fixed outside production so a demo's sealed rows survive a restart;
    # production refuses to start without a key of its own (see from_env).
    return hashlib.sha256(b"psp-development-data-encryption-key").digest()


def _data_key(value: str, name: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            f"{name} must be base64 (of 32 random bytes)", code="invalid_setting"
        ) from None
    if len(key) != DATA_KEY_BYTES:
        raise ConfigurationError(
            f"{name} must be the base64 of exactly {DATA_KEY_BYTES} random bytes, not {len(key)}",
            code="invalid_setting",
        )
    return key


def _currency_code(raw: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", raw):
        raise ValueError("expected an ISO 4217 code such as BRL")
    return raw


def _time_of_day(raw: str) -> time:
    match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", raw)
    if match is None:
        raise ValueError("expected HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


_DEFAULTS = {setting.env: setting.default for setting in SETTINGS}


class _Reader:
    """Reads one variable at a time, falling back to its declared default, naming it in every error."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source

    def optional(self, name: str) -> str | None:
        value = self._source.get(name, _DEFAULTS[name])
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise ConfigurationError(f"{name} must not be empty", code="missing_setting")
        return value

    def parsed(self, name: str, parse: Callable[[str], Any]) -> Any:
        raw = self.text(name)
        try:
            return parse(raw)
        except (ValueError, KeyError, zoneinfo.ZoneInfoNotFoundError) as error:
            raise ConfigurationError(f"{name}={raw!r} is invalid: {error}", code="invalid_setting") from None

    def integer(self, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
        value: int = self.parsed(name, int)
        self._check_range(name, value, minimum, maximum)
        return value

    def number(self, name: str, minimum: float | None = None, maximum: float | None = None) -> float:
        value: float = self.parsed(name, float)
        self._check_range(name, value, minimum, maximum)
        return value

    def choice(self, name: str, choices: tuple[str, ...], upper: bool = False) -> str:
        value = self.text(name)
        value = value.upper() if upper else value.lower()
        if value not in choices:
            raise ConfigurationError(f"{name} must be one of {', '.join(choices)}", code="invalid_setting")
        return value

    def optional_choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        return None if self.optional(name) is None else self.choice(name, choices)

    @staticmethod
    def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise ConfigurationError(f"{name} must be at least {minimum}", code="invalid_setting")
        if maximum is not None and value > maximum:
            raise ConfigurationError(f"{name} must be at most {maximum}", code="invalid_setting")
