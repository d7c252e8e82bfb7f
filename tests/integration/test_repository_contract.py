"""One contract, two implementations: every case runs against the in-memory fake and Postgres."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from psp.bootstrap import Container
from psp.domain.cards import Card
from psp.domain.events import PAYABLE_CREATED, PAYABLE_PAID, transaction_event
from psp.domain.ids import new_id
from psp.domain.merchants import ApiKey, Merchant
from psp.domain.objects import payable_object
from psp.domain.pagination import Cursor, PageRequest
from psp.domain.payables import BalanceLine, Payable, PayableStatus
from psp.domain.refunds import Refund
from psp.domain.transactions import PaymentMethod, Transaction, TransactionStatus
from psp.domain.webhooks import EndpointStatus, WebhookEndpoint
from psp.repositories.memory import InMemoryStore
from psp.repositories.ports import PayableFilters, UnitOfWork

UowFactory = Callable[[], UnitOfWork]
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "postgres"])
def uow_factory(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "memory":
        return InMemoryStore().uow
    container: Container = request.getfixturevalue("container")
    return container.uow


def a_merchant(name: str = "Acme") -> Merchant:
    return Merchant(
        id=new_id(), name=name, default_currency="BRL", debit_fee_bps=300, credit_fee_bps=500, created_at=T0
    )


def a_transaction(merchant_id: UUID, created_at: datetime = T0, amount: int = 2500) -> Transaction:
    card = Card("visa", "411111", "1111", "Ana Souza", 12, 2030, "f" * 64)
    return Transaction(
        id=new_id(),
        merchant_id=merchant_id,
        amount=amount,
        currency="BRL",
        description="Sneakers",
        payment_method=PaymentMethod.CREDIT_CARD,
        installments=1,
        status=TransactionStatus.WAITING_FUNDS,
        card=card,
        fee_bps=500,
        decline_code=None,
        created_at=created_at,
        updated_at=created_at,
    )


def a_payable(transaction: Transaction, installment: int = 1, due: date = date(2026, 12, 20)) -> Payable:
    return Payable(
        id=new_id(),
        merchant_id=transaction.merchant_id,
        transaction_id=transaction.id,
        installment=installment,
        status=PayableStatus.WAITING_FUNDS,
        amount=1000,
        fee=50,
        net_amount=950,
        currency=transaction.currency,
        payment_date=due,
        paid_at=None,
        created_at=transaction.created_at,
    )


def stored(uow_factory: UowFactory, *items: Merchant | Transaction | Payable) -> None:
    with uow_factory() as uow:
        for item in items:
            if isinstance(item, Merchant):
                uow.merchants.add(item)
            elif isinstance(item, Transaction):
                uow.transactions.add(item)
            else:
                uow.payables.add_all_new([item])
        uow.commit()


def test_what_is_not_committed_is_not_kept(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    with uow_factory() as uow:
        uow.merchants.add(merchant)
    with uow_factory() as uow:
        assert uow.merchants.get(merchant.id) is None


def test_a_merchant_is_found_by_id_and_by_name(uow_factory: UowFactory) -> None:
    merchant = a_merchant("Demo Merchant")
    stored(uow_factory, merchant)
    with uow_factory() as uow:
        assert uow.merchants.get(merchant.id) == merchant
        assert uow.merchants.find_by_name("Demo Merchant") == merchant
        assert uow.merchants.find_by_name("Nobody") is None


def test_a_key_is_found_by_its_hash_and_revoked_once_only_by_its_merchant(uow_factory: UowFactory) -> None:
    merchant, other = a_merchant(), a_merchant("Globex")
    key = ApiKey(
        id=new_id(),
        merchant_id=merchant.id,
        mode="test",
        prefix="sk_test_abcd",
        key_hash="a" * 64,
        created_at=T0,
    )
    stored(uow_factory, merchant, other)
    with uow_factory() as uow:
        uow.api_keys.add(key)
        uow.commit()
    with uow_factory() as uow:
        assert uow.api_keys.find_with_merchant_by_hash("a" * 64) == (key, merchant)
        assert uow.api_keys.find_with_merchant_by_hash("b" * 64) is None
        assert not uow.api_keys.revoke(other.id, key.id, T0)
        assert uow.api_keys.revoke(merchant.id, key.id, T0)
        assert not uow.api_keys.revoke(merchant.id, key.id, T0)
        uow.commit()
    with uow_factory() as uow:
        found = uow.api_keys.find_with_merchant_by_hash("a" * 64)
        assert found is not None
        assert not found[0].is_active


def test_a_transaction_is_visible_only_to_its_merchant(uow_factory: UowFactory) -> None:
    merchant, other = a_merchant(), a_merchant("Globex")
    transaction = a_transaction(merchant.id)
    stored(uow_factory, merchant, other, transaction)
    with uow_factory() as uow:
        assert uow.transactions.get(merchant.id, transaction.id) == transaction
        assert uow.transactions.get(other.id, transaction.id) is None
        assert uow.transactions.list(other.id, PageRequest()).items == []


def test_lists_page_newest_first_without_overlap_or_gap(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    same_instant = [a_transaction(merchant.id, T0) for _ in range(3)]  # ties broken by id
    spread = [a_transaction(merchant.id, T0 + timedelta(seconds=i)) for i in range(1, 5)]
    stored(uow_factory, merchant, *same_instant, *spread)
    seen: list[UUID] = []
    page = PageRequest(limit=3)
    with uow_factory() as uow:
        while True:
            result = uow.transactions.list(merchant.id, page)
            seen.extend(t.id for t in result.items)
            if result.next_cursor is None:
                break
            page = PageRequest(limit=3, starting_after=result.next_cursor)
    everything = same_instant + spread
    expected = [t.id for t in sorted(everything, key=lambda t: (t.created_at, t.id), reverse=True)]
    assert seen == expected


def test_payables_are_created_once_per_transaction_and_installment(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    stored(uow_factory, merchant, transaction)
    first, second, duplicate = a_payable(transaction), a_payable(transaction, 2), a_payable(transaction)
    with uow_factory() as uow:
        assert uow.payables.add_all_new([first, second]) == 2
        assert uow.payables.add_all_new([duplicate]) == 0
        uow.commit()
    with uow_factory() as uow:
        assert uow.payables.get(merchant.id, first.id) == first
        assert uow.payables.get(merchant.id, duplicate.id) is None
        created = uow.events.list(merchant.id, PAYABLE_CREATED, PageRequest()).items
        assert {event.object_id for event in created} == {first.id, second.id}  # none for the duplicate
        assert len(created) == 2


def test_payables_born_paid_and_waiting_go_in_one_call_with_their_events(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    stored(uow_factory, merchant, transaction)
    waiting = a_payable(transaction)
    paid = replace(a_payable(transaction, installment=2), status=PayableStatus.PAID, paid_at=T0)
    with uow_factory() as uow:
        assert uow.payables.add_all_new([waiting, paid]) == 2
        uow.commit()
    with uow_factory() as uow:
        assert uow.payables.get(merchant.id, waiting.id) == waiting
        assert uow.payables.get(merchant.id, paid.id) == paid
        created = uow.events.list(merchant.id, PAYABLE_CREATED, PageRequest()).items
        assert {event.object_id: event.data["paid_at"] for event in created} == {
            waiting.id: None,
            paid.id: "2026-11-20T12:00:00.000Z",
        }


def test_payables_filter_by_status_date_range_and_transaction(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    one, two = a_transaction(merchant.id), a_transaction(merchant.id)
    early, late = a_payable(one, due=date(2026, 12, 1)), a_payable(two, due=date(2027, 1, 1))
    stored(uow_factory, merchant, one, two, early, late)

    def ids(filters: PayableFilters) -> set[UUID]:
        with uow_factory() as uow:
            return {p.id for p in uow.payables.list(merchant.id, filters, PageRequest()).items}

    assert ids(PayableFilters(payment_date_lte=date(2026, 12, 15))) == {early.id}
    assert ids(PayableFilters(payment_date_gte=date(2026, 12, 15))) == {late.id}
    assert ids(PayableFilters(transaction_id=two.id)) == {late.id}
    assert ids(PayableFilters(status=PayableStatus.PAID)) == set()
    assert ids(PayableFilters(status=PayableStatus.WAITING_FUNDS)) == {early.id, late.id}


def test_settling_pays_due_payables_up_to_the_limit_and_reports_the_sums(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = replace(a_transaction(merchant.id), installments=4)
    due = [a_payable(transaction, installment=i, due=date(2026, 12, i)) for i in (1, 2, 3)]
    future = a_payable(transaction, installment=4, due=date(2027, 1, 1))
    stored(uow_factory, merchant, transaction, *due, future)
    run_date, at = date(2026, 12, 31), T0 + timedelta(days=41)
    with uow_factory() as uow:
        chunk = uow.payables.settle_due(run_date, 2, at)
        assert chunk.count == 2
        assert chunk.totals["BRL"].net == 1900
        assert chunk.transaction_ids == [transaction.id]
        assert (
            uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, at) == 0
        )  # still unpaid ones
        rest = uow.payables.settle_due(run_date, 2, at)
        assert rest.count == 1
        assert uow.payables.settle_due(run_date, 2, at).count == 0
        uow.commit()
    with uow_factory() as uow:
        balance = uow.payables.balance(merchant.id)
        assert balance.available == [BalanceLine(2850, "BRL")]
        assert balance.waiting_funds == [BalanceLine(950, "BRL")]
        paid = uow.payables.list(merchant.id, PayableFilters(status=PayableStatus.PAID), PageRequest()).items
        assert {p.paid_at for p in paid} == {at}


def test_a_transaction_is_marked_paid_only_when_every_payable_is(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = replace(a_transaction(merchant.id), installments=2)
    first, second = (a_payable(transaction, i, due=date(2026, 12, i)) for i in (1, 2))
    stored(uow_factory, merchant, transaction, first, second)
    with uow_factory() as uow:
        chunk = uow.payables.settle_due(date(2026, 12, 1), 10, T0)
        assert (chunk.transactions_paid, chunk.transaction_ids) == (0, [transaction.id])
        assert uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, T0) == 0
        chunk = uow.payables.settle_due(date(2026, 12, 2), 10, T0)
        assert uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, T0) == 1
        assert uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, T0) == 0
        uow.commit()
    with uow_factory() as uow:
        found = uow.transactions.get(merchant.id, transaction.id)
        assert found is not None
        assert found.status is TransactionStatus.PAID


def test_settling_the_payable_of_a_single_installment_transaction_completes_it_in_the_same_chunk(
    uow_factory: UowFactory,
) -> None:
    merchant = a_merchant()
    single, refunded = a_transaction(merchant.id), a_transaction(merchant.id)
    refunded = replace(refunded, status=TransactionStatus.REFUNDED, amount_refunded=refunded.amount)
    stored(uow_factory, merchant, single, refunded, a_payable(single), a_payable(refunded))
    with uow_factory() as uow:
        chunk = uow.payables.settle_due(date(2026, 12, 31), 10, T0)
        assert chunk.transactions_paid == 1
        assert chunk.transaction_ids == [refunded.id]  # not waiting for funds: left to the locked check
        assert uow.transactions.mark_paid_when_fully_settled(chunk.transaction_ids, T0) == 0
        uow.commit()
    with uow_factory() as uow:
        found, still_refunded = (uow.transactions.get(merchant.id, t.id) for t in (single, refunded))
        assert found is not None
        assert still_refunded is not None
        assert (found.status, found.updated_at) == (TransactionStatus.PAID, T0)
        assert found.version == single.version + 1
        assert still_refunded.status is TransactionStatus.REFUNDED


def test_events_are_written_to_the_outbox_with_their_change(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    with uow_factory() as uow:
        uow.merchants.add(merchant)
        uow.transactions.add(transaction)
        uow.outbox.add(transaction_event(transaction))
        uow.commit()
    with uow_factory() as uow:
        assert uow.transactions.get(merchant.id, transaction.id) == transaction


def a_processing_transaction(merchant_id: UUID, created_at: datetime) -> Transaction:
    return replace(
        a_transaction(merchant_id, created_at),
        status=TransactionStatus.PROCESSING,
        acquirer_reference="sim_x",
    )


def test_a_transaction_is_read_for_update_by_its_merchant_only_and_its_changes_are_stored(
    uow_factory: UowFactory,
) -> None:
    merchant, other = a_merchant(), a_merchant("Globex")
    transaction = a_transaction(merchant.id)
    stored(uow_factory, merchant, other, transaction)
    changed = replace(
        transaction,
        status=TransactionStatus.REFUNDED,
        amount_refunded=2500,
        updated_at=T0 + timedelta(days=1),
    )
    with uow_factory() as uow:
        assert uow.transactions.get_for_update(other.id, transaction.id) is None
        assert uow.transactions.get_for_update(merchant.id, transaction.id) == transaction
        uow.transactions.update(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.transactions.get(merchant.id, transaction.id) == changed


def test_a_declined_outcome_is_stored_with_its_code(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = a_processing_transaction(merchant.id, T0)
    stored(uow_factory, merchant, transaction)
    declined = replace(transaction, status=TransactionStatus.DECLINED, decline_code="card_declined")
    with uow_factory() as uow:
        uow.transactions.update(declined)
        uow.commit()
    with uow_factory() as uow:
        assert uow.transactions.get(merchant.id, transaction.id) == declined


def test_processing_transactions_are_claimed_oldest_first_and_after_a_position(
    uow_factory: UowFactory,
) -> None:
    merchant = a_merchant()
    processing = [a_processing_transaction(merchant.id, T0 + timedelta(seconds=i)) for i in (3, 1, 2)]
    stored(uow_factory, merchant, a_transaction(merchant.id, T0), *processing)
    oldest_first = sorted(processing, key=lambda t: t.created_at)
    with uow_factory() as uow:
        assert uow.transactions.claim_processing(2) == oldest_first[:2]
        after = Cursor(created_at=oldest_first[0].created_at, id=oldest_first[0].id)
        assert uow.transactions.claim_processing(10, after) == oldest_first[1:]


def test_a_transactions_payables_are_read_for_update_and_their_amounts_changed(
    uow_factory: UowFactory,
) -> None:
    merchant = a_merchant()
    transaction, other = a_transaction(merchant.id), a_transaction(merchant.id)
    second, first = a_payable(transaction, installment=2), a_payable(transaction, installment=1)
    stored(uow_factory, merchant, transaction, other, second, first, a_payable(other))
    reduced = replace(second, amount=400, fee=20, net_amount=380)
    with uow_factory() as uow:
        assert uow.payables.list_for_transaction_for_update(transaction.id) == [first, second]
        uow.payables.update_amounts([reduced])
        uow.payables.update_amounts([])
        uow.commit()
    with uow_factory() as uow:
        # A change of amounts is a change of the payable: its version grows.
        assert uow.payables.list_for_transaction_for_update(transaction.id) == [
            first,
            replace(reduced, version=second.version + 1),
        ]
        assert uow.payables.list_for_transaction_for_update(new_id()) == []


def test_a_negative_adjustment_counts_against_the_available_balance(uow_factory: UowFactory) -> None:
    merchant = a_merchant()
    transaction = a_transaction(merchant.id)
    paid = replace(a_payable(transaction), status=PayableStatus.PAID, paid_at=T0)
    adjustment = replace(a_payable(transaction, installment=101), amount=-300, fee=0, net_amount=-300)
    adjustment = replace(adjustment, status=PayableStatus.PAID, paid_at=T0)
    stored(uow_factory, merchant, transaction, paid, adjustment)
    with uow_factory() as uow:
        assert uow.payables.balance(merchant.id).available == [BalanceLine(650, "BRL")]


def a_refund(transaction: Transaction, amount: int, created_at: datetime) -> Refund:
    return Refund(
        id=new_id(),
        merchant_id=transaction.merchant_id,
        transaction_id=transaction.id,
        amount=amount,
        currency=transaction.currency,
        created_at=created_at,
    )


def test_refunds_are_read_and_listed_per_transaction_by_their_merchant_only(uow_factory: UowFactory) -> None:
    merchant, other = a_merchant(), a_merchant("Globex")
    transaction, sibling = a_transaction(merchant.id), a_transaction(merchant.id)
    stored(uow_factory, merchant, other, transaction, sibling)
    refunds = [a_refund(transaction, 100 * i, T0 + timedelta(seconds=i)) for i in (1, 2, 3)]
    with uow_factory() as uow:
        for refund in [*refunds, a_refund(sibling, 50, T0)]:
            uow.refunds.add(refund)
        uow.commit()
    with uow_factory() as uow:
        assert uow.refunds.get(merchant.id, refunds[0].id) == refunds[0]
        assert uow.refunds.get(other.id, refunds[0].id) is None
        first = uow.refunds.list_for_transaction(merchant.id, transaction.id, PageRequest(limit=2))
        assert (first.items, first.has_more) == ([refunds[2], refunds[1]], True)
        rest = uow.refunds.list_for_transaction(
            merchant.id, transaction.id, PageRequest(limit=2, starting_after=first.next_cursor)
        )
        assert (rest.items, rest.has_more) == ([refunds[0]], False)
        assert uow.refunds.list_for_transaction(other.id, transaction.id, PageRequest()).items == []


def test_set_based_events_wait_for_hand_off_only_where_a_live_endpoint_wants_them(
    uow_factory: UowFactory,
) -> None:
    quiet, subscribed = a_merchant("Quiet"), a_merchant("Subscribed")
    sales = [a_transaction(merchant.id) for merchant in (quiet, subscribed)]
    stored(uow_factory, quiet, subscribed, *sales)
    with uow_factory() as uow:
        uow.webhook_endpoints.add(an_endpoint(subscribed.id, (PAYABLE_PAID,)))
        uow.webhook_endpoints.add(an_endpoint(quiet.id, ("*",), status=EndpointStatus.DISABLED))
        uow.commit()
    stored(uow_factory, *(a_payable(sale) for sale in sales))
    with uow_factory() as uow:
        uow.payables.settle_due(date(2026, 12, 31), 10, T0)
        uow.commit()

    with uow_factory() as uow:
        claimed = uow.events.claim_unpublished(100)
        [paid] = uow.payables.list_for_transaction_for_update(sales[1].id)
    assert [(event.merchant_id, event.type) for event in claimed] == [(subscribed.id, PAYABLE_PAID)]
    assert claimed[0].data == {**payable_object(paid), "version": 2}


def an_endpoint(
    merchant_id: UUID, events: tuple[str, ...], status: EndpointStatus = EndpointStatus.ENABLED
) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=new_id(),
        merchant_id=merchant_id,
        url="https://shop.example.com/hooks",
        enabled_events=events,
        description="",
        mode="test",
        secret="whsec_" + "a" * 32,
        created_at=T0,
        status=status,
    )
