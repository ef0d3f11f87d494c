"""The consensus state at the tip, in SQLite: accounts and per-height coinbases.

`SqliteStateView` implements `consensus.state.StateView`. An account equal to the empty
account has no row, so connecting then disconnecting a block leaves the table identical.
Writers run inside the caller's `db.transaction()` (one per block connect/disconnect).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..consensus.state import EMPTY_ACCOUNT, AccountState
from .db import Database

__all__ = ["SqliteStateView", "write_accounts", "put_coinbase", "delete_coinbase"]


class SqliteStateView:
    """Read-only view of the stored state (see `consensus.state.StateView`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_account(self, pubkey: bytes) -> AccountState:
        row = self._db.query_one(
            "SELECT balance, nonce, immature FROM accounts WHERE pubkey = ?", (pubkey,)
        )
        return EMPTY_ACCOUNT if row is None else AccountState(row[0], row[1], row[2])

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        row = self._db.query_one(
            "SELECT recipient, amount FROM coinbases WHERE height = ?", (height,)
        )
        return None if row is None else (bytes(row[0]), row[1])


def write_accounts(db: Database, changes: Iterable[tuple[bytes, AccountState]]) -> None:
    """Store each account's new state; an empty account deletes its row."""
    for pubkey, acc in changes:
        if acc.is_empty:
            db.execute("DELETE FROM accounts WHERE pubkey = ?", (pubkey,))
        else:
            db.execute(
                "INSERT OR REPLACE INTO accounts (pubkey, balance, nonce, immature) "
                "VALUES (?, ?, ?, ?)",
                (pubkey, acc.balance, acc.nonce, acc.immature),
            )


def put_coinbase(db: Database, height: int, recipient: bytes, amount: int) -> None:
    db.execute(
        "INSERT OR REPLACE INTO coinbases (height, recipient, amount) VALUES (?, ?, ?)",
        (height, recipient, amount),
    )


def delete_coinbase(db: Database, height: int) -> None:
    db.execute("DELETE FROM coinbases WHERE height = ?", (height,))
