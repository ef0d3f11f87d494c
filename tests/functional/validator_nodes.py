"""Validator networks for functional tests (issue 14): real `powchain node --validator-key`
processes of a network made with `powchain network create --validators`.

`ValidatorNet(framework, n, threshold, block_time)` writes one encrypted wallet per validator
(passphrase PASSPHRASE, given to each process in its environment), creates the network file
with the CLI and adds node i signing with key i, connected to every earlier node (a full
mesh). `History` records every (height, hash) each node reports and fails when one changes:
no final block is ever replaced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powchain.core.keys import encode_address, xonly_pubkey
from powchain.wallet.keystore import PASSPHRASE_ENV, Keystore

from .framework import NodeProcess, TestFramework, wait_until
from .netfile_nodes import FileNodeProcess, create_network

PASSPHRASE = "validator test"


@dataclass
class ValidatorProcess(FileNodeProcess):
    """A file-network node signing with `wallet` (none: an observer); `env` joins its
    environment (crash points, the test-only equivocation switch)."""

    wallet: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def process_env(self) -> dict[str, str]:
        return {PASSPHRASE_ENV: PASSPHRASE, **self.env}

    def args(self) -> list[str]:
        cmd = super().args()
        if self.wallet is not None:
            cmd += ["--validator-key", str(self.wallet)]
        return cmd

    def validators(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/validators")
        return result


class ValidatorNet:
    """n validator processes (and observers) of one new validator network."""

    def __init__(
        self, framework: TestFramework, n: int, threshold: int | None = None, block_time: int = 1
    ) -> None:
        self.framework = framework
        tmp = framework.tmp_path
        self.secrets = [hashlib.sha256(b"functional validator %d" % i).digest() for i in range(8)]
        self.keys = [xonly_pubkey(s) for s in self.secrets]
        self.wallets: list[Path] = []
        for i, secret in enumerate(self.secrets):
            store = Keystore()
            store.add("validator", secret)
            path = tmp / f"validator{i}.json"
            store.save(path, PASSPHRASE)
            self.wallets.append(path)
        addresses = ",".join(encode_address("x", k) for k in self.keys[:n])
        args = ["--validators", addresses, "--block-time", str(block_time)]
        if threshold is not None:
            args += ["--threshold", str(threshold)]
        self.file = tmp / "vnet.toml"
        self.network, self.output = create_network(self.file, "vnet", *args)
        self.nodes: list[ValidatorProcess] = []

    @property
    def params(self) -> Any:
        return self.network.params

    def add(self, key: int | None, start: bool = True, **env: str) -> ValidatorProcess:
        index = len(self.framework.nodes)
        node = ValidatorProcess(
            index,
            self.framework.tmp_path / f"node{index}",
            connect=[peer.p2p_address for peer in self.nodes],
            network_file=self.file,
            wallet=None if key is None else self.wallets[key],
            env=dict(env),
        )
        self.framework.nodes.append(node)
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def connect_all(self) -> None:
        """Full mesh: every node --connects to every other (kept across restarts)."""
        for node in self.nodes:
            node.connect = [p.p2p_address for p in self.nodes if p is not node]


class History:
    """Every (height -> hash) a node ever reported: a change means a final block was replaced."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[int, str]] = {}

    def record(self, node: NodeProcess, full: bool = False) -> int:
        """Read the node's active chain (the last few heights checked, every one when
        `full`); its height."""
        height = node.height
        known = self.seen.setdefault(node.index, {})
        start = 1 if full else max(1, max(known, default=0) - 5)
        for h in range(start, height + 1):
            block_hash = node.hash_at(h)
            if block_hash is None:
                continue
            before = known.setdefault(h, block_hash)
            assert before == block_hash, f"{node.name}: final block {h} replaced"
        return height

    def check_agreement(self) -> None:
        """Every height any two nodes both reported has one hash."""
        merged: dict[int, str] = {}
        for index, chain in self.seen.items():
            for h, block_hash in chain.items():
                assert merged.setdefault(h, block_hash) == block_hash, f"fork at {h} (node{index})"


def wait_heights(
    nodes: list[ValidatorProcess], height: int, history: History, timeout: float
) -> None:
    """Until every node is at `height` or above, recording history on the way."""

    def reached() -> bool:
        return all(history.record(n) >= height for n in nodes)

    wait_until(reached, timeout, 0.5, f"height {height} on {[n.name for n in nodes]}")
