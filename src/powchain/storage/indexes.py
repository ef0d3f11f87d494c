"""Indexes of the active chain: tx index, address history and posts (SQL only).

`index_block` / `unindex_block` run inside the connect / disconnect transaction of the block,
so the indexes always describe exactly the active chain. Queries page newest first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.block import Block
from ..core.transaction import post_text
from .db import Database

__all__ = [
    "TxLocation",
    "HistoryItem",
    "PostRecord",
    "index_block",
    "unindex_block",
    "lookup_tx",
    "address_history",
    "posts",
]

IN, OUT = "in", "out"


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a confirmed transaction sits: block hash, height and position in the block."""

    block_hash: bytes
    height: int
    pos: int


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One entry of an address's history. `direction`: 'in' (received) or 'out' (sent)."""

    txid: bytes
    height: int
    pos: int
    direction: str


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A decoded post. `author`: sender's 32-byte key; `time`: its block's header time."""

    txid: bytes
    author: bytes
    text: str
    height: int
    pos: int
    time: int


def index_block(db: Database, block: Block, height: int) -> None:
    """Add every transaction of `block` (active at `height`) to the indexes."""
    block_hash = block.hash
    located, history, posted = [], [], []  # one batched statement per table
    for pos, tx in enumerate(block.txs):
        txid = tx.txid
        located.append((txid, block_hash, height, pos))
        history.append((tx.recipient, height, pos, IN, txid))
        if not tx.is_coinbase:
            history.append((tx.sender, height, pos, OUT, txid))
        text = None if tx.is_coinbase else post_text(tx.data)
        if text is not None:
            posted.append((height, pos, txid, tx.sender, text, block.header.time))
    db.executemany(
        "INSERT OR REPLACE INTO tx_index (txid, block_hash, height, pos) VALUES (?, ?, ?, ?)",
        located,
    )
    db.executemany(
        "INSERT OR REPLACE INTO address_history (address, height, pos, direction, txid) "
        "VALUES (?, ?, ?, ?, ?)",
        history,
    )
    db.executemany(
        "INSERT OR REPLACE INTO posts (height, pos, txid, author, text, time) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        posted,
    )


def unindex_block(db: Database, block: Block, height: int) -> None:
    """Remove everything `index_block(db, block, height)` added (on disconnect), by primary key."""
    located, history = [], []
    for pos, tx in enumerate(block.txs):
        located.append((tx.txid,))
        history.append((tx.recipient, height, pos, IN))
        if not tx.is_coinbase:
            history.append((tx.sender, height, pos, OUT))
    db.executemany("DELETE FROM tx_index WHERE txid = ?", located)
    db.executemany(
        "DELETE FROM address_history WHERE address = ? AND height = ? AND pos = ? "
        "AND direction = ?",
        history,
    )
    db.execute("DELETE FROM posts WHERE height = ?", (height,))


def lookup_tx(db: Database, txid: bytes) -> TxLocation | None:
    row = db.query_one("SELECT block_hash, height, pos FROM tx_index WHERE txid = ?", (txid,))
    return None if row is None else TxLocation(bytes(row[0]), row[1], row[2])


def _parse_cursor(cursor: str) -> tuple[int, int, str]:
    """A cursor is 'height:pos:direction' of the last item of the previous page."""
    parts = cursor.split(":")
    if len(parts) != 3 or parts[2] not in (IN, OUT):
        raise ValueError("malformed cursor")
    height, pos = int(parts[0]), int(parts[1])
    if not (0 <= height < 2**63 and 0 <= pos < 2**63):  # SQLite INTEGER, else OverflowError
        raise ValueError("malformed cursor")
    return height, pos, parts[2]


def address_history(
    db: Database, address: bytes, cursor: str | None, limit: int
) -> tuple[list[HistoryItem], str | None]:
    """A page of `address`'s history, newest first, and the cursor of the next page (or None).

    Raises ValueError for a malformed cursor (the API answers 400).
    """
    sql = "SELECT txid, height, pos, direction FROM address_history WHERE address = ?"
    args: list[object] = [address]
    if cursor:
        sql += " AND (height, pos, direction) < (?, ?, ?)"
        args.extend(_parse_cursor(cursor))
    sql += " ORDER BY height DESC, pos DESC, direction DESC LIMIT ?"
    args.append(limit + 1)
    rows = db.query(sql, args)
    items = [HistoryItem(bytes(r[0]), r[1], r[2], r[3]) for r in rows[:limit]]
    if len(rows) <= limit or not items:
        return items, None
    last = items[-1]
    return items, f"{last.height}:{last.pos}:{last.direction}"


def posts(db: Database, before_height: int | None, limit: int) -> list[PostRecord]:
    """Up to `limit` posts of blocks below `before_height` (all when None), newest first."""
    sql = "SELECT txid, author, text, height, pos, time FROM posts"
    args: list[object] = []
    if before_height is not None:
        sql += " WHERE height < ?"
        args.append(before_height)
    sql += " ORDER BY height DESC, pos DESC LIMIT ?"
    args.append(limit)
    return [
        PostRecord(bytes(r[0]), bytes(r[1]), r[2], r[3], r[4], r[5]) for r in db.query(sql, args)
    ]
