"""What is maintained beside the payables stays exact through every kind of write: the balance aggregate
(the sum of payables) and the settlement list (``waiting_payables``: exactly the waiting ones)."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from psp.bootstrap import Container
from psp.domain.transactions import PaymentMethod, TransactionStatus
from psp.lib.errors import UnprocessableEntity
from psp.services.merchants import Onboarded
from psp.services.payables import get_balance
from psp.services.settlement import settle_due_payables
from tests.conftest import onboard
from tests.integration.support import pay
from tests.integration.test_refunds_and_processing import principal_of, refund
from tests.integration.test_worker import drain

SUMS = """
    SELECT merchant_id, currency,
           coalesce(sum(net_amount) FILTER (WHERE status = 'waiting_funds'), 0) AS waiting_funds,
           coalesce(sum(net_amount) FILTER (WHERE status = 'paid'), 0) AS available
    FROM payables GROUP BY merchant_id, currency
"""
AGGREGATE = (
    "SELECT merchant_id, currency, CAST(sum(waiting_funds) AS bigint) AS waiting_funds, "
    "CAST(sum(available) AS bigint) AS available FROM merchant_balances GROUP BY merchant_id, currency"
)


def rows_of(engine: Engine, sql: str) -> set[tuple[Any, ...]]:
    with engine.connect() as connection:
        return {
            tuple(row)
            for row in connection.execute(text(sql))
            if row.waiting_funds != 0 or row.available != 0
        }


def assert_aggregate_is_exact(engine: Engine) -> None:
    assert rows_of(engine, AGGREGATE) == rows_of(engine, SUMS)


WAITING = "SELECT payment_date, id FROM payables WHERE status = 'waiting_funds'"
LISTED = "SELECT payment_date, payable_id FROM waiting_payables"


def assert_settlement_lists_exactly_the_waiting_payables(engine: Engine) -> None:
    with engine.connect() as connection:
        assert set(connection.execute(text(LISTED))) == set(connection.execute(text(WAITING)))


approve = st.tuples(
    st.just("approve"),
    st.sampled_from(list(PaymentMethod)),
    st.integers(min_value=12, max_value=500_000),
    st.integers(min_value=1, max_value=12),
)
work = st.tuples(st.just("drain"))
settle = st.tuples(st.just("settle"), st.integers(min_value=0, max_value=400))
give_back = st.tuples(st.just("refund"), st.integers(min_value=0, max_value=50), st.integers(1, 600_000))
steps = st.lists(st.one_of(approve, work, settle, give_back), min_size=1, max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=steps)
def test_the_balance_aggregate_and_the_settlement_list_stay_exact_after_any_sequence_of_writes(
    container: Container, story: list[tuple[Any, ...]]
) -> None:
    merchant: Onboarded = onboard(container, "Aggregate Ltd")
    approved: list[Any] = []
    for step in story:
        if step[0] == "approve":
            _, method, amount, installments = step
            installments = installments if method is PaymentMethod.CREDIT_CARD else 1
            transaction = pay(container, merchant, amount, method, installments)
            if transaction.status is not TransactionStatus.DECLINED:
                approved.append(transaction)
        elif step[0] == "drain":
            drain(container)
        elif step[0] == "settle":
            run_date = date.today() + timedelta(days=step[1])
            settle_due_payables(
                run_date, uow_factory=container.uow_factory, chunk_size=7, clock=container.clock
            )
        elif approved:
            _, which, amount = step
            # Refunds create missing payables themselves, reduce waiting ones and add adjustments;
            # over-refunds are refused and must change nothing.
            with contextlib.suppress(UnprocessableEntity):
                refund(container, merchant, approved[which % len(approved)].id, amount)
        assert_aggregate_is_exact(container.engine)
        assert_settlement_lists_exactly_the_waiting_payables(container.engine)
    event("payables rows: " + ("some" if rows_of(container.engine, SUMS) else "none"))


def test_the_balance_endpoint_reads_the_aggregate_not_a_sum(
    container: Container, merchant: Onboarded
) -> None:
    pay(container, merchant, 2500)
    drain(container)
    with container.engine.begin() as connection:  # were the API to sum payables, this would not show
        connection.execute(text("UPDATE merchant_balances SET waiting_funds = waiting_funds + 1"))
    balance = get_balance(principal_of(merchant), uow=container.uow())
    assert [(line.amount, line.currency) for line in balance.waiting_funds] == [(2376, "BRL")]
