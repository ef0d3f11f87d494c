"""`GET /accounts/{a}/txs` reconciles (issue 12): one entry per transaction, `delta` and
`balance_after`, pages of any size whose deltas sum to balance + immature, a self-post split
across a page boundary shown once, and malformed cursors refused. A real regtest Node."""

from __future__ import annotations

import pytest

from powchain.core.keys import xonly_pubkey
from powchain.core.params import REGTEST
from powchain.wallet.builder import build_post, build_transfer
from tests.integration.test_api import (
    ADDR,
    AUX,
    OTHER,
    OTHER_ADDR,
    SECRET,
    Api,
    api,
    assert_problem,
)

pytestmark = pytest.mark.anyio
__all__ = ["api"]  # the fixture, imported


async def _submit(a: Api, raw: str) -> None:
    r = await a.http.post("/api/v1/txs", json={"raw": raw})
    assert r.status_code == 202, r.text


async def _history(a: Api, address: str, limit: int) -> list[dict]:
    rows, cursor = [], None
    while True:
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = (await a.http.get(f"/api/v1/accounts/{address}/txs", params=params)).json()
        rows += page["txs"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_history_pages_reconcile(api: Api) -> None:
    await api.mine(12)  # 12 coinbases to ADDR, 2 mature
    chain = REGTEST.chain_id
    other = xonly_pubkey(OTHER)
    await _submit(api, build_transfer(SECRET, chain, 0, other, 7_000, 2_000, AUX).serialize().hex())
    await _submit(api, build_post(SECRET, chain, 1, "one", 3_000, AUX).serialize().hex())
    await _submit(api, build_post(SECRET, chain, 2, "two", 3_000, AUX).serialize().hex())
    await api.mine(1)
    back = build_transfer(OTHER, chain, 0, xonly_pubkey(SECRET), 1_000, 2_000, AUX)
    await _submit(api, back.serialize().hex())
    await api.mine(1)
    account = (await api.http.get(f"/api/v1/accounts/{ADDR}")).json()
    total = account["balance"] + account["immature"]
    whole = await _history(api, ADDR, 100)
    assert len(whole) == 14 + 3 + 1
    assert len({r["txid"] for r in whole}) == len(whole)
    assert sum(r["delta"] for r in whole) == total
    assert whole[0]["balance_after"] == total
    for newer, older in zip(whole, whole[1:], strict=False):
        assert older["balance_after"] == newer["balance_after"] - newer["delta"]
    posts = [r for r in whole if r["post"]]
    assert [r["direction"] for r in posts] == ["self", "self"]
    assert all(r["delta"] == -3_000 for r in posts)
    sent = next(r for r in whole if r["recipient"] == OTHER_ADDR and r["direction"] == "out")
    assert sent["delta"] == -9_000
    received = next(r for r in whole if r["sender"] == OTHER_ADDR)
    assert received["direction"] == "in" and received["delta"] == 1_000
    for limit in (1, 2, 3, 5):  # every page boundary, self rows included
        assert await _history(api, ADDR, limit) == whole
    # the recipient's side reconciles too
    theirs = await _history(api, OTHER_ADDR, 2)
    acc = (await api.http.get(f"/api/v1/accounts/{OTHER_ADDR}")).json()
    assert sum(r["delta"] for r in theirs) == acc["balance"] + acc["immature"] == 7_000 - 3_000


@pytest.mark.parametrize(
    "cursor", ["1:0:in:x", "1:0:in:99999999999999999999", "1:0:sideways:5", "a:b:c:d:e", "1:0"]
)
async def test_malformed_history_cursors_are_400(api: Api, cursor: str) -> None:
    r = await api.http.get(f"/api/v1/accounts/{ADDR}/txs", params={"cursor": cursor})
    assert_problem(r, 400, "bad-cursor")
