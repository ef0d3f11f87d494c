"""Proof and header endpoints (issue 15) against a real regtest Node through httpx's ASGI
transport: every transaction's proof checks against headers fetched from the same API, the
merkleblock form decodes with the test's own BIP-37 reader, and every bound answers 4xx.
"""

from __future__ import annotations

import pytest

from powchain.core.block import BlockHeader
from powchain.core.hashing import hex_to_hash
from powchain.light.headerchain import HeaderChain
from powchain.light.proof import TxProof, verify_tx_proof

from ..unit.test_merkle_proofs import Bip37Reader
from . import test_api as base
from .test_api import Api, assert_problem, transfer

api = base.api  # the same fixtures: a regtest Node in tmp_path behind its ASGI app
anyio_backend = base.anyio_backend

pytestmark = pytest.mark.anyio

N_TXS = 7


async def _block_with_txs(api: Api) -> list[str]:
    await api.mine(11)  # regtest coinbase maturity is 10
    txids = []
    for nonce in range(N_TXS):
        r = await api.http.post("/api/v1/txs", json={"raw": transfer(nonce)})
        assert r.status_code == 202, r.text
        txids.append(r.json()["txid"])
    await api.mine(3)
    return txids


async def _light_chain(api: Api) -> HeaderChain:
    r = await api.http.get("/api/v1/headers", params={"from": 1, "count": 2000})
    assert r.status_code == 200
    body = r.json()
    chain = HeaderChain(api.node.params)
    chain.offer(0, [BlockHeader.parse(bytes.fromhex(h)) for h in body["headers"]])
    assert chain.tip_hash == api.node.tip.hash
    return chain


async def test_every_transaction_of_a_block_has_a_proof_that_checks(api: Api) -> None:
    txids = await _block_with_txs(api)
    chain = await _light_chain(api)
    block = (await api.http.get(f"/api/v1/txs/{txids[0]}")).json()["block"]
    all_txids = (await api.http.get(f"/api/v1/blocks/{block}")).json()["txids"]
    assert len(all_txids) == N_TXS + 1
    for position, txid in enumerate(all_txids):
        r = await api.http.get(f"/api/v1/txs/{txid}/proof")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {"txid", "block", "height", "index", "branch", "header"}
        assert body["index"] == position and body["block"] == block
        confirmed = verify_tx_proof(TxProof.from_json(body), chain, 3)
        assert confirmed.height == 12 and confirmed.confirmations == 3


async def test_merkleblock_decodes_with_an_independent_reader(api: Api) -> None:
    txids = await _block_with_txs(api)
    r = await api.http.get(f"/api/v1/txs/{txids[3]}/proof", params={"format": "merkleblock"})
    assert r.status_code == 200, r.text
    raw = bytes.fromhex(r.json()["merkleblock"])
    header, root, matched = Bip37Reader(raw).decode()
    assert BlockHeader.parse(header).merkle_root == root
    assert BlockHeader.parse(header).hash == hex_to_hash(r.json()["block"])
    assert matched == [(4, hex_to_hash(txids[3]))]  # position 0 is the coinbase


async def test_proof_errors(api: Api) -> None:
    await api.mine(11)
    r = await api.http.post("/api/v1/txs", json={"raw": transfer(0)})
    pending = r.json()["txid"]
    assert_problem(await api.http.get(f"/api/v1/txs/{pending}/proof"), 409, "not-confirmed")
    assert_problem(await api.http.get(f"/api/v1/txs/{'ab' * 32}/proof"), 404, "not-found")
    assert_problem(await api.http.get("/api/v1/txs/xyz/proof"), 400, "bad-txid")
    r = await api.http.get(f"/api/v1/txs/{pending}/proof", params={"format": "pdf"})
    assert r.status_code in (400, 422)


async def test_headers_endpoint_bounds(api: Api) -> None:
    await api.mine(5)
    r = await api.http.get("/api/v1/headers", params={"from": 2, "count": 10})
    body = r.json()
    assert body["from"] == 2 and body["count"] == 4 and body["tip"] == 5
    assert BlockHeader.parse(bytes.fromhex(body["headers"][0])).hash == api.node.block_hash_at(2)
    raw = (await api.http.get("/api/v1/headers", params={"from": 0, "format": "bin"})).content
    assert len(raw) == 6 * 80
    assert (await api.http.get("/api/v1/headers", params={"from": 99})).json()["count"] == 0
    for bad in ({"from": 0, "count": 2001}, {"from": -1}, {"from": 0, "count": 0}, {}):
        r = await api.http.get("/api/v1/headers", params=bad)
        assert r.status_code in (400, 422), bad
        assert "error" in r.json()


async def test_explorer_pages_carry_the_proof_check(api: Api) -> None:
    txids = await _block_with_txs(api)
    page = await api.http.get(f"/tx/{txids[0]}")
    assert page.status_code == 200
    assert 'id="verify-proof"' in page.text and "/static/proofcheck.js" in page.text
    assert f'data-genesis="{api.node.params.genesis_hash_hex}"' in page.text
    drop = await api.http.get("/verify")
    assert drop.status_code == 200 and 'id="pcproof-form"' in drop.text
    script = await api.http.get("/static/proofcheck.js")
    assert script.status_code == 200 and "crypto.subtle.digest" in script.text
