"""In-memory repositories and unit of work: changes are staged and applied only on commit."""

from __future__ import annotations

import builtins
import copy
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Self, TypeVar
from uuid import UUID

from psp.domain.events import OutboxEvent
from psp.domain.merchants import ApiKey, Merchant
from psp.domain.pagination import Cursor, Listable, Page, PageRequest
from psp.domain.payables import Balance, BalanceLine, Payable, PayableStatus
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction, TransactionStatus
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
        marked = 0
        for transaction_id in transaction_ids:
            transaction = self._staged.transactions.get(transaction_id)
            if (
                transaction is not None
                and transaction.status is TransactionStatus.WAITING_FUNDS
                and transaction_id not in unpaid
            ):
                self._staged.transactions[transaction_id] = replace(
                    transaction, status=TransactionStatus.PAID, updated_at=at
                )
                marked += 1
        return marked

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
                stored, amount=payable.amount, fee=payable.fee, net_amount=payable.net_amount
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
            self._staged.payables[payable.id] = replace(payable, status=PayableStatus.PAID, paid_at=at)
            total = totals.get(payable.currency, CurrencyTotals())
            totals[payable.currency] = CurrencyTotals(
                count=total.count + 1,
                gross=total.gross + payable.amount,
                fee=total.fee + payable.fee,
                net=total.net + payable.net_amount,
            )
        return SettledChunk(totals=totals, transaction_ids=sorted({p.transaction_id for p in due}))


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
            )
        self.merchants = InMemoryMerchantRepository(self._staged)
        self.api_keys = InMemoryApiKeyRepository(self._staged)
        self.transactions = InMemoryTransactionRepository(self._staged)
        self.payables = InMemoryPayableRepository(self._staged)
        self.outbox = InMemoryOutboxRepository(self._staged)
        self.idempotency_keys = InMemoryIdempotencyKeyRepository(self._staged.idempotency_keys)
        self.refunds = InMemoryRefundRepository(self._staged)
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
        self.committed = True

    def rollback(self) -> None:
        self._staged = None
