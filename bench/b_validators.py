"""B12 (proposal to final on every node) and B14 (blocks per second at a block time of 0) of
validator networks (issue 14).

Validator nodes with real peer managers on 127.0.0.1 sockets, all in this process and its one
event loop (so every node's work is serialized: a pessimistic latency), block time 0.

B12: for each height, from the moment its proposer built the block (`Proposer` logs
`proposed_at`) to the moment the last node connected it (`BlockConnected`), minus the time one
node needs to validate such a block (`connect_block` dry run, timed in the same run: the
bound). Target: p95 <= 100 ms beyond validation, with 4 and with 7 validators.
B12p (b_validators_proc.py): the same with every validator its own process.
B14: final blocks per second with 4 validators, each block carrying up to 1,000 payments
(1,000 genesis-funded senders, one payment each per block); no target (a throughput).
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Callable
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

from .b_validators_proc import latency as proc_latency
from .data import Data
from .harness import Row

SECRETS = [bytes([i + 1]) * 32 for i in range(8)]
WARMUP = 3
"""Heights not measured: the first proposals go out while the nodes still dial each other."""


def _params(n: int, payers: list[bytes], max_block_size: int = 1_000_000) -> ChainParams:
    keys = tuple(xonly_pubkey(s) for s in SECRETS[:n])
    allocations = tuple((xonly_pubkey(s), 10 * COIN) for s in payers)
    params = new_params(
        "benchval", 777, b"bval", 1_700_000_000, consensus="validators", validators=keys,
        target_spacing=0, genesis_allocations=allocations, max_block_size=max_block_size,
    )  # fmt: skip
    return dataclasses.replace(params, genesis_hash_hex=genesis_block(params).header.hash_hex)


async def _network(
    root: Path, params: ChainParams, n: int, prefill: Callable[[Node], None] | None = None
) -> list[tuple[Node, PeerManager]]:
    """n validators, each dialling the earlier ones; `prefill(node)` runs before it connects
    (so mempools fill while there is no quorum yet)."""
    started: list[tuple[Node, PeerManager]] = []
    for i in range(n):
        config = NodeConfig(
            params=params, datadir=root / f"v{i}", p2p_port=0, verify_processes=0,
            validator_secret=SECRETS[i],
        )  # fmt: skip
        node = Node(config)
        await node.start()
        if prefill is not None:
            prefill(node)
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


async def _throughput(root: Path, payers: int, blocks: int) -> tuple[float, float]:
    """Blocks per second and payments per block while `blocks` blocks of about `payers`
    payments (the block size limit holds about that many) are made from full mempools."""
    secrets = [i.to_bytes(4, "big") * 8 for i in range(1, payers + 1)]
    size = 400 + payers * 160  # header, coinbase, trailer, then ~153-byte payments
    params = _params(4, secrets, max(size, 10_000))
    to = xonly_pubkey(secrets[0])
    txs = [
        build_transfer(s, params.chain_id, k, to, 1, 1_000, bytes(32))
        for k in range(blocks) for s in secrets
    ]  # fmt: skip
    seen: list[tuple[float, int]] = []  # (perf_counter, payments) of node 0's blocks

    def on_event(event: object) -> None:
        if isinstance(event, BlockConnected) and len(event.block.txs) > 1:
            seen.append((time.perf_counter(), len(event.block.txs) - 1))

    def prefill(node: Node) -> None:
        if not seen and node.config.datadir.name == "v0":
            node.events.subscribe(on_event)
        for tx in txs:
            node.submit_transaction(tx)

    started = await _network(root, params, 4, prefill)
    try:
        deadline = time.monotonic() + 300
        while len(started[0][0].mempool) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        await _stop(started)
    if len(seen) < 2:
        return float("nan"), 0.0
    span = seen[-1][0] - seen[0][0]
    return (len(seen) - 1) / span, statistics.mean(c for _, c in seen)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _latency_row(name: str, what: str, spans: list[float], validation: float, how: str) -> Row:
    """A B12 row: p95 of `spans` (s) beyond `validation` (s), in ms, against 100 ms."""
    beyond = max(0.0, _p95(spans) - validation) * 1000
    return Row(
        name, f"proposal to final on {what}, p95 beyond validation", beyond, "ms", None, "",
        100.0, "<= 100 ms", True,
        f"{len(spans)} blocks; p95 {_p95(spans) * 1000:.1f} ms, median "
        f"{statistics.median(spans) * 1000:.1f} ms{how}",
    )  # fmt: skip


def run(data: Data) -> list[Row]:
    blocks = WARMUP + (5 if data.smoke else 40)
    rows: list[Row] = []
    validations: list[float] = []
    for n in (4, 7):
        spans, validation = asyncio.run(_latency(data.root / f"b12-{n}", n, blocks))
        validations.append(validation)
        how = (
            f", validation {validation * 1000:.2f} ms;"
            " one process, one loop: every node's work serialized"
        )
        rows.append(_latency_row(f"B12-{n}", f"all {n} validators", spans, validation, how))
    validation = min(validations)  # a near-empty block, as in B12p
    for n in (4,) if data.smoke else (4, 7):
        spans = proc_latency(data.root / f"b12p-{n}", n, 3 if data.smoke else 40)
        if spans:
            how = (
                f"; {n} `powchain node` processes on 127.0.0.1, times from their logs (1 ms stamps)"
            )
            what = f"{n} validator processes"
            rows.append(_latency_row(f"B12p-{n}", what, spans, validation, how))
    payers = 50 if data.smoke else 1_000
    per_s, carried = asyncio.run(_throughput(data.root / "b14", payers, 3 if data.smoke else 8))
    rows.append(
        Row(
            "B14", f"final blocks per second, block time 0, ~{payers} payments a block",
            per_s, "blocks/s", None, "", None, "",
            note=f"4 validators in one process, one loop; {carried:.0f} payments per block on "
            "average, from the 2nd payment block to the last (signatures verified inline)",
        )
    )  # fmt: skip
    return rows
