"""Merchants and API keys over Postgres."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, insert, select, update

from psp.data_sources.postgres.tables import api_keys, merchants
from psp.domain.merchants import ApiKey, Merchant

_API_KEY_COLUMNS = [column.name for column in api_keys.columns]
# Built once: a key lookup runs on every authenticated request.
_KEY_WITH_MERCHANT = (
    select(merchants, *(column.label(f"key_{column.name}") for column in api_keys.columns))
    .join(api_keys, api_keys.c.merchant_id == merchants.c.id)
    .where(api_keys.c.key_hash == bindparam("key_hash"))
)


class PostgresMerchantRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, merchant: Merchant) -> None:
        self._connection.execute(
            insert(merchants).values(
                id=merchant.id,
                name=merchant.name,
                default_currency=merchant.default_currency,
                debit_fee_bps=merchant.debit_fee_bps,
                credit_fee_bps=merchant.credit_fee_bps,
                created_at=merchant.created_at,
            )
        )

    def get(self, merchant_id: UUID) -> Merchant | None:
        row = self._connection.execute(select(merchants).where(merchants.c.id == merchant_id)).first()
        return None if row is None else _merchant(row._mapping)

    def find_by_name(self, name: str) -> Merchant | None:
        query = select(merchants).where(merchants.c.name == name).order_by(merchants.c.created_at).limit(1)
        row = self._connection.execute(query).first()
        return None if row is None else _merchant(row._mapping)


class PostgresApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, key: ApiKey) -> None:
        self._connection.execute(
            insert(api_keys).values(
                id=key.id,
                merchant_id=key.merchant_id,
                mode=key.mode,
                prefix=key.prefix,
                key_hash=key.key_hash,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            )
        )

    def find_with_merchant_by_hash(self, key_hash: str) -> tuple[ApiKey, Merchant] | None:
        row = self._connection.execute(_KEY_WITH_MERCHANT, {"key_hash": key_hash}).first()
        if row is None:
            return None
        key = _api_key({name: row._mapping[f"key_{name}"] for name in _API_KEY_COLUMNS})
        return key, _merchant(row._mapping)

    def get(self, merchant_id: UUID, key_id: UUID) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.id == key_id, api_keys.c.merchant_id == merchant_id)
        row = self._connection.execute(query).first()
        return None if row is None else _api_key(row._mapping)

    def revoke(self, merchant_id: UUID, key_id: UUID, at: datetime) -> bool:
        result = self._connection.execute(
            update(api_keys)
            .where(
                api_keys.c.id == key_id,
                api_keys.c.merchant_id == merchant_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return result.rowcount == 1


def _merchant(row: Any) -> Merchant:
    return Merchant(
        id=row["id"],
        name=row["name"],
        default_currency=row["default_currency"],
        debit_fee_bps=row["debit_fee_bps"],
        credit_fee_bps=row["credit_fee_bps"],
        created_at=row["created_at"],
    )


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        merchant_id=row["merchant_id"],
        mode=row["mode"],
        prefix=row["prefix"],
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
