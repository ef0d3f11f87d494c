"""Bans after issue 12: devnet peers on loopback are disconnected, never banned; bans can be
listed and lifted through the API (`GET/DELETE /api/v1/bans`) and cleared in the address book
(`powchain node --clear-bans`). Real nodes, real sockets on 127.0.0.1, the scriptable FakePeer.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from powchain.api.app import create_app
from powchain.core.params import DEVNET, REGTEST
from powchain.p2p.addrman import AddrMan
from powchain.p2p.connections import never_ban
from tests.fakepeer import FakePeer
from tests.integration.test_p2p_network import Net, network_test, wait_until


def test_never_ban_is_devnet_loopback_only() -> None:
    assert never_ban("devnet", "127.0.0.1")
    assert never_ban("devnet", "::1")
    assert not never_ban("devnet", "203.0.113.7")
    assert not never_ban("regtest", "127.0.0.1")
    assert not never_ban("testnet", "127.0.0.1")


@network_test
async def test_devnet_loopback_peer_is_disconnected_not_banned(net: Net) -> None:
    _, pm = await net.start("d", params=DEVNET, ban_seconds=3600)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(DEVNET, listen_port=40011)
    await peer.send_raw(b"\xff\x00garbage")
    assert await peer.closed()
    assert peer.close_code == 1008
    await wait_until(lambda: any(not p.get("connected", True) for p in pm.peer_info()))
    refused = [p for p in pm.peer_info() if not p.get("connected", True)]
    assert str(refused[-1]["reason"]).startswith("disconnected: bad-message")
    assert pm.ban_list() == []
    # it may come straight back (a restarted devnet node)
    again = await FakePeer.connect(pm.listen_port)
    await again.handshake(DEVNET, listen_port=40011)
    await wait_until(lambda: pm.connected_count() == 1)
    await again.close()


@network_test
async def test_regtest_loopback_peer_is_still_banned(net: Net) -> None:
    _, pm = await net.start("r", ban_seconds=3600)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40012)
    await peer.send_raw(b"\xff\x00garbage")
    assert await peer.closed()
    (ban,) = pm.ban_list()
    assert str(ban["address"]).startswith("127.0.0.1:40012")


@network_test
async def test_bans_listed_and_lifted_through_the_api(net: Net) -> None:
    node, pm = await net.start("a", ban_seconds=3600)
    now = int(node.now())
    assert pm.addrman is not None
    pm.addrman.ban("127.0.0.1:40021", now, 3600, "bad-message: test")
    pm.addrman.ban("203.0.113.9", now, 3600, "invalid-block: bad-prevblk")
    app = create_app(node)
    token = (Path(node.config.datadir) / "api.cookie").read_text()
    admin = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        listed = (await http.get("/api/v1/bans")).json()["bans"]
        assert {b["address"] for b in listed} == {"127.0.0.1:40021", "203.0.113.9"}
        # lifting needs the admin token
        r = await http.delete("/api/v1/bans/203.0.113.9")
        assert r.status_code == 401
        r = await http.delete("/api/v1/bans/203.0.113.9", headers=admin)
        assert r.status_code == 200 and r.json() == {"unbanned": ["203.0.113.9"]}
        r = await http.delete("/api/v1/bans/203.0.113.9", headers=admin)
        assert r.status_code == 404 and r.json()["error"] == "not-found"
        r = await http.delete("/api/v1/bans", headers=admin)
        assert r.json() == {"unbanned": ["127.0.0.1:40021"]}
        assert (await http.get("/api/v1/bans")).json() == {"bans": []}


@network_test
async def test_clear_bans_empties_the_persisted_list(net: Net) -> None:
    node, pm = await net.start("c", ban_seconds=3600)
    assert pm.addrman is not None
    for port in (40031, 40032):
        pm.addrman.ban(f"127.0.0.1:{port}", int(node.now()), 3600, "test")
    await net.stop(node, pm)
    node, pm = await net.start("c", ban_seconds=3600)
    assert len(pm.ban_list()) == 2
    assert AddrMan(node.db).clear_bans() == 2
    assert pm.ban_list() == []


@network_test
async def test_peers_table_height_of_a_synced_peer(net: Net) -> None:
    """A's row for B shows B's height once B has synced from A (it stayed at B's handshake
    height, 0, because B never announces A's own blocks back to A)."""
    from tests.integration.chainbuilder import ChainBuilder

    chain = ChainBuilder().chain(12)
    a, pm_a = await net.start("a")
    for block in chain:
        a.process_block(block)
    b, _ = await net.start("b", connect=[f"127.0.0.1:{pm_a.listen_port}"])
    await wait_until(lambda: b.tip.hash == chain[-1].hash)
    await wait_until(lambda: [p["height"] for p in pm_a.peer_info()] == [12])
