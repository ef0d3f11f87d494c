"""A headers-only chain: the most-work chain of checked headers, nothing else (SPV).

`HeaderChain(params, store=None, now=...)` holds the best header chain from genesis in memory
(`header_at`, `hash_at`, `height_of`, `chainwork`) and, with a `HeaderStore`, in SQLite. New
headers arrive as a branch that forks off the chain at some height (`offer(fork_height,
headers)`); every header of the branch is checked before the branch can win:

- link: each header's `prev_block` is the hash of the one before it;
- difficulty rule: `bits` equal `consensus.pow.next_bits` for its parent (whatever rule the
  network's params name: nothing here knows the rule), time after the median of the last 11
  and not more than `max_future_block_time` past `now()` (`consensus.block_verify.
  check_header_context`);
- proof of work: the hash meets the target, within the pow limit (`check_proof_of_work`);

cheap checks first (link and bits before hashing). A branch replaces the chain above the fork
only when its total chainwork is greater (ties keep the chain we have, as Core does). Any
failure raises `Rejected(CONSENSUS, reason)` naming the first bad header's height.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..consensus.block_verify import check_header_context, median_time_past
from ..consensus.errors import Kind, Rejected
from ..consensus.pow import block_work, check_proof_of_work, next_bits
from ..core.block import BlockHeader
from ..core.hashing import hash_to_hex
from ..core.params import ChainParams, genesis_block
from .store import HeaderStore

__all__ = ["HeaderChain", "Offer", "MTP_WINDOW"]

MTP_WINDOW = 11


@dataclass(frozen=True, slots=True)
class Offer:
    """What `offer` did: `accepted` (the branch is now the best chain), `reorg_depth` (headers
    of the old chain replaced), `new` (headers added), `branch_work` (the branch tip's
    chainwork) and `best_work` (the chain's after the offer)."""

    accepted: bool
    reorg_depth: int
    new: int
    branch_work: int
    best_work: int


class HeaderChain:
    """The best header chain of `params`' network. `now()` is Unix seconds (for the future
    time rule); `store` persists the chain (loaded at construction when it has one)."""

    def __init__(
        self,
        params: ChainParams,
        store: HeaderStore | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.params = params
        self.store = store
        self.now = now
        genesis = genesis_block(params).header
        self.headers: list[BlockHeader] = [genesis]
        self.hashes: list[bytes] = [genesis.hash]
        self.work: list[int] = [block_work(genesis.bits)]
        self.heights: dict[bytes, int] = {genesis.hash: 0}
        if store is not None:
            store.check_network(genesis.hash)
            loaded = store.load()
            if loaded and loaded[0].hash != genesis.hash:
                raise ValueError(f"{store.path}: headers of another network")
            for header in loaded[1:]:
                self._append(header)

    # -- reading -----------------------------------------------------------------------------

    @property
    def height(self) -> int:
        return len(self.headers) - 1

    @property
    def tip_hash(self) -> bytes:
        return self.hashes[-1]

    @property
    def chainwork(self) -> int:
        return self.work[-1]

    @property
    def genesis_hash(self) -> bytes:
        return self.hashes[0]

    def header_at(self, height: int) -> BlockHeader | None:
        return self.headers[height] if 0 <= height < len(self.headers) else None

    def hash_at(self, height: int) -> bytes | None:
        return self.hashes[height] if 0 <= height < len(self.hashes) else None

    def height_of(self, block_hash: bytes) -> int | None:
        """Height of `block_hash` on the best chain, None when it is not on it."""
        return self.heights.get(block_hash)

    def locator(self) -> list[bytes]:
        """Block locator of the tip: the last 10 hashes, then doubling steps back to genesis."""
        out: list[bytes] = []
        height, step = self.height, 1
        while height > 0:
            out.append(self.hashes[height])
            if len(out) >= 10:
                step *= 2
            height -= step
        out.append(self.hashes[0])
        return out

    # -- writing -----------------------------------------------------------------------------

    def _append(self, header: BlockHeader) -> None:
        self.headers.append(header)
        self.hashes.append(header.hash)
        self.work.append(self.work[-1] + block_work(header.bits))
        self.heights[header.hash] = len(self.headers) - 1

    def _truncate(self, height: int) -> None:
        """Drop every header above `height`."""
        for dropped in self.hashes[height + 1 :]:
            del self.heights[dropped]
        del self.headers[height + 1 :]
        del self.hashes[height + 1 :]
        del self.work[height + 1 :]

    def check_branch(self, fork_height: int, branch: Sequence[BlockHeader]) -> int:
        """Check `branch` (headers fork_height+1, ...) on top of our header at `fork_height`;
        the chainwork of its last header. Raises Rejected (see the module docstring) or
        ValueError when `fork_height` is not a height of the chain."""
        if not 0 <= fork_height <= self.height:
            raise ValueError(f"fork height {fork_height} is not on the chain (0..{self.height})")
        genesis = self.headers[0]

        def ancestor(height: int) -> BlockHeader:
            if height <= fork_height:
                return self.headers[height]
            return branch[height - fork_height - 1]

        prev_hash, work = self.hashes[fork_height], self.work[fork_height]
        times = [
            h.time for h in self.headers[max(0, fork_height - MTP_WINDOW + 1) : fork_height + 1]
        ]
        now = int(self.now())
        for offset, header in enumerate(branch):
            height = fork_height + 1 + offset
            try:
                if header.prev_block != prev_hash:
                    raise Rejected(Kind.CONSENSUS, "bad-prevblk", "does not link to its parent")
                parent = ancestor(height - 1)
                expected = next_bits(self.params, height - 1, parent, genesis, ancestor)
                check_header_context(header, expected, median_time_past(times), now, self.params)
                check_proof_of_work(header, self.params)
            except Rejected as exc:
                raise Rejected(
                    exc.kind, exc.reason, f"header {height} ({hash_to_hex(header.hash)}): {exc}"
                ) from exc
            prev_hash = header.hash
            work += block_work(header.bits)
            times = (times + [header.time])[-MTP_WINDOW:]
        return work

    def offer(self, fork_height: int, branch: Sequence[BlockHeader]) -> Offer:
        """Check `branch` and make it the best chain when it has more work; see `Offer`.

        Headers already on the chain at the start of the branch are skipped first, so a
        node's answer that overlaps what we have is not counted as a reorg.
        """
        skip = 0
        while (
            skip < len(branch)
            and fork_height + 1 + skip <= self.height
            and self.hashes[fork_height + 1 + skip] == branch[skip].hash
        ):
            skip += 1
        fork_height, branch = fork_height + skip, branch[skip:]
        if not branch:
            return Offer(False, 0, 0, self.work[fork_height], self.chainwork)
        branch_work = self.check_branch(fork_height, branch)
        if branch_work <= self.chainwork:
            return Offer(False, 0, 0, branch_work, self.chainwork)
        depth = self.height - fork_height
        self._truncate(fork_height)
        for header in branch:
            self._append(header)
        if self.store is not None:
            self.store.save(self.headers, fork_height + 1)
        return Offer(True, depth, len(branch), branch_work, self.chainwork)

    def confirmations(self, block_hash: bytes) -> int:
        """Blocks from `block_hash` to the tip, itself included; 0 when not on the best chain."""
        height = self.heights.get(block_hash)
        return 0 if height is None else self.height - height + 1
