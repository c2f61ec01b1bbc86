"""The double-entry core: validation, idempotent posting, batched running totals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tokenward.ledger.check import check_ledger
from tokenward.ledger.double_entry import (
    Entry,
    Transaction,
    balance,
    kind_of,
    owner_of,
    post,
    post_many,
    transfer,
)
from tokenward.storage import Store
from tokenward.storage.tables_ledger import ledger_accounts, ledger_entries

AT = datetime(2026, 3, 1, tzinfo=UTC)


def grant(tx_id: str, account: str, amount: int) -> Transaction:
    return transfer(
        tx_id,
        "grant",
        debit="funding:grants:USD",
        credit=f"credit:{account}:USD",
        amount=amount,
        currency="USD",
        at=AT,
        account_id=account,
    )


def test_a_transaction_must_balance_in_one_currency() -> None:
    assert (kind_of("credit:acc_1:USD"), owner_of("credit:acc_1:USD")) == ("credit", "acc_1")
    assert owner_of("revenue:usage:USD") == ""
    with pytest.raises(ValueError, match="unknown ledger account"):
        Entry("wallet:x:USD", "debit", 1)
    with pytest.raises(ValueError, match="whole number of micros"):
        Entry("credit:a:USD", "debit", 0)
    with pytest.raises(ValueError, match="whole number of micros"):
        Entry("credit:a:USD", "debit", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not balance"):
        Transaction(
            "t",
            "x",
            "USD",
            AT,
            (
                Entry("credit:a:USD", "debit", 2),
                Entry("revenue:usage:USD", "credit", 1),
            ),
        )
    with pytest.raises(ValueError, match="is not in USD"):
        transfer("t", "x", debit="credit:a:EUR", credit="credit:b:USD", amount=1,
                 currency="USD", at=AT)  # fmt: skip
    with pytest.raises(ValueError, match="at least two entries"):
        Transaction("t", "x", "USD", AT, (Entry("credit:a:USD", "debit", 1),))


def test_posting_is_idempotent_and_batches_sum_the_totals(store: Store) -> None:
    with store.transaction(write=True) as conn:
        assert post(conn, grant("grant:1", "a", 100)) is True
        assert post(conn, grant("grant:1", "a", 100)) is False
        written = post_many(
            conn,
            [grant("grant:2", "a", 5), grant("grant:2", "a", 7), grant("grant:1", "a", 9)]
            + [grant(f"grant:b{i}", "b", i + 1) for i in range(1500)],  # > one INSERT chunk
        )
        assert [tx.id for tx in written][:2] == ["grant:2", "grant:b0"] and len(written) == 1501
        assert balance(conn, "credit:a:USD") == 105
        assert balance(conn, "credit:b:USD") == 1500 * 1501 // 2
        assert balance(conn, "funding:grants:USD") == 105 + 1500 * 1501 // 2
        assert balance(conn, "credit:nobody:USD") == 0
        owners = dict(conn.execute(select(ledger_accounts.c.id, ledger_accounts.c.owner)).all())
        assert owners == {"credit:a:USD": "a", "credit:b:USD": "b", "funding:grants:USD": ""}
        assert conn.execute(select(func.count()).select_from(ledger_entries)).scalar_one() == 3004
    assert check_ledger(store).ok


def test_applied_entries_are_not_moved_twice(store: Store) -> None:
    with store.transaction(write=True) as conn:
        post(conn, grant("grant:1", "a", 100))
    applied = grant("grant:1", "a", 100).entries[:1]
    with pytest.raises(ValueError, match="already exists"), store.transaction(write=True) as conn:
        post(conn, grant("grant:2", "a", 5))
        post(conn, grant("grant:1", "a", 100), applied=applied)
    with store.transaction(write=True) as conn:
        assert balance(conn, "credit:a:USD") == 100  # grant:2 rolled back with the error
        assert post(conn, grant("grant:3", "a", 1), applied=grant("grant:3", "a", 1).entries[1:])
        assert balance(conn, "credit:a:USD") == 100  # its credit side was "already moved"
