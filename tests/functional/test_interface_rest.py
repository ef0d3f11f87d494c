"""interface_rest: every endpoint of SPEC §7 on a real node, and every way to call one wrongly.

Happy paths check exact values; the adversarial calls (malformed JSON, wrong types, a 2 MiB
body, unknown ids, bad or foreign addresses, missing or wrong admin token, invalid
transactions) must each get a 4xx with `{"error", "message"}`, never a 500.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from powchain.core import keys
from powchain.core.block import Block
from powchain.core.params import DEVNET, REGTEST, TESTNET, genesis_block
from powchain.core.units import COIN

from .framework import NodeProcess, TestFramework, Wallet, log, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(150)]

FEE = 10_000


def assert_problem(r: httpx.Response, status: int | tuple[int, ...] | None = None) -> str:
    """A 4xx answer shaped {"error": reason, "message": prose}; the reason."""
    assert 400 <= r.status_code < 500, (
        f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    )
    if status is not None:
        allowed = status if isinstance(status, tuple) else (status,)
        assert r.status_code in allowed, f"{r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str), body
    return str(body["error"])


def rejection(node: NodeProcess, tx_hex: str) -> tuple[int, str]:
    """(status, reason) of a POST /txs that must be refused."""
    r = node.call("POST", "/txs", json={"raw": tx_hex})
    return r.status_code, assert_problem(r)


def test_interface_rest(framework: TestFramework) -> None:
    node = framework.add_node()
    alice, carol, bob, miner = (framework.wallet(s) for s in ("alice", "carol", "bob", "miner"))

    log.info("GET /status on a fresh node: regtest at genesis")
    status = node.status()
    expected = {"network", "chain_id", "height", "tip", "bits", "difficulty", "chainwork"}
    expected |= {"mempool_size", "peers", "synced", "version", "network_hashrate"}
    assert expected <= set(status), status
    assert (status["network"], status["chain_id"], status["height"]) == (
        "regtest",
        REGTEST.chain_id,
        0,
    )
    assert status["tip"] == genesis_block(REGTEST).header.hash_hex
    assert (status["mempool_size"], status["peers"]) == (0, 0)

    check_admin(node, miner)

    log.info("POST /mine: fund alice and carol, then 10 blocks so both coinbases mature")
    node.mine(1, alice.address)
    node.mine(1, carol.address)
    hashes = node.mine(10, miner.address)
    assert len(hashes) == 10 and node.tip == hashes[-1] and node.height == 12

    check_blocks(node)
    check_transactions(node, alice, bob, carol, miner)
    check_posts(node, alice, miner)
    check_malformed(node)
    check_unknown_ids_and_addresses(node, alice)
    check_docs_and_metrics(node)
    check_events(node, miner)

    log.info("After all of that the node still answers and never logged a 500")
    assert node.status()["height"] >= 14
    assert " 500 " not in node.log_text()


def check_admin(node: NodeProcess, miner: Wallet) -> None:
    log.info("Admin calls without a token or with a wrong one get 401")
    body = {"blocks": 1, "address": miner.address}
    assert assert_problem(node.call("POST", "/mine", json=body), 401) == "unauthorized"
    wrong = {"Authorization": "Bearer " + "0" * 64}
    assert assert_problem(node.call("POST", "/mine", json=body, headers=wrong), 401)
    basic = {"Authorization": f"Basic {node.token}"}
    assert assert_problem(node.call("POST", "/mine", json=body, headers=basic), 401)
    peer = {"address": "127.0.0.1:1"}
    assert assert_problem(node.call("POST", "/peers", json=peer), 401) == "unauthorized"
    assert node.height == 0, "no block was mined by a refused call"

    log.info("The cookie file is private to its owner (mode 0600)")
    assert (node.datadir / "api.cookie").stat().st_mode & 0o077 == 0

    log.info("Admin calls with bad arguments get 4xx")
    for bad in ({"blocks": 0, "address": miner.address}, {"blocks": "x"}, {"blocks": 1.5}):
        assert_problem(node.call("POST", "/mine", json=bad, admin=True))
    foreign = keys.encode_address(DEVNET.hrp, miner.pubkey)
    r = node.call("POST", "/mine", json={"blocks": 1, "address": foreign}, admin=True)
    assert assert_problem(r, 400) == "bad-address"
    for bad_peer in ({"address": "no-port"}, {"address": "127.0.0.1:99999"}, {"address": 5}):
        assert_problem(node.call("POST", "/peers", json=bad_peer, admin=True))
    assert node.height == 0


def check_blocks(node: NodeProcess) -> None:
    log.info("GET /blocks pages newest first; limit is capped at 100")
    page = node.get("/blocks", limit=5)
    heights = [b["height"] for b in page["blocks"]]
    assert heights == [12, 11, 10, 9, 8]
    page = node.get("/blocks", before=5, limit=3)
    assert [b["height"] for b in page["blocks"]] == [4, 3, 2]
    everything = node.get("/blocks", limit=100)["blocks"]
    assert [b["height"] for b in everything] == list(range(12, -1, -1))
    for bad in ({"limit": 101}, {"limit": 0}, {"limit": "x"}, {"before": -1}):
        assert_problem(node.call("GET", "/blocks", params=bad))

    log.info("GET /blocks/{height} and /blocks/{hash} agree; ?txs=full decodes the coinbase")
    by_height = node.block(11)
    by_hash = node.block(by_height["hash"])
    assert by_height == by_hash
    fields = {"hash", "height", "version", "prev_block", "merkle_root", "time", "bits", "nonce"}
    fields |= {"size", "confirmations", "txids"}
    assert fields <= set(by_height)
    assert (by_height["height"], by_height["confirmations"]) == (11, 2)
    assert by_height["prev_block"] == node.block(10)["hash"]
    full = node.block(11, full=True)
    assert [t["txid"] for t in full["txs"]] == full["txids"] == by_height["txids"]
    assert full["txs"][0]["amount"] == 50 * COIN

    log.info("GET /blocks/{hash}/raw is the serialized block: it parses and hashes to the id")
    raw = node.block_raw(by_height["hash"])
    parsed = Block.parse(raw)
    assert parsed.header.hash_hex == by_height["hash"]
    assert len(raw) == by_height["size"]
    assert parsed.header.merkle_root[::-1].hex() == by_height["merkle_root"]


def check_transactions(
    node: NodeProcess, alice: Wallet, bob: Wallet, carol: Wallet, miner: Wallet
) -> None:
    log.info("POST /txs: alice pays bob 2 coins; 202 with the txid; pending in /txs and /mempool")
    pay = alice.transfer(bob.address, 2 * COIN, nonce=0, fee=FEE)
    r = node.call("POST", "/txs", json={"raw": pay.serialize().hex()})
    assert r.status_code == 202, r.text
    txid = r.json()["txid"]
    assert txid == pay.txid[::-1].hex()
    pending = node.tx(txid)
    assert (pending["status"], pending["block"], pending["confirmations"]) == ("pending", None, 0)
    assert (pending["sender"], pending["recipient"]) == (alice.address, bob.address)
    assert (pending["amount"], pending["fee"], pending["nonce"]) == (2 * COIN, FEE, 0)
    mempool = node.mempool()
    assert (mempool["count"], mempool["txids"]) == (1, [txid])
    assert mempool["bytes"] == pay.size
    account = node.account(alice.address)
    assert (account["balance"], account["nonce"]) == (50 * COIN, 0)
    assert (account["pending_balance"], account["next_nonce"]) == (48 * COIN - FEE, 1)

    log.info("Rejections carry stable reasons: duplicate, bad-signature, bad-nonce, ...")
    status, reason = rejection(node, pay.serialize().hex())
    assert reason == "duplicate"
    good = carol.transfer(bob.address, COIN, nonce=0, fee=FEE)
    bad_sig = good.with_signature(bytes([good.signature[0] ^ 1]) + good.signature[1:])
    assert rejection(node, bad_sig.serialize().hex()) == (400, "bad-signature")
    far_ahead = carol.transfer(bob.address, COIN, 1000, FEE)  # gaps queue, but only 64 deep
    assert rejection(node, far_ahead.serialize().hex()) == (422, "too-many-pending")
    too_much = carol.transfer(bob.address, 50 * COIN, nonce=0, fee=FEE)
    assert rejection(node, too_much.serialize().hex())[1] == "insufficient-funds"
    no_fee = carol.transfer(bob.address, COIN, nonce=0, fee=0)
    assert rejection(node, no_fee.serialize().hex())[1] == "fee-too-low"
    other_net = Wallet(carol.secret, DEVNET).transfer(
        keys.encode_address(DEVNET.hrp, bob.pubkey), COIN, 0, FEE
    )
    assert rejection(node, other_net.serialize().hex()) == (400, "wrong-chain")
    big = carol.transfer(bob.address, COIN, 0, 10 * FEE, data=b"\x00" * 5000)
    assert rejection(node, big.serialize().hex())[1] == "data-too-large"
    assert rejection(node, "zz")[1] == "bad-encoding"
    assert rejection(node, pay.serialize().hex()[:-10])[1] == "bad-encoding"
    assert rejection(node, pay.serialize().hex() + "00")[1] == "bad-encoding"
    assert node.mempool()["count"] == 1, "nothing but alice's payment entered the mempool"

    log.info("Alice chains two more payments on next_nonce; one block confirms all three")
    second = alice.send(node, bob.address, COIN)
    third = alice.send(node, carol.address, COIN)
    (block_hash,) = node.mine(1, miner.address)
    for t in (txid, second, third):
        confirmed = node.tx(t)
        assert (confirmed["status"], confirmed["block"]) == ("confirmed", block_hash)
        assert (confirmed["height"], confirmed["confirmations"]) == (13, 1)
    assert node.mempool()["count"] == 0
    account = node.account(alice.address)
    assert account["balance"] == account["pending_balance"] == 46 * COIN - 3 * FEE
    assert account["nonce"] == account["next_nonce"] == 3
    assert node.account(bob.address)["balance"] == 3 * COIN
    replay = alice.transfer(bob.address, 3 * COIN, nonce=0, fee=FEE)  # nonce 0 is spent now
    assert rejection(node, replay.serialize().hex()) == (400, "bad-nonce")

    log.info("GET /accounts/{a}/txs pages alice's history newest first with a cursor")
    first_page = node.account_txs(alice.address, limit=2)
    assert [t["nonce"] for t in first_page["txs"]] == [2, 1]
    assert first_page["next_cursor"]
    second_page = node.account_txs(alice.address, cursor=first_page["next_cursor"], limit=2)
    got = [t["txid"] for t in first_page["txs"] + second_page["txs"]]
    assert got[:3] == [third, second, txid]
    coinbase = [t for t in second_page["txs"] if t["coinbase"]]
    assert len(coinbase) == 1 and coinbase[0]["height"] == 1, "alice's coinbase is in it too"
    bad_cursor = node.call("GET", f"/accounts/{alice.address}/txs", params={"cursor": "zzz"})
    assert_problem(bad_cursor, 400)


def check_posts(node: NodeProcess, alice: Wallet, miner: Wallet) -> None:
    log.info("A post by alice appears in GET /posts after it is mined")
    nonce = node.account(alice.address)["next_nonce"]
    post_txid = node.submit(alice.post("hello from interface_rest ✓", nonce, FEE).serialize().hex())
    node.mine(1, miner.address)
    posts = node.posts()
    assert posts[0]["txid"] == post_txid
    assert (posts[0]["author"], posts[0]["text"]) == (alice.address, "hello from interface_rest ✓")
    assert (posts[0]["height"], posts[0]["time"]) == (14, node.block(14)["time"])
    assert node.posts(before=14) == []
    assert node.tx(post_txid)["post"] == "hello from interface_rest ✓"


def check_malformed(node: NodeProcess) -> None:
    log.info("Malformed bodies: bad JSON, wrong types, missing or extra fields, 2 MiB: 4xx")
    json_headers = {"Content-Type": "application/json"}
    assert_problem(node.call("POST", "/txs", content=b"{not json", headers=json_headers), 400)
    assert_problem(node.call("POST", "/txs", content=b"", headers=json_headers))
    assert_problem(node.call("POST", "/txs", content=b"\xff\xfe\x00", headers=json_headers))
    for body in ({"raw": 5}, {"raw": None}, {}, {"raw": "00", "extra": 1}, [], "raw", 7):
        assert_problem(node.call("POST", "/txs", json=body))
    two_mib = json.dumps({"raw": "00" * (1024 * 1024)}).encode()
    r = node.call("POST", "/txs", content=two_mib, headers=json_headers)
    assert assert_problem(r, 413) == "too-large"
    r = node.call("PUT", "/status")
    assert_problem(r, 405)
    assert_problem(node.call("GET", "/no-such-endpoint"), 404)


def check_unknown_ids_and_addresses(node: NodeProcess, alice: Wallet) -> None:
    log.info("Unknown or malformed block ids and txids: 404 / 400")
    assert assert_problem(node.call("GET", "/blocks/" + "00" * 32), 404) == "not-found"
    assert_problem(node.call("GET", "/blocks/" + "00" * 32 + "/raw"), 404)
    assert_problem(node.call("GET", "/blocks/999999"), 404)
    assert_problem(node.call("GET", "/blocks/99999999999999999999999"), (400, 404))
    assert_problem(node.call("GET", "/blocks/xyz"), 400)
    assert_problem(node.call("GET", "/blocks/-1"), (400, 404))
    assert_problem(node.call("GET", "/blocks/1", params={"txs": "everything"}), (400, 422))
    assert_problem(node.call("GET", "/txs/" + "ab" * 32), 404)
    assert_problem(node.call("GET", "/txs/" + "ab" * 31), 400)
    assert_problem(node.call("GET", "/txs/nothex"), 400)

    log.info("Bad addresses: a typo, garbage, and addresses of devnet and testnet: 400 bad-address")
    typo = alice.address[:-1] + ("q" if alice.address[-1] != "q" else "p")
    foreign = [keys.encode_address(p.hrp, alice.pubkey) for p in (DEVNET, TESTNET)]
    for address in [typo, "rpow1qqqq", "hello", *foreign]:
        r = node.call("GET", f"/accounts/{address}")
        assert assert_problem(r, 400) == "bad-address", address
        assert_problem(node.call("GET", f"/accounts/{address}/txs"), 400)
    r = node.call("GET", f"/accounts/{foreign[0]}")
    assert "dpow" in r.json()["message"], "the message names the foreign network prefix"


def check_docs_and_metrics(node: NodeProcess) -> None:
    log.info("/docs and /openapi.json load; /metrics is Prometheus text")
    docs = node.http.get("/docs")
    assert docs.status_code == 200 and "html" in docs.headers["content-type"]
    spec = node.http.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    for path in ("/api/v1/status", "/api/v1/txs", "/api/v1/accounts/{address}", "/api/v1/mine"):
        assert path in paths, sorted(paths)
    r = node.call("GET", "/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(r.text))
    assert families, "at least one metric family"
    samples = {s.name: s.value for f in families for s in f.samples}
    assert any("height" in name for name in samples), sorted(samples)


def check_events(node: NodeProcess, miner: Wallet) -> None:
    log.info("GET /events streams a `block` event for a block mined after subscribing")
    events: list[tuple[str, dict[str, Any]]] = []
    opened = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        name = ""
        url = f"{node.api_url}/api/v1/events"
        with httpx.stream("GET", url, timeout=httpx.Timeout(5, read=60)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            opened.set()
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and name:
                    events.append((name, json.loads(line.split(":", 1)[1])))
                if stop.is_set():
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    wait_until(opened.is_set, 10, description="the event stream to open")
    mined: list[str] = []

    def block_event_seen() -> bool:
        mined.extend(node.mine(1, miner.address))  # until the subscription surely exists
        return any(name == "block" and data["hash"] in mined for name, data in events)

    wait_until(block_event_seen, 30, 1.0, "a block event for a block we mined")
    stop.set()
    block_events = [d for n, d in events if n == "block"]
    assert block_events[-1]["height"] == node.block(block_events[-1]["hash"])["height"]
