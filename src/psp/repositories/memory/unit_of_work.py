"""In-memory repositories and unit of work: changes are staged and applied only on commit."""

from __future__ import annotations

import builtins
import copy
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

from psp.domain.events import (
    PAYABLE_CREATED,
    PAYABLE_PAID,
    TRANSACTION_PAID,
    Event,
    OutboxEvent,
    event_body,
    payable_event_of,
    transaction_event_of,
)
from psp.domain.ids import new_id
from psp.domain.merchants import ApiKey, Merchant
from psp.domain.pagination import Cursor, Listable, Page, PageRequest
from psp.domain.payables import Balance, BalanceLine, Payable, PayableStatus
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction, TransactionStatus
from psp.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    DueDelivery,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from psp.repositories.memory.idempotency import IdempotencyRecords, InMemoryIdempotencyKeyRepository
from psp.repositories.ports import CurrencyTotals, PayableFilters, SettledChunk

T = TypeVar("T", bound=Listable)


@dataclass
class InMemoryStore:
    """The 'database': shared by every unit of work made from it."""

    merchants: dict[UUID, Merchant] = field(default_factory=dict)
    api_keys: dict[UUID, ApiKey] = field(default_factory=dict)
    transactions: dict[UUID, Transaction] = field(default_factory=dict)
    payables: dict[UUID, Payable] = field(default_factory=dict)
    outbox: list[OutboxEvent] = field(default_factory=list)
    published: dict[UUID, datetime] = field(default_factory=dict)  # relayed outbox events, by id
    refunds: dict[UUID, Refund] = field(default_factory=dict)
    idempotency_keys: IdempotencyRecords = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    events_published: dict[UUID, datetime] = field(default_factory=dict)
    webhook_endpoints: dict[UUID, WebhookEndpoint] = field(default_factory=dict)
    deleted_endpoints: set[UUID] = field(default_factory=set)
    webhook_deliveries: dict[UUID, WebhookDelivery] = field(default_factory=dict)
    delivery_retrying_since: dict[UUID, datetime] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


def _page(items: Iterable[T], page: PageRequest) -> Page[T]:
    ordered = sorted(items, key=lambda item: (item.created_at, item.id), reverse=True)
    if page.starting_after is not None:
        after = (page.starting_after.created_at, page.starting_after.id)
        ordered = [item for item in ordered if (item.created_at, item.id) < after]
    return Page(items=ordered[: page.limit], has_more=len(ordered) > page.limit)


class InMemoryMerchantRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, merchant: Merchant) -> None:
        self._staged.merchants[merchant.id] = merchant

    def get(self, merchant_id: UUID) -> Merchant | None:
        return self._staged.merchants.get(merchant_id)

    def find_by_name(self, name: str) -> Merchant | None:
        matches = sorted(
            (m for m in self._staged.merchants.values() if m.name == name), key=lambda m: m.created_at
        )
        return matches[0] if matches else None


class InMemoryApiKeyRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, key: ApiKey) -> None:
        if any(existing.key_hash == key.key_hash for existing in self._staged.api_keys.values()):
            raise ValueError("duplicate key hash")
        self._staged.api_keys[key.id] = key

    def find_with_merchant_by_hash(self, key_hash: str) -> tuple[ApiKey, Merchant] | None:
        key = next((k for k in self._staged.api_keys.values() if k.key_hash == key_hash), None)
        return None if key is None else (key, self._staged.merchants[key.merchant_id])

    def get(self, merchant_id: UUID, key_id: UUID) -> ApiKey | None:
        key = self._staged.api_keys.get(key_id)
        return key if key is not None and key.merchant_id == merchant_id else None

    def revoke(self, merchant_id: UUID, key_id: UUID, at: datetime) -> bool:
        key = self.get(merchant_id, key_id)
        if key is None or not key.is_active:
            return False
        self._staged.api_keys[key_id] = replace(key, revoked_at=at)
        return True


class InMemoryTransactionRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, transaction: Transaction) -> None:
        self._staged.transactions[transaction.id] = transaction

    def get(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None:
        transaction = self._staged.transactions.get(transaction_id)
        return transaction if transaction is not None and transaction.merchant_id == merchant_id else None

    def list(self, merchant_id: UUID, page: PageRequest) -> Page[Transaction]:
        mine = (t for t in self._staged.transactions.values() if t.merchant_id == merchant_id)
        return _page(mine, page)

    def mark_paid_when_fully_settled(self, transaction_ids: Sequence[UUID], at: datetime) -> int:
        unpaid = {
            p.transaction_id for p in self._staged.payables.values() if p.status is not PayableStatus.PAID
        }
        return sum(
            _mark_transaction_paid(self._staged, transaction_id, at)
            for transaction_id in transaction_ids
            if transaction_id not in unpaid
        )

    def get_for_update(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None:
        return self.get(merchant_id, transaction_id)  # one unit of work at a time: nothing to lock

    def update(self, transaction: Transaction) -> None:
        stored = self._staged.transactions[transaction.id]
        self._staged.transactions[transaction.id] = replace(
            stored,
            status=transaction.status,
            amount_refunded=transaction.amount_refunded,
            decline_code=transaction.decline_code,
            updated_at=transaction.updated_at,
            version=transaction.version,
        )

    def claim_processing(self, limit: int, after: Cursor | None = None) -> builtins.list[Transaction]:
        processing = sorted(
            (t for t in self._staged.transactions.values() if t.status is TransactionStatus.PROCESSING),
            key=lambda t: (t.created_at, t.id),
        )
        if after is not None:
            processing = [t for t in processing if (t.created_at, t.id) > (after.created_at, after.id)]
        return processing[:limit]


class InMemoryPayableRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add_all_new(self, payables: Sequence[Payable]) -> int:
        existing = {(p.transaction_id, p.installment) for p in self._staged.payables.values()}
        created = 0
        for payable in payables:
            if (payable.transaction_id, payable.installment) in existing:
                continue
            existing.add((payable.transaction_id, payable.installment))
            self._staged.payables[payable.id] = payable
            created_event = payable_event_of(PAYABLE_CREATED, payable, payable.created_at)
            _append_set_based_event(self._staged, created_event)
            created += 1
        return created

    def get(self, merchant_id: UUID, payable_id: UUID) -> Payable | None:
        payable = self._staged.payables.get(payable_id)
        return payable if payable is not None and payable.merchant_id == merchant_id else None

    def list(self, merchant_id: UUID, filters: PayableFilters, page: PageRequest) -> Page[Payable]:
        checks: list[Callable[[Payable], bool]] = [lambda p: p.merchant_id == merchant_id]
        if filters.status is not None:
            checks.append(lambda p: p.status is filters.status)
        if filters.payment_date_gte is not None:
            gte = filters.payment_date_gte
            checks.append(lambda p: p.payment_date >= gte)
        if filters.payment_date_lte is not None:
            lte = filters.payment_date_lte
            checks.append(lambda p: p.payment_date <= lte)
        if filters.transaction_id is not None:
            checks.append(lambda p: p.transaction_id == filters.transaction_id)
        return _page((p for p in self._staged.payables.values() if all(c(p) for c in checks)), page)

    def balance(self, merchant_id: UUID) -> Balance:
        sums: dict[tuple[PayableStatus, str], int] = defaultdict(int)
        for payable in self._staged.payables.values():
            if payable.merchant_id == merchant_id:
                sums[(payable.status, payable.currency)] += payable.net_amount

        def lines(status: PayableStatus) -> list[BalanceLine]:
            return [
                BalanceLine(amount=total, currency=currency)
                for (line_status, currency), total in sorted(sums.items(), key=lambda item: item[0][1])
                if line_status is status and total != 0
            ]

        return Balance(available=lines(PayableStatus.PAID), waiting_funds=lines(PayableStatus.WAITING_FUNDS))

    def list_for_transaction_for_update(self, transaction_id: UUID) -> builtins.list[Payable]:
        return sorted(
            (p for p in self._staged.payables.values() if p.transaction_id == transaction_id),
            key=lambda p: p.installment,
        )

    def update_amounts(self, payables: Sequence[Payable]) -> None:
        for payable in payables:
            stored = self._staged.payables[payable.id]
            self._staged.payables[payable.id] = replace(
                stored,
                amount=payable.amount,
                fee=payable.fee,
                net_amount=payable.net_amount,
                version=stored.version + 1,
            )

    def settle_due(self, run_date: date, limit: int, at: datetime) -> SettledChunk:
        due = sorted(
            (
                p
                for p in self._staged.payables.values()
                if p.status is PayableStatus.WAITING_FUNDS and p.payment_date <= run_date
            ),
            key=lambda p: (p.payment_date, p.id),
        )[:limit]
        totals: dict[str, CurrencyTotals] = {}
        for payable in due:
            paid = replace(payable, status=PayableStatus.PAID, paid_at=at, version=payable.version + 1)
            self._staged.payables[payable.id] = paid
            _append_set_based_event(self._staged, payable_event_of(PAYABLE_PAID, paid, at))
            total = totals.get(payable.currency, CurrencyTotals())
            totals[payable.currency] = CurrencyTotals(
                count=total.count + 1,
                gross=total.gross + payable.amount,
                fee=total.fee + payable.fee,
                net=total.net + payable.net_amount,
            )
        touched = sorted({p.transaction_id for p in due})
        completed = [
            tid
            for tid in touched
            if self._is_single_installment(tid) and _mark_transaction_paid(self._staged, tid, at)
        ]
        return SettledChunk(
            totals=totals,
            transaction_ids=[tid for tid in touched if tid not in completed],
            transactions_paid=len(completed),
            claimed=len(due),
        )

    def _is_single_installment(self, transaction_id: UUID) -> bool:
        transaction = self._staged.transactions.get(transaction_id)
        return transaction is not None and transaction.installments == 1


def _mark_transaction_paid(staged: InMemoryStore, transaction_id: UUID, at: datetime) -> bool:
    """Move a ``waiting_funds`` transaction to ``paid`` with its event; False if it is in another status."""
    transaction = staged.transactions.get(transaction_id)
    if transaction is None or transaction.status is not TransactionStatus.WAITING_FUNDS:
        return False
    paid = replace(transaction, status=TransactionStatus.PAID, updated_at=at, version=transaction.version + 1)
    staged.transactions[transaction_id] = paid
    _append_set_based_event(staged, transaction_event_of(TRANSACTION_PAID, paid, at))
    return True


def _append_set_based_event(staged: InMemoryStore, event: Event) -> None:
    """As Postgres writes them: handed off already when no live endpoint of the merchant wants the type."""
    staged.events.append(event)
    wanted = any(
        _is_live(staged, endpoint) and endpoint.wants(event.type)
        for endpoint in staged.webhook_endpoints.values()
        if endpoint.merchant_id == event.merchant_id
    )
    if not wanted:
        staged.events_published[event.id] = event.created_at


def _is_live(staged: InMemoryStore, endpoint: WebhookEndpoint) -> bool:
    return endpoint.status is EndpointStatus.ENABLED and endpoint.id not in staged.deleted_endpoints


class InMemoryOutboxRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, event: OutboxEvent) -> None:
        self._staged.outbox.append(event)

    def claim_unpublished(self, limit: int) -> list[OutboxEvent]:
        unpublished = (event for event in self._staged.outbox if event.id not in self._staged.published)
        return sorted(unpublished, key=lambda event: (event.created_at, event.id))[:limit]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        for event_id in event_ids:
            self._staged.published[event_id] = at

    def count_unpublished(self) -> int:
        return sum(1 for event in self._staged.outbox if event.id not in self._staged.published)


class InMemoryEventRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, event: Event) -> None:
        self._staged.events.append(event)

    def get(self, merchant_id: UUID, event_id: UUID) -> Event | None:
        return next(
            (e for e in self._staged.events if e.id == event_id and e.merchant_id == merchant_id), None
        )

    def list(self, merchant_id: UUID, event_type: str | None, page: PageRequest) -> Page[Event]:
        mine = (
            e
            for e in self._staged.events
            if e.merchant_id == merchant_id and (event_type is None or e.type == event_type)
        )
        return _page(mine, page)

    def ids_since(
        self, since: datetime, merchant_id: UUID | None, limit: int, after: UUID | None
    ) -> builtins.list[UUID]:
        ids = sorted(
            e.id
            for e in self._staged.events
            if e.created_at >= since
            and (merchant_id is None or e.merchant_id == merchant_id)
            and (after is None or e.id > after)
        )
        return ids[:limit]

    def claim_unpublished(self, limit: int) -> builtins.list[Event]:
        unpublished = (e for e in self._staged.events if e.id not in self._staged.events_published)
        return sorted(unpublished, key=lambda e: (e.created_at, e.id))[:limit]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        for event_id in event_ids:
            self._staged.events_published[event_id] = at

    def count_unpublished(self) -> int:
        return sum(1 for e in self._staged.events if e.id not in self._staged.events_published)


class InMemoryWebhookEndpointRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, endpoint: WebhookEndpoint) -> None:
        self._staged.webhook_endpoints[endpoint.id] = endpoint

    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None:
        found = self._staged.webhook_endpoints.get(endpoint_id)
        if found is None or found.merchant_id != merchant_id or endpoint_id in self._staged.deleted_endpoints:
            return None
        return found

    def list(self, merchant_id: UUID, page: PageRequest) -> Page[WebhookEndpoint]:
        return _page((e for e in self._usable() if e.merchant_id == merchant_id), page)

    def owner(self, endpoint_id: UUID) -> UUID | None:
        found = self._staged.webhook_endpoints.get(endpoint_id)
        if found is None or endpoint_id in self._staged.deleted_endpoints:
            return None
        return found.merchant_id

    def update(self, endpoint: WebhookEndpoint) -> None:
        self._staged.webhook_endpoints[endpoint.id] = endpoint

    def delete(self, merchant_id: UUID, endpoint_id: UUID, at: datetime) -> bool:
        if self.get(merchant_id, endpoint_id) is None:
            return False
        self._staged.deleted_endpoints.add(endpoint_id)
        self._fail_pending(endpoint_id)
        return True

    def note_success(self, endpoint_id: UUID) -> None:
        stored = self._staged.webhook_endpoints[endpoint_id]
        self._staged.webhook_endpoints[endpoint_id] = replace(stored, failing_since=None)

    def note_failure(self, endpoint_id: UUID, at: datetime) -> datetime | None:
        stored = self._staged.webhook_endpoints[endpoint_id]
        since = stored.failing_since or at
        self._staged.webhook_endpoints[endpoint_id] = replace(stored, failing_since=since)
        return since

    def disable(self, endpoint_id: UUID, reason: str, at: datetime) -> None:
        stored = self._staged.webhook_endpoints[endpoint_id]
        self._staged.webhook_endpoints[endpoint_id] = replace(
            stored, status=EndpointStatus.DISABLED, disabled_reason=reason
        )
        self._fail_pending(endpoint_id)

    def _usable(self) -> Iterable[WebhookEndpoint]:
        return (
            e for e in self._staged.webhook_endpoints.values() if e.id not in self._staged.deleted_endpoints
        )

    def _fail_pending(self, endpoint_id: UUID) -> None:
        for delivery in list(self._staged.webhook_deliveries.values()):
            if delivery.endpoint_id == endpoint_id and delivery.status is DeliveryStatus.PENDING:
                self._staged.webhook_deliveries[delivery.id] = replace(
                    delivery, status=DeliveryStatus.FAILED, next_attempt_at=None
                )


class InMemoryWebhookDeliveryRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def fan_out(self, event_ids: Sequence[UUID], at: datetime) -> int:
        return self._create(event_ids, None, at, redelivery=False)

    def redeliver(self, event_ids: Sequence[UUID], endpoint_id: UUID | None, at: datetime) -> int:
        created = self._create(event_ids, endpoint_id, at, redelivery=True)
        rescheduled = 0
        for delivery in list(self._staged.webhook_deliveries.values()):
            endpoint = self._staged.webhook_endpoints[delivery.endpoint_id]
            if (
                delivery.event_id in event_ids
                and self._usable(endpoint)
                and (endpoint_id is None or delivery.endpoint_id == endpoint_id)
                and (delivery.status is not DeliveryStatus.PENDING or (delivery.next_attempt_at or at) > at)
            ):
                self._staged.webhook_deliveries[delivery.id] = replace(
                    delivery, status=DeliveryStatus.PENDING, next_attempt_at=at
                )
                self._staged.delivery_retrying_since[delivery.id] = at
                rescheduled += 1
        return created + rescheduled

    def claim_due(self, limit: int, now: datetime, lease_seconds: float) -> builtins.list[DueDelivery]:
        due = sorted(
            (
                d
                for d in self._staged.webhook_deliveries.values()
                if d.status is DeliveryStatus.PENDING
                and d.next_attempt_at is not None
                and d.next_attempt_at <= now
                and self._usable(self._staged.webhook_endpoints[d.endpoint_id])
            ),
            key=lambda d: (d.next_attempt_at, d.id),
        )[:limit]
        claimed = []
        for delivery in due:
            self._staged.webhook_deliveries[delivery.id] = replace(
                delivery, next_attempt_at=now + timedelta(seconds=lease_seconds)
            )
            event = next(e for e in self._staged.events if e.id == delivery.event_id)
            claimed.append(
                DueDelivery(
                    id=delivery.id,
                    event_id=delivery.event_id,
                    endpoint=self._staged.webhook_endpoints[delivery.endpoint_id],
                    body=event_body(event),
                    attempts=delivery.attempts,
                    retrying_since=self._staged.delivery_retrying_since[delivery.id],
                )
            )
        return claimed

    def record_attempt(
        self, attempt: DeliveryAttempt, *, succeeded: bool, next_attempt_at: datetime | None
    ) -> None:
        delivery = self._staged.webhook_deliveries[attempt.delivery_id]
        if delivery.attempts == 0:
            self._staged.delivery_retrying_since[delivery.id] = attempt.attempted_at
        if succeeded:
            status = DeliveryStatus.SUCCEEDED
        else:
            status = DeliveryStatus.FAILED if next_attempt_at is None else DeliveryStatus.PENDING
        self._staged.webhook_deliveries[delivery.id] = replace(
            delivery,
            status=status,
            attempts=delivery.attempts + 1,
            next_attempt_at=next_attempt_at if status is DeliveryStatus.PENDING else None,
            attempt_log=(*delivery.attempt_log, attempt),
        )

    def list_for_event(self, merchant_id: UUID, event_id: UUID, page: PageRequest) -> Page[WebhookDelivery]:
        mine = (
            d
            for d in self._staged.webhook_deliveries.values()
            if d.event_id == event_id and d.merchant_id == merchant_id
        )
        return _page(mine, page)

    def _usable(self, endpoint: WebhookEndpoint) -> bool:
        return _is_live(self._staged, endpoint)

    def _create(
        self, event_ids: Sequence[UUID], endpoint_id: UUID | None, at: datetime, *, redelivery: bool
    ) -> int:
        existing = {(d.event_id, d.endpoint_id) for d in self._staged.webhook_deliveries.values()}
        created = 0
        for event in [e for e in self._staged.events if e.id in event_ids]:
            for endpoint in list(self._staged.webhook_endpoints.values()):
                if (
                    endpoint.merchant_id != event.merchant_id
                    or not self._usable(endpoint)
                    or not endpoint.wants(event.type)
                    or (event.id, endpoint.id) in existing
                ):
                    continue
                if not (
                    (endpoint_id is None and endpoint.created_at <= event.created_at)
                    or endpoint.id == endpoint_id
                    or redelivery
                ):
                    continue
                delivery = WebhookDelivery(
                    id=new_id(),
                    merchant_id=event.merchant_id,
                    event_id=event.id,
                    endpoint_id=endpoint.id,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
                self._staged.webhook_deliveries[delivery.id] = delivery
                self._staged.delivery_retrying_since[delivery.id] = at
                existing.add((event.id, endpoint.id))
                created += 1
        return created


class InMemoryRefundRepository:
    def __init__(self, staged: InMemoryStore) -> None:
        self._staged = staged

    def add(self, refund: Refund) -> None:
        self._staged.refunds[refund.id] = refund

    def get(self, merchant_id: UUID, refund_id: UUID) -> Refund | None:
        refund = self._staged.refunds.get(refund_id)
        return refund if refund is not None and refund.merchant_id == merchant_id else None

    def list_for_transaction(
        self, merchant_id: UUID, transaction_id: UUID, page: PageRequest
    ) -> Page[Refund]:
        mine = (
            r
            for r in self._staged.refunds.values()
            if r.merchant_id == merchant_id and r.transaction_id == transaction_id
        )
        return _page(mine, page)


class InMemoryUnitOfWork:
    """Works on a copy of the store; ``commit`` swaps the copy in.

    Meant for single-threaded service tests: two units of work open at once would not see each
    other's changes, and the last to commit would win.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._staged: InMemoryStore | None = None
        self.committed = False

    def __enter__(self) -> Self:
        with self._store.lock:
            self._staged = InMemoryStore(
                merchants=dict(self._store.merchants),
                api_keys=dict(self._store.api_keys),
                transactions=dict(self._store.transactions),
                payables=dict(self._store.payables),
                outbox=copy.copy(self._store.outbox),
                published=dict(self._store.published),
                idempotency_keys=dict(self._store.idempotency_keys),
                refunds=dict(self._store.refunds),
                events=copy.copy(self._store.events),
                events_published=dict(self._store.events_published),
                webhook_endpoints=dict(self._store.webhook_endpoints),
                deleted_endpoints=set(self._store.deleted_endpoints),
                webhook_deliveries=dict(self._store.webhook_deliveries),
                delivery_retrying_since=dict(self._store.delivery_retrying_since),
            )
        self.merchants = InMemoryMerchantRepository(self._staged)
        self.api_keys = InMemoryApiKeyRepository(self._staged)
        self.transactions = InMemoryTransactionRepository(self._staged)
        self.payables = InMemoryPayableRepository(self._staged)
        self.outbox = InMemoryOutboxRepository(self._staged)
        self.idempotency_keys = InMemoryIdempotencyKeyRepository(self._staged.idempotency_keys)
        self.refunds = InMemoryRefundRepository(self._staged)
        self.events = InMemoryEventRepository(self._staged)
        self.webhook_endpoints = InMemoryWebhookEndpointRepository(self._staged)
        self.webhook_deliveries = InMemoryWebhookDeliveryRepository(self._staged)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._staged = None

    def commit(self) -> None:
        if self._staged is None:
            raise RuntimeError("commit outside the unit of work's block")
        with self._store.lock:
            self._store.merchants = self._staged.merchants
            self._store.api_keys = self._staged.api_keys
            self._store.transactions = self._staged.transactions
            self._store.payables = self._staged.payables
            self._store.outbox = self._staged.outbox
            self._store.published = self._staged.published
            self._store.idempotency_keys = self._staged.idempotency_keys
            self._store.refunds = self._staged.refunds
            self._store.events = self._staged.events
            self._store.events_published = self._staged.events_published
            self._store.webhook_endpoints = self._staged.webhook_endpoints
            self._store.deleted_endpoints = self._staged.deleted_endpoints
            self._store.webhook_deliveries = self._staged.webhook_deliveries
            self._store.delivery_retrying_since = self._staged.delivery_retrying_since
        self.committed = True

    def rollback(self) -> None:
        self._staged = None
