"""In-process validator networks for tests (issue 14): real Nodes on SQLite, a loopback
"network" that hands proposals, signatures, evidence and final blocks to the other nodes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from powchain.consensus.errors import Rejected
from powchain.consensus.netfile import new_params
from powchain.core.block import Block
from powchain.core.keys import xonly_pubkey
from powchain.core.params import ChainParams, genesis_block
from powchain.node.events import Event, TipChanged
from powchain.node.node import Node, NodeConfig
from powchain.node.validators import EvidenceFound

SECRETS = [hashlib.sha256(b"test validator %d" % i).digest() for i in range(8)]
KEYS = [xonly_pubkey(s) for s in SECRETS]


def validator_params(n: int, threshold: int | None = None, block_time: int = 0) -> ChainParams:
    values: dict[str, Any] = {"consensus": "validators", "validators": tuple(KEYS[:n])}
    if threshold is not None:
        values["validator_threshold"] = threshold
    params = new_params(
        "valtest", 4242, b"vtst", 1_700_000_000, target_spacing=block_time, **values
    )
    return dataclasses.replace(params, genesis_hash_hex=genesis_block(params).header.hash_hex)


class Loopback:
    """`node.network` of one node: delivers to every other live node on the next loop turn.
    `refused` collects what the receivers rejected (the p2p layer would ban the sender)."""

    def __init__(self, net: ValNet, index: int) -> None:
        self.net, self.index = net, index

    def _others(self) -> list[Node]:
        return [
            n
            for i, n in enumerate(self.net.nodes)
            if i != self.index and self.net.alive[i] and self.net.linked(self.index, i)
        ]

    def _deliver(self, call: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                call()
            except Rejected as exc:
                self.net.refused.append((self.index, exc))

        asyncio.get_running_loop().call_soon(run)

    def broadcast_proposal(self, round_: int, block: Block, split: bool = False) -> None:
        targets = self._others()[:1] if split else self._others()
        for node in targets:
            if node.producer is not None:
                self._deliver(lambda n=node: n.producer.on_proposal(round_, block))  # type: ignore[union-attr]

    def broadcast_signature(self, block_hash: bytes, key: bytes, sig: bytes) -> None:
        for node in self._others():
            if node.producer is not None:
                self._deliver(lambda n=node: n.producer.on_signature(block_hash, key, sig))  # type: ignore[union-attr]

    def peer_info(self) -> list[dict[str, Any]]:
        return []

    def ban_list(self) -> list[dict[str, Any]]:
        return []

    async def connect(self, host: str, port: int) -> None:
        return None


class ValNet:
    """N validator nodes (optionally more observers) in one process."""

    def __init__(self, tmp: Path, params: ChainParams, validators: int, observers: int = 0):
        self.params = params
        self.nodes: list[Node] = []
        self.alive: list[bool] = []
        self.refused: list[tuple[int, Rejected]] = []
        self.evidence: list[tuple[int, EvidenceFound]] = []
        self.groups: list[set[int]] | None = None  # a partition: only nodes of a group talk
        for i in range(validators + observers):
            secret = SECRETS[i] if i < validators else None
            config = NodeConfig(
                params=params, datadir=tmp / f"n{i}", listen=False, verify_processes=0,
                validator_secret=secret,
            )  # fmt: skip
            self.nodes.append(Node(config))
            self.alive.append(False)

    async def start(self, index: int) -> None:
        node = self.nodes[index]
        node.network = Loopback(self, index)
        await node.start()
        node.network = Loopback(self, index)
        node.events.subscribe(lambda e, i=index: self._on_event(i, e))
        self.alive[index] = True
        for other in self.nodes:  # catch up: hand the new node every block it lacks
            if other is not node and other._opened:
                self._sync(other, node)

    async def start_all(self) -> None:
        for i in range(len(self.nodes)):
            await self.start(i)

    async def stop(self, index: int) -> None:
        if self.alive[index]:
            self.alive[index] = False
            await self.nodes[index].stop()
            self.nodes[index] = Node(self.nodes[index].config)

    async def stop_all(self) -> None:
        for i in range(len(self.nodes)):
            await self.stop(i)

    def linked(self, a: int, b: int) -> bool:
        return self.groups is None or any(a in g and b in g for g in self.groups)

    def partition(self, *groups: set[int]) -> None:
        self.groups = list(groups)

    def heal(self) -> None:
        self.groups = None
        for i, node in enumerate(self.nodes):
            for j, other in enumerate(self.nodes):
                if i != j and self.alive[i] and self.alive[j]:
                    self._sync(node, other)

    def _sync(self, source: Node, target: Node) -> None:
        si, ti = self.nodes.index(source), self.nodes.index(target)
        if not self.linked(si, ti):
            return
        for height in range(target.tip.height + 1, source.tip.height + 1):
            block = source.get_block(source.block_hash_at(height))  # type: ignore[arg-type]
            if block is not None:
                try:
                    target.process_block(block)
                except Rejected as exc:
                    self.refused.append((-1, exc))
                    return

    def _on_event(self, index: int, event: Event) -> None:
        if isinstance(event, EvidenceFound):
            self.evidence.append((index, event))
            for i, node in enumerate(self.nodes):
                if i != index and self.alive[i] and self.linked(index, i):
                    with contextlib.suppress(Rejected):
                        node.engine.submit_evidence(node.chainstate, event.evidence)  # type: ignore[attr-defined]
        if isinstance(event, TipChanged):
            source = self.nodes[index]
            for i, node in enumerate(self.nodes):
                if i != index and self.alive[i] and node.tip.height < event.height:
                    asyncio.get_running_loop().call_soon(self._sync, source, node)

    def heights(self) -> list[int]:
        return [n.tip.height for n, up in zip(self.nodes, self.alive, strict=True) if up]


async def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
