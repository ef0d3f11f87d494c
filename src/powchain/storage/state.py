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

PREFETCH_BATCH = 500
"""Keys per `IN (...)` query (below SQLite's oldest bound of 999 parameters)."""


class SqliteStateView:
    """Read-only view of the stored state (see `consensus.state.StateView`)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._prefetched: dict[bytes, AccountState] = {}

    def prefetch(self, pubkeys: Iterable[bytes]) -> None:
        """Read these accounts in a few batched queries (a block's senders and recipients);
        valid until the state changes, so use a fresh view per block."""
        keys = list(dict.fromkeys(pubkeys))
        for i in range(0, len(keys), PREFETCH_BATCH):
            chunk = keys[i : i + PREFETCH_BATCH]
            for key in chunk:
                self._prefetched[key] = EMPTY_ACCOUNT
            marks = ",".join("?" * len(chunk))
            rows = self._db.query(
                f"SELECT pubkey, balance, nonce, immature FROM accounts WHERE pubkey IN ({marks})",
                chunk,
            )
            for row in rows:
                self._prefetched[bytes(row[0])] = AccountState(row[1], row[2], row[3])

    def get_account(self, pubkey: bytes) -> AccountState:
        known = self._prefetched.get(pubkey)
        if known is not None:
            return known
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
    deletes: list[tuple[bytes]] = []
    upserts: list[tuple[bytes, int, int, int]] = []
    for pubkey, acc in changes:  # each key once, so the two batches commute
        if acc.is_empty:
            deletes.append((pubkey,))
        else:
            upserts.append((pubkey, acc.balance, acc.nonce, acc.immature))
    db.executemany("DELETE FROM accounts WHERE pubkey = ?", deletes)
    db.executemany(
        "INSERT OR REPLACE INTO accounts (pubkey, balance, nonce, immature) VALUES (?, ?, ?, ?)",
        upserts,
    )


def put_coinbase(db: Database, height: int, recipient: bytes, amount: int) -> None:
    db.execute(
        "INSERT OR REPLACE INTO coinbases (height, recipient, amount) VALUES (?, ?, ?)",
        (height, recipient, amount),
    )


def delete_coinbase(db: Database, height: int) -> None:
    db.execute("DELETE FROM coinbases WHERE height = ?", (height,))
