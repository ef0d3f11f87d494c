"""Contextual block rules (SPEC §4): header context and the state transition. Pure.

`check_header_context` needs the parent's median time past and the bits the DAA requires;
`connect_block` applies a block to a state view and returns the overlay holding the new state
and its undo data. `now` is always a parameter: no clock is read here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.block import Block, BlockHeader
from ..core.params import ChainParams
from .errors import Kind, Rejected
from .state import StateOverlay, StateView
from .subsidy import block_subsidy
from .tx_check import check_coinbase_shape, check_signature
from .tx_verify import apply_transaction, credit

__all__ = [
    "median_time_past",
    "check_header_context",
    "connect_block",
    "connect_genesis",
    "mature_coinbase",
]


def median_time_past(times: Sequence[int], span: int = 11) -> int:
    """Median of the last (up to `span`, the network's `median_time_span`) block times, oldest
    first (Core: GetMedianTimePast, span 11)."""
    if not times:
        raise ValueError("median time past of no blocks")
    ordered = sorted(times[-span:])
    return ordered[len(ordered) // 2]


def check_header_context(
    header: BlockHeader, expected_bits: int, mtp: int, now: int, params: ChainParams
) -> None:
    """A header against its parent's context.

    Raises `Rejected(CONSENSUS, 'bad-diffbits')` when bits differ from what the DAA requires,
    `Rejected(CONSENSUS, 'time-too-old')` when time <= median time past, and
    `Rejected(TIME_FUTURE, 'time-too-new')` when time > now + 7,200 s (not remembered as
    invalid: the same header becomes valid later).
    """
    if header.bits != expected_bits:
        raise Rejected(
            Kind.CONSENSUS,
            "bad-diffbits",
            f"bits {header.bits:#010x}, the difficulty rule requires {expected_bits:#010x}",
        )
    if header.time <= mtp:
        raise Rejected(
            Kind.CONSENSUS, "time-too-old", f"time {header.time} is not after the MTP {mtp}"
        )
    if header.time > now + params.max_future_block_time:
        raise Rejected(
            Kind.TIME_FUTURE,
            "time-too-new",
            f"time {header.time} is more than {params.max_future_block_time} s past {now}",
        )


def mature_coinbase(view: StateOverlay, height: int, params: ChainParams) -> None:
    """Move the coinbase of block `height - maturity` from `immature` to `balance`."""
    source = height - params.coinbase_maturity
    if source < 1:
        return
    found = view.get_coinbase(source)
    if found is None:
        return
    recipient, amount = found
    if amount == 0:
        return
    acc = view.get_account(recipient)
    if acc.immature < amount:
        raise Rejected(Kind.CONSENSUS, "bad-cb-maturity", "immature credit missing (state corrupt)")
    view.set_account(
        recipient,
        type(acc)(balance=acc.balance, nonce=acc.nonce, immature=acc.immature - amount),
    )
    credit(view, recipient, amount)


def connect_genesis(block: Block, view: StateView, params: ChainParams) -> StateOverlay:
    """Apply the genesis block: its allocations (version-0 transactions after the coinbase)
    become spendable balance at once; its coinbase pays nothing.

    Raises `Rejected(CONSENSUS, 'bad-genesis')` for anything else in a genesis block.
    """
    overlay = StateOverlay(view)
    if not block.txs or block.txs[0].amount != 0:
        raise Rejected(Kind.CONSENSUS, "bad-genesis", "the genesis coinbase pays nothing")
    for tx in block.txs[1:]:
        if not tx.is_coinbase or tx.chain_id != params.chain_id:
            raise Rejected(Kind.CONSENSUS, "bad-genesis", "genesis allocations are version 0")
        credit(overlay, tx.recipient, tx.amount)
    return overlay


def connect_block(
    block: Block,
    height: int,
    view: StateView,
    params: ChainParams,
    *,
    check_signatures: bool = True,
) -> tuple[StateOverlay, int]:
    """Apply `block` at `height` to `view`; return (overlay with new state and undo, total fees).

    Order: mature the coinbase of height - COINBASE_MATURITY, apply each transaction (nonce and
    balance rules, then its signature when `check_signatures`), then credit the coinbase as
    immature. Raises `Rejected(CONSENSUS, reason)`: `bad-cb-*`, `bad-nonce`,
    `insufficient-funds`, `bad-signature`, `bad-cb-amount` (pays more than subsidy + fees).
    `check_signatures=False` is for callers that verified signatures already (e.g. in workers).
    """
    if height == 0:
        return connect_genesis(block, view, params), 0
    overlay = StateOverlay(view)
    coinbase = block.txs[0]
    check_coinbase_shape(coinbase, height, params)
    mature_coinbase(overlay, height, params)
    fees = 0
    for tx in block.txs[1:]:
        apply_transaction(tx, overlay)
        if check_signatures:
            check_signature(tx)
        fees += tx.fee
    allowed = block_subsidy(height, params) + fees
    if coinbase.amount > allowed:
        raise Rejected(
            Kind.CONSENSUS,
            "bad-cb-amount",
            f"coinbase pays {coinbase.amount}, at most subsidy + fees = {allowed}",
        )
    credit(overlay, coinbase.recipient, coinbase.amount, immature=True)
    return overlay, fees
