"""feature_netfile: your own network from a file (issue 6), run by three real nodes.

Creates a network with `powchain network create` (2-s blocks, a genesis allocation), copies
the file to three "machines" and starts a node from each copy; the allocation is spent and
mined on demand, and every node converges. A node of another network file connects and both
sides refuse it with a reason naming both networks. A node restarted with an edited copy of
the file refuses to start; with the original copy back it starts and catches up.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.units import COIN

from .framework import DEFAULT_FEE, TestFramework, Wallet, sync_blocks, sync_mempools, wait_until
from .netfile_nodes import add_file_node, connected, create_network, refusals, wait_for_exit

pytestmark = [pytest.mark.functional, pytest.mark.timeout(300)]


def test_feature_netfile(framework: TestFramework) -> None:
    log = framework.log
    tmp = framework.tmp_path
    alice_secret = hashlib.sha256(b"feature_netfile alice").digest()
    alice_address = encode_address("lab", xonly_pubkey(alice_secret))

    log.info("Create network 'lab': 2-s blocks, 1,000 coins allocated to Alice at genesis")
    network, output = create_network(
        tmp / "lab.toml", "lab", "--block-time", "2", "--coinbase-maturity", "2",
        "--allocate", f"{alice_address}=1000",
    )  # fmt: skip
    params = network.params
    assert f"genesis {params.genesis_hash_hex}" in output
    assert params.target_spacing == 2 and params.mine_on_demand
    alice = Wallet(alice_secret, params)
    bob = Wallet.new(params, "feature_netfile bob")
    miner = Wallet.new(params, "feature_netfile miner")

    log.info("Copy the file to three machines and start a node from each copy")
    copies = []
    for i in range(3):
        (tmp / f"machine{i}").mkdir()
        copies.append(Path(shutil.copy(tmp / "lab.toml", tmp / f"machine{i}" / "lab.toml")))
    node0 = add_file_node(framework, copies[0])
    node1 = add_file_node(framework, copies[1], connect=[node0])
    node2 = add_file_node(framework, copies[2], connect=[node0, node1])
    nodes = [node0, node1, node2]
    wait_until(lambda: all(len(connected(n)) >= 2 for n in nodes), 60, 0.2, "a full mesh")
    for node in nodes:
        status = node.status()
        assert (status["network"], status["chain_id"]) == ("lab", params.chain_id)
        assert (status["height"], status["tip"]) == (0, params.genesis_hash_hex)
    assert node2.account(alice.address)["balance"] == 1_000 * COIN

    log.info("Alice pays Bob 250 coins of her allocation through node1; node0 mines 2 blocks")
    txid = alice.send(node1, bob.address, 250 * COIN)
    assert txid in sync_mempools(nodes)
    node0.mine(2, miner.address)
    tip = sync_blocks(nodes)
    for node in nodes:
        assert node.tip == tip and node.height == 2
        assert node.tx(txid)["status"] == "confirmed"
        assert node.account(bob.address)["balance"] == 250 * COIN
        assert node.account(alice.address)["balance"] == 750 * COIN - DEFAULT_FEE
        assert node.account(alice.address)["nonce"] == 1

    log.info("A node of another network (its own file) connects to node0 and is refused")
    create_network(tmp / "other.toml", "other", "--block-time", "2")
    stranger = add_file_node(framework, tmp / "other.toml", connect=[node0])

    def named_both(reasons: list[str]) -> bool:
        return any("wrong-network" in r and "'other'" in r and "'lab'" in r for r in reasons)

    wait_until(lambda: named_both(refusals(stranger)), 60, 0.2, "the stranger's refusal")
    wait_until(lambda: named_both(refusals(node0)), 60, 0.2, "node0's refusal")
    assert "wrong-network: peer is on network 'lab'" in stranger.log_text()
    assert "wrong-network: peer is on network 'other'" in node0.log_text()
    assert connected(stranger) == [] and stranger.height == 0
    assert node0.tip == tip

    log.info("node2 restarted with an edited copy (block time 2 -> 1) refuses to start")
    node2.stop()
    original = copies[2].read_text()
    copies[2].write_text(original.replace("target_spacing = 2\n", "target_spacing = 1\n"))
    node2.start(wait=False)
    assert wait_for_exit(node2) == 1
    assert (
        f"network file {copies[2]}: the parameters differ from those the genesis block "
        "commits to" in node2.log_text()
    )

    log.info("With the original copy back, node2 starts and follows the chain again")
    node2.stop()
    copies[2].write_text(original)
    node2.start()
    node0.mine(1, miner.address)
    assert sync_blocks(nodes) == node2.tip and node2.height == 3
