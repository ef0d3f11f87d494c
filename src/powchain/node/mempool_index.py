"""The mempool's sorted indexes, kept up to date on every insert and removal (O(log n) each):
the eviction order and the fee-rate statistics. Pure bookkeeping, no I/O.

Eviction order (Core: the mempool's descendant-score index, simplified to our nonce queues):
lowest first by (mineable, fee rate, newest first). `mineable` is 1 for a transaction a block
could include now (its nonce continues its sender's run from the confirmed nonce) and 0 for one
behind a nonce gap (a "future" transaction), so a future transaction never takes room ahead of
an executable one, whatever fee it claims: until its gap fills, its fee cannot be paid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sortedcontainers import SortedList

from ..policy.fees import fee_rate_per_kb

__all__ = ["RankIndex", "Rank", "RankedEntry", "rate_key", "outranks"]

Rank = tuple[int, int, int, bytes]
"""(mineable 0/1, `rate_key`, -arrival seq, txid): compares like the eviction order."""

RATE_SHIFT = 48
"""`rate_key` = fee * 2**48 // size orders fee rates exactly for sizes below 2**24 bytes (two
different rates fee/size differ by at least 1/(size1 * size2) > 2**-48), with one int per entry
instead of a Fraction."""


def rate_key(fee: int, size: int) -> int:
    """An integer that orders fee rates (units per byte) exactly; see RATE_SHIFT."""
    return (fee << RATE_SHIFT) // max(size, 1)


class RankedEntry(Protocol):
    """What the index reads of a mempool entry."""

    @property
    def txid(self) -> bytes: ...
    @property
    def fee(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def seq(self) -> int: ...


class RankIndex:
    """Eviction order and fee statistics of a mempool. Per entry it keeps one rank tuple and
    one fee-rate int in sorted lists, and its txid in the set of executable ones; ranks are
    recomputed from the entry, not stored twice."""

    def __init__(self) -> None:
        self._order: SortedList = SortedList()  # of Rank, lowest (first evicted) first
        self._mineable: set[bytes] = set()
        self._rates: SortedList = SortedList()  # fee_rate_per_kb of each entry
        self._count = 0
        self.total_fees = 0

    def __len__(self) -> int:
        return self._count

    def _rank(self, entry: RankedEntry) -> Rank:
        mineable = int(entry.txid in self._mineable)
        return (mineable, rate_key(entry.fee, entry.size), -entry.seq, entry.txid)

    def add(self, entry: RankedEntry) -> None:
        """Index `entry` as a future one (`set_mineable` moves it)."""
        self._order.add(self._rank(entry))
        self._rates.add(fee_rate_per_kb(entry.fee, entry.size))
        self._count += 1
        self.total_fees += entry.fee

    def discard(self, entry: RankedEntry) -> None:
        """Drop an indexed `entry`."""
        self._order.remove(self._rank(entry))
        self._mineable.discard(entry.txid)
        self._rates.remove(fee_rate_per_kb(entry.fee, entry.size))
        self._count -= 1
        self.total_fees -= entry.fee

    def set_mineable(self, entry: RankedEntry, mineable: bool) -> bool:
        """Move `entry` between the future and the executable class (its gap filled or
        opened); True when its class changed."""
        if (entry.txid in self._mineable) == mineable:
            return False
        self._order.remove(self._rank(entry))
        if mineable:
            self._mineable.add(entry.txid)
        else:
            self._mineable.discard(entry.txid)
        self._order.add(self._rank(entry))
        return True

    def is_mineable(self, txid: bytes) -> bool:
        return txid in self._mineable

    def lowest(self) -> Iterator[Rank]:
        """Ranks from the first to evict on (iterating is O(1) per step)."""
        return iter(self._order)

    def rate_stats(self) -> tuple[int, int, int]:
        """(min, median, max) fee rate in units per 1,000 bytes; 0s when empty. O(log n)."""
        count = len(self._rates)
        if not count:
            return 0, 0, 0
        mid = count // 2
        median = self._rates[mid] if count % 2 else (self._rates[mid - 1] + self._rates[mid]) // 2
        return self._rates[0], median, self._rates[-1]


def outranks(new: tuple[int, int], old: Rank) -> bool:
    """True when a transaction of class and `rate_key` `new` may evict `old` (strictly
    better)."""
    return (new[0], new[1]) > (old[0], old[1])
