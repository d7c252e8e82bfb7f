"""Ports: what services need from storage, the queue and the acquirer, as ``typing.Protocol``s.

Each port has a Postgres (or SQS, or simulator) implementation and an in-memory fake; one contract
test suite runs against both.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from psp.domain.cards import CardForAuthorization
from psp.domain.events import Event, OutboxEvent
from psp.domain.merchants import ApiKey, Merchant
from psp.domain.pagination import Cursor, Page, PageRequest
from psp.domain.payables import Balance, Payable, PayableStatus
from psp.domain.refunds import Refund
from psp.domain.transactions import Transaction
from psp.domain.webhooks import DeliveryAttempt, DueDelivery, WebhookDelivery, WebhookEndpoint


class MerchantRepository(Protocol):
    def add(self, merchant: Merchant) -> None: ...
    def get(self, merchant_id: UUID) -> Merchant | None: ...
    def find_by_name(self, name: str) -> Merchant | None: ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def find_with_merchant_by_hash(self, key_hash: str) -> tuple[ApiKey, Merchant] | None:
        """The key and its merchant, in one lookup: every authenticated request needs both."""
        ...

    def get(self, merchant_id: UUID, key_id: UUID) -> ApiKey | None: ...
    def revoke(self, merchant_id: UUID, key_id: UUID, at: datetime) -> bool: ...


class TransactionRepository(Protocol):
    def add(self, transaction: Transaction) -> None: ...
    def get(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None: ...
    def list(self, merchant_id: UUID, page: PageRequest) -> Page[Transaction]: ...
    def mark_paid_when_fully_settled(self, transaction_ids: Sequence[UUID], at: datetime) -> int:
        """Move to ``paid`` those transactions whose payables are all paid; safe under concurrent settlers."""
        ...

    def get_for_update(self, merchant_id: UUID, transaction_id: UUID) -> Transaction | None:
        """Read and lock the transaction until the unit of work ends (refunds serialise on it)."""
        ...

    def update(self, transaction: Transaction) -> None:
        """Store a changed status, ``amount_refunded``, ``decline_code`` and ``updated_at``."""
        ...

    def claim_processing(self, limit: int, after: Cursor | None = None) -> builtins.list[Transaction]:
        """Lock up to ``limit`` ``processing`` transactions, oldest first, skipping those others hold.

        ``after`` (a ``(created_at, id)`` position) lets one run move past those still without an answer.
        """
        ...


@dataclass(frozen=True)
class PayableFilters:
    status: PayableStatus | None = None
    payment_date_gte: date | None = None
    payment_date_lte: date | None = None
    transaction_id: UUID | None = None


@dataclass(frozen=True)
class CurrencyTotals:
    count: int = 0
    gross: int = 0
    fee: int = 0
    net: int = 0


@dataclass(frozen=True)
class SettledChunk:
    """What one chunk of settlement paid: per currency, and what became of the transactions it touched.

    ``transactions_paid`` counts the transactions in a single installment the chunk completed itself;
    ``transaction_ids`` are the other transactions it touched, for ``mark_paid_when_fully_settled``.
    ``claimed`` counts the due entries the chunk took off the settlement list: every payable it paid,
    plus any entry whose payable was no longer waiting (none should be). Settlement ends when it is 0.
    """

    totals: dict[str, CurrencyTotals] = field(default_factory=dict)
    transaction_ids: list[UUID] = field(default_factory=list)
    transactions_paid: int = 0
    claimed: int = 0

    @property
    def count(self) -> int:
        return sum(total.count for total in self.totals.values())


class PayableRepository(Protocol):
    def add_all_new(self, payables: Sequence[Payable]) -> int:
        """Insert the payables not yet there (unique per transaction and installment); return how many."""
        ...

    def get(self, merchant_id: UUID, payable_id: UUID) -> Payable | None: ...
    def list(self, merchant_id: UUID, filters: PayableFilters, page: PageRequest) -> Page[Payable]: ...
    def balance(self, merchant_id: UUID) -> Balance: ...
    def list_for_transaction_for_update(self, transaction_id: UUID) -> builtins.list[Payable]:
        """Every payable of a transaction (adjustments included), locked until the unit of work ends."""
        ...

    def update_amounts(self, payables: Sequence[Payable]) -> None:
        """Store new ``amount``, ``fee`` and ``net_amount`` of existing payables."""
        ...

    def settle_due(self, run_date: date, limit: int, at: datetime) -> SettledChunk:
        """Pay up to ``limit`` waiting payables due on or before ``run_date``, skipping rows others hold.

        A ``waiting_funds`` transaction in a single installment whose payable it pays is complete: it moves
        to ``paid`` here (only the holder of that one payable can complete it, so no lock is needed).
        """
        ...


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...
    def get(self, merchant_id: UUID, refund_id: UUID) -> Refund | None: ...
    def list_for_transaction(
        self, merchant_id: UUID, transaction_id: UUID, page: PageRequest
    ) -> Page[Refund]: ...


@dataclass(frozen=True)
class StoredResponse:
    """The first answer to an idempotent request, replayed byte for byte to every retry."""

    status: int
    body: bytes


class IdempotencyClaimOutcome(enum.StrEnum):
    CLAIMED = "claimed"  # this request owns the key now: carry it out
    IN_PROGRESS = "in_progress"  # another request with the key is running: 409, safe to retry
    COMPLETED = "completed"  # replay the stored response
    MISMATCH = "mismatch"  # the key was used with another request: 422


@dataclass(frozen=True)
class IdempotencyClaim:
    outcome: IdempotencyClaimOutcome
    response: StoredResponse | None = None


class IdempotencyKeyRepository(Protocol):
    def claim(
        self, merchant_id: UUID, key: str, fingerprint: str, *, now: datetime, lock_for_seconds: int
    ) -> IdempotencyClaim:
        """Take the key for this request, or say why not; a lapsed in-progress claim may be taken over."""
        ...

    def complete(self, merchant_id: UUID, key: str, response: StoredResponse, at: datetime) -> None: ...
    def release(self, merchant_id: UUID, key: str) -> None:
        """Forget an in-progress claim whose request changed nothing (it failed validation)."""
        ...

    def prune(self, created_before: datetime, limit: int) -> int: ...


class OutboxRepository(Protocol):
    def add(self, event: OutboxEvent) -> None: ...
    def claim_unpublished(self, limit: int) -> list[OutboxEvent]:
        """The oldest unrelayed events, locked until the unit of work ends; rows others hold are skipped."""
        ...

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None: ...
    def count_unpublished(self) -> int:
        """How many events wait to be relayed (the outbox backlog)."""
        ...


class EventRepository(Protocol):
    """Public events. Those of set-based changes (payables created or paid, transactions paid) are written
    by the payable and transaction repositories in the statement that makes the change."""

    def add(self, event: Event) -> None: ...
    def get(self, merchant_id: UUID, event_id: UUID) -> Event | None: ...
    def list(self, merchant_id: UUID, event_type: str | None, page: PageRequest) -> Page[Event]: ...
    def ids_since(
        self, since: datetime, merchant_id: UUID | None, limit: int, after: UUID | None
    ) -> builtins.list[UUID]:
        """Ids of events created at or after ``since``, in id order, ``limit`` after ``after``."""
        ...

    def claim_unpublished(self, limit: int) -> builtins.list[Event]:
        """The oldest events not yet relayed to the webhooks queue (SQS), locked; others' rows skipped."""
        ...

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None: ...
    def count_unpublished(self) -> int: ...


class WebhookEndpointRepository(Protocol):
    def add(self, endpoint: WebhookEndpoint) -> None: ...
    def get(self, merchant_id: UUID, endpoint_id: UUID) -> WebhookEndpoint | None: ...
    def list(self, merchant_id: UUID, page: PageRequest) -> Page[WebhookEndpoint]: ...
    def owner(self, endpoint_id: UUID) -> UUID | None:
        """The merchant of an endpoint not deleted, for operators' commands."""
        ...

    def update(self, endpoint: WebhookEndpoint) -> None:
        """Store secrets, status and health."""
        ...

    def delete(self, merchant_id: UUID, endpoint_id: UUID, at: datetime) -> bool:
        """Remove it from the merchant's view; its pending deliveries fail."""
        ...

    def note_success(self, endpoint_id: UUID) -> None: ...
    def note_failure(self, endpoint_id: UUID, at: datetime) -> datetime | None:
        """Start or continue the endpoint's failing streak; return when it began."""
        ...

    def disable(self, endpoint_id: UUID, reason: str, at: datetime) -> None:
        """Flag it disabled; its pending deliveries fail."""
        ...


class WebhookDeliveryRepository(Protocol):
    def fan_out(self, event_ids: Sequence[UUID], at: datetime) -> int:
        """One pending delivery per event and endpoint wanting it (endpoints older than the event);
        existing ones are left alone, so fanning out twice creates nothing twice."""
        ...

    def redeliver(self, event_ids: Sequence[UUID], endpoint_id: UUID | None, at: datetime) -> int:
        """Make the events due now again at the endpoints wanting them now (or one endpoint)."""
        ...

    def claim_due(self, limit: int, now: datetime, lease_seconds: float) -> builtins.list[DueDelivery]:
        """Deliveries due by ``now``, hidden for ``lease_seconds`` (due again if never recorded)."""
        ...

    def record_attempt(
        self, attempt: DeliveryAttempt, *, succeeded: bool, next_attempt_at: datetime | None
    ) -> None: ...
    def list_for_event(
        self, merchant_id: UUID, event_id: UUID, page: PageRequest
    ) -> Page[WebhookDelivery]: ...


class UnitOfWork(Protocol):
    """One database transaction: rolled back on leaving the block unless ``commit`` was called."""

    @property
    def merchants(self) -> MerchantRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def transactions(self) -> TransactionRepository: ...
    @property
    def payables(self) -> PayableRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def refunds(self) -> RefundRepository: ...
    @property
    def idempotency_keys(self) -> IdempotencyKeyRepository: ...
    @property
    def events(self) -> EventRepository: ...
    @property
    def webhook_endpoints(self) -> WebhookEndpointRepository: ...
    @property
    def webhook_deliveries(self) -> WebhookDeliveryRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


# --- the queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    """An event as a consumer received it; ``receipt`` is the adapter's handle to acknowledge it."""

    event: OutboxEvent
    receipt: str
    receive_count: int


class EventQueue(Protocol):
    """Consumer side of the queue: at-least-once delivery with a visibility timeout."""

    def receive(self, max_events: int, wait_seconds: float) -> list[ReceivedEvent]: ...
    def acknowledge(self, received: Sequence[ReceivedEvent]) -> None: ...
    def release(self, received: Sequence[ReceivedEvent]) -> None:
        """Make events visible again at once (a worker stopping with a batch in hand)."""
        ...

    def extend_visibility(self, received: Sequence[ReceivedEvent], seconds: int) -> None:
        """Keep events hidden ``seconds`` from now: a slow batch must not be redelivered mid-work."""
        ...

    def redrive_dead(self) -> int:
        """Give every dead-lettered event a fresh set of receives; return how many."""
        ...

    def is_reachable(self) -> bool:
        """A quick, bounded probe for readiness checks; never raises."""
        ...


class EventPublisher(Protocol):
    """Producer side of the queue (the relay's): sends events, says which ones the queue accepted."""

    def publish(self, events: Sequence[OutboxEvent]) -> list[UUID]: ...


# --- webhooks: sending, and resolving endpoint hosts ---------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    status_code: int | None  # None: no HTTP answer at all
    latency_ms: int
    response_excerpt: str
    error: str | None = None
    # Why there was no HTTP answer, as a bounded label for metrics: timeout, connection, tls,
    # unresolvable, forbidden_address or protocol (None when there was an answer).
    error_kind: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender(Protocol):
    def send(self, endpoint: WebhookEndpoint, headers: dict[str, str], body: bytes) -> SendResult:
        """POST ``body`` once; never follow redirects; never raise. Live endpoints only to public
        addresses, checked on the address actually connected to (DNS rebinding)."""
        ...


class HostResolver(Protocol):
    def resolve(self, host: str, port: int) -> builtins.list[str] | None:
        """The host's addresses, or None when it does not resolve within the resolver's time limit."""
        ...


# --- the acquirer ----------------------------------------------------------------------------------


class AuthorizationOutcome(enum.StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    UNKNOWN = "unknown"  # no definite answer (time-out): the transaction stays ``processing``


@dataclass(frozen=True)
class Authorization:
    outcome: AuthorizationOutcome
    decline_code: str | None = None
    reference: str | None = None


class Acquirer(Protocol):
    def authorize(self, card: CardForAuthorization, amount: int, currency: str) -> Authorization:
        """Authorise, or raise ``AcquirerUnavailable`` when the request surely did not get through."""
        ...

    def status(self, reference: str, authorized_at: datetime) -> Authorization:
        """Ask again about an authorisation that had no definite answer (a time-out).

        Raises ``AcquirerUnavailable`` when the acquirer cannot be asked right now.
        """
        ...
