"""Context-free block checks (SPEC §4): what a block must satisfy without knowing the chain.

Pure. Order: size and proof of work first (cheap, and PoW makes spam expensive), then structure,
no 64-byte transaction, duplicate txids and the merkle root, then each transaction's own
structure. Signatures are checked at connect time (`block_verify.connect_block`).

The merkle root commits to exactly one body only when no transaction is 64 bytes long (an inner
node's two 32-byte children, L || R, can parse as a 64-byte transaction: BIP-54) and no txid
repeats (CVE-2012-2459). A block failing `check_block` is not stored and its hash is never
marked invalid: the failure may be a mutated copy of a valid block (Core: the `mutated` flag of
BlockMerkleRoot and BLOCK_MUTATED).
"""

from __future__ import annotations

from ..core.block import Block
from ..core.params import ChainParams
from ..core.transaction import FORBIDDEN_SIZE
from .errors import Kind, Rejected
from .pow import check_proof_of_work
from .tx_check import check_transaction

__all__ = ["check_block"]


def _fail(reason: str, message: str) -> Rejected:
    return Rejected(Kind.CONSENSUS, reason, message, stateless=True)


def check_block(block: Block, params: ChainParams, *, size: int | None = None) -> None:
    """Raise `Rejected(CONSENSUS, reason)` unless `block` is well formed on its own.

    Reasons: `bad-blk-length` (size over MAX_BLOCK_SIZE), `high-hash` / `bad-diffbits` (PoW),
    `bad-version`, `bad-cb-missing`, `bad-cb-multiple`, `bad-txns-64-byte` (BIP-54),
    `bad-txns-duplicate` (CVE-2012-2459), `bad-txnmrklroot`, and any reason of
    `check_transaction`.
    `size` may be passed when the serialized size is already known.
    """
    block_size = block.size if size is None else size
    if block_size > params.max_block_size:
        raise _fail("bad-blk-length", f"block is {block_size} bytes, limit {params.max_block_size}")
    check_proof_of_work(block.header, params)
    if block.header.version != 1:
        raise _fail("bad-version", f"block version {block.header.version}, expected 1")
    if not block.txs or not block.txs[0].is_coinbase:
        raise _fail("bad-cb-missing", "the first transaction must be the coinbase")
    if any(tx.is_coinbase for tx in block.txs[1:]):
        raise _fail("bad-cb-multiple", "only the first transaction may be a coinbase")
    if any(tx.size == FORBIDDEN_SIZE for tx in block.txs):
        raise _fail("bad-txns-64-byte", "a transaction of exactly 64 bytes (BIP-54)")
    txids = block.txids
    # CVE-2012-2459: a repeated txid can leave the merkle root unchanged, so check both.
    if len(set(txids)) != len(txids):
        raise _fail("bad-txns-duplicate", "the block lists a transaction twice")
    if block.compute_merkle_root() != block.header.merkle_root:
        raise _fail("bad-txnmrklroot", "merkle root does not match the transactions")
    for tx in block.txs[1:]:
        check_transaction(tx, params)
