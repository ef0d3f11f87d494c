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
from typing import Any, Protocol

from sortedcontainers import SortedKeyList

from ..policy.fees import fee_rate_per_kb

__all__ = ["RankIndex", "Rank", "RankedEntry", "rate_key", "outranks"]

Rank = tuple[int, int, int, bytes]
"""(mineable 0/1, `rate_key`, -arrival seq, txid): compares like the eviction order."""

RATE_SHIFT = 48
"""`rate_key` = fee * 2**48 // size orders fee rates exactly for sizes below 2**24 bytes (two
different rates fee/size differ by at least 1/(size1 * size2) > 2**-48), with one int per entry
instead of a Fraction."""
_SEQ_BITS = 64


def rate_key(fee: int, size: int) -> int:
    """An integer that orders fee rates (units per byte) exactly; see RATE_SHIFT."""
    return (fee << RATE_SHIFT) // max(size, 1)


class RankedEntry(Protocol):
    """What the index reads of a mempool entry (an immutable value)."""

    @property
    def txid(self) -> bytes: ...
    @property
    def fee(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def seq(self) -> int: ...


def _order_key(entry: Any) -> int:
    """Fee rate, then newest first, packed in one int (what each sorted list stores)."""
    return (rate_key(entry.fee, entry.size) << _SEQ_BITS) | ((1 << _SEQ_BITS) - 1 - entry.seq)


class RankIndex:
    """Eviction order and fee statistics of a mempool: two sorted lists of entries, the future
    ones and the executable ones, each by (fee rate, newest first). Per entry that is one slot
    and one packed int key; the class is which list holds it."""

    def __init__(self) -> None:
        self._future = SortedKeyList(key=_order_key)
        self._executable = SortedKeyList(key=_order_key)
        self.total_fees = 0

    def __len__(self) -> int:
        return len(self._future) + len(self._executable)

    def add(self, entry: RankedEntry) -> None:
        """Index `entry` as a future one (`set_mineable` moves it)."""
        self._future.add(entry)
        self.total_fees += entry.fee

    def discard(self, entry: RankedEntry) -> None:
        """Drop an indexed `entry`."""
        self._future.discard(entry)
        self._executable.discard(entry)
        self.total_fees -= entry.fee

    def set_mineable(self, entry: RankedEntry, mineable: bool) -> bool:
        """Move `entry` between the future and the executable class (its gap filled or
        opened); True when its class changed."""
        source, target = (
            (self._future, self._executable) if mineable else (self._executable, self._future)
        )
        if entry not in source:
            return False
        source.remove(entry)
        target.add(entry)
        return True

    def is_mineable(self, entry: RankedEntry) -> bool:
        return entry in self._executable

    def lowest(self) -> Iterator[Rank]:
        """Ranks from the first to evict on: every future entry, then every executable one
        (iterating is O(1) per step)."""
        for mineable, entries in ((0, self._future), (1, self._executable)):
            for entry in entries:
                yield (mineable, rate_key(entry.fee, entry.size), -entry.seq, entry.txid)

    def rate_stats(self) -> tuple[int, int, int]:
        """(min, median, max) fee rate in units per 1,000 bytes; 0s when empty. O(log^2 n):
        order statistics over the two sorted lists, never a sort."""
        count = len(self)
        if not count:
            return 0, 0, 0
        mid = count // 2
        high = self._kth(mid)
        median = high if count % 2 else (self._kth(mid - 1) + high) // 2
        return self._kth(0), median, self._kth(count - 1)

    def _kth(self, k: int) -> int:
        """fee_rate_per_kb of the k-th (0-based) lowest fee rate over both lists."""
        a, b = self._future, self._executable
        lo, hi = max(0, k + 1 - len(b)), min(k + 1, len(a))
        while True:  # i entries from a and j = k + 1 - i from b are the k + 1 lowest
            i = (lo + hi) // 2
            j = k + 1 - i
            if i < len(a) and j > 0 and _order_key(b[j - 1]) > _order_key(a[i]):
                lo = i + 1
            elif i > 0 and j < len(b) and _order_key(a[i - 1]) > _order_key(b[j]):
                hi = i - 1
            else:
                break
        last = [e for e in (a[i - 1] if i else None, b[j - 1] if j else None) if e is not None]
        entry = max(last, key=_order_key)
        return fee_rate_per_kb(entry.fee, entry.size)


def outranks(new: tuple[int, int], old: Rank) -> bool:
    """True when a transaction of class and `rate_key` `new` may evict `old` (strictly
    better)."""
    return (new[0], new[1]) > (old[0], old[1])
