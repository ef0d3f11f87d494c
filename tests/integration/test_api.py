"""REST API against a real regtest Node (SQLite in tmp_path) through httpx's ASGI transport.

Every endpoint's happy path, and beside it the malformed inputs: each must answer a 4xx with
`{"error", "message"}`, never a 500.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from powchain.api.app import create_app
from powchain.core.hashing import hash_to_hex
from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.params import DEVNET, REGTEST, genesis_block
from powchain.core.transaction import Transaction
from powchain.node.node import Node, NodeConfig
from powchain.wallet.builder import build_post, build_transfer

pytestmark = pytest.mark.anyio

SECRET = bytes.fromhex("11" * 32)
OTHER = bytes.fromhex("22" * 32)
ADDR = encode_address(REGTEST.hrp, xonly_pubkey(SECRET))
OTHER_ADDR = encode_address(REGTEST.hrp, xonly_pubkey(OTHER))
AUX = bytes(32)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Api:
    node: Node
    http: httpx.AsyncClient
    token: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def mine(self, n: int, address: str = ADDR) -> list[str]:
        r = await self.http.post(
            "/api/v1/mine", json={"blocks": n, "address": address}, headers=self.admin
        )
        assert r.status_code == 200, r.text
        return list(r.json()["blocks"])


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    node = Node(NodeConfig(params=REGTEST, datadir=tmp_path))
    await node.start()
    app = create_app(node)
    token = (tmp_path / "api.cookie").read_text()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Api(node, http, token)
    await node.stop()


def assert_problem(r: httpx.Response, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error
    assert isinstance(body["message"], str) and body["message"]


def transfer(nonce: int, amount: int = 1_000, fee: int = 1_000, secret: bytes = SECRET) -> str:
    tx = build_transfer(secret, REGTEST.chain_id, nonce, xonly_pubkey(OTHER), amount, fee, AUX)
    return tx.serialize().hex()


# -- status, blocks ----------------------------------------------------------------------


async def test_status_at_genesis(api: Api) -> None:
    r = await api.http.get("/api/v1/status")
    assert r.status_code == 200
    s = r.json()
    assert s["network"] == "regtest" and s["chain_id"] == REGTEST.chain_id
    assert s["height"] == 0
    assert s["tip"] == hash_to_hex(genesis_block(REGTEST).hash)
    assert s["bits"] == "207fffff"
    assert s["mempool_size"] == 0 and s["peers"] == 0
    assert set(s) >= {"difficulty", "chainwork", "synced", "version"}
    assert s["network_hashrate"] is None and s["miner_hashrate"] is None  # no blocks, no miner


async def test_cookie_is_private(api: Api, tmp_path: Path) -> None:
    mode = stat.S_IMODE(os.stat(tmp_path / "api.cookie").st_mode)
    assert mode == 0o600
    assert len(api.token) == 64 and int(api.token, 16) >= 0


async def test_mine_then_blocks_by_height_and_hash(api: Api) -> None:
    hashes = await api.mine(3)
    assert len(hashes) == 3
    r = await api.http.get("/api/v1/blocks/3")
    block = r.json()
    assert block["hash"] == hashes[2] and block["height"] == 3
    assert block["confirmations"] == 1 and len(block["txids"]) == 1
    assert {"version", "prev_block", "merkle_root", "time", "bits", "nonce", "size"} <= set(block)
    assert block["prev_block"] == hashes[1]
    by_hash = (await api.http.get(f"/api/v1/blocks/{hashes[0]}?txs=full")).json()
    assert by_hash["height"] == 1 and by_hash["confirmations"] == 3
    coinbase = by_hash["txs"][0]
    assert coinbase["coinbase"] is True and coinbase["recipient"] == ADDR
    assert coinbase["amount"] == 50 * 100_000_000
    raw = (await api.http.get(f"/api/v1/blocks/{hashes[0]}/raw")).json()["raw"]
    assert hash_to_hex(genesis_block(REGTEST).hash) != hashes[0]
    assert len(bytes.fromhex(raw)) == by_hash["size"]


async def test_block_list_newest_first_and_paged(api: Api) -> None:
    await api.mine(5)
    page = (await api.http.get("/api/v1/blocks?limit=2")).json()
    assert [b["height"] for b in page["blocks"]] == [5, 4]
    assert page["next"] == 4
    page2 = (await api.http.get("/api/v1/blocks", params={"before": 4, "limit": 100})).json()
    assert [b["height"] for b in page2["blocks"]] == [3, 2, 1, 0]
    assert page2["next"] is None
    for bad in (0, 101):
        r = await api.http.get("/api/v1/blocks", params={"limit": bad})
        assert_problem(r, 422, "invalid-request")


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/blocks/99", 404, "not-found"),
        ("/api/v1/blocks/" + "ab" * 32, 404, "not-found"),
        ("/api/v1/blocks/xyz", 400, "bad-block-id"),
        ("/api/v1/blocks/-1", 400, "bad-block-id"),
        ("/api/v1/blocks/99999999999999999999999", 400, "bad-block-id"),
        ("/api/v1/blocks/" + "ab" * 32 + "/raw", 404, "not-found"),
        ("/api/v1/blocks?limit=1000", 422, "invalid-request"),
        ("/api/v1/blocks?limit=abc", 422, "invalid-request"),
        ("/api/v1/blocks/0?txs=everything", 422, "invalid-request"),
        ("/api/v1/txs/1234", 400, "bad-txid"),
        ("/api/v1/txs/" + "zz" * 32, 400, "bad-txid"),
        ("/api/v1/txs/" + "00" * 32, 404, "not-found"),
        ("/api/v1/nothing-here", 404, "not-found"),
    ],
)
async def test_malformed_and_unknown_ids(api: Api, path: str, status: int, error: str) -> None:
    assert_problem(await api.http.get(path), status, error)


# -- transactions -------------------------------------------------------------------------


async def fund(api: Api) -> None:
    """Mine enough blocks to ADDR that its first coinbase is mature."""
    await api.mine(REGTEST.coinbase_maturity + 1)


async def test_submit_pending_then_confirmed(api: Api) -> None:
    await fund(api)
    r = await api.http.post("/api/v1/txs", json={"raw": transfer(0)})
    assert r.status_code == 202, r.text
    txid = r.json()["txid"]
    pending = (await api.http.get(f"/api/v1/txs/{txid}")).json()
    assert pending["status"] == "pending" and pending["confirmations"] == 0
    assert pending["sender"] == ADDR and pending["recipient"] == OTHER_ADDR
    assert (pending["amount"], pending["fee"], pending["nonce"]) == (1_000, 1_000, 0)
    mempool = (await api.http.get("/api/v1/mempool")).json()
    assert mempool["count"] == 1 and mempool["txids"] == [txid] and mempool["bytes"] > 0
    account = (await api.http.get(f"/api/v1/accounts/{ADDR}")).json()
    assert account["nonce"] == 0 and account["next_nonce"] == 1
    assert account["pending_balance"] == account["balance"] - 2_000
    [block_hash] = await api.mine(1)
    confirmed = (await api.http.get(f"/api/v1/txs/{txid}")).json()
    assert confirmed["status"] == "confirmed" and confirmed["block"] == block_hash
    assert confirmed["confirmations"] == 1
    received = (await api.http.get(f"/api/v1/accounts/{OTHER_ADDR}")).json()
    assert received["balance"] == 1_000 and received["nonce"] == 0


async def test_mempool_lists_a_bounded_number_of_txids(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is bounded whatever the pool holds (it listed every txid, sorted)."""
    from powchain.api import routes

    monkeypatch.setattr(routes, "MEMPOOL_TXIDS", 2)
    await fund(api)
    txids = []
    for nonce in range(3):
        r = await api.http.post("/api/v1/txs", json={"raw": transfer(nonce)})
        txids.append(r.json()["txid"])
    mempool = (await api.http.get("/api/v1/mempool")).json()
    assert mempool["count"] == 3 and mempool["txids"] == txids[:2]  # the oldest first
    status = (await api.http.get("/api/v1/status")).json()
    assert status["mempool_size"] == 3


async def test_rejections_keep_their_reason(api: Api) -> None:
    await fund(api)
    ok = await api.http.post("/api/v1/txs", json={"raw": transfer(0)})
    assert ok.status_code == 202
    assert_problem(await api.http.post("/api/v1/txs", json={"raw": transfer(0)}), 422, "duplicate")
    poor = transfer(0, secret=OTHER)
    r = await api.http.post("/api/v1/txs", json={"raw": poor})
    assert r.status_code in (400, 422) and r.json()["error"] == "insufficient-funds"
    raw = bytearray(bytes.fromhex(transfer(1)))
    raw[-1] ^= 1  # break the signature
    assert_problem(
        await api.http.post("/api/v1/txs", json={"raw": raw.hex()}), 400, "bad-signature"
    )
    other_chain = build_transfer(SECRET, DEVNET.chain_id, 1, xonly_pubkey(OTHER), 1, 1_000, AUX)
    r = await api.http.post("/api/v1/txs", json={"raw": other_chain.serialize().hex()})
    assert_problem(r, 400, "wrong-chain")
    cheap = transfer(1, fee=0)
    assert_problem(await api.http.post("/api/v1/txs", json={"raw": cheap}), 422, "fee-too-low")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "bad-json"),
        (b'{"raw": 12}', 422, "invalid-request"),
        (b'{"raw": "zz"}', 400, "bad-encoding"),
        (b'{"raw": "0102"}', 400, "bad-encoding"),
        (b'{"raw": "01"}', 400, "bad-encoding"),
        (b"[]", 422, "invalid-request"),
        (b'{"raw": "00", "extra": 1}', 422, "invalid-request"),
        (b"[" * 100_000, 400, "bad-request"),  # json.loads: RecursionError, not ValueError
    ],
)
async def test_submit_malformed(api: Api, body: bytes, status: int, error: str) -> None:
    r = await api.http.post(
        "/api/v1/txs", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(r, status, error)


async def test_submit_coinbase_and_trailing_bytes(api: Api) -> None:
    coinbase = Transaction.coinbase(REGTEST.chain_id, 1, xonly_pubkey(SECRET), 1)
    r = await api.http.post("/api/v1/txs", json={"raw": coinbase.serialize().hex()})
    assert_problem(r, 400, "bad-coinbase")
    r = await api.http.post("/api/v1/txs", json={"raw": transfer(0) + "00"})
    assert_problem(r, 400, "bad-encoding")


FAST = {"Content-Type": "application/json"}
ROUTE = {"Content-Type": "application/merge-patch+json"}  # JSON the fast path leaves to FastAPI


async def test_fast_path_answers_as_the_route(api: Api) -> None:
    """POST /txs with `application/json` is answered by `fastpath`; another JSON content type
    by the FastAPI route. Both give the same status, headers and bytes for every outcome."""
    await fund(api)

    async def both(body: bytes) -> tuple[httpx.Response, httpx.Response]:
        fast = await api.http.post("/api/v1/txs", content=body, headers=FAST)
        return fast, await api.http.post("/api/v1/txs", content=body, headers=ROUTE)

    def same(fast: httpx.Response, route: httpx.Response) -> None:
        assert fast.status_code == route.status_code, (fast.text, route.text)
        assert fast.content == route.content
        assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
        assert fast.headers["content-length"] == route.headers["content-length"]

    first = await api.http.post(
        "/api/v1/txs", content=b'{"raw":"%s"}' % transfer(0).encode(), headers=FAST
    )
    second = await api.http.post("/api/v1/txs", json={"raw": transfer(1)}, headers=ROUTE)
    for r, nonce in ((first, 0), (second, 1)):
        assert r.status_code == 202
        assert r.json() == {
            "txid": hash_to_hex(Transaction.from_bytes(bytes.fromhex(transfer(nonce))).txid)
        }
    assert first.headers["content-type"] == second.headers["content-type"]
    coinbase = Transaction.coinbase(REGTEST.chain_id, 1, xonly_pubkey(SECRET), 1)
    other_chain = build_transfer(SECRET, DEVNET.chain_id, 2, xonly_pubkey(OTHER), 1, 1_000, AUX)
    broken = bytearray(bytes.fromhex(transfer(2)))
    broken[-1] ^= 1
    for raw in (
        transfer(0),  # 422 duplicate
        transfer(2, fee=0),  # 422 fee-too-low
        transfer(0, secret=OTHER),  # insufficient-funds
        broken.hex(),  # 400 bad-signature
        other_chain.serialize().hex(),  # 400 wrong-chain
        coinbase.serialize().hex(),  # 400 bad-coinbase
        "zz",  # 400 bad-encoding
        transfer(2) + "00",  # 400 bad-encoding (trailing bytes)
    ):
        same(*await both(b' { "raw" :\n"%s" } ' % raw.encode()))
    for body in (b"{not json", b'{"raw": 12}', b"[]", b'{"raw": "00", "extra": 1}', b""):
        same(*await both(body))  # shapes the fast path hands to the route


async def test_fast_path_keeps_the_openapi_entry(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    post = schema["paths"]["/api/v1/txs"]["post"]
    assert "202" in post["responses"] and "requestBody" in post


async def test_body_over_one_mib(api: Api) -> None:
    big = b'{"raw": "' + b"00" * (1024 * 1024) + b'"}'
    r = await api.http.post(
        "/api/v1/txs", content=big, headers={"Content-Type": "application/json"}
    )
    assert_problem(r, 413, "too-large")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"0" * (1024 * 1024)

    r = await api.http.post("/api/v1/txs", content=chunks())
    assert_problem(r, 413, "too-large")


# -- accounts, posts ------------------------------------------------------------------------


async def test_account_history_and_posts(api: Api) -> None:
    await fund(api)
    post = build_post(SECRET, REGTEST.chain_id, 0, "hello chain", 1_000, AUX)
    r = await api.http.post("/api/v1/txs", json={"raw": post.serialize().hex()})
    assert r.status_code == 202, r.text
    await api.http.post("/api/v1/txs", json={"raw": transfer(1)})
    await api.mine(1)
    posts = (await api.http.get("/api/v1/posts")).json()["posts"]
    assert len(posts) == 1
    assert posts[0]["author"] == ADDR and posts[0]["text"] == "hello chain"
    assert posts[0]["txid"] == hash_to_hex(post.txid) and posts[0]["height"] == 12
    assert (await api.http.get("/api/v1/posts?before=12")).json()["posts"] == []
    # found by the API-abuse scenario: 2**63 overflowed SQLite's INTEGER and answered 500
    for path in ("/api/v1/posts", "/api/v1/blocks"):
        r = await api.http.get(path, params={"before": 2**63})
        assert r.status_code == 422, r.text
        assert (await api.http.get(path, params={"before": 2**63 - 1})).status_code == 200
    page = (await api.http.get(f"/api/v1/accounts/{ADDR}/txs", params={"limit": 2})).json()
    assert len(page["txs"]) == 2 and page["next_cursor"]
    assert page["txs"][0]["height"] == 12
    rest = (
        await api.http.get(
            f"/api/v1/accounts/{ADDR}/txs", params={"cursor": page["next_cursor"], "limit": 100}
        )
    ).json()
    rows = page["txs"] + rest["txs"]
    # 12 coinbases, the transfer and the post to oneself (the index may list it once as
    # 'self' or twice as 'in' and 'out'); pages neither skip nor repeat a row
    assert len({t["txid"] for t in rows}) == 14 and rest["next_cursor"] is None
    post_rows = [t["direction"] for t in rows if t["txid"] == hash_to_hex(post.txid)]
    assert sorted(post_rows) in (["self"], ["in", "out"])
    assert len(rows) == 13 + len(post_rows)
    r = await api.http.get(f"/api/v1/accounts/{ADDR}/txs", params={"cursor": "garbage"})
    assert_problem(r, 400, "bad-cursor")


async def test_bounds_and_cursors_of_rest_and_explorer_are_4xx(api: Api) -> None:
    """Issue 11, item 9: four malformed requests answered 500 (SQLite OverflowError twice, an
    unbounded `before` on the explorer's wall, a form field named `error`)."""
    await api.mine(1)
    huge = "99999999999999999999:0:in"
    edge = f"{2**63 - 1}:{2**63 - 1}:out"
    r = await api.http.get(f"/api/v1/accounts/{ADDR}/txs", params={"cursor": huge})
    assert_problem(r, 400, "bad-cursor")
    r = await api.http.get(f"/api/v1/accounts/{ADDR}/txs", params={"cursor": edge})
    assert r.status_code == 200 and len(r.json()["txs"]) == 1  # the happy case at the bound
    r = await api.http.get(f"/address/{ADDR}", params={"cursor": huge})
    assert r.status_code == 400 and "<html" in r.text.lower()
    assert (await api.http.get(f"/address/{ADDR}", params={"cursor": edge})).status_code == 200
    for path in ("/posts", "/blocks"):
        assert (await api.http.get(path, params={"before": 2**64})).status_code == 422
        assert (await api.http.get(path, params={"before": 2**63 - 1})).status_code == 200
    form = {"to": "nonsense", "amount": "1", "error": "boom", "token": api.token}
    r = await api.http.post("/posts/pay", data=form)
    assert r.status_code == 200 and "payment: " in r.text and "boom" not in r.text
    del form["error"]
    r = await api.http.post("/posts/pay", data=form)
    assert r.status_code == 200 and "payment: " in r.text
    # a sibling the extended abuse soak found: more form fields than parse_qs allows
    many = "&".join(f"f{i}=1" for i in range(30))
    ctype = {"content-type": "application/x-www-form-urlencoded"}
    r = await api.http.post("/posts/write", content=many, headers=ctype)
    assert r.status_code == 200 and "write some text first" in r.text


async def test_accounts_bad_addresses(api: Api) -> None:
    devnet_addr = encode_address(DEVNET.hrp, xonly_pubkey(SECRET))
    typo = ADDR[:-1] + ("q" if ADDR[-1] != "q" else "p")
    for bad in (devnet_addr, typo, "hello", "x" * 300):
        assert_problem(await api.http.get(f"/api/v1/accounts/{bad}"), 400, "bad-address")
        assert_problem(await api.http.get(f"/api/v1/accounts/{bad}/txs"), 400, "bad-address")
    fresh = (await api.http.get(f"/api/v1/accounts/{OTHER_ADDR}")).json()
    assert fresh == {
        "address": OTHER_ADDR,
        "balance": 0,
        "immature": 0,
        "nonce": 0,
        "pending_balance": 0,
        "next_nonce": 0,
    }


async def test_immature_coinbase(api: Api) -> None:
    await api.mine(2)
    account = (await api.http.get(f"/api/v1/accounts/{ADDR}")).json()
    assert account["balance"] == 0 and account["immature"] == 100 * 100_000_000


# -- admin ----------------------------------------------------------------------------------


async def test_admin_calls_need_the_token(api: Api) -> None:
    body = {"blocks": 1, "address": ADDR}
    assert_problem(await api.http.post("/api/v1/mine", json=body), 401, "unauthorized")
    wrong = {"Authorization": "Bearer " + "0" * 64}
    assert_problem(
        await api.http.post("/api/v1/mine", json=body, headers=wrong), 401, "unauthorized"
    )
    basic = {"Authorization": "Basic abc"}
    assert_problem(
        await api.http.post("/api/v1/mine", json=body, headers=basic), 401, "unauthorized"
    )
    r = await api.http.post("/api/v1/peers", json={"address": "127.0.0.1:1"})
    assert_problem(r, 401, "unauthorized")
    assert api.node.tip.height == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"blocks": 0, "address": ADDR}, 422, "invalid-request"),
        ({"blocks": "2", "address": ADDR}, 422, "invalid-request"),
        ({"blocks": 1, "address": "rpow1nope"}, 400, "bad-address"),
        ({"blocks": 1}, 400, "bad-address"),
    ],
)
async def test_mine_malformed(api: Api, body: dict[str, object], status: int, error: str) -> None:
    assert_problem(await api.http.post("/api/v1/mine", json=body, headers=api.admin), status, error)


async def test_peers_without_network(api: Api) -> None:
    assert (await api.http.get("/api/v1/peers")).json() == {"peers": []}
    r = await api.http.post("/api/v1/peers", json={"address": "nonsense"}, headers=api.admin)
    assert_problem(r, 400, "bad-peer-address")
    r = await api.http.post("/api/v1/peers", json={"address": "127.0.0.1:9"}, headers=api.admin)
    assert_problem(r, 503, "no-network")


# -- metrics, docs, index --------------------------------------------------------------------


async def test_metrics_docs_and_index(api: Api) -> None:
    await api.mine(2)
    text = (await api.http.get("/api/v1/metrics")).text
    assert "powchain_height 2.0" in text
    assert "powchain_blocks_connected_total 2.0" in text
    assert "powchain_mempool_transactions 0.0" in text
    assert "powchain_miner_hashes_total 0.0" in text  # on-demand blocks: no miner running
    assert "powchain_network_hashrate " in text
    status = (await api.http.get("/api/v1/status")).json()
    assert isinstance(status["network_hashrate"], float | None)
    assert (await api.http.get("/docs")).status_code == 200
    schema = (await api.http.get("/openapi.json")).json()
    assert "/api/v1/accounts/{address}" in schema["paths"]
    index = await api.http.get("/")
    assert index.status_code == 200 and "/docs" in index.text


async def test_wrong_method(api: Api) -> None:
    assert_problem(await api.http.delete("/api/v1/status"), 405, "method-not-allowed")


async def test_explorer_pages_refuse_framing(api: Api) -> None:
    """Browsers (docs/threat-model.md): the wallet's forms cannot be framed by another site."""
    for path in ("/", "/posts", "/address/nonsense"):
        r = await api.http.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in (await api.http.get("/api/v1/status")).headers  # JSON


async def test_explorer_wallet_loads_on_first_use(api: Api) -> None:
    """The pages' templates and the node wallet's keystore load lazily: a page and a wallet
    form still work after an app was created without them."""
    wall = await api.http.get("/posts")
    assert wall.status_code == 200 and "<html" in wall.text.lower()
    form = {"token": api.token, "passphrase": "short", "text": "hi"}
    r = await api.http.post("/posts/write", data=form)
    assert r.status_code == 200
    assert "wallet: the passphrase must have at least 8 characters" in r.text
    form["passphrase"] = "long enough passphrase"
    r = await api.http.post("/posts/write", data=form)
    assert r.status_code == 200 and "rejected: " in r.text  # a fresh key has no coins to pay fees
    assert (api.node.config.datadir / "explorer-wallet.address").read_text().startswith("rpow1")
