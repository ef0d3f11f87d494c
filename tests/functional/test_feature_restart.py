"""feature_restart: kill -9 a mining node ten times; it always reopens at a valid tip (DESIGN).

A mining node (`--mine`) connected to a second node is killed with SIGKILL at random moments.
After each kill its SQLite files pass `PRAGMA integrity_check` (opened read-only while the node
is down); on restart it reopens at a tip at least as high as any it reported before (every
acknowledged block was durable), whose parent links hold, and it converges with the second
node, which mined meanwhile. Random delays are deliberate here; readiness is waited on.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from pathlib import Path

import pytest

from .framework import NodeProcess, TestFramework, sync_blocks, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(240)]

KILLS = 10
LOADED = re.compile(r"chain loaded: height (\d+) tip ([0-9a-f]{64})")


def integrity_check(path: Path) -> str:
    """PRAGMA integrity_check of a database file, opened read-only (the node is stopped)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return ", ".join(str(r[0]) for r in rows)


def loaded_tip(node: NodeProcess) -> tuple[int, str]:
    """(height, tip) the node reports having reopened at in its log since its last start."""
    since_start = node.log_text().rsplit("=== ", 1)[-1]
    found = LOADED.findall(since_start)
    assert found, f"no 'chain loaded' line since the last start of {node.name}"
    return int(found[-1][0]), found[-1][1]


def check_valid_tip(node: NodeProcess, reported_height: int) -> None:
    """The tip reopened at is >= `reported_height`, stored, and linked to its parent.

    Checked by hash (not by height): the miner is already mining on it and may be reorging
    to the follower's chain, so the active chain at a height can move under our feet.
    """
    height, tip = loaded_tip(node)
    assert height >= reported_height, f"tip went back from {reported_height} to {height}"
    block = node.block(tip)
    assert (block["hash"], block["height"]) == (tip, height)
    assert node.block_raw(tip), "the tip's body is stored"
    if height > 0:
        parent = node.block(block["prev_block"])
        assert parent["height"] == height - 1


def in_active_chain(node: NodeProcess, block_hash: str, height: int) -> bool:
    return node.hash_at(height) == block_hash


def test_feature_restart(framework: TestFramework) -> None:
    log = framework.log
    rng = random.Random(20260101)
    miner, other = framework.wallet("restart-miner"), framework.wallet("restart-other")
    follower = framework.add_node()
    miner_args = ["--miner-address", miner.address]
    node = framework.add_node(connect=[follower], mine=True, extra_args=miner_args)

    for round_ in range(1, KILLS + 1):
        reported = node.height
        log.info("Round %d: wait for the miner to pass height %d, then kill -9", round_, reported)
        wait_until(lambda h=reported: node.height > h, 60, 0.05, "the miner to find a block")
        if round_ == 1:
            line = re.search(
                r"nonce search (\S+), ([\d.]+) M nonces/s per process", node.log_text()
            )
            assert line is not None and float(line.group(2)) > 0, "the miner logs its rate"
        time.sleep(rng.uniform(0.0, 1.5))  # a random moment: mid-search, mid-commit, mid-relay
        reported = node.height
        node.kill9()

        log.info("Round %d: the stopped node's databases pass PRAGMA integrity_check", round_)
        databases = node.db_files()
        assert databases, f"no SQLite file in {node.datadir}"
        for path in databases:
            assert integrity_check(path) == "ok", path

        log.info("Round %d: the follower mines 2 blocks while the miner is down", round_)
        follower.mine(2, other.address)
        target_height = follower.height

        log.info(
            "Round %d: restart; a valid tip at >= %d; converge with the follower", round_, reported
        )
        node.start()
        check_valid_tip(node, reported)
        wait_until(
            lambda h=target_height: node_follows(node, follower, h),
            60,
            0.2,
            f"the restarted miner and the follower on one chain past {target_height}",
        )

    log.info("Restart the miner without --mine (a clean stop); both nodes end on one tip")
    node.restart(mining=False)
    check_valid_tip(node, 0)
    sync_blocks([node, follower], timeout=60)
    assert node.status()["chainwork"] == follower.status()["chainwork"]


def node_follows(node: NodeProcess, follower: NodeProcess, min_height: int) -> bool:
    """The follower's tip is in the node's active chain and at least `min_height` high."""
    status = follower.status()
    if status["height"] < min_height:
        return False
    return in_active_chain(node, status["tip"], status["height"])
