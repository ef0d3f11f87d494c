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
from fractions import Fraction

from sortedcontainers import SortedList

from ..policy.fees import fee_rate_per_kb

__all__ = ["RankIndex", "Rank"]

Rank = tuple[int, Fraction, int, bytes]
"""(mineable 0/1, fee per byte, -arrival seq, txid): compares like the eviction order."""


class RankIndex:
    """Eviction order and fee statistics of a mempool; `txid`s are the keys."""

    def __init__(self) -> None:
        self._order: SortedList = SortedList()  # of Rank, lowest (first evicted) first
        self._rank: dict[bytes, Rank] = {}
        self._rates: SortedList = SortedList()  # fee_rate_per_kb of each entry
        self._rate_of: dict[bytes, int] = {}
        self.total_fees = 0

    def __len__(self) -> int:
        return len(self._rank)

    def add(self, txid: bytes, fee: int, size: int, seq: int, mineable: bool) -> None:
        rank = (int(mineable), Fraction(fee, size), -seq, txid)
        self._rank[txid] = rank
        self._order.add(rank)
        rate = fee_rate_per_kb(fee, size)
        self._rate_of[txid] = rate
        self._rates.add(rate)
        self.total_fees += fee

    def discard(self, txid: bytes, fee: int) -> None:
        rank = self._rank.pop(txid, None)
        if rank is None:
            return
        self._order.remove(rank)
        self._rates.remove(self._rate_of.pop(txid))
        self.total_fees -= fee

    def set_mineable(self, txid: bytes, mineable: bool) -> bool:
        """Move `txid` between the future and the executable class (its gap filled or opened);
        True when its class changed."""
        rank = self._rank[txid]
        if rank[0] == int(mineable):
            return False
        self._order.remove(rank)
        moved = (int(mineable), rank[1], rank[2], txid)
        self._rank[txid] = moved
        self._order.add(moved)
        return True

    def is_mineable(self, txid: bytes) -> bool:
        return self._rank[txid][0] == 1

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


def outranks(new: tuple[int, Fraction], old: Rank) -> bool:
    """True when a transaction of class and fee rate `new` may evict `old` (strictly better)."""
    return (new[0], new[1]) > (old[0], old[1])
