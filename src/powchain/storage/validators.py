"""Validator-network tables (issue 14): the validator state after each block, and evidence.

`val_states(hash, state)`: `ValidatorSet.serialize()` of the state after a block (derivable
from the chain: a missing row is recomputed). `val_evidence`: equivocation evidence, two
headers on one parent with their signature trailers and the convicted keys (32 bytes each,
concatenated) at the set's `epoch`. SQL only; node/validators.py gives it meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from .db import Database

__all__ = ["SCHEMA", "EvidenceRow", "put_state", "get_state", "add_evidence", "evidence"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS val_states (
    hash  BLOB PRIMARY KEY,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS val_evidence (
    hash_a    BLOB NOT NULL,
    hash_b    BLOB NOT NULL,
    height    INTEGER NOT NULL,
    header_a  BLOB NOT NULL,
    trailer_a BLOB NOT NULL,
    header_b  BLOB NOT NULL,
    trailer_b BLOB NOT NULL,
    convicted BLOB NOT NULL,
    epoch     INTEGER NOT NULL,
    found_at  INTEGER NOT NULL,
    PRIMARY KEY (hash_a, hash_b)
)
"""


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    height: int
    header_a: bytes
    trailer_a: bytes
    header_b: bytes
    trailer_b: bytes
    convicted: tuple[bytes, ...]
    epoch: int
    found_at: int


def put_state(db: Database, block_hash: bytes, state: bytes) -> None:
    with db.transaction():
        db.execute(
            "INSERT OR REPLACE INTO val_states (hash, state) VALUES (?, ?)", (block_hash, state)
        )


def get_state(db: Database, block_hash: bytes) -> bytes | None:
    row = db.query_one("SELECT state FROM val_states WHERE hash = ?", (block_hash,))
    return None if row is None else bytes(row[0])


def add_evidence(db: Database, hash_a: bytes, hash_b: bytes, row: EvidenceRow) -> bool:
    """Store evidence once per pair of blocks (in either order); True when it was new."""
    a, b = sorted((hash_a, hash_b))
    with db.transaction():
        known = db.query_one("SELECT 1 FROM val_evidence WHERE hash_a = ? AND hash_b = ?", (a, b))
        if known is not None:
            return False
        db.execute(
            "INSERT INTO val_evidence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a, b, row.height, row.header_a, row.trailer_a, row.header_b, row.trailer_b,
                b"".join(row.convicted), row.epoch, row.found_at,
            ),
        )  # fmt: skip
    return True


def evidence(db: Database, limit: int = 100) -> list[EvidenceRow]:
    """Stored evidence, newest first (at most `limit`)."""
    rows = db.query(
        "SELECT height, header_a, trailer_a, header_b, trailer_b, convicted, epoch, found_at "
        "FROM val_evidence ORDER BY found_at DESC, height DESC LIMIT ?",
        (limit,),
    )
    out = []
    for r in rows:
        keys = bytes(r[5])
        convicted = tuple(keys[i : i + 32] for i in range(0, len(keys), 32))
        out.append(
            EvidenceRow(
                r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]), bytes(r[4]), convicted, r[6], r[7]
            )
        )
    return out
