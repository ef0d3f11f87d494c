"""Mining: block templates, the in-process solver and the multi-process `Miner`.

A template is a coinbase (height, recipient, subsidy + fees, extra nonce and a short message)
followed by the mempool's selection, on top of the node's tip, with time = max(now, MTP + 1)
and the bits the DAA requires. The nonce search itself lives in `powsearch` (hashlib and struct
only) so worker processes start light. Found blocks go through `node.process_block`, the same
path as peers' blocks; this module never touches storage or the network.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from ..consensus.errors import Rejected
from ..consensus.pow import bits_to_target
from ..consensus.subsidy import block_subsidy
from ..core.block import HEADER_SIZE, Block, BlockHeader
from ..core.encoding import u64
from ..core.hashing import hash_to_hex, merkle_root
from ..core.params import ChainParams
from ..core.transaction import Transaction
from .events import Event, TipChanged, TxAccepted
from .powsearch import NONCE_SPACE, backend, search_nonce

if TYPE_CHECKING:
    from .node import Node

__all__ = [
    "build_template",
    "solve_in_process",
    "search_nonce",
    "coinbase_data",
    "Miner",
    "BLOCK_VERSION",
    "COINBASE_MESSAGE",
    "HASHRATE_ENV",
    "hashrate_factor",
]

log = logging.getLogger(__name__)

BLOCK_VERSION = 1
COINBASE_MESSAGE = b"mined by powchain"
TEMPLATE_RESERVE = HEADER_SIZE + 9 + 1 + 4 + 8 + 32 + 8 + 1 + 100
"""Bytes of a block that are not mempool transactions, at most: header, tx count, coinbase."""
CHUNK_PER_PROCESS = 1 << 18
"""Nonces per worker per round (~0.5 s at ~450k nonces/s): the cancellation latency."""
TEMPLATE_MAX_AGE = 30
"""Seconds after which a template is rebuilt anyway, to refresh time and transactions."""
MAX_AHEAD = 600
"""On trivial targets (regtest) blocks come so fast that MTP + 1 runs ahead of the clock; the
miner pauses while its template would be more than this many seconds in the future, or half the
network's future-time limit when that is less (devnet: 30 s of its 60 s)."""


HASHRATE_ENV = "POWCHAIN_TEST_HASHRATE"
"""Tests only: emulate a machine this many times as fast as this one (docs/architecture.md).
Below 1 the miner sleeps between rounds (a nonce-rate limit); above 1 `config` gives devnet a
genesis that many times easier (the DAA sees the same ratio of hash rate to work)."""
CALIBRATION = 1 << 21
"""Nonces each process searches at start to measure the rate it logs (~0.2 s, C kernel)."""


def hashrate_factor() -> float:
    """The factor in $POWCHAIN_TEST_HASHRATE (1.0 when unset); ValueError unless in (0, 64]."""
    text = os.environ.get(HASHRATE_ENV, "")
    if not text:
        return 1.0
    try:
        factor = float(text)
    except ValueError:
        factor = 0.0
    if not 0 < factor <= 64:
        raise ValueError(f"{HASHRATE_ENV}={text!r}: a factor in (0, 64]")
    return factor


def coinbase_data(extra_nonce: int) -> bytes:
    """Coinbase `data`: the extra nonce as u64 little-endian, then COINBASE_MESSAGE (< 100 B)."""
    return u64(extra_nonce % 2**64) + COINBASE_MESSAGE


def build_template(node: Node, recipient: bytes, extra_nonce: int = 0) -> Block:
    """A block on top of `node.tip` paying `recipient`: valid except for proof of work.

    The coinbase claims subsidy(height) + the selected transactions' fees (units); header
    nonce 0, time max(node.now(), MTP + 1), bits node.next_bits().
    """
    params: ChainParams = node.params
    tip = node.tip
    height = tip.height + 1
    txs = node.mempool.select(node.state_view(), params.max_block_size - TEMPLATE_RESERVE)
    reward = block_subsidy(height, params) + sum(tx.fee for tx in txs)
    coinbase = Transaction.coinbase(
        params.chain_id, height, recipient, reward, coinbase_data(extra_nonce)
    )
    all_txs = (coinbase, *txs)
    header = BlockHeader(
        version=BLOCK_VERSION,
        prev_block=tip.hash,
        merkle_root=merkle_root([tx.txid for tx in all_txs]),
        time=max(node.now(), node.median_time_past() + 1),
        bits=node.next_bits(),
        nonce=0,
    )
    return Block(header, all_txs)


def solve_in_process(
    block: Block, params: ChainParams, max_tries: int = NONCE_SPACE
) -> Block | None:
    """`block` with a header nonce meeting its bits, searching nonces 0 .. max_tries - 1 in
    this process; None when none does. For regtest and tests (trivial targets)."""
    header76 = block.header.serialize()[:76]
    target = bits_to_target(block.header.bits)
    nonce = search_nonce(header76, 0, min(max_tries, NONCE_SPACE), target)
    if nonce is None:
        return None
    return replace(block, header=block.header.with_nonce(nonce))


def nonce_ranges(start: int, per_process: int, processes: int) -> list[tuple[int, int]]:
    """Split [start, start + per_process * processes) into contiguous per-worker ranges,
    clipped to the 32-bit nonce space (empty ranges dropped)."""
    ranges = []
    for i in range(processes):
        lo = start + i * per_process
        hi = min(lo + per_process, NONCE_SPACE)
        if lo < hi:
            ranges.append((lo, hi))
    return ranges


class Miner:
    """Mines on the node's tip with `processes` worker processes until stopped.

    Each round hands every worker a chunk of the nonce range; between rounds the miner checks
    whether a new tip or new mempool content made the template stale and rebuilds it. When the
    32-bit nonce space is exhausted it rebuilds with the next extra nonce.
    """

    def __init__(self, node: Node, recipient: bytes, processes: int) -> None:
        self._node = node
        self._recipient = recipient
        self._processes = max(1, processes)
        self._pool: ProcessPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: object = None
        self._generation = 0  # bumped by events that make the template stale
        self._extra_nonce = 0
        self.hashes = 0
        """Nonces tried so far (for metrics)."""
        self.blocks_found = 0
        self.search_seconds = 0.0
        """Wall seconds spent waiting on rounds of nonce search (throttle pauses included)."""
        self._throttle = min(hashrate_factor(), 1.0)

    @property
    def hashrate(self) -> float | None:
        """Nonces per second this miner achieves (all processes); None before any search."""
        return self.hashes / self.search_seconds if self.search_seconds > 0 else None

    def _account(self, hashes: int, busy: float, paused: float) -> None:
        self.hashes += hashes
        self.search_seconds += busy + paused

    async def _log_rate(self) -> None:
        """Measure and log the nonce rate once: every process searches CALIBRATION nonces that
        cannot meet the target (a fraction of a second; not counted in `hashes`)."""
        assert self._pool is not None  # set by start(); internal invariant, not input
        loop = asyncio.get_running_loop()
        nonces = CALIBRATION if backend() != "python" else CALIBRATION // 32
        for count in (1, nonces):  # the first pass only starts the worker processes
            began = time.monotonic()
            await asyncio.gather(
                *(
                    loop.run_in_executor(self._pool, search_nonce, bytes(76), 0, count, 0)
                    for _ in range(self._processes)
                )
            )
        per_process = nonces / max(time.monotonic() - began, 1e-9) / 1e6
        limit = f", limited to {self._throttle:g}x ({HASHRATE_ENV})" if self._throttle < 1 else ""
        log.info(
            "nonce search %s, %.2f M nonces/s per process (%d process%s)%s",
            backend(),
            per_process,
            self._processes,
            "" if self._processes == 1 else "es",
            limit,
        )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the worker processes and the mining loop (idempotent)."""
        if self.running:
            return
        self._pool = ProcessPoolExecutor(
            max_workers=self._processes, mp_context=multiprocessing.get_context("spawn")
        )
        self._unsubscribe = self._node.events.subscribe(self._on_event)
        self._task = asyncio.create_task(self._run(), name="miner")
        self._task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        """Stop mining and the worker processes (waits for the chunks in flight, < 1 s)."""
        if callable(self._unsubscribe):
            self._unsubscribe()
        self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TipChanged | TxAccepted):
            self._generation += 1

    async def _run(self) -> None:
        await self._log_rate()
        while True:
            block = build_template(self._node, self._recipient, self._extra_nonce)
            self._extra_nonce += 1
            ahead = min(MAX_AHEAD, self._node.params.max_future_block_time // 2)
            if block.header.time - self._node.now() > ahead:
                await asyncio.sleep(1)  # let the clock catch up with the chain's time
                continue
            solved = await self._search(block)
            if solved is not None:
                await self._submit(solved)

    async def _search(self, block: Block) -> Block | None:
        """Search the template's nonce space in rounds; None when exhausted or stale."""
        assert self._pool is not None  # set by start(); internal invariant, not input
        loop = asyncio.get_running_loop()
        generation = self._generation
        header76 = block.header.serialize()[:76]
        target = bits_to_target(block.header.bits)
        start = 0
        while start < NONCE_SPACE:
            ranges = nonce_ranges(start, CHUNK_PER_PROCESS, self._processes)
            jobs = [
                loop.run_in_executor(self._pool, search_nonce, header76, lo, hi, target)
                for lo, hi in ranges
            ]
            began = time.monotonic()
            results = await asyncio.gather(*jobs)
            busy = time.monotonic() - began
            paused = busy * (1 / self._throttle - 1)
            if paused > 0:
                await asyncio.sleep(paused)  # the test-only nonce-rate limit
            tried = sum(
                hi - lo if n is None else n - lo + 1
                for (lo, hi), n in zip(ranges, results, strict=True)
            )  # a worker that finds a nonce stops there
            self._account(tried, busy, paused)
            found = [n for n in results if n is not None]
            if found:
                return replace(block, header=block.header.with_nonce(found[0]))
            start = ranges[-1][1]
            if self._generation != generation or self._template_too_old(block):
                return None
        return None

    def _template_too_old(self, block: Block) -> bool:
        return self._node.now() - block.header.time >= TEMPLATE_MAX_AGE

    async def _submit(self, block: Block) -> None:
        try:
            result = self._node.process_block(block)
            if inspect.isawaitable(result):
                await result
        except Rejected as exc:
            log.warning("mined block %s rejected: %r", hash_to_hex(block.hash), exc)
            return
        self.blocks_found += 1
        log.info("mined block %s with %d txs", hash_to_hex(block.hash), len(block.txs))


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("miner stopped", exc_info=task.exception())
