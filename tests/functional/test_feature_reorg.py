"""feature_reorg: a network split and rejoin; every node follows the most-work side (SPEC §4).

Three nodes share a common prefix, then A is cut off (restarted on a new P2P port with
--connect pointing at a dead port, which, as in Bitcoin Core, disables other outbound
connections). A mines 3 blocks, {B, C} mine 5; each side confirms a payment of the same
sender and nonce to a different recipient. After A reconnects, all three nodes are on the
5-block side, every account equals a replay of the chain from genesis, A's conflicting
payment is gone, and A's other, still-valid payment returns to the mempool and confirms in
the next block.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from powchain.core.units import COIN

from .framework import (
    NodeProcess,
    TestFramework,
    connect_nodes,
    free_port,
    sync_blocks,
    wait_until,
)

pytestmark = [pytest.mark.functional, pytest.mark.timeout(150)]

MATURITY = 10


def replay_accounts(node: NodeProcess) -> dict[str, dict[str, int]]:
    """Balances, immature coinbases and nonces from walking the active chain from genesis."""
    tip_height = node.height
    total: dict[str, int] = defaultdict(int)
    immature: dict[str, int] = defaultdict(int)
    nonce: dict[str, int] = defaultdict(int)
    for height in range(tip_height + 1):
        for tx in node.block(height, full=True)["txs"]:
            apply_tx(tx, height, tip_height, total, immature, nonce)
    return {
        address: {
            "balance": total[address] - immature[address],
            "immature": immature[address],
            "nonce": nonce[address],
        }
        for address in set(total) | set(nonce)
    }


def apply_tx(
    tx: dict[str, Any],
    height: int,
    tip_height: int,
    total: dict[str, int],
    immature: dict[str, int],
    nonce: dict[str, int],
) -> None:
    recipient = tx["recipient"]
    if tx["coinbase"]:
        if recipient is None:  # genesis pays no key
            return
        total[recipient] += tx["amount"]
        if height + MATURITY > tip_height:
            immature[recipient] += tx["amount"]
        return
    sender = tx["sender"]
    assert tx["nonce"] == nonce[sender], f"replay: nonce out of order in {tx}"
    nonce[sender] += 1
    total[sender] -= tx["amount"] + tx["fee"]
    assert total[sender] - immature[sender] >= 0, f"replay: overspend by {tx}"
    total[recipient] += tx["amount"]


def test_feature_reorg(framework: TestFramework) -> None:
    log = framework.log
    miner_a, miner_b, sender, other, x, y, z = (
        framework.wallet(s) for s in ("miner-a", "miner-b", "sender", "other", "x", "y", "z")
    )
    node_b = framework.add_node()
    node_c = framework.add_node(connect=[node_b])
    node_a = framework.add_node(connect=[node_b])

    log.info("Build a common prefix: fund `sender` and `other`, mature their coinbases")
    node_b.mine(1, sender.address)
    node_b.mine(1, other.address)
    node_b.mine(MATURITY, miner_b.address)
    prefix_tip = sync_blocks([node_a, node_b, node_c])
    assert node_a.height == 2 + MATURITY

    log.info("Split: restart A on a new P2P port, with --connect only to a dead port")
    node_a.stop()
    node_a.p2p_port = free_port()
    node_a.connect = [f"127.0.0.1:{free_port()}"]
    node_a.start()
    assert node_a.tip == prefix_tip
    wait_until(lambda: node_a.peers() == [], 30, description="A without peers")
    wait_until(lambda: len(node_b.peers()) == 1, 30, description="B connected to C only")

    log.info("A confirms sender->X (nonce 0) and other->Z, and mines 3 blocks")
    to_x = node_a.submit(sender.transfer(x.address, 5 * COIN, 0).serialize().hex())
    to_z = node_a.submit(other.transfer(z.address, 7 * COIN, 0).serialize().hex())
    a_blocks = node_a.mine(3, miner_a.address)
    assert node_a.tx(to_x)["height"] == node_a.tx(to_z)["height"] == 13

    log.info("B confirms sender->Y with the same nonce 0; B and C mine 5 blocks")
    to_y = node_b.submit(sender.transfer(y.address, 6 * COIN, 0).serialize().hex())
    node_b.mine(2, miner_b.address)
    sync_blocks([node_b, node_c])
    node_c.mine(3, miner_b.address)
    bc_tip = sync_blocks([node_b, node_c])
    assert node_b.height == 2 + MATURITY + 5

    log.info("Rejoin: connect A to B; every node follows the 5-block side")
    connect_nodes(node_a, node_b)
    assert sync_blocks([node_a, node_b, node_c]) == bc_tip
    assert node_a.block(a_blocks[0])["confirmations"] == -1, "A's blocks left the active chain"

    log.info("The conflicting payment to X is gone; the payment to Z is back in A's mempool")
    assert node_a.tx(to_y)["status"] == "confirmed"
    assert node_a.account(x.address)["balance"] == 0
    assert node_a.account(y.address)["balance"] == 6 * COIN
    wait_until(lambda: to_z in node_a.mempool_txids(), 10, description="to_z in A's mempool")
    assert to_x not in node_a.mempool_txids()

    log.info("Every account on every node equals a replay of the chain from genesis")
    check_replay([node_a, node_b, node_c])

    log.info("One more block confirms the payment to Z everywhere")
    (last,) = node_a.mine(1, miner_a.address)
    assert sync_blocks([node_a, node_b, node_c]) == last
    for node in (node_a, node_b, node_c):
        found = node.tx(to_z)
        assert (found["status"], found["block"]) == ("confirmed", last)
        assert node.account(z.address)["balance"] == 7 * COIN
        assert node.mempool()["count"] == 0
    check_replay([node_a, node_b, node_c])


def check_replay(nodes: list[NodeProcess]) -> None:
    expected = replay_accounts(nodes[0])
    assert len(expected) >= 4  # miner-b, sender, other, y (and z after the last block)
    for node in nodes:
        for address, want in expected.items():
            got = node.account(address)
            have = {key: got[key] for key in ("balance", "immature", "nonce")}
            assert have == want, f"{node.name} {address}: {have} != replay {want}"
