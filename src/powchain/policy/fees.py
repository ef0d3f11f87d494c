"""Fee policy: the minimum relay fee, fee rates and the replace-by-fee bump. Pure.

Policy, not consensus: a block paying less is still valid; this node just will not relay or
mine such transactions. Fee rates are compared exactly by cross-multiplication, never floats;
for display they are given as integer units per 1,000 bytes.
"""

from __future__ import annotations

from ..consensus.errors import Kind, Rejected
from ..core.transaction import Transaction

__all__ = [
    "MIN_RELAY_FEE_PER_BYTE",
    "RBF_BUMP_PERCENT",
    "min_relay_fee",
    "check_min_relay_fee",
    "fee_rate_per_kb",
    "lower_fee_rate",
    "min_replacement_fee",
    "check_replacement",
]

MIN_RELAY_FEE_PER_BYTE = 1
"""Units per serialized byte a transaction must pay to be relayed and mined.

(Core: minRelayTxFee.)"""

RBF_BUMP_PERCENT = 10
"""A replacement of the same sender and nonce must pay at least this much more fee."""


def min_relay_fee(size: int) -> int:
    """Smallest fee in units for a transaction of `size` bytes."""
    return size * MIN_RELAY_FEE_PER_BYTE


def check_min_relay_fee(tx: Transaction) -> None:
    """Raises `Rejected(POLICY, 'fee-too-low')` when `tx.fee` < min_relay_fee(tx.size)."""
    needed = min_relay_fee(tx.size)
    if tx.fee < needed:
        raise Rejected(
            Kind.POLICY, "fee-too-low", f"fee {tx.fee} units, at least {needed} for {tx.size} bytes"
        )


def fee_rate_per_kb(fee: int, size: int) -> int:
    """Fee rate in units per 1,000 bytes, rounded down (display and statistics)."""
    return fee * 1000 // max(size, 1)


def lower_fee_rate(fee_a: int, size_a: int, fee_b: int, size_b: int) -> bool:
    """True when fee_a/size_a < fee_b/size_b, exactly."""
    return fee_a * size_b < fee_b * size_a


def min_replacement_fee(old_fee: int) -> int:
    """Smallest fee (units) a replacement of a transaction paying `old_fee` must pay: +10 %,
    rounded up, and always at least one unit more."""
    bump = -(-old_fee * RBF_BUMP_PERCENT // 100)
    return old_fee + max(bump, 1)


def check_replacement(old: Transaction, new: Transaction) -> None:
    """Replace-by-fee of the same sender and nonce (Core: BIP-125 rule 3, simplified).

    Raises `Rejected(DUPLICATE, 'duplicate')` when `new` is `old`, and
    `Rejected(POLICY, 'insufficient-fee')` when `new.fee` < min_replacement_fee(old.fee).
    """
    if new.txid == old.txid:
        raise Rejected(Kind.DUPLICATE, "duplicate", "transaction already in the mempool")
    needed = min_replacement_fee(old.fee)
    if new.fee < needed:
        raise Rejected(
            Kind.POLICY,
            "insufficient-fee",
            f"replacing nonce {old.nonce} needs a fee of at least {needed} units, got {new.fee}",
        )
