"""The framework ceiling: Flask + gunicorn + psycopg doing only psp's inserts per transaction.

No auth, no validation, no logging, no ORM: JSON in, psp's three rows (transaction, outbox event, public
event) in psp's one statement, sent alone (autocommit) from a psycopg pool, a small JSON answer out.
Whatever psp costs above this is psp's own.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, request
from psycopg.types.json import Json, Jsonb
from psycopg_pool import ConnectionPool

from benchmarks.sql import FINGERPRINT, INSERT_APPROVAL
from psp.domain.events import API_VERSION
from psp.domain.ids import new_id
from psp.domain.objects import timestamp


def create_app() -> Flask:
    threads = int(os.environ.get("BENCH_WEB_THREADS", "4"))
    pool = ConnectionPool(  # autocommit: the statement alone, as psp sends it (no BEGIN, no COMMIT)
        os.environ["BENCH_DATABASE_URL"],
        min_size=threads,
        max_size=threads,
        kwargs={"autocommit": True},
        open=True,
    )
    merchant_id = uuid.UUID(os.environ["BENCH_MERCHANT_ID"])
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/transactions")
    def create_transaction() -> tuple[dict[str, Any], int]:
        body = json.loads(request.get_data())
        row = transaction_row(body, merchant_id)
        with pool.connection() as connection:
            connection.execute(INSERT_APPROVAL, row)
        return {"id": str(row["id"]), "object": "transaction", "status": row["status"]}, 201

    return app


def transaction_row(body: dict[str, Any], merchant_id: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC)
    transaction_id = new_id()
    row: dict[str, Any] = {
        "id": transaction_id,
        "outbox_id": new_id(),
        "event_id": new_id(),
        "api_version": API_VERSION,
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
    row["data"] = Json(transaction_object(row))
    return row


def transaction_object(row: dict[str, Any]) -> dict[str, Any]:
    """The public event's object: the keys and kinds of values of ``psp.domain.objects``."""
    stamp = timestamp(row["created_at"])
    return {
        "id": str(row["id"]),
        "object": "transaction",
        "amount": row["amount"],
        "currency": row["currency"],
        "description": row["description"],
        "payment_method": row["payment_method"],
        "installments": row["installments"],
        "status": row["status"],
        "amount_refunded": 0,
        "decline_code": None,
        "card": {
            "brand": row["card_brand"],
            "first_six": row["card_first_six"],
            "last_four": row["card_last_four"],
            "holder_name": row["card_holder_name"],
            "expiration_month": row["card_expiration_month"],
            "expiration_year": row["card_expiration_year"],
            "fingerprint": row["card_fingerprint"],
        },
        "created_at": stamp,
        "updated_at": stamp,
        "version": 1,
    }
