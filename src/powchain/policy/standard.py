"""Standardness: transactions this node relays and mines, beyond what consensus requires. Pure.

Consensus already bounds sizes and checks post text. Policy additionally keeps the reserved
`data` tags (anything but empty data or a 0x01 post) out of the mempool until a future version
gives them a meaning, and bounds the transaction size.
"""

from __future__ import annotations

from ..consensus.engine import engine_for
from ..consensus.errors import Kind, Rejected
from ..core.params import ChainParams
from ..core.transaction import Transaction, post_text, vote_of
from .limits import MAX_STANDARD_TX_SIZE

__all__ = ["check_standard"]


def check_standard(tx: Transaction, params: ChainParams | None = None) -> None:
    """Raises `Rejected(POLICY, reason)`: `coinbase` for a loose coinbase, `tx-size` above
    MAX_STANDARD_TX_SIZE bytes, `nonstandard-data` when `data` is neither empty nor a post
    of valid UTF-8 text nor, where the engine of `params` carries votes, a validator vote."""
    if tx.is_coinbase:
        raise Rejected(Kind.POLICY, "coinbase", "a coinbase is only valid inside a block")
    if tx.size > MAX_STANDARD_TX_SIZE:
        raise Rejected(Kind.POLICY, "tx-size", f"{tx.size} bytes, limit {MAX_STANDARD_TX_SIZE}")
    if not tx.data or post_text(tx.data) is not None:
        return
    if params is not None and engine_for(params).votes and vote_of(tx.data) is not None:
        return
    raise Rejected(Kind.POLICY, "nonstandard-data", "data must be empty or a UTF-8 post")
