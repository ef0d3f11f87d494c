"""An address's history that reconciles: one row per transaction with what it did to the
balance, and the running balance after it (shared by `GET /accounts/{a}/txs` and the
explorer's address page).

The node's index has a row per (transaction, direction), so a post or a payment to oneself
has two; here they are one row of kind `self`. For an address A, a row's `delta` (base units,
signed) is: `received` +amount; `sent` -(amount + fee); `self` -fee; `coinbase` +amount (first
immature, then spendable). `balance_after` is balance + immature after the row's block: the
newest row's equals the account's balance + immature at the tip, and each older row's is the
newer one's minus the newer one's delta, so the deltas of every row sum to balance + immature
(genesis allocations appear as the genesis block's coinbase-like rows).

The cursor of the next page is `HEIGHT:POS:DIRECTION:BALANCE`: the index position of the last
row consumed and the running balance carried to the next page (so a page costs its own rows,
not every newer one). It only shapes the answer to the caller who sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.units import MAX_MONEY
from .bounds import parse_cursor as bounds_cursor

__all__ = ["HistoryRow", "history_page", "parse_cursor"]

MAX_CURSOR = 100


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One transaction of an address: `kind` (received, sent, self, coinbase), `delta` and
    `fee_paid` (units; fee_paid is the fee this address paid, 0 when it received),
    `balance_after` (units: balance + immature after it), and the node's `TxLookup`."""

    found: Any
    kind: str
    delta: int
    fee_paid: int
    balance_after: int | None


def parse_cursor(cursor: str) -> tuple[str, int | None]:
    """(index cursor, carried balance) from a history cursor; ValueError when malformed. A
    bare index cursor (`HEIGHT:POS:DIRECTION`, without the balance) is accepted too: its rows
    then have no `balance_after` (working it out would cost every newer row)."""
    if len(cursor) > MAX_CURSOR:
        raise ValueError("malformed cursor")
    balance: int | None = None
    if cursor.count(":") == 3:
        cursor, _, carried = cursor.rpartition(":")
        digits = carried[1:] if carried.startswith("-") else carried
        if not digits.isascii() or not digits.isdigit() or len(carried) > 20:
            raise ValueError("malformed cursor")
        balance = int(carried)
        if not -MAX_MONEY <= balance <= MAX_MONEY:
            raise ValueError("malformed cursor")
    checked = bounds_cursor(cursor)  # the index part: shape and SQLite's range
    if checked is None:
        raise ValueError("malformed cursor")
    return checked, balance


def _kind_and_delta(tx: Any, pub: bytes) -> tuple[str, int, int]:
    if tx.is_coinbase:
        return "coinbase", tx.amount, 0
    if tx.sender == pub and tx.recipient == pub:
        return "self", -tx.fee, tx.fee
    if tx.sender == pub:
        return "sent", -(tx.amount + tx.fee), tx.fee
    return "received", tx.amount, 0


def history_page(
    node: Any, pub: bytes, cursor: str | None, limit: int
) -> tuple[list[HistoryRow], str | None]:
    """Up to `limit` transactions of `pub`, newest first, and the next page's cursor (None on
    the last page). Raises ValueError for a malformed cursor."""
    running: int | None
    if cursor:
        index_cursor: str | None
        index_cursor, running = parse_cursor(cursor)
    else:
        account = node.account_info(pub)
        index_cursor, running = None, account.balance + account.immature
    # a transaction has at most two index rows: 2 * limit + 1 always holds `limit` of them
    # plus the first row after them
    items, more = node.address_history(pub, index_cursor, 2 * limit + 1)
    rows: list[HistoryRow] = []
    last: Any = None
    for item in items:
        if rows and item.txid == rows[-1].found.tx.txid:
            last = item  # the second index row of a self transaction
            continue
        if len(rows) == limit:
            more = more or "next"
            break
        found = node.get_transaction(item.txid)
        if found is None:
            continue
        kind, delta, fee = _kind_and_delta(found.tx, pub)
        rows.append(HistoryRow(found, kind, delta, fee, running))
        running = None if running is None else running - delta
        last = item
    if more is None or last is None:
        return rows, None
    carried = "" if running is None else f":{running}"
    return rows, f"{last.height}:{last.pos}:{last.direction}{carried}"
