"""The framework ceiling: Flask + gunicorn + psycopg doing only psp's two inserts per transaction.

No auth, no validation, no logging, no ORM: JSON in, the two inserts in one transaction from a psycopg
pool, a small JSON answer out. Whatever psp costs above this is psp's own.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from benchmarks.sql import FINGERPRINT, INSERT_OUTBOX, INSERT_TRANSACTION


def create_app() -> Flask:
    threads = int(os.environ.get("BENCH_WEB_THREADS", "4"))
    pool = ConnectionPool(os.environ["BENCH_DATABASE_URL"], min_size=threads, max_size=threads, open=True)
    merchant_id = uuid.UUID(os.environ["BENCH_MERCHANT_ID"])
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/transactions")
    def create_transaction() -> tuple[dict[str, Any], int]:
        body = json.loads(request.get_data())
        row = transaction_row(body, merchant_id)
        with pool.connection() as connection:  # one transaction: committed when the block ends
            connection.execute(INSERT_TRANSACTION, row)
            connection.execute(INSERT_OUTBOX, row)
        return {"id": str(row["id"]), "object": "transaction", "status": row["status"]}, 201

    return app


def transaction_row(body: dict[str, Any], merchant_id: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC)
    transaction_id = uuid.uuid4()
    return {
        "id": transaction_id,
        "event_id": uuid.uuid4(),
        "merchant_id": merchant_id,
        "amount": body["amount"],
        "currency": "BRL",
        "description": body["description"],
        "payment_method": body["payment_method"],
        "installments": 1,
        "status": "waiting_funds",
        "fee_bps": 500,
        "card_brand": "visa",
        "card_first_six": body["card_number"][:6],
        "card_last_four": body["card_number"][-4:],
        "card_holder_name": body["card_holder_name"],
        "card_expiration_month": 12,
        "card_expiration_year": 2030,
        "card_fingerprint": FINGERPRINT,
        "created_at": now,
        "acquirer_reference": "sim_bench",
        "payload": Jsonb(
            {
                "transaction_id": str(transaction_id),
                "merchant_id": str(merchant_id),
                "amount": body["amount"],
                "currency": "BRL",
                "payment_method": body["payment_method"],
                "installments": 1,
                "fee_bps": 500,
                "status": "waiting_funds",
                "created_at": now.isoformat(),
            }
        ),
    }
