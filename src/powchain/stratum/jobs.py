"""Stratum jobs: the node's block template cut into what `mining.notify` sends.

A job is one template (tip, transactions, time, bits) shared by every connection; what differs
per connection is the coinbase: it pays the connection's authorized address and carries its
extranonce1. The coinbase is powchain's (core/transaction.py)

    version:u8 | chain_id:u32 | height:u64 | recipient:32 | amount:u64 | len:u8 | data

with `data = extranonce1 (4) | extranonce2 (8) | COINBASE_MESSAGE`, so

    coinb1 = everything up to and including the data's length byte (54 bytes)
    coinb2 = COINBASE_MESSAGE

and a miner hashes `coinb1 | extranonce1 | extranonce2 | coinb2` as any Stratum miner does.
The data length is fixed (12 + len(COINBASE_MESSAGE) = 30 bytes), so the coinbase is never
exactly 64 bytes (a 64-byte transaction is invalid: issue 11, BIP-54).

The merkle branch is the coinbase's path (position 0) in Bitcoin's tree over the txids, each
hash in internal byte order: root = fold(sha256d(coinbase), branch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.hashing import fold_branch as fold_merkle_branch
from ..core.hashing import merkle_branch
from ..core.transaction import Transaction
from ..node.miner import build_template
from .protocol import hex_u32, word_swap

if TYPE_CHECKING:
    from ..node.node import Node

__all__ = [
    "EXTRANONCE1_SIZE",
    "EXTRANONCE2_SIZE",
    "COINBASE_MESSAGE",
    "COINBASE_DATA_SIZE",
    "Job",
    "coinbase_branch",
    "fold_branch",
    "make_job",
]

EXTRANONCE1_SIZE = 4
EXTRANONCE2_SIZE = 8
COINBASE_MESSAGE = b"/powchain stratum/"
COINBASE_DATA_SIZE = EXTRANONCE1_SIZE + EXTRANONCE2_SIZE + len(COINBASE_MESSAGE)
MAX_SHARES_PER_JOB = 16_384
"""Distinct accepted shares remembered per job for duplicate detection (~2 MB at most); a
job that is full refuses further shares as stale and a fresh job goes out."""

_NO_RECIPIENT = bytes(32)
_COINBASE_SIZE = Transaction.coinbase(0, 0, _NO_RECIPIENT, 0, bytes(COINBASE_DATA_SIZE)).size
assert _COINBASE_SIZE != 64 and COINBASE_DATA_SIZE < 0xFD  # a constant of this module


def coinbase_branch(txids: list[bytes]) -> list[bytes]:
    """The merkle branch of position 0 over [coinbase] + `txids` (the other transactions'
    txids, internal order): the sibling at each level, lowest first. The coinbase's own hash
    is unknown here, and position 0's siblings never depend on it (core.hashing.merkle_branch)."""
    return merkle_branch([bytes(32), *txids], 0)


def fold_branch(coinbase_txid: bytes, branch: list[bytes]) -> bytes:
    """The merkle root from the coinbase's txid and its branch (both internal order); raises
    core.hashing.BranchError for a branch deeper than the tree can be."""
    return fold_merkle_branch(coinbase_txid, 0, branch)


@dataclass
class Job:
    """One template as a Stratum job. `time` is the template's ntime, `min_time` the
    earliest ntime a share may use (MTP + 1); `reward` in base units; `txs` the
    transactions after the coinbase; `branch` the coinbase's merkle branch."""

    job_id: str
    height: int
    chain_id: int
    prev_block: bytes
    version: int
    bits: int
    time: int
    min_time: int
    reward: int
    txs: tuple[Transaction, ...]
    branch: list[bytes]
    created: float  # monotonic seconds
    shares: set[bytes] = field(default_factory=set, repr=False)  # hashes of accepted shares

    def coinbase_parts(self, recipient: bytes) -> tuple[bytes, bytes]:
        """(coinb1, coinb2) of the coinbase paying `recipient` (32 bytes)."""
        placeholder = bytes(EXTRANONCE1_SIZE + EXTRANONCE2_SIZE) + COINBASE_MESSAGE
        raw = Transaction.coinbase(
            self.chain_id, self.height, recipient, self.reward, placeholder
        ).serialize()
        return raw[: len(raw) - COINBASE_DATA_SIZE], COINBASE_MESSAGE

    def notify_params(self, recipient: bytes, clean: bool) -> list[Any]:
        """`mining.notify` params: job_id, prevhash (word-swapped), coinb1, coinb2, branch,
        version, nbits, ntime (8 hex digits each), clean_jobs."""
        coinb1, coinb2 = self.coinbase_parts(recipient)
        return [
            self.job_id,
            word_swap(self.prev_block).hex(),
            coinb1.hex(),
            coinb2.hex(),
            [h.hex() for h in self.branch],
            hex_u32(self.version),
            hex_u32(self.bits),
            hex_u32(self.time),
            clean,
        ]

    @property
    def full(self) -> bool:
        return len(self.shares) >= MAX_SHARES_PER_JOB


def make_job(node: Node, job_id: str, now: float) -> Job:
    """A job on the node's tip from its block template (node/miner.py::build_template)."""
    template = build_template(node, _NO_RECIPIENT)
    header, coinbase = template.header, template.txs[0]
    txs = template.txs[1:]
    return Job(
        job_id=job_id,
        height=coinbase.nonce,
        chain_id=coinbase.chain_id,
        prev_block=header.prev_block,
        version=header.version,
        bits=header.bits,
        time=header.time,
        min_time=node.median_time_past() + 1,
        reward=coinbase.amount,
        txs=txs,
        branch=coinbase_branch([tx.txid for tx in txs]),
        created=now,
    )
