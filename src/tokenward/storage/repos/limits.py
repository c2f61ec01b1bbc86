"""SQL for limit rules: one row per (scope, scope id, model), '' meaning any model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tokenward.storage.tables import accounts, api_keys, limit_rules

#: the limit columns, in display order
LIMIT_COLUMNS = ("rpm", "tpm", "tpd", "concurrency")


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One row of `limit_rules`; a None limit is not limited by this rule."""

    scope: str
    scope_id: str
    model: str
    rpm: int | None
    tpm: int | None
    tpd: int | None
    concurrency: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LabelledRule:
    """A rule with the account name behind it (account and key scopes), for listings."""

    rule: RuleRow
    account_name: str | None
    key_name: str | None


def upsert_rule(conn: Connection, row: RuleRow) -> RuleRow:
    """Insert `row`, or merge it into the existing rule: limits given as None keep
    their stored value. One statement, so concurrent `limits set` calls never lose
    each other's columns."""
    values = {
        "scope": row.scope,
        "scope_id": row.scope_id,
        "model": row.model,
        "rpm": row.rpm,
        "tpm": row.tpm,
        "tpd": row.tpd,
        "concurrency": row.concurrency,
        "updated_at": row.updated_at,
    }
    insert = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(limit_rules)
    stmt = insert.values(**values)
    merged = {c: func.coalesce(stmt.excluded[c], limit_rules.c[c]) for c in LIMIT_COLUMNS}
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "scope_id", "model"],
        set_={**merged, "updated_at": stmt.excluded.updated_at},
    )
    found = conn.execute(stmt.returning(*limit_rules.c)).one()
    return _row(found._mapping)


def delete_rule(conn: Connection, scope: str, scope_id: str, model: str) -> bool:
    """Remove one rule; False when there was none."""
    deleted = conn.execute(
        delete(limit_rules)
        .where(
            limit_rules.c.scope == scope,
            limit_rules.c.scope_id == scope_id,
            limit_rules.c.model == model,
        )
        .returning(limit_rules.c.scope)
    ).first()
    return deleted is not None


def list_rules(conn: Connection) -> list[LabelledRule]:
    """Every rule, with the account (and key) names it applies to, in a stable order."""
    key_account = accounts.alias("key_account")
    query = (
        select(
            limit_rules,
            func.coalesce(accounts.c.name, key_account.c.name).label("account_name"),
            api_keys.c.name.label("key_name"),
        )
        .select_from(limit_rules)
        .outerjoin(
            accounts,
            and_(limit_rules.c.scope == "account", accounts.c.id == limit_rules.c.scope_id),
        )
        .outerjoin(
            api_keys, and_(limit_rules.c.scope == "key", api_keys.c.id == limit_rules.c.scope_id)
        )
        .outerjoin(key_account, key_account.c.id == api_keys.c.account_id)
        .order_by(limit_rules.c.scope, limit_rules.c.scope_id, limit_rules.c.model)
    )
    return [
        LabelledRule(_row(r._mapping), r._mapping["account_name"], r._mapping["key_name"])
        for r in conn.execute(query).all()
    ]


def all_rules(conn: Connection) -> list[RuleRow]:
    """Every rule, unlabelled: the snapshot a gateway enforces."""
    return [_row(r._mapping) for r in conn.execute(select(limit_rules)).all()]


def fingerprint(conn: Connection) -> tuple[int, datetime | None]:
    """(row count, newest update): changes whenever a rule is set or deleted, so a
    gateway reloads its snapshot only then."""
    count, newest = conn.execute(
        select(func.count(), func.max(limit_rules.c.updated_at)).select_from(limit_rules)
    ).one()
    return int(count), newest


def _row(m: Any) -> RuleRow:
    return RuleRow(
        scope=m["scope"],
        scope_id=m["scope_id"],
        model=m["model"],
        rpm=m["rpm"],
        tpm=m["tpm"],
        tpd=m["tpd"],
        concurrency=m["concurrency"],
        updated_at=m["updated_at"],
    )


__all__ = [
    "LIMIT_COLUMNS",
    "LabelledRule",
    "RuleRow",
    "all_rules",
    "delete_rule",
    "fingerprint",
    "list_rules",
    "upsert_rule",
]
