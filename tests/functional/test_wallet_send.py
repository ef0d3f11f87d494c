"""wallet_send: payments and posts through three connected nodes, by API and by CLI (SPEC §7, §8).

Wallets send to each other through different nodes (chained nonces included), and a keystore
wallet made with `powchain wallet create` pays with `powchain wallet send` and posts with
`powchain post` (passphrase from POWCHAIN_WALLET_PASSPHRASE). Balances and nonces are exact on
all three nodes, and GET /accounts/{a}/txs lists each account's transactions newest first.
"""

from __future__ import annotations

import pytest

from powchain.core.units import COIN, format_coins

from .framework import (
    NodeProcess,
    TestFramework,
    run_cli,
    sync_blocks,
    sync_mempools,
    wait_until,
)

pytestmark = [pytest.mark.functional, pytest.mark.timeout(150)]

FEE = 10_000
PASSPHRASE = {"POWCHAIN_WALLET_PASSPHRASE": "correct horse battery staple"}


def cli(node: NodeProcess, wallet_file: str, *args: str) -> str:
    """Run a wallet command against `node`; its stdout (exit code 0 asserted)."""
    common = ["--network", "regtest", "--datadir", str(node.datadir), "--node", node.api_url]
    done = run_cli([*args, *common, "--wallet", wallet_file], env=PASSPHRASE)
    assert done.returncode == 0, f"powchain {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_wallet_send(framework: TestFramework) -> None:
    log = framework.log
    alice, bob, carol, dave, miner = (
        framework.wallet(s) for s in ("alice", "bob", "carol", "dave", "miner")
    )
    node0 = framework.add_node()
    node1 = framework.add_node(connect=[node0])
    node2 = framework.add_node(connect=[node1])
    nodes = [node0, node1, node2]
    wait_until(lambda: len(node1.peers()) == 2, 30, description="node1 connected to both")

    log.info("Fund alice and bob with a coinbase each and let them mature")
    node0.mine(1, alice.address)
    node0.mine(1, bob.address)
    node0.mine(10, miner.address)
    sync_blocks(nodes)

    log.info("Create a keystore wallet with `powchain wallet create`")
    wallet_file = str(framework.tmp_path / "cli-wallet.json")
    name, cli_address = cli(node1, wallet_file, "wallet", "create").split()
    assert name == "default" and cli_address.startswith("rpow1")
    assert cli(node1, wallet_file, "wallet", "address").strip() == cli_address

    log.info("Payments through three different nodes, alice's two with chained nonces")
    a_to_b = node1.submit(alice.transfer(bob.address, 5 * COIN, 0, FEE).serialize().hex())
    b_to_c = node2.submit(bob.transfer(carol.address, 3 * COIN, 0, FEE).serialize().hex())
    a_to_cli = node0.submit(alice.transfer(cli_address, 2 * COIN, 1, FEE).serialize().hex())
    assert sync_mempools(nodes) == {a_to_b, b_to_c, a_to_cli}
    (block13,) = node2.mine(1, miner.address)
    sync_blocks(nodes)
    for node in nodes:
        assert node.tx(a_to_cli)["block"] == block13 and node.mempool()["count"] == 0

    log.info("`powchain wallet send` pays dave 0.5 coins through node1")
    sent = cli(node1, wallet_file, "wallet", "send", dave.address, "0.5").split()[0]
    send_fee = node1.tx(sent)["fee"]
    assert node1.tx(sent)["amount"] == COIN // 2 and send_fee > 0

    log.info("`powchain post` publishes a post through node2 (nonce 1 after the pending send)")
    wait_until(lambda: sent in node2.mempool_txids(), 30, description="the send at node2")
    posted = cli(node2, wallet_file, "post", "hello from the powchain CLI").split()[0]
    post_fee = node2.tx(posted)["fee"]
    assert node2.tx(posted)["nonce"] == 1
    assert sync_mempools(nodes) == {sent, posted}
    (block14,) = node0.mine(1, miner.address)
    sync_blocks(nodes)

    log.info("Balances and nonces are exact on all three nodes")
    expected = {
        alice.address: (50 * COIN - 7 * COIN - 2 * FEE, 2),
        bob.address: (50 * COIN + 5 * COIN - 3 * COIN - FEE, 1),
        carol.address: (3 * COIN, 0),
        cli_address: (2 * COIN - COIN // 2 - send_fee - post_fee, 2),
        dave.address: (COIN // 2, 0),
    }
    for node in nodes:
        for address, (balance, nonce) in expected.items():
            account = node.account(address)
            got = (account["balance"], account["nonce"], account["immature"])
            assert got == (balance, nonce, 0), f"{node.name} {address}"
            assert (account["pending_balance"], account["next_nonce"]) == (balance, nonce)

    log.info("`powchain wallet balance` shows the same amount")
    balance_out = cli(node2, wallet_file, "wallet", "balance")
    assert format_coins(expected[cli_address][0]) in balance_out, balance_out

    log.info("GET /accounts/{a}/txs lists each account's transactions, newest first")
    for node in nodes:
        cli_rows = [(t["txid"], t["direction"]) for t in node.account_txs(cli_address)["txs"]]
        # one row per transaction (issue 12): a post pays its author, so its row is 'self'
        assert cli_rows == [(posted, "self"), (sent, "out"), (a_to_cli, "in")], node.name
        alice_history = [t["txid"] for t in node.account_txs(alice.address)["txs"]]
        assert alice_history[:2] == [a_to_cli, a_to_b], node.name
        assert [t["txid"] for t in node.account_txs(carol.address)["txs"]] == [b_to_c]
        assert node.tx(posted)["block"] == block14
    post = node1.posts()[0]
    assert (post["author"], post["text"], post["txid"]) == (
        cli_address,
        "hello from the powchain CLI",
        posted,
    )

    log.info("`powchain wallet history` lists the post and the payment")
    history = cli(node0, wallet_file, "wallet", "history")
    assert all(txid[:16] in history for txid in (posted, sent, a_to_cli)), history  # short ids
