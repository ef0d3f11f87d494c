"""Standardness: transactions this node relays and mines, beyond what consensus requires. Pure.

Consensus already bounds sizes and checks post text. Policy additionally keeps the reserved
`data` tags (anything but empty data, a 0x01 post, a 0x02 notarization, or a 0x03 validator
vote where the engine carries votes) out of the mempool until a future version gives them a
meaning, and bounds the transaction size.
"""

from __future__ import annotations

from ..consensus.engine import engine_for
from ..consensus.errors import Kind, Rejected
from ..core.params import ChainParams
from ..core.transaction import NOTARY_TAG, Transaction, post_text, vote_of
from .limits import MAX_STANDARD_TX_SIZE

__all__ = ["check_standard", "check_not_empty", "is_notarization"]

NOTARY_DATA_SIZE = 33
"""A notarization's data: NOTARY_TAG then a 32-byte digest (issue 15, light.notary)."""


def is_notarization(data: bytes) -> bool:
    """`data` is 0x02 followed by exactly 32 bytes."""
    return len(data) == NOTARY_DATA_SIZE and data[0] == NOTARY_TAG


def check_standard(tx: Transaction, params: ChainParams | None = None) -> None:
    """Raises `Rejected(POLICY, reason)`: `coinbase` for a loose coinbase, `tx-size` above
    MAX_STANDARD_TX_SIZE bytes, `nonstandard-data` when `data` is neither empty, a post of
    valid UTF-8 text, a notarization (0x02 + 32 bytes) nor, where the engine of `params`
    carries votes, a validator vote (0x03), and those of `check_not_empty`."""
    if tx.is_coinbase:
        raise Rejected(Kind.POLICY, "coinbase", "a coinbase is only valid inside a block")
    if tx.size > MAX_STANDARD_TX_SIZE:
        raise Rejected(Kind.POLICY, "tx-size", f"{tx.size} bytes, limit {MAX_STANDARD_TX_SIZE}")
    if tx.data and post_text(tx.data) is None and not is_notarization(tx.data):
        carries_votes = params is not None and engine_for(params).votes
        if not (carries_votes and vote_of(tx.data) is not None):
            raise Rejected(
                Kind.POLICY,
                "nonstandard-data",
                "data must be empty, a UTF-8 post or a notarization (0x02 + 32 bytes)",
            )
    check_not_empty(tx)


def check_not_empty(tx: Transaction) -> None:
    """Raises `Rejected(POLICY, reason)` for a transaction that only burns its fee (issue 12):
    `zero-payment` for 0 units without data, `empty-post` for a post whose text is empty or
    only whitespace. Consensus still accepts both inside a block."""
    if tx.amount == 0 and not tx.data:
        raise Rejected(
            Kind.POLICY, "zero-payment", "a payment of 0 coins without data moves nothing"
        )
    text = post_text(tx.data)
    if text is not None and not text.strip():
        raise Rejected(Kind.POLICY, "empty-post", "a post needs some text")
