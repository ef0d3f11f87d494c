"""What the explorer's templates show: people's strings and small view models built from the
Node facade. Money stays int until `coins()` formats it exactly (`core.units.format_coins`);
hashes become byte-reversed hex here; times stay Unix seconds (the browser formats them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...consensus.pow import bits_to_target
from ...core.hashing import hash_to_hex
from ...core.transaction import Transaction, post_text
from ..schemas import address_or_none, printable

__all__ = ["coins", "difficulty_of", "tx_view", "block_rows", "Series", "series", "TxView"]

CHART_WIDTH = 600
CHART_HEIGHT = 140


def coins(units: int) -> str:
    """'1.50000000' for 150,000,000 units (exact; SPEC §1)."""
    from ...core.units import format_coins

    return format_coins(units)


def difficulty_of(bits: int, pow_limit_bits: int) -> float:
    """Easiest target / target of `bits` (1.0 at the network's pow limit)."""
    return bits_to_target(pow_limit_bits) / bits_to_target(bits)


@dataclass(frozen=True, slots=True)
class TxView:
    """A transaction as a table row or a page: addresses, units, post text."""

    txid: str
    coinbase: bool
    sender: str | None
    recipient: str | None
    amount: int
    fee: int
    nonce: int
    size: int
    post: str | None
    data_hex: str = ""
    data_text: str = ""


def tx_view(tx: Transaction, params: Any) -> TxView:
    return TxView(
        txid=hash_to_hex(tx.txid),
        coinbase=tx.is_coinbase,
        sender=None if tx.is_coinbase else address_or_none(params, tx.sender),
        recipient=address_or_none(params, tx.recipient),
        amount=tx.amount,
        fee=tx.fee,
        nonce=tx.nonce,
        size=tx.size,
        post=None if tx.is_coinbase else post_text(tx.data),
        data_hex=tx.data.hex(),
        data_text=printable(tx.data),
    )


def block_rows(node: Any, top: int, count: int) -> list[dict[str, Any]]:
    """Summaries of active-chain blocks `top`, `top - 1`, ... (at most `count`), newest first."""
    rows = []
    for height in range(top, max(top - count, -1), -1):
        block_hash = node.block_hash_at(height)
        block = None if block_hash is None else node.get_block(block_hash)
        if block is None:
            continue
        rows.append(
            {
                "height": height,
                "hash": hash_to_hex(block.hash),
                "time": block.header.time,
                "txs": len(block.txs),
                "size": block.size,
                "confirmations": node.tip.height - height + 1,
            }
        )
    return rows


@dataclass(frozen=True, slots=True)
class Series:
    """A line chart drawn as an SVG polyline: `points` in a CHART_WIDTH x CHART_HEIGHT box."""

    points: str
    low: float
    high: float
    last: float | None
    count: int


def series(values: list[float]) -> Series:
    """Scale `values` (oldest first) into the chart box; flat when all are equal."""
    if not values:
        return Series("", 0.0, 0.0, None, 0)
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = CHART_WIDTH / max(1, len(values) - 1)
    pad = 6
    inner = CHART_HEIGHT - 2 * pad
    points = " ".join(
        f"{i * step:.1f},{pad + inner - (v - low) / span * inner:.1f}" for i, v in enumerate(values)
    )
    return Series(points, low, high, values[-1], len(values))


def chart_data(node: Any, count: int = 200) -> tuple[Series, Series]:
    """(block intervals in seconds, difficulty) over the last `count` active-chain blocks."""
    entries = []
    entry = node.tip
    while entry is not None and len(entries) <= count:
        entries.append(entry)
        entry = entry.prev
    entries.reverse()
    # the genesis block's time is fixed in code, long before block 1: no interval to it
    entries = [e for e in entries if e.height > 0] or entries
    intervals = [float(b.time - a.time) for a, b in zip(entries, entries[1:], strict=False)]
    limit = node.params.pow_limit_bits
    difficulty = [difficulty_of(e.bits, limit) for e in entries[1:]]
    return series(intervals), series(difficulty)


def si(value: float | None, unit: str) -> str:
    """'1.23 kH/s' style with SI prefixes; '-' for None (`node.hashrate.format_rate`)."""
    from ...node.hashrate import format_rate

    return format_rate(value, unit)


def iso_utc(ts: int) -> str:
    """'2024-05-01 12:00:00 UTC' for Unix seconds (the browser shows local time instead)."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
