"""The block index and the active chain: most-work selection, connect, disconnect, reorg.

Every valid header (side branches included) has an in-memory `IndexEntry` with its cumulative
chainwork and status, loaded from SQLite at start (no chain replay). The active chain is the
connected chain with the most work among entries whose bodies (and all ancestors' bodies) are
stored and which are not invalid; ties go to the first seen (Core: CChainState,
ActivateBestChain, setBlockIndexCandidates). Connecting or disconnecting ONE block writes
accounts, undo, coinbase, indexes, active chain and tip in ONE SQLite transaction.

This module applies consensus rules (`consensus.*`) and persists through `storage.*`; it does
not touch the mempool, publish events or talk to peers: `validation` does that with the
`Activation` it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from ..consensus.block_verify import check_header_context, connect_block, median_time_past
from ..consensus.errors import Kind, Rejected
from ..consensus.pow import block_work, check_proof_of_work, next_bits
from ..consensus.state import BlockUndo
from ..core.block import Block, BlockHeader
from ..core.params import ChainParams, genesis_block
from ..storage import blocks as store
from ..storage.db import Database
from ..storage.indexes import index_block, unindex_block
from ..storage.state import SqliteStateView, delete_coinbase, put_coinbase, write_accounts
from .crashpoints import crash_point
from .sigverify import SignatureVerifier

__all__ = ["Status", "IndexEntry", "Activation", "ChainState", "MAX_LOCATOR", "MAX_HEADERS"]

MAX_LOCATOR = 101
MAX_HEADERS = 2_000


class Status(IntEnum):
    """Validity of an index entry: header checked / connected once / failed (with descendants)."""

    VALID_HEADER = 1
    VALID = 2
    INVALID = 3


@dataclass(eq=False, slots=True)
class IndexEntry:
    """One known header. `chainwork`: cumulative work up to and including this block."""

    hash: bytes
    header: BlockHeader
    height: int
    chainwork: int
    status: Status
    has_data: bool
    seq: int
    prev: IndexEntry | None
    chain_has_data: bool = False  # this block and every ancestor have bodies (Core: nChainTx)

    @property
    def time(self) -> int:
        return self.header.time

    @property
    def bits(self) -> int:
        return self.header.bits

    @property
    def is_invalid(self) -> bool:
        return self.status is Status.INVALID


@dataclass(slots=True)
class Activation:
    """What `activate_best_chain` did, in order: each step is ('connect'|'disconnect', block,
    height). `invalid` maps the hash of each block that failed to connect to its rejection."""

    steps: list[tuple[str, Block, int]] = field(default_factory=list)
    invalid: dict[bytes, Rejected] = field(default_factory=dict)
    old_tip: IndexEntry | None = None  # the tip before activation

    @property
    def connected(self) -> list[tuple[Block, int]]:
        return [(b, h) for kind, b, h in self.steps if kind == "connect"]

    @property
    def disconnected(self) -> list[tuple[Block, int]]:
        return [(b, h) for kind, b, h in self.steps if kind == "disconnect"]


class ChainState:
    """Block index (memory + SQLite), active chain and state transitions of one node."""

    def __init__(self, db: Database, params: ChainParams) -> None:
        self.db = db
        self.params = params
        self.entries: dict[bytes, IndexEntry] = {}
        self.chain: list[IndexEntry] = []
        self._children: dict[bytes, list[IndexEntry]] = {}
        self._candidates: set[IndexEntry] = set()
        self._next_seq = 0
        self.best_header: IndexEntry | None = None
        self.connect_count = 0  # blocks connected by this process (tests: restart replays none)
        self.verifier: SignatureVerifier | None = None  # signature checks in worker processes
        self._just_stored: dict[bytes, Block] = {}  # parsed bodies of store_block, until activation

    # -- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the index and active chain from SQLite; initialize genesis on a new database."""
        rows = store.load_index(self.db)
        if not rows:
            self._init_genesis()
            rows = store.load_index(self.db)
        for row in rows:
            self._add_loaded(row)
        self.chain = [self.entries[h] for h in store.load_active_chain(self.db)]
        genesis = genesis_block(self.params)
        if not self.chain or self.chain[0].hash != genesis.hash:
            raise RuntimeError(f"database in {self.db.path} is not of network {self.params.name}")
        if store.get_tip(self.db) != self.chain[-1].hash:
            raise RuntimeError("stored tip disagrees with the active chain (corrupt database)")
        tip_work = self.tip.chainwork
        self._candidates = {
            e
            for e in self.entries.values()
            if e.chain_has_data and not e.is_invalid and e.chainwork >= tip_work
        }

    def _init_genesis(self) -> None:
        block = genesis_block(self.params)
        header = block.header
        row = store.IndexRow(
            block.hash,
            header.prev_block,
            0,
            block_work(header.bits),
            header.serialize(),
            int(Status.VALID),
            True,
            0,
        )
        # the genesis state: its allocations (SPEC: nothing else at height 0 is spendable)
        overlay, _fees = connect_block(block, 0, SqliteStateView(self.db), self.params)
        with self.db.transaction():
            store.put_index_row(self.db, row)
            store.put_block(self.db, block.hash, block.serialize())
            write_accounts(self.db, overlay.changes())
            index_block(self.db, block, 0)
            store.set_active(self.db, 0, block.hash)
            store.set_tip(self.db, block.hash)

    def _add_loaded(self, row: store.IndexRow) -> None:
        prev = self.entries.get(row.prev) if row.height > 0 else None
        if row.height > 0 and prev is None:
            raise RuntimeError("block index row without its parent (corrupt database)")
        entry = IndexEntry(
            row.hash,
            BlockHeader.parse(row.header),
            row.height,
            row.chainwork,
            Status(row.status),
            row.has_data,
            row.seq,
            prev,
        )
        entry.chain_has_data = entry.has_data and (prev is None or prev.chain_has_data)
        self._link(entry)
        self._next_seq = max(self._next_seq, row.seq + 1)

    def _link(self, entry: IndexEntry) -> None:
        self.entries[entry.hash] = entry
        if entry.prev is not None:
            self._children.setdefault(entry.prev.hash, []).append(entry)
        if not entry.is_invalid and (
            self.best_header is None or entry.chainwork > self.best_header.chainwork
        ):
            self.best_header = entry

    def unlink_headers(self, added: list[IndexEntry], best_before: IndexEntry | None) -> None:
        """Forget header-only entries just indexed (newest last) whose SQLite rows were rolled
        back: a headers message is indexed whole or not at all (issue 11)."""
        for entry in reversed(added):
            self.entries.pop(entry.hash, None)
            if entry.prev is not None:
                siblings = self._children.get(entry.prev.hash, [])
                if entry in siblings:
                    siblings.remove(entry)
                if not siblings:
                    self._children.pop(entry.prev.hash, None)
        self.best_header = best_before

    # -- queries ---------------------------------------------------------------------------

    @property
    def tip(self) -> IndexEntry:
        return self.chain[-1]

    @property
    def height(self) -> int:
        return len(self.chain) - 1

    def get(self, block_hash: bytes) -> IndexEntry | None:
        return self.entries.get(block_hash)

    def in_active_chain(self, entry: IndexEntry) -> bool:
        return entry.height < len(self.chain) and self.chain[entry.height] is entry

    def at_height(self, height: int) -> IndexEntry | None:
        """The active chain's entry at `height`, if any."""
        return self.chain[height] if 0 <= height < len(self.chain) else None

    def ancestor(self, entry: IndexEntry, height: int) -> IndexEntry:
        """The ancestor of `entry` at `height` (0 <= height <= entry.height)."""
        if not 0 <= height <= entry.height:
            raise ValueError(f"no ancestor at height {height} of a block at {entry.height}")
        walk: IndexEntry | None = entry
        while walk is not None and walk.height > height:
            if self.in_active_chain(walk):
                return self.chain[height]
            walk = walk.prev
        if walk is None:  # pragma: no cover - heights are consistent by construction
            raise RuntimeError("broken index: ancestor chain ends early")
        return walk

    def median_time_past(self, entry: IndexEntry) -> int:
        """Median time of `entry` and up to `median_time_span - 1` (10) ancestors (Core:
        GetMedianTimePast)."""
        times: list[int] = []
        walk: IndexEntry | None = entry
        while walk is not None and len(times) < self.params.median_time_span:
            times.append(walk.time)
            walk = walk.prev
        return median_time_past(times[::-1], self.params.median_time_span)

    def next_bits(self, parent: IndexEntry) -> int:
        """Bits the DAA requires of a child of `parent`."""
        return next_bits(
            self.params,
            parent.height,
            parent.header,
            self.chain[0].header,
            lambda h: self.ancestor(parent, h).header,
        )

    def read_block(self, block_hash: bytes) -> Block | None:
        raw = store.get_block_raw(self.db, block_hash)
        return None if raw is None else Block.parse(raw)

    def find_fork(self, a: IndexEntry, b: IndexEntry) -> IndexEntry:
        """The last common ancestor of `a` and `b`."""
        while a.height > b.height:
            a = a.prev  # type: ignore[assignment]
        while b.height > a.height:
            b = b.prev  # type: ignore[assignment]
        while a is not b:
            a, b = a.prev, b.prev  # type: ignore[assignment]
        return a

    # -- headers and bodies ------------------------------------------------------------------

    def accept_header(
        self, header: BlockHeader, now: int, *, pow_checked: bool = False
    ) -> tuple[IndexEntry, bool]:
        """Check `header` in context and index it; returns (entry, newly added).

        Raises `Rejected`: CONSENSUS 'duplicate-invalid' (known invalid), MISSING_PARENT
        'prev-blk-not-found', CONSENSUS 'bad-prevblk' (parent invalid), 'high-hash',
        'bad-diffbits', 'time-too-old', TIME_FUTURE 'time-too-new' (nothing is remembered).
        """
        known = self.entries.get(header.hash)
        if known is not None:
            if known.is_invalid:
                raise Rejected(Kind.CONSENSUS, "duplicate-invalid", "block is known invalid")
            return known, False
        parent = self.entries.get(header.prev_block)
        if parent is None:
            raise Rejected(Kind.MISSING_PARENT, "prev-blk-not-found", "parent header unknown")
        if parent.is_invalid:
            raise Rejected(Kind.CONSENSUS, "bad-prevblk", "parent block is invalid")
        if not pow_checked:
            check_proof_of_work(header, self.params)
        mtp = self.median_time_past(parent)
        check_header_context(header, self.next_bits(parent), mtp, now, self.params)
        return self._index_header(header, parent), True

    def _index_header(self, header: BlockHeader, parent: IndexEntry) -> IndexEntry:
        entry = IndexEntry(
            header.hash,
            header,
            parent.height + 1,
            parent.chainwork + block_work(header.bits),
            Status.VALID_HEADER,
            False,
            self._next_seq,
            parent,
        )
        self._next_seq += 1
        with self.db.transaction():
            store.put_index_row(self.db, self._row(entry))
        self._link(entry)
        return entry

    @staticmethod
    def _row(entry: IndexEntry) -> store.IndexRow:
        return store.IndexRow(
            entry.hash,
            entry.header.prev_block,
            entry.height,
            entry.chainwork,
            entry.header.serialize(),
            int(entry.status),
            entry.has_data,
            entry.seq,
        )

    def store_block(self, entry: IndexEntry, raw: bytes, block: Block | None = None) -> None:
        """Persist the body of an indexed block and make it (and waiting children) candidates.
        `block`, the parsed body, saves reading and parsing it again when it connects next."""
        store.put_block(self.db, entry.hash, raw)
        if block is not None:
            self._just_stored[entry.hash] = block
        entry.has_data = True
        if entry.prev is not None and not entry.prev.chain_has_data:
            return
        stack = [entry]
        while stack:
            walk = stack.pop()
            walk.chain_has_data = True
            if not walk.is_invalid:
                self._candidates.add(walk)
            stack.extend(
                c for c in self._children.get(walk.hash, ()) if c.has_data and not c.chain_has_data
            )

    def mark_invalid(self, entry: IndexEntry) -> None:
        """Mark `entry` and every descendant invalid (persisted), drop them from candidates."""
        stack = [entry]
        with self.db.transaction():
            while stack:
                walk = stack.pop()
                walk.status = Status.INVALID
                self._candidates.discard(walk)
                store.set_status(self.db, walk.hash, int(Status.INVALID))
                stack.extend(self._children.get(walk.hash, ()))
        if self.best_header is not None and self.best_header.is_invalid:
            self._recompute_best_header()

    def _recompute_best_header(self) -> None:
        valid = [e for e in self.entries.values() if not e.is_invalid]
        self.best_header = max(valid, key=lambda e: (e.chainwork, -e.seq))

    # -- selection and state transitions -----------------------------------------------------

    def _best_candidate(self) -> IndexEntry | None:
        if not self._candidates:
            return None
        return max(self._candidates, key=lambda e: (e.chainwork, -e.seq))

    def activate_best_chain(self) -> Activation:
        """Move the tip to the most-work candidate: reorg of any depth, one transaction per block.

        A block that fails to connect is marked invalid with its descendants and selection
        retries (possibly returning to the old chain, whose bodies are still stored; to the
        old tip itself when only an equal-work branch is left).
        """
        result = Activation(old_tip=self.tip)
        while True:
            best = self._next_target(result)
            if best is None:
                break
            fork = self.find_fork(self.tip, best)
            while self.tip is not fork:
                result.steps.append(("disconnect", *self.disconnect_tip()))
            path: list[IndexEntry] = []
            walk: IndexEntry | None = best
            while walk is not None and walk is not fork:
                path.append(walk)
                walk = walk.prev
            for entry in reversed(path):
                block = self._just_stored.pop(entry.hash, None) or self.read_block(entry.hash)
                if block is None:  # pragma: no cover - chain_has_data guarantees the body
                    raise RuntimeError("candidate block body missing")
                try:
                    self._connect_tip(entry, block)
                except Rejected as exc:
                    result.invalid[entry.hash] = exc
                    self.mark_invalid(entry)
                    break
                result.steps.append(("connect", block, entry.height))
        tip_work = self.tip.chainwork
        self._candidates = {e for e in self._candidates if e.chainwork >= tip_work}
        self._just_stored.clear()  # bodies not connected now are read from storage later
        return result

    def _next_target(self, result: Activation) -> IndexEntry | None:
        """The candidate to move to: one with more work than the tip; or, after a block of
        this activation failed, the old tip when the failure left us on an equal-work branch
        (first seen wins ties, as before the attempt: Core's sequence-id tie-break)."""
        best = self._best_candidate()
        if best is not None and best.chainwork > self.tip.chainwork:
            return best
        old = result.old_tip
        if (
            result.invalid
            and old is not None
            and old is not self.tip
            and not old.is_invalid
            and old.chain_has_data
            and old.chainwork >= self.tip.chainwork
        ):
            return old
        return None

    def _connect_tip(self, entry: IndexEntry, block: Block) -> None:
        """Apply `block` on the tip; raises `Rejected` (nothing written) when it is invalid."""
        height = entry.height
        # large blocks: workers verify the signatures while the state rules run here
        pending = self.verifier.start(block.txs[1:]) if self.verifier is not None else None
        view = SqliteStateView(self.db)
        view.prefetch(key for tx in block.txs for key in (tx.sender, tx.recipient))
        overlay, _fees = connect_block(
            block, height, view, self.params, check_signatures=pending is None
        )
        coinbase = block.txs[0]
        crash_point("connect-before-tx")
        with self.db.transaction():
            write_accounts(self.db, overlay.changes())
            crash_point("connect-in-tx")
            store.put_undo(self.db, entry.hash, overlay.undo().serialize())
            put_coinbase(self.db, height, coinbase.recipient, coinbase.amount)
            index_block(self.db, block, height)
            store.set_active(self.db, height, entry.hash)
            store.set_status(self.db, entry.hash, int(Status.VALID))
            store.set_tip(self.db, entry.hash)
            if pending is not None:
                pending.check()  # the writes overlapped the workers; a bad signature rolls back
        crash_point("connect-after-tx")
        entry.status = Status.VALID
        self.chain.append(entry)
        self.connect_count += 1

    def disconnect_tip(self) -> tuple[Block, int]:
        """Undo the tip block (one transaction); returns (block, height)."""
        entry = self.tip
        if entry.prev is None:
            raise RuntimeError("cannot disconnect the genesis block")
        block = self.read_block(entry.hash)
        raw_undo = store.get_undo(self.db, entry.hash)
        if block is None or raw_undo is None:
            raise RuntimeError("tip body or undo data missing (corrupt database)")
        undo = BlockUndo.parse(raw_undo)
        crash_point("disconnect-before-tx")
        with self.db.transaction():
            write_accounts(self.db, undo.previous)
            crash_point("disconnect-in-tx")
            delete_coinbase(self.db, entry.height)
            unindex_block(self.db, block, entry.height)
            store.delete_active(self.db, entry.height)
            store.delete_undo(self.db, entry.hash)
            store.set_tip(self.db, entry.prev.hash)
        crash_point("disconnect-after-tx")
        self.chain.pop()
        self._candidates.add(entry)
        return block, entry.height

    # -- sync helpers ------------------------------------------------------------------------

    def locator(self, entry: IndexEntry | None = None) -> list[bytes]:
        """Block locator from `entry` (default: tip): 10 hashes back one by one, then doubling
        steps, always ending with genesis (Core: GetLocator). At most MAX_LOCATOR hashes."""
        walk = self.tip if entry is None else entry
        hashes: list[bytes] = []
        step = 1
        height = walk.height
        while len(hashes) < MAX_LOCATOR - 1:
            hashes.append(self.ancestor(walk, height).hash)
            if height == 0:
                return hashes
            if len(hashes) >= 10:
                step *= 2
            height = max(height - step, 0)
        hashes.append(self.chain[0].hash)
        return hashes

    def headers_after(
        self, locator: list[bytes], stop: bytes | None, limit: int = MAX_HEADERS
    ) -> list[BlockHeader]:
        """Active-chain headers after the first locator hash we have on it (else after genesis),
        up to and including `stop`, at most min(limit, 2000) (Core: FindForkInGlobalIndex)."""
        start = 0
        for block_hash in locator[:MAX_LOCATOR]:
            entry = self.entries.get(block_hash)
            if entry is not None and self.in_active_chain(entry):
                start = entry.height
                break
        limit = max(0, min(limit, MAX_HEADERS))
        headers: list[BlockHeader] = []
        for entry in self.chain[start + 1 : start + 1 + limit]:
            headers.append(entry.header)
            if entry.hash == stop:
                break
        return headers

    def missing_blocks(self, limit: int) -> list[bytes]:
        """Hashes of blocks on the best header chain whose bodies we lack, lowest first."""
        missing: list[bytes] = []
        walk = self.best_header
        while walk is not None and not self.in_active_chain(walk):
            if not walk.has_data:
                missing.append(walk.hash)
            walk = walk.prev
        missing.reverse()
        return missing[: max(0, limit)]
