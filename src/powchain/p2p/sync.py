"""Headers-first download bookkeeping (SPEC §6): which block bodies are in flight from whom.

No I/O: `blockfetch` asks `BlockDownload.assign` which of the node's missing blocks to request
from a peer (at most MAX_IN_FLIGHT_PER_PEER, none already requested elsewhere), reports
arrivals, and calls `expire` on a timer so a stalling peer's requests go back to the pool and
are fetched from another peer. Times are `time.monotonic()` seconds passed in.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from .messages import MAX_LOCATOR

__all__ = [
    "BlockDownload",
    "continuation_locator",
    "MAX_IN_FLIGHT_PER_PEER",
    "DOWNLOAD_WINDOW",
]

MAX_IN_FLIGHT_PER_PEER = 16
DOWNLOAD_WINDOW = 1_024
"""Bodies are requested only up to this many blocks beyond the active tip."""


def continuation_locator(last_hash: bytes, locator: Sequence[bytes]) -> tuple[bytes, ...]:
    """Locator to continue a header download after `last_hash` (the newest header received).

    Our own locator describes the active chain, which a headers-first download is ahead of;
    putting the last received hash first makes the peer continue from there.
    """
    rest = [h for h in locator if h != last_hash]
    return (last_hash, *rest)[:MAX_LOCATOR]


class BlockDownload:
    """Blocks requested with getdata and not yet received: hash -> (peer, requested at)."""

    def __init__(self, per_peer: int = MAX_IN_FLIGHT_PER_PEER) -> None:
        self.per_peer = per_peer
        self._in_flight: dict[bytes, tuple[Hashable, float]] = {}

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._in_flight

    def __len__(self) -> int:
        return len(self._in_flight)

    def count(self, peer: Hashable) -> int:
        """Requests outstanding at `peer`."""
        return sum(1 for p, _ in self._in_flight.values() if p is peer)

    def assign(self, peer: Hashable, missing: Sequence[bytes], now: float) -> list[bytes]:
        """Which of `missing` (oldest first) to request from `peer` now; records them."""
        room = self.per_peer - self.count(peer)
        chosen: list[bytes] = []
        for block_hash in missing:
            if room <= len(chosen):
                break
            if block_hash not in self._in_flight:
                chosen.append(block_hash)
        for block_hash in chosen:
            self._in_flight[block_hash] = (peer, now)
        return chosen

    def requested_from(self, block_hash: bytes) -> Hashable | None:
        """The peer `block_hash` is in flight from, or None."""
        entry = self._in_flight.get(block_hash)
        return None if entry is None else entry[0]

    def received(self, block_hash: bytes) -> Hashable | None:
        """Mark a block as arrived; returns the peer it was requested from, if any."""
        entry = self._in_flight.pop(block_hash, None)
        return None if entry is None else entry[0]

    def release(self, block_hashes: Sequence[bytes], peer: Hashable) -> None:
        """Forget `peer`'s requests for these hashes (it answered notfound)."""
        for block_hash in block_hashes:
            entry = self._in_flight.get(block_hash)
            if entry is not None and entry[0] is peer:
                del self._in_flight[block_hash]

    def forget_peer(self, peer: Hashable) -> None:
        """The peer disconnected: its requests go back to the pool."""
        for block_hash in [h for h, (p, _) in self._in_flight.items() if p is peer]:
            del self._in_flight[block_hash]

    def expire(self, now: float, timeout: float) -> list[Hashable]:
        """Drop requests older than `timeout` s; returns the peers that stalled (once each)."""
        stalled: list[Hashable] = []
        for block_hash, (peer, since) in list(self._in_flight.items()):
            if now - since > timeout:
                del self._in_flight[block_hash]
                if not any(p is peer for p in stalled):
                    stalled.append(peer)
        return stalled
