"""B12p: proposal to final on every node, with every validator its own `powchain node` process
(issue 14). B12 (b_validators.py) runs the validators in one process and one event loop, so
their work is serialized; here they run in parallel as in production, on 127.0.0.1, and the
figure includes the real peer protocol, API-less signing and SQLite writes of each process.

The network is made with `powchain network create --validators ... --block-time 0`; each node
runs `--validator-key` on an encrypted wallet and dials the earlier ones. Times come from the
nodes' own logs, one wall clock on this host (millisecond stamps): the proposer's `proposed
block H` line, and each node's `new tip H` line. Per block: the last node's `new tip` minus
the proposal, for blocks after WARMUP. The bound is the validation time of such a block,
measured in process by B12 (passed in).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from powchain.core.keys import encode_address, xonly_pubkey
from powchain.wallet.keystore import PASSPHRASE_ENV, Keystore

from .proc import NodeProc

PASSPHRASE = "bench"
WARMUP = 3
"""Heights not measured: the first go out while the nodes still dial each other."""
_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?: (proposed block|new tip) ([0-9a-f]{64}) "
    r"(?:at )?height (\d+)"
)


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _make_network(root: Path, secrets: list[bytes]) -> tuple[Path, list[Path]]:
    wallets = []
    for i, secret in enumerate(secrets):
        store = Keystore()
        store.add("validator", secret)
        path = root / f"validator{i}.json"
        store.save(path, PASSPHRASE)
        wallets.append(path)
    addresses = ",".join(encode_address("x", xonly_pubkey(s)) for s in secrets)
    network = root / "benchproc.toml"
    cmd = [sys.executable, "-m", "powchain", "network", "create", "benchproc"]
    cmd += ["--validators", addresses, "--block-time", "0", "--out", str(network)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return network, wallets


def _read_log(path: Path) -> tuple[dict[str, tuple[int, float]], dict[str, float]]:
    """({hash: (height, proposed at)}, {hash: tip at}) from one node's log."""
    proposed: dict[str, tuple[int, float]] = {}
    tips: dict[str, float] = {}
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        stamp, what, block_hash, height = match.groups()
        if what == "proposed block":
            proposed[block_hash] = (int(height), _stamp(stamp))
        else:
            tips.setdefault(block_hash, _stamp(stamp))
    return proposed, tips


def latency(root: Path, n: int, blocks: int) -> list[float]:
    """Seconds from proposal to the last of `n` validator processes having it as its tip,
    for each block above WARMUP up to WARMUP + blocks."""
    root.mkdir(parents=True, exist_ok=True)
    secrets = [bytes([0x40 + i]) * 32 for i in range(n)]
    network, wallets = _make_network(root, secrets)
    nodes: list[NodeProc] = []
    try:
        for i in range(n):
            connect = [arg for p in nodes for arg in ("--connect", f"127.0.0.1:{p.p2p_port}")]
            nodes.append(
                NodeProc(
                    root / f"v{i}",
                    ["--validator-key", str(wallets[i]), *connect],
                    network=["--network-file", str(network)],
                    env={PASSPHRASE_ENV: PASSPHRASE},
                )
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if min(p.height() for p in nodes) >= WARMUP + blocks:
                break
            time.sleep(0.2)
    finally:
        for node in nodes:
            node.stop()
    proposed: dict[str, tuple[int, float]] = {}
    tips: list[dict[str, float]] = []
    for node in nodes:
        mine, seen = _read_log(node.log_path)
        proposed.update(mine)
        tips.append(seen)
    spans = []
    for block_hash, (height, at) in proposed.items():
        reached = [seen.get(block_hash) for seen in tips]
        if height > WARMUP and all(t is not None for t in reached):
            spans.append(max(t for t in reached if t is not None) - at)
    return spans
