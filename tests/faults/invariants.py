"""The guarantees, checked over the whole database (and the queues, and every answer a client saw).

Computed independently of psp's code: the expected payables come from the rules of DESIGN.md section 3
written out again here, not from ``build_payables``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from psp.bootstrap import data_box
from psp.config import Settings
from psp.data_sources.encryption import SecretBox
from psp.repositories.postgres.idempotency import response_context
from tests.faults.faults import FaultLog
from tests.faults.load import DEFINITE, LoadResult
from tests.faults.stack import Stack

APPROVED_STATUSES = frozenset({"waiting_funds", "paid"})
DAYS_PER_INSTALLMENT = {"credit_card": 30, "debit_card": 0}
MAX_LISTED = 5  # examples of each violation kept in the report


@dataclass
class Violations:
    found: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, invariant: str, example: str) -> None:
        self.found[invariant].append(example)

    @property
    def total(self) -> int:
        return sum(len(examples) for examples in self.found.values())

    def lines(self) -> list[str]:
        lines = []
        for invariant, examples in sorted(self.found.items()):
            lines.append(f"  {invariant}: {len(examples)}")
            lines.extend(f"    - {example}" for example in examples[:MAX_LISTED])
        return lines


def backlog(stack: Stack) -> dict[str, int]:
    """What is still in flight; the stack has recovered when every count is 0."""
    with stack.postgres.connect() as connection:

        def count(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0])  # type: ignore[index]

        counts = {
            "processing transactions": count("SELECT count(*) FROM transactions WHERE status = 'processing'"),
            "approved transactions without payables": count(
                "SELECT count(*) FROM transactions t WHERE t.status IN ('waiting_funds', 'paid') "
                "AND NOT EXISTS (SELECT 1 FROM payables p WHERE p.transaction_id = t.id)"
            ),
            "waiting payables": count("SELECT count(*) FROM payables WHERE status = 'waiting_funds'"),
            "transactions waiting for funds": count(
                "SELECT count(*) FROM transactions WHERE status = 'waiting_funds'"
            ),
        }
        if stack.config.backend == "sqs":
            counts["unpublished outbox events"] = count(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
        else:
            counts["unprocessed outbox events"] = count(
                "SELECT count(*) FROM outbox WHERE processed_at IS NULL AND dead_at IS NULL"
            )
    if stack.config.backend == "sqs":
        counts.update(sqs_depths(stack))
    return counts


def sqs_depths(stack: Stack) -> dict[str, int]:
    client: Any = stack.sqs_client()
    depths = {}
    for queue in (stack.env["PSP_SQS_PAYABLES_QUEUE"], stack.env["PSP_SQS_PAYABLES_DLQ"]):
        url = client.get_queue_url(QueueName=queue)["QueueUrl"]
        attributes = client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        depths[f"messages in {queue}"] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depths


def check(stack: Stack, load: LoadResult, faults: FaultLog) -> tuple[Violations, dict[str, int]]:
    violations = Violations()
    with stack.postgres.connect() as connection:
        rows = _rows(connection)
    stats = {
        "transactions in the database": len(rows["transactions"]),
        "payables in the database": len(rows["payables"]),
    }
    transactions = {row["id"]: row for row in rows["transactions"]}
    _check_answers(load, transactions, violations)
    _check_keys(load, rows["keys"], transactions, violations)
    _check_payables(transactions, rows["payables"], violations)
    _check_paid_once(rows["payables"], rows["paid_log"], violations)
    _check_balances(rows["balances"], rows["payable_sums"], violations)
    _check_outbox(stack, rows["outbox"], transactions, violations)
    _check_http(load, faults, violations)
    for name, value in backlog(stack).items():
        if value:
            violations.add("everything drained after recovery", f"{value} {name}")
    return violations, stats


def stored_response_box() -> SecretBox:
    """The stack runs with PSP_ENV=test and no PSP_DATA_ENCRYPTION_KEY: the development key sealed it."""
    return data_box(Settings.from_env({"PSP_ENV": "test"}))


def _rows(connection: Any) -> dict[str, list[dict[str, Any]]]:
    def fetch(sql: str) -> list[dict[str, Any]]:
        cursor = connection.execute(sql)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return {
        "transactions": fetch(
            "SELECT id::text, merchant_id::text, amount, currency, payment_method, installments, status, "
            "fee_bps, decline_code, created_at FROM transactions"
        ),
        "payables": fetch(
            "SELECT id::text, transaction_id::text, merchant_id::text, installment, status, amount, fee, "
            "net_amount, currency, payment_date, paid_at FROM payables"
        ),
        "keys": fetch(
            "SELECT merchant_id, key, state, response_status, response_body_sealed FROM idempotency_keys"
        ),
        "paid_log": fetch("SELECT payable_id::text, paid_at, operation FROM fault_paid_log"),
        "balances": fetch(
            "SELECT merchant_id::text, currency, CAST(sum(waiting_funds) AS bigint) AS waiting_funds, "
            "CAST(sum(available) AS bigint) AS available FROM merchant_balances "
            "GROUP BY merchant_id, currency"
        ),
        "payable_sums": fetch(
            "SELECT merchant_id::text, currency, "
            "COALESCE(SUM(net_amount) FILTER (WHERE status = 'waiting_funds'), 0) AS waiting_funds, "
            "COALESCE(SUM(net_amount) FILTER (WHERE status = 'paid'), 0) AS available "
            "FROM payables GROUP BY merchant_id, currency"
        ),
        "outbox": fetch(
            "SELECT event_type, aggregate_id::text, processed_at, published_at, dead_at FROM outbox"
        ),
    }


def _check_answers(load: LoadResult, transactions: dict[str, dict[str, Any]], violations: Violations) -> None:
    """Every payment got a definite answer, and every acknowledged transaction exists as answered."""
    for payment in load.payments:
        if payment.status is None:
            violations.add("every payment gets a definite answer", f"key {payment.key}: none")
            continue
        if payment.status not in DEFINITE:
            violations.add("every payment gets a definite answer", f"key {payment.key}: {payment.status}")
            continue
        stored = transactions.get(payment.transaction_id or "")
        if stored is None:
            violations.add(
                "every acknowledged transaction exists exactly once",
                f"key {payment.key}: {payment.status} for {payment.transaction_id}, not in the database",
            )
            continue
        body = payment.body
        if (stored["amount"], stored["payment_method"], stored["installments"]) != (
            body["amount"],
            body["payment_method"],
            body["installments"],
        ):
            violations.add("acknowledged transactions are what was asked", f"{payment.transaction_id}")
        if payment.status == 402 and stored["status"] != "declined":
            violations.add("a decline stays a decline", f"{payment.transaction_id}: {stored['status']}")
        if payment.status == 201 and stored["status"] not in APPROVED_STATUSES:
            violations.add("an approval stays an approval", f"{payment.transaction_id}: {stored['status']}")
        if stored["status"] == "processing":
            violations.add("every time-out is resolved", f"{payment.transaction_id} still processing")


def _check_keys(
    load: LoadResult,
    keys: list[dict[str, Any]],
    transactions: dict[str, dict[str, Any]],
    violations: Violations,
) -> None:
    """Each key names at most one transaction, and each transaction belongs to exactly one key."""
    transaction_of_key: dict[str, str] = {}
    box = stored_response_box()
    for row in keys:
        if row["state"] != "completed":
            continue
        sealed = bytes(row["response_body_sealed"])
        body = json.loads(box.open(sealed, response_context(row["merchant_id"], row["key"])))
        transaction = body.get("error", {}).get("transaction") if row["response_status"] == 402 else body
        if transaction and "id" in transaction:
            transaction_of_key[row["key"]] = transaction["id"]
    keys_of_transaction = Counter(transaction_of_key.values())
    for transaction_id in transactions:
        if keys_of_transaction[transaction_id] != 1:
            violations.add(
                "each transaction belongs to exactly one idempotency key",
                f"{transaction_id}: {keys_of_transaction[transaction_id]} key(s)",
            )
    seen: dict[str, set[str]] = defaultdict(set)
    for payment in load.payments:
        if payment.transaction_id is not None:
            seen[payment.key].add(payment.transaction_id)
            stored = transaction_of_key.get(payment.key)
            if stored != payment.transaction_id:
                violations.add(
                    "each idempotency key maps to at most one transaction",
                    f"key {payment.key}: client saw {payment.transaction_id}, key stores {stored}",
                )
    for key, ids in seen.items():
        if len(ids) > 1:
            violations.add(
                "each idempotency key maps to at most one transaction", f"key {key}: {sorted(ids)}"
            )


def expected_payables(transaction: dict[str, Any]) -> list[tuple[int, int, int, int, str, Any]]:
    """(installment, gross, fee, net, status, payment_date) by DESIGN.md section 3."""
    count, amount = transaction["installments"], transaction["amount"]
    share, remainder = divmod(amount, count)
    day = transaction["created_at"].astimezone(UTC).date()  # the suite runs with the default UTC zone
    expected = []
    for number in range(1, count + 1):
        gross = share + (remainder if number == 1 else 0)
        fee = gross * transaction["fee_bps"] // 10_000
        due = day + timedelta(days=DAYS_PER_INSTALLMENT[transaction["payment_method"]] * number)
        expected.append((number, gross, fee, gross - fee, transaction["currency"], due))
    return expected


def _check_payables(
    transactions: dict[str, dict[str, Any]], payables: list[dict[str, Any]], violations: Violations
) -> None:
    by_transaction: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for payable in payables:
        by_transaction[payable["transaction_id"]].append(payable)
    for transaction_id, transaction in transactions.items():
        actual = sorted(by_transaction.pop(transaction_id, []), key=lambda payable: payable["installment"])
        if transaction["status"] not in APPROVED_STATUSES:
            if actual:
                violations.add(
                    "only approved transactions have payables",
                    f"{transaction_id} ({transaction['status']}): {len(actual)}",
                )
            continue
        got = [
            (p["installment"], p["amount"], p["fee"], p["net_amount"], p["currency"], p["payment_date"])
            for p in actual
        ]
        if got != expected_payables(transaction):
            violations.add(
                "every approved transaction has exactly its payables (count, sums, dates)",
                f"{transaction_id}: {len(got)} payable(s) of {transaction['installments']}",
            )
        if sum(p["amount"] for p in actual) != transaction["amount"]:
            violations.add("payables add up to the transaction", f"{transaction_id}")
        if any(p["merchant_id"] != transaction["merchant_id"] for p in actual):
            violations.add("payables belong to the transaction's merchant", f"{transaction_id}")
        unpaid = [p for p in actual if p["status"] != "paid"]
        if unpaid or transaction["status"] != "paid":
            violations.add(
                "everything due is settled (settlement ran with a far-future date)",
                f"{transaction_id}: {transaction['status']}, {len(unpaid)} unpaid payable(s)",
            )
    for transaction_id, orphans in by_transaction.items():
        violations.add("no payable without its transaction", f"{transaction_id}: {len(orphans)}")


def _check_paid_once(
    payables: list[dict[str, Any]], paid_log: list[dict[str, Any]], violations: Violations
) -> None:
    times_paid = Counter(row["payable_id"] for row in paid_log)
    for payable_id, times in times_paid.items():
        if times > 1:
            violations.add("no payable paid twice", f"{payable_id}: paid {times} times")
    for payable in payables:
        if payable["status"] == "paid" and times_paid[payable["id"]] == 0:
            violations.add("every paid payable was paid once, on record", f"{payable['id']}")


def _check_balances(
    balances: list[dict[str, Any]], sums: list[dict[str, Any]], violations: Violations
) -> None:
    def keyed(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
        return {
            (row["merchant_id"], row["currency"]): (int(row["waiting_funds"]), int(row["available"]))
            for row in rows
            if row["waiting_funds"] or row["available"]
        }

    stored, summed = keyed(balances), keyed(sums)
    for key in stored.keys() | summed.keys():
        if stored.get(key) != summed.get(key):
            violations.add(
                "balance equals the sum of payables",
                f"{key}: balance {stored.get(key)}, payables {summed.get(key)}",
            )


def _check_outbox(
    stack: Stack,
    outbox: list[dict[str, Any]],
    transactions: dict[str, dict[str, Any]],
    violations: Violations,
) -> None:
    approvals = Counter(row["aggregate_id"] for row in outbox if row["event_type"] == "transaction.approved")
    for transaction_id, transaction in transactions.items():
        wanted = 1 if transaction["status"] in APPROVED_STATUSES else 0
        if approvals[transaction_id] != wanted:
            violations.add(
                "each approval writes exactly one approval event",
                f"{transaction_id}: {approvals[transaction_id]}",
            )
    for row in outbox:
        if row["dead_at"] is not None:
            violations.add("nothing dead-lettered", f"{row['event_type']} {row['aggregate_id']}")


def _check_http(load: LoadResult, faults: FaultLog, violations: Violations) -> None:
    """No 5xx but 503; a database 503 only inside a database outage; every 503 says when to retry."""
    for observation in load.observations:
        if observation.status is None or observation.status < 500:
            continue
        if observation.status != 503:
            violations.add("no 5xx other than 503", f"{observation.status} {observation.code}")
            continue
        if observation.retry_after is None:
            violations.add("every 503 carries Retry-After", f"{observation.code}")
        if observation.code == "acquirer_unavailable":
            continue  # the simulator fails at random all along: its 503s may come at any time
        if not any(start <= observation.at <= end for start, end in faults.outages):
            violations.add(
                "503 only inside an outage window",
                f"{observation.code} at {observation.at:.1f} outside every database outage",
            )
