"""The only inbound paths for blocks, headers and transactions (Core: ProcessNewBlock,
ProcessNewBlockHeaders, AcceptToMemoryPool).

The API, the miner and the peer manager all come through here. Block order of checks, cheapest
first because a peer can make us run them for free: duplicate, context-free `check_block`
(size, PoW, structure, no 64-byte tx, merkle root) and the coinbase's chain id and height (a
failing body is not stored and its hash not marked invalid), header context (parent,
bits, median time past, future time), then the body is stored and most-work selection runs;
full state validation (nonces, balances, signatures) happens when the block connects.
After the tip moves the mempool is updated and events are published; validation never calls
the network.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..consensus.block_check import check_block
from ..consensus.errors import Kind, Rejected
from ..consensus.tx_check import check_coinbase_shape
from ..core.block import Block, BlockHeader
from ..core.transaction import Transaction
from ..storage.indexes import lookup_tx
from ..storage.state import SqliteStateView
from .chainstate import Activation, ChainState, IndexEntry
from .events import (
    BlockConnected,
    BlockDisconnected,
    HeaderAccepted,
    TipChanged,
    TxAccepted,
    TxRemoved,
)

if TYPE_CHECKING:
    from .node import Node

__all__ = [
    "accept_block",
    "accept_headers",
    "index_headers",
    "process_block",
    "process_headers",
    "submit_transaction",
    "apply_activation",
]

log = logging.getLogger(__name__)


def accept_block(
    chainstate: ChainState, block: Block, now: int
) -> tuple[IndexEntry, bool, Activation]:
    """Check, store and select; returns (entry, newly indexed header, what activation did).

    Raises before storing: DUPLICATE 'duplicate' (body already stored), CONSENSUS
    'duplicate-invalid' (known invalid), CONSENSUS reasons of `check_block`, of
    `check_coinbase_shape` (chain id, height = nonce, data length), of the header context and
    of the engine's `check_block_context` (issue 14: signatures, finality),
    MISSING_PARENT 'prev-blk-not-found', TIME_FUTURE 'time-too-new'. Those checks tell a body
    from what its header commits to, so a body that fails them is not stored and never marks
    the hash invalid (it may be a mutated copy of a valid block: Core's BLOCK_MUTATED); only a
    body that fails to connect does. A block that fails to connect is reported in
    `Activation.invalid`
    (use `raise_if_invalid`) so the caller can publish what did happen first.
    """
    known = chainstate.get(block.hash)
    if known is not None and known.is_invalid:
        raise Rejected(Kind.CONSENSUS, "duplicate-invalid", "block is known invalid")
    if known is not None and known.has_data:
        raise Rejected(Kind.DUPLICATE, "duplicate", "block already known")
    raw = block.serialize()
    check_block(block, chainstate.params, size=len(raw))
    parent = chainstate.get(block.header.prev_block)
    if parent is not None:  # else accept_header answers MISSING_PARENT
        check_coinbase_shape(block.txs[0], parent.height + 1, chainstate.params)
    entry, new_header = chainstate.accept_header(block.header, now, pow_checked=True)
    if chainstate.context_check is not None:  # the engine's rules needing state (signatures)
        chainstate.context_check(chainstate, entry, block)
    chainstate.store_block(entry, raw, block)
    return entry, new_header, chainstate.activate_best_chain()


def raise_if_invalid(entry: IndexEntry, activation: Activation) -> None:
    """Raise the rejection of `entry`'s block if connecting it (or an ancestor) failed."""
    if entry.hash in activation.invalid:
        raise activation.invalid[entry.hash]
    if entry.is_invalid:
        raise Rejected(Kind.CONSENSUS, "bad-prevblk", "an ancestor of the block is invalid")


def accept_headers(
    chainstate: ChainState, headers: Sequence[BlockHeader], now: int
) -> list[IndexEntry]:
    """Index the headers in order; returns the newly added entries. Raises `Rejected` of the
    first bad one, and then none of them is indexed."""
    added, error = index_headers(chainstate, headers, now)
    if error is not None:
        raise error
    return added


class _Abort(Exception):
    """Rolls back the SQLite transaction of a headers message with a bad header."""


def index_headers(
    chainstate: ChainState, headers: Sequence[BlockHeader], now: int
) -> tuple[list[IndexEntry], Rejected | None]:
    """Index headers in order in ONE SQLite transaction (one fsync for up to 2,000 headers).

    Returns (newly added entries, None), or ([], the rejection of the first bad header): a
    message with a bad header indexes nothing, in memory or on disk (issue 11: a peer cannot
    make us index 1,999 headers for the price of one bad one).
    """
    added: list[IndexEntry] = []
    best_before = chainstate.best_header
    error: Rejected | None = None
    try:
        with chainstate.db.transaction():
            for header in headers:
                try:
                    if chainstate.header_check is not None:  # the engine's bounds (issue 14)
                        chainstate.header_check(chainstate, header)
                    entry, new = chainstate.accept_header(header, now)
                except Rejected as exc:
                    error = exc
                    raise _Abort from exc
                if new:
                    added.append(entry)
    except _Abort:
        chainstate.unlink_headers(added, best_before)
        return [], error
    return added, None


def process_block(node: Node, block: Block) -> bool:
    """Node path for a block from the miner, a peer or the API; True when it was new.

    Raises `Rejected` as `accept_block` does, and with the block's own connect failure
    (e.g. CONSENSUS 'bad-nonce') after publishing whatever the activation changed.
    """
    entry, new_header, activation = accept_block(node.chainstate, block, node.now())
    if new_header:
        node.events.publish(HeaderAccepted(entry.hash, entry.height))
    apply_activation(node, activation)
    raise_if_invalid(entry, activation)
    return True


def process_headers(node: Node, headers: Sequence[BlockHeader]) -> int:
    """Node path for headers-first sync; returns how many were new; raises `Rejected`.

    A message with a bad header indexes none of them (and publishes nothing).
    """
    added, error = index_headers(node.chainstate, headers, node.now())
    for entry in added:
        node.events.publish(HeaderAccepted(entry.hash, entry.height))
    if error is not None:
        raise error
    return len(added)


def apply_activation(node: Node, activation: Activation) -> None:
    """After the tip moved: update the mempool, then publish block, tx and tip events."""
    if not activation.steps:
        return
    view = SqliteStateView(node.db)
    mempool = node.mempool
    removed: list[tuple[bytes, str]] = []
    disconnected = activation.disconnected
    if disconnected:
        readd = [tx for block, _ in reversed(disconnected) for tx in block.txs[1:]]
        removed += [(t, "evicted") for t in mempool.readd(readd, view, node.now())]
    for block, _ in activation.connected:
        mined = set(block.txids)
        removed += [
            (t, "block" if t in mined else "conflict") for t in mempool.remove_for_block(block)
        ]
    removed += [(t, "conflict") for t in mempool.revalidate(view)]
    for kind, block, height in activation.steps:
        event = BlockConnected if kind == "connect" else BlockDisconnected
        node.events.publish(event(block, height))
    for txid, reason in removed:
        node.events.publish(TxRemoved(txid, reason))
    tip, old_tip = node.chainstate.tip, activation.old_tip
    if old_tip is not None and tip is not old_tip:
        depth = old_tip.height - node.chainstate.find_fork(old_tip, tip).height
        log.info(  # Core: UpdateTip
            "new tip %s height %d%s", tip.header.hash_hex, tip.height,
            f" (reorg of {depth})" if depth else "",
        )  # fmt: skip
        node.events.publish(TipChanged(tip.hash, tip.height, depth))


def submit_transaction(node: Node, tx: Transaction) -> bytes:
    """Mempool acceptance; returns the txid. Raises `Rejected`: DUPLICATE 'duplicate' (in the
    mempool or confirmed), and every reason of `Mempool.accept`."""
    txid = tx.txid
    mempool = node.mempool
    if txid in mempool or lookup_tx(node.db, txid) is not None:
        raise Rejected(Kind.DUPLICATE, "duplicate", "transaction already known")
    removed = mempool.accept(tx, SqliteStateView(node.db), node.now())
    node.events.publish(TxAccepted(tx))
    for gone in removed:
        node.events.publish(TxRemoved(gone, "evicted"))
    return txid
