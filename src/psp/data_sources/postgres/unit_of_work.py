"""The Postgres unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, Self, cast

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import DBAPIError, OperationalError

from psp.data_sources.encryption import SecretBox
from psp.lib.errors import RETRY_AFTER_SECONDS, ServiceUnavailable
from psp.repositories.postgres.appends import PENDING_OPTION, PendingAppends, hold_appends_until_needed
from psp.repositories.postgres.events import PostgresEventRepository
from psp.repositories.postgres.idempotency import PostgresIdempotencyKeyRepository
from psp.repositories.postgres.merchants import PostgresApiKeyRepository, PostgresMerchantRepository
from psp.repositories.postgres.outbox import PostgresOutboxRepository
from psp.repositories.postgres.payables import PostgresPayableRepository
from psp.repositories.postgres.refunds import PostgresRefundRepository
from psp.repositories.postgres.transactions import PostgresTransactionRepository
from psp.repositories.postgres.webhooks import (
    PostgresWebhookDeliveryRepository,
    PostgresWebhookEndpointRepository,
)


class PostgresUnitOfWork:
    merchants: PostgresMerchantRepository
    api_keys: PostgresApiKeyRepository
    transactions: PostgresTransactionRepository
    payables: PostgresPayableRepository
    outbox: PostgresOutboxRepository
    idempotency_keys: PostgresIdempotencyKeyRepository
    refunds: PostgresRefundRepository
    events: PostgresEventRepository
    webhook_endpoints: PostgresWebhookEndpointRepository
    webhook_deliveries: PostgresWebhookDeliveryRepository

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        self._engine = engine
        self._box = box  # seals what the repositories must read back in the clear
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._appends = PendingAppends()  # written before the next statement or at commit; dropped at exit
        hold_appends_until_needed(engine)

    def __enter__(self) -> Self:
        try:
            connection = self._engine.connect()
        except OperationalError as error:
            raise database_unavailable() from error
        self._connection = connection
        # Rows appended are written before the connection's next statement or at commit (see appends).
        appends = self._appends
        connection.execution_options(**{PENDING_OPTION: appends})
        self._transaction = connection.begin()
        self.merchants = PostgresMerchantRepository(connection)
        self.api_keys = PostgresApiKeyRepository(connection)
        self.transactions = PostgresTransactionRepository(connection, appends)
        self.payables = PostgresPayableRepository(connection)
        self.outbox = PostgresOutboxRepository(connection, appends)
        self.idempotency_keys = PostgresIdempotencyKeyRepository(connection, self._box)
        self.refunds = PostgresRefundRepository(connection)
        self.events = PostgresEventRepository(connection, appends)
        self.webhook_endpoints = PostgresWebhookEndpointRepository(connection, self._box)
        self.webhook_deliveries = PostgresWebhookDeliveryRepository(connection, self._box)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection, self._connection, self._transaction = self._connection, None, None
        self._appends.discard()  # not committed: never written
        if connection is None:
            return
        with contextlib.suppress(DBAPIError):  # a broken connection: the pool discards it
            connection.close()  # rolls back whatever was not committed
        if isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, OperationalError)):
            raise database_unavailable() from exc

    def commit(self) -> None:
        if self._transaction is None or self._connection is None:
            raise RuntimeError("commit outside the unit of work's block")
        try:
            if self._appends and nothing_sent_in_this_transaction(self._connection):
                write_alone_in_autocommit(self._appends, self._connection)
            else:
                self._appends.write(self._connection)
            self._transaction.commit()  # after a write alone: nothing left to commit, no round trip
        except OperationalError as error:
            raise database_unavailable() from error

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()


def driver_connection_of(connection: Connection) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)


def nothing_sent_in_this_transaction(connection: Connection) -> bool:
    """True while the driver has not begun a database transaction (it sends BEGIN with a first statement)."""
    return driver_connection_of(connection).info.transaction_status == TransactionStatus.IDLE


def write_alone_in_autocommit(appends: PendingAppends, connection: Connection) -> None:
    """Write the held rows as a statement of its own, atomic and durable by itself, so without the BEGIN
    and COMMIT round trips: an approval's whole unit of work is this one statement."""
    driver_connection = driver_connection_of(connection)
    driver_connection.autocommit = True
    try:
        appends.write(connection)
    finally:
        try:
            driver_connection.autocommit = False
        except psycopg.Error:  # the connection broke under the write
            connection.invalidate()  # never back to the pool still in autocommit


def database_unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the database is unavailable; retry shortly",
        code="database_unavailable",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )
