"""mining_stratum: real `powchain miner` processes mine through a real node's Stratum port.

Three regtest nodes; node0 serves Stratum (`--stratum`). A `powchain miner` process mines to
address A: its blocks reach every node, each coinbase paying A. The miner is killed with
SIGKILL and a new one started for address B: the server drops the dead connection, the new
miner resumes and its blocks pay B. A miner whose username is not an address is refused with
the reason and exits 1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from .framework import TestFramework, free_port, sync_blocks, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(420)]


def miner_command(port: int, user: str) -> list[str]:
    pool = f"stratum+tcp://127.0.0.1:{port}"
    return [sys.executable, "-m", "powchain", "miner", "--pool", pool, "--user", user,
            "--progress-every", "1"]  # fmt: skip


def coinbase_recipient(node: object, height: int) -> str:
    return str(node.block(height, full=True)["txs"][0]["recipient"])  # type: ignore[attr-defined]


def test_mining_stratum(framework: TestFramework) -> None:
    log = framework.log
    port = free_port()
    node0 = framework.add_node(extra_args=["--stratum", f"127.0.0.1:{port}"])
    node1 = framework.add_node(connect=[node0])
    node2 = framework.add_node(connect=[node0, node1])
    nodes = [node0, node1, node2]
    a, b = framework.wallet("stratum-a"), framework.wallet("stratum-b")

    log.info("A `powchain miner` process mines to A through node0's Stratum port")
    miner = framework.spawn(miner_command(port, a.address), "miner-a.log")
    wait_until(lambda: node0.height >= 3, 120, 0.5, "three blocks from the miner")
    tip = sync_blocks(nodes, 60)
    height = node0.height
    for node in nodes:
        assert node.tip == tip
        assert {coinbase_recipient(node, h) for h in range(1, height + 1)} == {a.address}
        assert node.account(a.address)["immature"] > 0
    stats = node0.get("/stratum")
    (worker,) = stats["workers"]
    assert worker["address"] == a.address and worker["blocks"] >= 3
    log_a = framework.tmp_path / "miner-a.log"
    wait_until(lambda: "accepted" in log_a.read_text(), 60, 0.2, "the miner's progress line")
    progress = log_a.read_text().splitlines()[-1]
    assert re.search(r"H/s  shares \d+ accepted / \d+ rejected  blocks \d+", progress), progress

    log.info("SIGKILL the miner: the server drops it; a new miner for B resumes")
    os.killpg(miner.pid, signal.SIGKILL)
    miner.wait(10)
    wait_until(lambda: node0.get("/stratum")["connections"] == 0, 60, 0.2, "the dead miner gone")
    before = node0.height
    framework.spawn(miner_command(port, b.address), "miner-b.log")
    wait_until(lambda: node0.height >= before + 3, 120, 0.5, "blocks from the new miner")
    sync_blocks(nodes, 60)
    newest = node2.height
    assert coinbase_recipient(node2, newest) == b.address
    assert node1.account(b.address)["immature"] > 0
    assert [w["address"] for w in node0.get("/stratum")["workers"]] == [b.address]

    log.info("A username that is not an address is refused with the reason; the miner exits 1")
    bad = subprocess.run(
        miner_command(port, "not-an-address"), capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "authorize refused" in bad.stderr and "not a regtest address" in bad.stderr
