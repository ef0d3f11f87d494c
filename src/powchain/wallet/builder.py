"""Build and sign transactions for a wallet. Pure: no I/O, randomness passed in.

A transfer pays `amount` units to `recipient`; a post is a transaction whose `data` is
0x01 + UTF-8 text, paying 0 units to its own author. The signature is BIP-340 over
`tx.sighash()` (SPEC §3) with 32 bytes of auxiliary randomness from the caller.
"""

from __future__ import annotations

from ..core.keys import schnorr_sign, xonly_pubkey
from ..core.transaction import TX_VERSION, Transaction, make_post_data, make_vote_data
from ..core.units import money_range

__all__ = [
    "FALLBACK_FEE_RATE",
    "SIGNED_TX_OVERHEAD",
    "build_transfer",
    "build_vote",
    "build_post",
    "suggest_fee",
    "tx_size",
]

FALLBACK_FEE_RATE = 10
"""Units per byte when the node's policy module is unavailable."""

SIGNED_TX_OVERHEAD = 1 + 4 + 8 + 32 + 32 + 8 + 8 + 64
"""Bytes of a transfer other than its CompactSize-prefixed data (v, chain id, ... signature)."""


def tx_size(data_len: int) -> int:
    """Serialized size in bytes of a transfer carrying `data_len` bytes of data."""
    prefix = 1 if data_len < 0xFD else 3 if data_len <= 0xFFFF else 5
    return SIGNED_TX_OVERHEAD + prefix + data_len


def suggest_fee(size: int, fee_rate: int = FALLBACK_FEE_RATE) -> int:
    """Fee in units for a transaction of `size` bytes at `fee_rate` units per byte."""
    return size * fee_rate


def build_transfer(
    secret: bytes,
    chain_id: int,
    nonce: int,
    recipient: bytes,
    amount: int,
    fee: int,
    aux: bytes,
    data: bytes = b"",
) -> Transaction:
    """A signed version-1 transaction from the key `secret` (32 bytes).

    `recipient`: 32-byte x-only key; `amount`, `fee`: units; `nonce`: the sender's next nonce;
    `aux`: 32 random bytes for BIP-340. Raises ValueError on out-of-range money or key sizes.
    """
    if len(recipient) != 32 or len(aux) != 32:
        raise ValueError("recipient and aux must be 32 bytes")
    if not (money_range(amount) and money_range(fee) and money_range(amount + fee)):
        raise ValueError("amount and fee must be within 0..MAX_MONEY")
    sender = xonly_pubkey(secret)
    unsigned = Transaction(
        TX_VERSION, chain_id, nonce, sender, recipient, amount, fee, data, bytes(64)
    )
    return unsigned.with_signature(schnorr_sign(secret, unsigned.sighash(), aux))


def build_post(
    secret: bytes, chain_id: int, nonce: int, text: str, fee: int, aux: bytes
) -> Transaction:
    """A signed post: 0 units to the author itself with data 0x01 + UTF-8 `text`."""
    return build_transfer(
        secret, chain_id, nonce, xonly_pubkey(secret), 0, fee, aux, make_post_data(text)
    )


def build_vote(
    secret: bytes, chain_id: int, nonce: int, subject: bytes, add: bool, fee: int, aux: bytes
) -> Transaction:
    """A signed validator vote (issue 14): 0 units to `subject` with data
    `make_vote_data(subject, add)`; counts when the sender is a validator."""
    return build_transfer(
        secret, chain_id, nonce, subject, 0, fee, aux, make_vote_data(subject, add)
    )
