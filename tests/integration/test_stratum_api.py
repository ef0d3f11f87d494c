"""What the Stratum server shows: GET /api/v1/stratum, the powchain_stratum_* metrics, the
explorer's Miners page, and coinbase `data` as hex plus its printable part."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from powchain.api.app import close_app, create_app
from powchain.core.hashing import hash_to_hex
from powchain.core.params import REGTEST
from powchain.node.node import Node, NodeConfig
from tests.stratum_client import DIFF1, StratumTestClient, compact_target

from .chainbuilder import MINER
from .stratum_fixture import FLOOR, Served, served


def get(s: Served, *paths: str) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        app = create_app(s.node, token="t")
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return [await http.get(p) for p in paths]
        finally:
            close_app(app)

    return s.run(fetch())


def test_the_api_metrics_and_miners_page_show_workers_shares_and_blocks(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        client.subscribe()
        user = s.address(MINER.pub)
        client.call("mining.authorize", [user + ".rig", "x"])
        job = client.wait_job()
        en2, nonce, _ = client.find_share(job, FLOOR, 1, not_block=True)
        client.submit(user + ".rig", job, en2, nonce)
        client.submit(user + ".rig", job, en2, nonce)  # duplicate
        network = DIFF1 / compact_target(int(job.nbits_hex, 16))
        en2, nonce, digest = client.find_share(job, network, 2)
        assert client.submit(user + ".rig", job, en2, nonce)["result"] is True
        api, metrics, page, block = get(
            s,
            "/api/v1/stratum",
            "/metrics",
            "/miners",
            f"/api/v1/blocks/{hash_to_hex(digest)}?txs=full",
        )
        stats: dict[str, Any] = api.json()
        assert stats["enabled"] is True and stats["url"].startswith("stratum+tcp://127.0.0.1:")
        (worker,) = stats["workers"]
        assert worker["address"] == user and worker["workers"] == [user + ".rig"]
        assert worker["accepted"] == 2 and worker["rejected"] == {"duplicate": 1}
        assert worker["hashrate"] > 0 and worker["blocks"] == 1
        assert stats["shares"] == {"accepted": 2, "rejected": {"duplicate": 1}}
        assert stats["blocks_found"] == 1
        text = metrics.text
        assert "powchain_stratum_shares_accepted_total 2.0" in text
        assert 'powchain_stratum_shares_rejected_total{reason="duplicate"} 1.0' in text
        assert "powchain_stratum_blocks_found_total 1.0" in text
        assert "powchain_stratum_workers 1.0" in text
        html = page.text
        assert page.status_code == 200 and stats["url"] in html
        assert re.search(r'id="blocks-found">1<', html) and user[:20] in html
        coinbase = block.json()["txs"][0]
        data = bytes.fromhex(coinbase["data"])
        assert data[:4] == client.extranonce1 and data[4:12] == en2
        assert coinbase["data_text"].endswith("/powchain stratum/")
        assert len(coinbase["data_text"]) == len(data) and coinbase["post"] is None


def test_without_a_stratum_server(tmp_path: Path) -> None:
    import asyncio

    async def scenario() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        node = Node(NodeConfig(params=REGTEST, datadir=tmp_path, verify_processes=0))
        await node.start()
        app = create_app(node, token="t")
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                (h,) = await node.mine_blocks(1, MINER.pub)
                return (
                    await http.get("/api/v1/stratum"),
                    await http.get("/miners"),
                    await http.get(f"/tx/{hash_to_hex(node.get_block(h).txs[0].txid)}"),  # type: ignore[union-attr]
                )
        finally:
            close_app(app)
            await node.stop()

    api, page, tx = asyncio.run(scenario())
    assert api.json()["enabled"] is False and api.json()["workers"] == []
    assert 'id="stratum-off"' in page.text
    assert 'id="data-hex"' in tx.text and 'id="data-text"' in tx.text
