"""Block index rows, block bodies, undo data, the active chain and the tip (SQL only).

No rules here: callers (node.chainstate) decide what is valid; these functions persist it.
Chainwork is stored as a 32-byte big-endian blob so it sorts and survives any size of int.
Writers must run inside `db.transaction()` when several rows must change together.
"""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database

__all__ = [
    "IndexRow",
    "put_index_row",
    "set_status",
    "load_index",
    "put_block",
    "get_block_raw",
    "has_block",
    "put_undo",
    "get_undo",
    "delete_undo",
    "set_active",
    "delete_active",
    "active_hash",
    "load_active_chain",
    "get_tip",
    "set_tip",
]

TIP_KEY = "tip"


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One persisted block index entry. `header`: 80 bytes; `chainwork`: int."""

    hash: bytes
    prev: bytes
    height: int
    chainwork: int
    header: bytes
    status: int
    has_data: bool
    seq: int


def put_index_row(db: Database, row: IndexRow) -> None:
    db.execute(
        "INSERT OR REPLACE INTO block_index "
        "(hash, prev, height, chainwork, header, status, has_data, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.hash,
            row.prev,
            row.height,
            row.chainwork.to_bytes(32, "big"),
            row.header,
            row.status,
            int(row.has_data),
            row.seq,
        ),
    )


def set_status(db: Database, block_hash: bytes, status: int) -> None:
    db.execute("UPDATE block_index SET status = ? WHERE hash = ?", (status, block_hash))


def load_index(db: Database) -> list[IndexRow]:
    """Every index row, parents before children (by height, then first-seen order)."""
    rows = db.query(
        "SELECT hash, prev, height, chainwork, header, status, has_data, seq "
        "FROM block_index ORDER BY height, seq"
    )
    return [
        IndexRow(
            bytes(r[0]),
            bytes(r[1]),
            r[2],
            int.from_bytes(r[3], "big"),
            bytes(r[4]),
            r[5],
            bool(r[6]),
            r[7],
        )
        for r in rows
    ]


def put_block(db: Database, block_hash: bytes, raw: bytes) -> None:
    """Store a body and flag its index row as having data (one transaction)."""
    with db.transaction():
        db.execute("INSERT OR REPLACE INTO block_data (hash, raw) VALUES (?, ?)", (block_hash, raw))
        db.execute("UPDATE block_index SET has_data = 1 WHERE hash = ?", (block_hash,))


def get_block_raw(db: Database, block_hash: bytes) -> bytes | None:
    row = db.query_one("SELECT raw FROM block_data WHERE hash = ?", (block_hash,))
    return None if row is None else bytes(row[0])


def has_block(db: Database, block_hash: bytes) -> bool:
    return db.query_one("SELECT 1 FROM block_data WHERE hash = ?", (block_hash,)) is not None


def put_undo(db: Database, block_hash: bytes, raw: bytes) -> None:
    db.execute("INSERT OR REPLACE INTO block_undo (hash, raw) VALUES (?, ?)", (block_hash, raw))


def get_undo(db: Database, block_hash: bytes) -> bytes | None:
    row = db.query_one("SELECT raw FROM block_undo WHERE hash = ?", (block_hash,))
    return None if row is None else bytes(row[0])


def delete_undo(db: Database, block_hash: bytes) -> None:
    db.execute("DELETE FROM block_undo WHERE hash = ?", (block_hash,))


def set_active(db: Database, height: int, block_hash: bytes) -> None:
    db.execute(
        "INSERT OR REPLACE INTO active_chain (height, hash) VALUES (?, ?)", (height, block_hash)
    )


def delete_active(db: Database, height: int) -> None:
    db.execute("DELETE FROM active_chain WHERE height = ?", (height,))


def active_hash(db: Database, height: int) -> bytes | None:
    row = db.query_one("SELECT hash FROM active_chain WHERE height = ?", (height,))
    return None if row is None else bytes(row[0])


def load_active_chain(db: Database) -> list[bytes]:
    """Hashes of the active chain by height (index = height)."""
    return [bytes(r[0]) for r in db.query("SELECT hash FROM active_chain ORDER BY height")]


def get_tip(db: Database) -> bytes | None:
    return db.meta_get(TIP_KEY)


def set_tip(db: Database, block_hash: bytes) -> None:
    db.meta_set(TIP_KEY, block_hash)
