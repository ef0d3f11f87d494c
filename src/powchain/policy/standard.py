"""Standardness: transactions this node relays and mines, beyond what consensus requires. Pure.

Consensus already bounds sizes and checks post text. Policy additionally keeps the reserved
`data` tags (anything but empty data, a 0x01 post or a 0x02 notarization) out of the mempool
until a future version gives them a meaning, and bounds the transaction size.
"""

from __future__ import annotations

from ..consensus.errors import Kind, Rejected
from ..core.transaction import NOTARY_TAG, Transaction, post_text
from .limits import MAX_STANDARD_TX_SIZE

__all__ = ["check_standard", "check_not_empty", "is_notarization"]

NOTARY_DATA_SIZE = 33
"""A notarization's data: NOTARY_TAG then a 32-byte digest (issue 15, light.notary)."""


def is_notarization(data: bytes) -> bool:
    """`data` is 0x02 followed by exactly 32 bytes."""
    return len(data) == NOTARY_DATA_SIZE and data[0] == NOTARY_TAG


def check_standard(tx: Transaction) -> None:
    """Raises `Rejected(POLICY, reason)`: `coinbase` for a loose coinbase, `tx-size` above
    MAX_STANDARD_TX_SIZE bytes, `nonstandard-data` when `data` is neither empty, a post of
    valid UTF-8 text nor a notarization (0x02 + 32 bytes), and those of `check_not_empty`."""
    if tx.is_coinbase:
        raise Rejected(Kind.POLICY, "coinbase", "a coinbase is only valid inside a block")
    if tx.size > MAX_STANDARD_TX_SIZE:
        raise Rejected(Kind.POLICY, "tx-size", f"{tx.size} bytes, limit {MAX_STANDARD_TX_SIZE}")
    if tx.data and post_text(tx.data) is None and not is_notarization(tx.data):
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
