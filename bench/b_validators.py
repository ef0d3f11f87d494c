"""B11 (proposal to final on every node) and B12 (blocks per second at a block time of 0) of
validator networks (issue 14).

Validator nodes with real peer managers on 127.0.0.1 sockets, all in this process and its one
event loop (so every node's work is serialized: a pessimistic latency), block time 0.

B11: for each height, from the moment its proposer built the block (`Proposer` logs
`proposed_at`) to the moment the last node connected it (`BlockConnected`), minus the time one
node needs to validate such a block (`connect_block` dry run, timed in the same run: the
bound). Target: p95 <= 100 ms beyond validation, with 4 and with 7 validators.
B12: final blocks per second with 4 validators, each block carrying up to 1,000 payments
(1,000 genesis-funded senders, one payment each per block); no target (a throughput).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from pathlib import Path

from powchain.consensus.block_verify import connect_block
from powchain.consensus.netfile import new_params
from powchain.core.keys import xonly_pubkey
from powchain.core.params import ChainParams, genesis_block
from powchain.core.units import COIN
from powchain.node.events import BlockConnected
from powchain.node.node import Node, NodeConfig
from powchain.p2p.peerman import PeerManager
from powchain.storage.state import SqliteStateView
from powchain.wallet.builder import build_transfer

from .data import Data
from .harness import Row

SECRETS = [bytes([i + 1]) * 32 for i in range(8)]
WARMUP = 3
"""Heights not measured: the first proposals go out while the nodes still dial each other."""


def _params(n: int, payers: list[bytes]) -> ChainParams:
    keys = tuple(xonly_pubkey(s) for s in SECRETS[:n])
    allocations = tuple((xonly_pubkey(s), 10 * COIN) for s in payers)
    params = new_params(
        "benchval", 777, b"bval", 1_700_000_000, consensus="validators", validators=keys,
        target_spacing=0, genesis_allocations=allocations,
    )  # fmt: skip
    return dataclasses.replace(params, genesis_hash_hex=genesis_block(params).header.hash_hex)


async def _network(root: Path, params: ChainParams, n: int) -> list[tuple[Node, PeerManager]]:
    started: list[tuple[Node, PeerManager]] = []
    for i in range(n):
        config = NodeConfig(
            params=params, datadir=root / f"v{i}", p2p_port=0, verify_processes=0,
            validator_secret=SECRETS[i],
        )  # fmt: skip
        node = Node(config)
        await node.start()
        pm = PeerManager(node, tick=0.05)
        await pm.start()
        for _, other in started:
            await pm.connect("127.0.0.1", other.listen_port)
        started.append((node, pm))
    return started


async def _stop(started: list[tuple[Node, PeerManager]]) -> None:
    for node, pm in started:
        await pm.stop()
        await node.stop()


async def _latency(root: Path, n: int, blocks: int) -> tuple[list[float], float]:
    params = _params(n, [])
    started = await _network(root, params, n)
    nodes = [node for node, _ in started]
    connected: dict[bytes, list[float]] = {}
    for node in nodes:
        node.events.subscribe(
            lambda e: (
                connected.setdefault(e.block.hash, []).append(time.perf_counter())
                if isinstance(e, BlockConnected)
                else None
            )
        )
    try:
        deadline = time.monotonic() + 120
        while min(node.tip.height for node in nodes) < blocks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        proposed: dict[bytes, float] = {}
        for node in nodes:
            proposed.update(getattr(node.producer, "proposed_at", {}))
        warm = {node.block_hash_at(h) for h in range(1, WARMUP + 1)}  # peers still dialling
        spans = [
            max(times) - proposed[h]
            for h, times in connected.items()
            if h in proposed and len(times) == n and h not in warm
        ]
        node = nodes[0]
        block = node.get_block(node.block_hash_at(1))  # type: ignore[arg-type]
        assert block is not None
        t0 = time.perf_counter()
        connect_block(block, 1, SqliteStateView(node.db), params)
        validation = time.perf_counter() - t0
    finally:
        await _stop(started)
    return spans, validation


async def _throughput(root: Path, payers: int, blocks: int) -> tuple[float, int]:
    secrets = [i.to_bytes(4, "big") * 8 for i in range(1, payers + 1)]
    params = _params(4, secrets)
    started = await _network(root, params, 4)
    nodes = [node for node, _ in started]
    try:
        txs = [
            build_transfer(s, params.chain_id, k, xonly_pubkey(secrets[0]), 1, 1_000, bytes(32))
            for k in range(blocks) for s in secrets
        ]  # fmt: skip
        start_height = nodes[0].tip.height
        t0 = time.perf_counter()
        for node in nodes:
            for tx in txs[:payers]:
                node.submit_transaction(tx)
        rest = txs[payers:]
        target = start_height + blocks
        while nodes[0].tip.height < target and time.perf_counter() - t0 < 300:
            if rest and nodes[0].mempool.__len__() < payers:
                batch, rest = rest[:payers], rest[payers:]
                for node in nodes:
                    for tx in batch:
                        node.submit_transaction(tx)
            await asyncio.sleep(0.01)
        made = nodes[0].tip.height - start_height
        elapsed = time.perf_counter() - t0
        carried = sum(
            len(nodes[0].get_block(nodes[0].block_hash_at(h)).txs) - 1
            for h in range(start_height + 1, nodes[0].tip.height + 1)
        )  # type: ignore[union-attr,arg-type]
    finally:
        await _stop(started)
    return made / elapsed, carried // max(made, 1)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def run(data: Data) -> list[Row]:
    blocks = WARMUP + (5 if data.smoke else 40)
    rows: list[Row] = []
    for n in (4, 7):
        spans, validation = asyncio.run(_latency(data.root / f"b11-{n}", n, blocks))
        beyond = max(0.0, _p95(spans) - validation) * 1000
        rows.append(
            Row(
                f"B11-{n}", f"proposal to final on all {n} validators, p95 beyond validation",
                beyond, "ms", None, "", 100.0, "<= 100 ms", True,
                f"{len(spans)} blocks; p95 {_p95(spans) * 1000:.1f} ms, median "
                f"{statistics.median(spans) * 1000:.1f} ms, validation {validation * 1000:.2f} ms;"
                " one process, one loop: every node's work serialized",
            )
        )  # fmt: skip
    payers = 50 if data.smoke else 1_000
    per_s, carried = asyncio.run(_throughput(data.root / "b12", payers, 3 if data.smoke else 6))
    rows.append(
        Row(
            "B12", f"final blocks per second, block time 0, ~{payers} payments a block",
            per_s, "blocks/s", None, "", None, "",
            note=f"4 validators in one process; {carried} payments per block on average",
        )
    )  # fmt: skip
    return rows
