"""Context-free block checks (SPEC §4): what a block must satisfy without knowing the chain.

Pure. Order: size and the engine's header rule first (cheap; under proof of work the PoW makes
spam expensive), then the shape of what the block carries beyond its header (the engine's
trailer), structure, merkle root and duplicate txids, then each transaction's own structure.
Transaction signatures are checked at connect time (`block_verify.connect_block`).
"""

from __future__ import annotations

from ..core.block import Block
from ..core.params import ChainParams
from .engine import engine_for
from .errors import Kind, Rejected
from .tx_check import check_transaction

__all__ = ["check_block"]


def _fail(reason: str, message: str) -> Rejected:
    return Rejected(Kind.CONSENSUS, reason, message)


def check_block(block: Block, params: ChainParams, *, size: int | None = None) -> None:
    """Raise `Rejected(CONSENSUS, reason)` unless `block` is well formed on its own.

    Reasons: `bad-blk-length` (size over MAX_BLOCK_SIZE), the engine's header reasons
    (`high-hash` / `bad-diffbits` under PoW), its trailer reasons (`bad-blk-trailer`, ...),
    `bad-version`, `bad-cb-missing`, `bad-cb-multiple`, `bad-txnmrklroot`, `bad-txns-duplicate`
    (CVE-2012-2459), and any reason of `check_transaction`.
    `size` may be passed when the serialized size is already known.
    """
    block_size = block.size if size is None else size
    if block_size > params.max_block_size:
        raise _fail("bad-blk-length", f"block is {block_size} bytes, limit {params.max_block_size}")
    engine = engine_for(params)
    engine.check_header(block.header, params)
    engine.check_trailer(block, params)
    if block.header.version != 1:
        raise _fail("bad-version", f"block version {block.header.version}, expected 1")
    if not block.txs or not block.txs[0].is_coinbase:
        raise _fail("bad-cb-missing", "the first transaction must be the coinbase")
    if any(tx.is_coinbase for tx in block.txs[1:]):
        raise _fail("bad-cb-multiple", "only the first transaction may be a coinbase")
    txids = block.txids
    # CVE-2012-2459: a repeated txid can leave the merkle root unchanged, so check both.
    if len(set(txids)) != len(txids):
        raise _fail("bad-txns-duplicate", "the block lists a transaction twice")
    if block.compute_merkle_root() != block.header.merkle_root:
        raise _fail("bad-txnmrklroot", "merkle root does not match the transactions")
    for tx in block.txs[1:]:
        check_transaction(tx, params)
