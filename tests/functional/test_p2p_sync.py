"""p2p_sync: a node started late syncs 500 blocks headers-first from two peers (SPEC §6).

node0 mines 500 blocks and node1 follows it. node2 then starts connected to both, downloads
the headers, fetches the bodies in parallel from both peers and ends on the same tip. Each
peer's `blocks_received` count in node2's GET /peers shows that both served bodies.
"""

from __future__ import annotations

import pytest

from .framework import TestFramework, sync_blocks, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(180)]

CHAIN_LENGTH = 500


def test_p2p_sync(framework: TestFramework) -> None:
    log = framework.log
    miner = framework.wallet("miner")
    node0 = framework.add_node()
    node1 = framework.add_node(connect=[node0])

    log.info("Mine %d blocks on node0; node1 follows it", CHAIN_LENGTH)
    hashes = node0.mine(CHAIN_LENGTH, miner.address)
    tip = sync_blocks([node0, node1], timeout=120)
    assert tip == hashes[-1] and node1.height == CHAIN_LENGTH

    log.info("Start node2 connected to node0 and node1; it syncs the whole chain")
    node2 = framework.add_node(connect=[node0, node1])
    wait_until(lambda: len(node2.peers()) == 2, 30, description="node2 connected to both")
    assert sync_blocks([node0, node1, node2], timeout=120) == tip
    assert node2.height == CHAIN_LENGTH
    assert node2.hash_at(250) == node0.hash_at(250)
    assert node2.status()["chainwork"] == node0.status()["chainwork"]

    log.info("Both peers served block bodies to node2")
    rows = {row["address"]: row for row in node2.peers()}
    assert len(rows) == 2, rows
    for address, row in rows.items():
        assert "blocks_received" in row, f"GET /peers rows need a blocks_received count: {row}"
        assert row["blocks_received"] > 0, f"{address} served no block: {rows}"
    assert sum(row["blocks_received"] for row in rows.values()) >= CHAIN_LENGTH

    log.info("A block mined on node2 reaches both peers")
    (new_tip,) = node2.mine(1, miner.address)
    assert sync_blocks([node0, node1, node2]) == new_tip
