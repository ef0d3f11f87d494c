"""wallet_issue12: the command line a newcomer meets, against real regtest nodes.

`powchain mine N` to the wallet; two quick sends through two nodes both confirm (the wallet
counts its own pending nonces); `--replace` replaces, only when asked; `--all` empties a key,
the fee taken from it; `wallet history` has one row per transaction and its changes add up to
the balance; no output (errors included) shows base units where a person reads it; and a
wrong network, a P2P port given as --node, and an API port given to POST /peers each get
their own line.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from powchain.core.units import COIN, parse_coins

from .framework import NodeProcess, TestFramework, run_cli, sync_blocks, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(240)]

PASSPHRASE = {"POWCHAIN_WALLET_PASSPHRASE": "correct horse battery staple"}
BASE_UNITS = re.compile(r"(?<![.\d\w])\d{6,}(?![.\d\w])")
"""An integer of 6+ digits outside a coin amount, txid, hash or address: a base-unit figure."""


class Cli:
    def __init__(self, framework: TestFramework, node: NodeProcess) -> None:
        self.wallet = str(framework.tmp_path / "wallet.json")
        self.node = node
        self.outputs: list[str] = []

    def run(self, *args: str, node: NodeProcess | None = None, ok: bool = True) -> str:
        node = node or self.node
        common = ["--network", "regtest", "--datadir", str(node.datadir), "--node", node.api_url]
        if args[0] in ("wallet", "post", "mine"):
            common += ["--wallet", self.wallet]
        done = run_cli([*args, *common], env=PASSPHRASE)
        text = done.stdout + done.stderr
        self.outputs.append(text)
        assert (done.returncode == 0) == ok, f"powchain {' '.join(args)}: {text}"
        return done.stdout if ok else done.stderr


def history_rows(text: str) -> list[list[str]]:
    lines = text.strip().splitlines()
    assert lines[0].split()[:3] == ["height", "txid", "kind"]
    assert lines[-1].startswith("balance ")
    return [line.split() for line in lines[1:-1]]


def test_newcomer_wallet_flows(framework: TestFramework) -> None:
    log = framework.log
    node0 = framework.add_node()
    node1 = framework.add_node(connect=[node0])
    wait_until(lambda: len(node1.peers()) == 1, 30, description="node1 connected")
    cli = Cli(framework, node0)
    name, me = cli.run("wallet", "create").split()
    _, spare = cli.run("wallet", "create", "--name", "spare").split()
    other = framework.wallet("other").address

    log.info("`powchain mine 12` pays the wallet's own address")
    mined = cli.run("mine", "12").split()
    assert len(mined) == 12 and all(len(h) == 64 for h in mined)
    assert node0.height == 12
    sync_blocks([node0, node1])

    log.info("Two quick sends through two nodes: both accepted with consecutive nonces")
    first = cli.run("wallet", "send", other, "1").split()[0]
    second = cli.run("wallet", "send", other, "2", node=node1).split()[0]
    nonces = {node0.tx(first)["nonce"], node1.tx(second)["nonce"]}
    assert nonces == {0, 1}

    log.info("`--replace` replaces a pending payment with a higher fee; without it, no clash")
    third = cli.run("wallet", "send", other, "3").split()[0]
    third_nonce = node0.tx(third)["nonce"]
    assert third_nonce == 2
    bumped = cli.run("wallet", "send", other, "3.5", "--replace", third).split()[0]
    assert node0.tx(bumped)["nonce"] == third_nonce
    wait_until(lambda: third not in node0.mempool_txids(), 30, description="the replaced tx gone")
    assert node0.tx(bumped)["status"] == "pending"

    log.info("A post: one history row of kind self whose change is minus its fee")
    posted = cli.run("post", "hello from issue 12").split()[0]
    wait_until(
        lambda: {first, second, bumped, posted} <= node0.mempool_txids(),
        30,
        description="all four in node0's mempool",
    )
    node0.mine(1, framework.wallet("sink").address)
    sync_blocks([node0, node1])
    for txid in (first, second, bumped, posted):
        assert node0.tx(txid)["status"] == "confirmed"

    log.info("`--all` sends every spendable coin of a key, the fee taken from it")
    cli.run("wallet", "send", spare, "5")
    node0.mine(1, framework.wallet("sink").address)
    emptied = cli.run("wallet", "send", other, "--all", "--key", "spare").split()[0]
    sent = node0.tx(emptied)
    assert sent["amount"] + sent["fee"] == 5 * COIN
    assert node0.account(spare)["pending_balance"] == 0
    node0.mine(1, framework.wallet("sink").address)
    assert node0.account(spare)["balance"] == 0

    log.info("History: one row per transaction; the changes add up to the balance")
    rows = history_rows(cli.run("wallet", "history", "--limit", "100"))
    txids = [row[1] for row in rows]
    assert len(txids) == len(set(txids)), "one row per transaction"
    post_rows = [row for row in rows if posted.startswith(row[1])]
    assert len(post_rows) == 1 and post_rows[0][2] == "self"
    post_fee = node0.tx(posted)["fee"]
    assert parse_coins(post_rows[0][5].lstrip("-")) == post_fee and post_rows[0][5][0] == "-"
    account = node0.account(me)
    total = account["balance"] + account["immature"]
    changes = sum(Decimal(row[5]) for row in rows)
    assert changes * COIN == total
    assert parse_coins(rows[0][6]) == total
    api_rows = node0.account_txs(me, limit=100)["txs"]
    assert sum(r["delta"] for r in api_rows) == total
    assert len({r["txid"] for r in api_rows}) == len(api_rows) == len(rows)

    log.info("Errors speak coins too")
    broke = cli.run("wallet", "send", other, "1000000", ok=False)
    assert "insufficient-funds" in broke and "coins" in broke, broke
    shown = cli.run("tx", first)
    assert f'"amount": "{1:.8f}"' in shown
    for text in cli.outputs:
        assert not BASE_UNITS.search(text), text
    assert '"amount": 100000000' in cli.run("tx", first, "--raw")


def test_wrong_network_and_wrong_ports(framework: TestFramework) -> None:
    regtest = framework.add_node()
    devnet = framework.add_node(network="devnet")
    common = ["--datadir", str(regtest.datadir)]

    wrong_net = run_cli(["status", "--network", "regtest", "--node", devnet.api_url, *common])
    assert wrong_net.returncode == 1
    assert f"the node at {devnet.api_url} is on devnet, not regtest" in wrong_net.stderr

    p2p = run_cli(["status", "--node", f"http://127.0.0.1:{regtest.p2p_port}", *common])
    assert p2p.returncode == 1
    assert (
        f"http://127.0.0.1:{regtest.p2p_port} is not a REST API: this is the P2P port of a "
        f"powchain node (regtest); its API is {regtest.api_url}"
    ) in p2p.stderr
    assert "websocket" not in p2p.stderr.lower().replace("websocket handshake", "")

    r = regtest.call(
        "POST", "/peers", admin=True, json={"address": f"127.0.0.1:{devnet.api_port}"}, timeout=60
    )
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["error"] == "not-a-p2p-port"
    assert f"127.0.0.1:{devnet.api_port} answered HTTP" in body["message"]
    assert "InvalidStatus" not in body["message"] and "<" not in body["message"]
    assert regtest.status()["p2p_port"] == regtest.p2p_port
