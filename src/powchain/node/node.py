"""The Node facade: wires storage, chain state, mempool, events and the miner of one node.

`api`, `p2p` and `cli` talk to a node only through this class (see docs/architecture.md for the
member table) and its `EventBus`. All state is owned by one asyncio loop; the inbound paths
(`submit_transaction`, `process_block`, `process_headers`) live in `validation`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..consensus.errors import Kind, Rejected
from ..consensus.pow import bits_to_target
from ..core.block import Block, BlockHeader
from ..core.params import ChainParams
from ..core.transaction import Transaction
from ..storage import blocks as store
from ..storage import indexes
from ..storage.db import Database
from ..storage.indexes import HistoryItem, PostRecord
from ..storage.state import SqliteStateView
from . import validation
from .chainstate import ChainState, IndexEntry
from .engines import NodeEngine, Producer, node_engine_for
from .events import EventBus, TxRemoved
from .mempool import Mempool
from .sigverify import SignatureVerifier

if TYPE_CHECKING:
    from .miner import Miner

__all__ = ["NodeConfig", "Node", "TxLookup", "AccountInfo", "PeerNetwork", "MiningServer"]

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 60  # seconds between mempool expiry sweeps


class PeerNetwork(Protocol):
    """What `p2p` attaches as `node.network` when it starts."""

    def peer_info(self) -> list[dict[str, Any]]: ...

    async def connect(self, host: str, port: int) -> None: ...

    def ban_list(self) -> list[dict[str, Any]]: ...


class MiningServer(Protocol):
    """What `stratum` attaches as `node.stratum` while its server runs (the API reads it)."""

    def stats(self) -> dict[str, Any]: ...


@dataclass
class NodeConfig:
    """Settings of one node. Ports left None take the network's defaults."""

    params: ChainParams
    datadir: Path
    p2p_host: str = "127.0.0.1"
    p2p_port: int | None = None
    api_host: str = "127.0.0.1"
    api_port: int | None = None
    connect: list[str] = field(default_factory=list)
    listen: bool = True
    mine: bool = False
    miner_address: bytes | None = None  # 32-byte x-only key paid by mined blocks
    mining_processes: int = 1
    max_outbound: int = 8
    max_inbound: int = 32
    ping_interval: float = 120
    idle_timeout: float = 1200
    block_timeout: float = 30  # a block asked of a peer longer ago is a stall (peer dropped)
    handshake_timeout: float = 60
    ban_seconds: int = 86_400
    clock_offset: int = 0  # seconds added to the wall clock (tests move time with it)
    mempool_max_bytes: int = 50_000_000
    mempool_expiry: int = 14 * 24 * 3600
    verify_processes: int = 2  # workers verifying the signatures of large blocks (0: inline)
    explorer_wallet: bool = False  # node-side wallet of the explorer even on a public API host
    validator_secret: bytes | None = None  # validator networks: the key this node signs with
    stratum: str | None = None  # "HOST:PORT" of the Stratum v1 server (None: off)
    stratum_min_difficulty: float | None = None  # vardiff floor (None: the server's default)
    stratum_share_interval: float = 10.0  # vardiff's target seconds per share
    stratum_rebroadcast: float = 55.0  # a fresh job at least this often (tests shorten it)

    def __post_init__(self) -> None:
        self.datadir = Path(self.datadir)
        if self.p2p_port is None:
            self.p2p_port = self.params.p2p_port
        if self.api_port is None:
            self.api_port = self.params.api_port


@dataclass(frozen=True, slots=True)
class TxLookup:
    """A transaction and where it is: `block_hash`/`height`/`pos` are None while in the mempool."""

    tx: Transaction
    block_hash: bytes | None
    height: int | None
    pos: int | None = None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account at the tip plus the mempool. Money in base units."""

    balance: int  # spendable
    immature: int  # coinbase credit not yet mature
    nonce: int  # confirmed transactions sent
    pending_balance: int  # balance after the mempool's queued transactions
    next_nonce: int  # nonce for the next transaction, counting the mempool


class Node:
    """One node: call `await start()` (or `open()` for storage only), then use the members."""

    db: Database
    chainstate: ChainState

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.params = config.params
        self.events = EventBus()
        self.mempool = Mempool(
            config.params, max_bytes=config.mempool_max_bytes, expiry=config.mempool_expiry
        )
        self.network: PeerNetwork | None = None
        self.engine: NodeEngine = node_engine_for(config.params)
        self.producer: Producer | None = None  # the miner or the proposer, per the engine
        self.stratum: MiningServer | None = None
        self.miner: Miner | None = None
        self._opened = False
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the database and load the block index (no chain replay). Idempotent."""
        if self._opened:
            return
        self.db = Database.open_in(self.config.datadir)
        self.chainstate = ChainState(self.db, self.params)
        self.chainstate.context_check = self.engine.check_block_context
        self.chainstate.header_check = self.engine.check_header
        if self.config.verify_processes > 0:
            self.chainstate.verifier = SignatureVerifier(self.config.verify_processes)
        self.chainstate.load()
        # Bodies stored but not connected before a crash connect now (Core: ActivateBestChain
        # at startup); nothing subscribes yet and the mempool is empty, so no events.
        self.chainstate.activate_best_chain()
        self._opened = True
        log.info("chain loaded: height %d tip %s", self.tip.height, self.tip.header.hash_hex)

    def close(self) -> None:
        if self._opened:
            if self.chainstate.verifier is not None:
                self.chainstate.verifier.close()
            self.db.close()
            self._opened = False

    async def start(self) -> None:
        """Open storage, load the index, start mempool expiry and the engine's block producer
        (the miner under proof of work when configured)."""
        self.open()
        self._tasks.append(asyncio.create_task(self._expiry_loop()))
        self.producer = await self.engine.start_producer(self)

    async def stop(self) -> None:
        """Stop the block producer and background tasks, then close storage."""
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        self.miner = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.close()

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            for txid in self.mempool.expire(self.now()):
                self.events.publish(TxRemoved(txid, "expired"))

    def now(self) -> int:
        """Wall clock plus `config.clock_offset`, Unix seconds."""
        return int(time.time()) + self.config.clock_offset

    # -- inbound paths -----------------------------------------------------------------------

    def submit_transaction(self, tx: Transaction) -> bytes:
        """Mempool acceptance; returns the txid; raises `Rejected`."""
        return validation.submit_transaction(self, tx)

    def process_block(self, block: Block) -> bool:
        """Store, select the most work, connect/reorg; True when new; raises `Rejected`."""
        return validation.process_block(self, block)

    def process_headers(self, headers: list[BlockHeader]) -> int:
        """Check and index headers (link, PoW, bits, time); returns how many were new."""
        return validation.process_headers(self, headers)

    # -- chain queries -----------------------------------------------------------------------

    @property
    def tip(self) -> IndexEntry:
        return self.chainstate.tip

    @property
    def best_header(self) -> IndexEntry:
        best = self.chainstate.best_header
        return self.tip if best is None else best

    def next_bits(self) -> int:
        """Bits the DAA requires of the next block on the tip."""
        return self.chainstate.next_bits(self.tip)

    def median_time_past(self) -> int:
        """Median time past of the tip (a new block's time must exceed it)."""
        return self.chainstate.median_time_past(self.tip)

    def entry(self, block_hash: bytes) -> IndexEntry | None:
        return self.chainstate.get(block_hash)

    def in_active_chain(self, entry: IndexEntry) -> bool:
        return self.chainstate.in_active_chain(entry)

    def block_hash_at(self, height: int) -> bytes | None:
        entry = self.chainstate.at_height(height)
        return None if entry is None else entry.hash

    def recent_entries(self, depth: int) -> list[tuple[IndexEntry, bool]]:
        """Known index entries (side branches, stale and header-only blocks included) at most
        `depth` heights below the best header, lowest first, each with whether it is in the
        active chain. For the explorer's chain view; O(index size)."""
        floor = max(0, self.best_header.height - depth)
        found = [e for e in self.chainstate.entries.values() if e.height >= floor]
        found.sort(key=lambda e: (e.height, e.seq))
        return [(e, self.chainstate.in_active_chain(e)) for e in found]

    def children(self, block_hash: bytes) -> list[IndexEntry]:
        """Known index entries whose parent is `block_hash` (active and side branches)."""
        return list(self.chainstate._children.get(block_hash, []))

    def get_block(self, block_hash: bytes) -> Block | None:
        return self.chainstate.read_block(block_hash)

    def get_block_raw(self, block_hash: bytes) -> bytes | None:
        return store.get_block_raw(self.db, block_hash)

    def get_transaction(self, txid: bytes) -> TxLookup | None:
        """A mempool or confirmed (active chain) transaction, or None."""
        pending = self.mempool.get(txid)
        if pending is not None:
            return TxLookup(pending, None, None)
        where = indexes.lookup_tx(self.db, txid)
        if where is None:
            return None
        block = self.get_block(where.block_hash)
        if block is None or where.pos >= len(block.txs):  # pragma: no cover - index is in sync
            return None
        return TxLookup(block.txs[where.pos], where.block_hash, where.height, where.pos)

    def state_view(self) -> SqliteStateView:
        """The consensus state at the tip."""
        return SqliteStateView(self.db)

    def account_info(self, pubkey: bytes) -> AccountInfo:
        acc = self.state_view().get_account(pubkey)
        delta, queued = self.mempool.pending_for(pubkey)
        return AccountInfo(
            acc.balance, acc.immature, acc.nonce, acc.balance + delta, acc.nonce + queued
        )

    def address_history(
        self, pubkey: bytes, cursor: str | None = None, limit: int = 50
    ) -> tuple[list[HistoryItem], str | None]:
        """A page of the address's confirmed transactions, newest first, and the next cursor
        (an opaque string; None on the last page). Raises ValueError for a malformed cursor."""
        return indexes.address_history(self.db, pubkey, cursor, limit)

    def posts(self, before_height: int | None = None, limit: int = 50) -> list[PostRecord]:
        """Posts in blocks below `before_height` (all when None), newest first."""
        return indexes.posts(self.db, before_height, limit)

    # -- sync --------------------------------------------------------------------------------

    def block_locator(self, entry: IndexEntry | None = None) -> list[bytes]:
        """Locator (<= 101 hashes) from `entry`, by default the active tip (Core: GetLocator)."""
        return self.chainstate.locator(entry)

    def headers_after(
        self, locator: list[bytes], stop: bytes | None = None, limit: int = 2000
    ) -> list[BlockHeader]:
        """Active-chain headers after the fork with `locator`, up to `stop`, <= 2000."""
        return self.chainstate.headers_after(locator, stop, limit)

    def missing_blocks(self, limit: int) -> list[bytes]:
        """Blocks of the best header chain without a stored body, lowest first."""
        return self.chainstate.missing_blocks(limit)

    # -- mining and status -------------------------------------------------------------------

    async def mine_blocks(self, n: int, recipient: bytes) -> list[bytes]:
        """Mine `n` blocks paying `recipient` on the current tip; returns their hashes.

        Raises `Rejected(POLICY, 'mining-disabled')` on networks without mining on demand.
        """
        from .miner import build_template, solve_in_process  # miner imports node types

        if not self.params.mine_on_demand:
            raise Rejected(
                Kind.POLICY, "mining-disabled", f"no mining on demand on {self.params.name}"
            )
        hashes: list[bytes] = []
        for _ in range(n):
            extra_nonce = 0
            while True:
                template = build_template(self, recipient, extra_nonce)
                solved = await asyncio.to_thread(solve_in_process, template, self.params)
                if solved is not None:
                    break
                extra_nonce += 1
            self.process_block(solved)
            hashes.append(solved.hash)
        return hashes

    def difficulty(self) -> float:
        """Tip difficulty relative to the network's easiest target (pow_limit = 1.0)."""
        easiest = bits_to_target(self.params.pow_limit_bits)
        return easiest / bits_to_target(self.tip.bits)

    def network_hashrate(self) -> float | None:
        """Estimated network hashes per second over the last 120 blocks (`node.hashrate`);
        None on a validator network (no proof of work: nothing to estimate)."""
        from .hashrate import network_hashrate

        if self.params.consensus != "pow":
            return None
        return network_hashrate(self.tip)

    def miner_hashrate(self) -> float | None:
        """Nonces per second this node's miner achieves, or else its Stratum workers together
        (estimated from their accepted shares); None when neither mines (yet)."""
        if self.miner is not None:
            return self.miner.hashrate
        if self.stratum is not None:
            return float(self.stratum.stats()["hashrate"]) or None
        return None

    def is_synced(self) -> bool:
        """True when no known header chain has more work than the active tip."""
        return self.best_header.chainwork <= self.tip.chainwork
