"""The composition root: the one place that chooses and wires adapters from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from psp.config import Settings
from psp.data_sources.encryption import SecretBox
from psp.data_sources.postgres.engine import build_engine, resolve_database_url
from psp.data_sources.postgres.unit_of_work import PostgresUnitOfWork
from psp.domain.webhooks import RetrySchedule
from psp.lib.errors import ConfigurationError
from psp.lib.metrics import PipelineHealth, WebhookHealth
from psp.repositories.acquirers import SimulatorAcquirer, SimulatorFaults
from psp.repositories.ports import (
    Acquirer,
    EventPublisher,
    EventQueue,
    HostResolver,
    UnitOfWork,
    WebhookSender,
)
from psp.repositories.postgres.operations import read_pipeline_health, read_webhook_health
from psp.repositories.postgres.queue import EVENTS, PostgresEventQueue
from psp.repositories.postgres.resealing import ResealReport, reseal_all
from psp.repositories.webhook_http import HttpWebhookSender, SocketHostResolver
from psp.services.clock import Clock, utc_now


@dataclass
class Container:
    settings: Settings
    database_url: str
    engine: Engine
    acquirer: Acquirer
    box: SecretBox  # seals webhook secrets and stored responses in the Postgres repositories
    clock: Clock = field(default=utc_now)
    _event_queue: EventQueue | None = field(default=None, init=False, repr=False)
    _webhook_queue: EventQueue | None = field(default=None, init=False, repr=False)
    _resolver: HostResolver | None = field(default=None, init=False, repr=False)

    def uow(self) -> UnitOfWork:
        return PostgresUnitOfWork(self.engine, self.box)

    @property
    def uow_factory(self) -> Callable[[], UnitOfWork]:
        return self.uow

    def event_queue(self) -> EventQueue:
        """The process's one queue adapter, built on first use (SQS clients are costly to create)."""
        if self._event_queue is None:
            self._event_queue = self._build_event_queue()
        return self._event_queue

    def _build_event_queue(self) -> EventQueue:
        if self.settings.queue_backend == "sqs":
            # Imported here: boto3 is slow to import and only SQS deployments need it.
            from psp.repositories.sqs.queue import SqsEventQueue  # noqa: PLC0415

            return SqsEventQueue.from_settings(self.settings)
        return PostgresEventQueue(
            self.engine,
            visibility_timeout=self.settings.worker_visibility_timeout,
            max_receives=self.settings.worker_max_receives,
            poll_interval=self.settings.worker_poll_interval,
        )

    def webhook_event_queue(self) -> EventQueue:
        """The webhooks worker's queue: the events table (postgres) or its own SQS queue and DLQ."""
        if self._webhook_queue is None:
            if self.settings.queue_backend == "sqs":
                from psp.repositories.sqs.queue import SqsEventQueue  # noqa: PLC0415 - boto3 only when used

                self._webhook_queue = SqsEventQueue.from_settings(self.settings, webhooks=True)
            else:
                self._webhook_queue = PostgresEventQueue(
                    self.engine,
                    visibility_timeout=self.settings.worker_visibility_timeout,
                    max_receives=self.settings.worker_max_receives,
                    poll_interval=self.settings.worker_poll_interval,
                    table=EVENTS,
                )
        return self._webhook_queue

    def webhook_event_publisher(self) -> EventPublisher:
        """The relay's side of the SQS webhooks queue."""
        if self.settings.queue_backend != "sqs":
            raise ConfigurationError("the outbox relay needs PSP_QUEUE_BACKEND=sqs", code="invalid_setting")
        from psp.repositories.sqs.queue import SqsEventPublisher  # noqa: PLC0415 - boto3 only when used

        return SqsEventPublisher.from_settings(self.settings, webhooks=True)

    def host_resolver(self) -> HostResolver:
        if self._resolver is None:
            self._resolver = SocketHostResolver()
        return self._resolver

    def webhook_sender(self) -> WebhookSender:
        return HttpWebhookSender(timeout=self.settings.webhook_timeout_seconds, resolver=self.host_resolver())

    def retry_schedule(self) -> RetrySchedule:
        return RetrySchedule.scaled(self.settings.webhook_retry_base_seconds)

    def event_publisher(self) -> EventPublisher:
        """The relay's side of SQS; with the Postgres queue the outbox itself is the queue."""
        if self.settings.queue_backend != "sqs":
            raise ConfigurationError("the outbox relay needs PSP_QUEUE_BACKEND=sqs", code="invalid_setting")
        from psp.repositories.sqs.queue import SqsEventPublisher  # noqa: PLC0415 - boto3 only when used

        return SqsEventPublisher.from_settings(self.settings)

    def pipeline_health(self) -> PipelineHealth:
        return read_pipeline_health(self.engine)

    def reseal_data(self) -> ResealReport:
        """Reseal with PSP_DATA_ENCRYPTION_KEY whatever an old key sealed (after a key rotation)."""
        return reseal_all(self.engine, self.box)

    def webhook_health(self) -> WebhookHealth:
        return read_webhook_health(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None,
    *,
    application_name: str = "psp",
    statement_timeout_ms: int | None = None,
    database_url: str | None = None,
) -> Container:
    """Build the adapters the settings ask for. Call once per process (after forking, for servers)."""
    settings = settings or Settings.from_env()
    url = database_url or resolve_database_url(settings)
    engine = build_engine(
        url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=(
            settings.db_statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
        ),
        application_name=application_name,
    )
    return Container(
        settings=settings,
        database_url=url,
        engine=engine,
        acquirer=build_acquirer(settings),
        box=data_box(settings),
    )


def data_box(settings: Settings) -> SecretBox:
    """The cipher of data at rest: seals with the current key, still opens with the old ones."""
    return SecretBox(settings.data_encryption_key, settings.data_encryption_old_keys)


def build_acquirer(settings: Settings) -> Acquirer:
    """The simulator, misbehaving only as far as the (non-production) fault-injection settings say."""
    faults = SimulatorFaults(
        failure_rate=settings.simulator_failure_rate,
        timeout_rate=settings.simulator_timeout_rate,
        max_latency_ms=settings.simulator_latency_ms,
    )
    return SimulatorAcquirer(
        faults=faults, resolution_delay=timedelta(seconds=settings.simulator_resolution_seconds)
    )
