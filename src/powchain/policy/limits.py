"""Mempool limits: total size, per-sender queue depth, expiry, transaction size. Pure.

Defaults; a node's configuration may override `max_bytes` and `expiry`.
"""

from __future__ import annotations

from ..consensus.errors import Kind, Rejected

__all__ = [
    "DEFAULT_MEMPOOL_MAX_BYTES",
    "DEFAULT_MEMPOOL_EXPIRY",
    "MAX_PENDING_PER_SENDER",
    "MAX_FUTURE_PER_SENDER",
    "MAX_STANDARD_TX_SIZE",
    "check_queue_depth",
    "check_future_depth",
    "is_expired",
]

DEFAULT_MEMPOOL_MAX_BYTES = 50_000_000
"""Serialized bytes the mempool holds before evicting the lowest fee rates (~50 blocks)."""

DEFAULT_MEMPOOL_EXPIRY = 14 * 24 * 3600
"""Seconds a transaction may wait in the mempool (Core: -mempoolexpiry, 336 h)."""

MAX_PENDING_PER_SENDER = 64
"""A sender's queue holds nonces confirmed .. confirmed + 63 (gaps allowed, not mined)."""

MAX_FUTURE_PER_SENDER = 8
"""Transactions a sender may hold behind a nonce gap (beyond its next nonce): they cannot be
mined until the gap fills, so their fees are not yet payable (geth: the per-account queue).
Room for a wallet that broadcasts a few payments out of order, not for pinning the pool."""

MAX_STANDARD_TX_SIZE = 10_000
"""Largest transaction relayed; consensus allows ~4.3 kB of data per tx, so this is slack."""


def check_queue_depth(nonce: int, confirmed_nonce: int) -> None:
    """Raises `Rejected(POLICY, 'too-many-pending')` when `nonce` is 64 or more beyond the
    sender's confirmed nonce. (A nonce below it is consensus-invalid and checked elsewhere.)"""
    if nonce >= confirmed_nonce + MAX_PENDING_PER_SENDER:
        raise Rejected(
            Kind.POLICY,
            "too-many-pending",
            f"nonce {nonce} is too far ahead of the confirmed nonce {confirmed_nonce}"
            f" (at most {MAX_PENDING_PER_SENDER} pending per sender)",
        )


def is_expired(entered: int, now: int, expiry: int) -> bool:
    """True when a transaction that entered the mempool at `entered` (s) has waited `expiry` s."""
    return now - entered >= expiry


def check_future_depth(future_held: int) -> None:
    """Raises `Rejected(POLICY, 'too-many-future')` when a sender holding `future_held`
    transactions behind a nonce gap adds one more beyond MAX_FUTURE_PER_SENDER."""
    if future_held >= MAX_FUTURE_PER_SENDER:
        raise Rejected(
            Kind.POLICY,
            "too-many-future",
            f"the sender already has {future_held} transactions behind a nonce gap"
            f" (at most {MAX_FUTURE_PER_SENDER}); send the missing nonce first",
        )
