"""Peer manager over real sockets on 127.0.0.1: real Nodes (regtest, SQLite in tmp_path),
real PeerManagers, and the scriptable FakePeer for hostile behaviour."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from powchain.core.block import BlockHeader
from powchain.core.params import DEVNET, REGTEST, ChainParams, genesis_block
from powchain.node.node import Node, NodeConfig
from powchain.p2p import messages as m
from powchain.p2p.peerman import LOW_WORK_FORK_DEPTH, PeerManager
from tests.fakepeer import FakePeer, make_version
from tests.integration.chainbuilder import ALICE, BOB, ChainBuilder, solve

pytestmark = pytest.mark.timeout(60)


async def wait_until(predicate: Callable[[], object], timeout: float = 15) -> None:
    """Poll `predicate` until true; fail with a clear message after `timeout` s."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


class Net:
    """Starts nodes with peer managers and stops them all at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[Node, PeerManager]] = []

    async def start(
        self, name: str, params: ChainParams = REGTEST, **config: Any
    ) -> tuple[Node, PeerManager]:
        pm_kwargs = {
            k: config.pop(k) for k in ("block_timeout", "tick", "send_timeout") if k in config
        }
        config.setdefault("p2p_port", 0)
        node = Node(NodeConfig(params=params, datadir=self.tmp_path / name, **config))
        await node.start()
        pm = PeerManager(node, **{"tick": 0.05, **pm_kwargs})
        await pm.start()
        self.running.append((node, pm))
        return node, pm

    async def stop(self, node: Node, pm: PeerManager) -> None:
        await pm.stop()
        await node.stop()
        self.running.remove((node, pm))

    async def stop_all(self) -> None:
        for node, pm in list(self.running):
            await self.stop(node, pm)


def network_test(body: Callable[[Net], Awaitable[None]]) -> Callable[[Path], None]:
    """Run `async def body(net)` on a fresh loop as a plain pytest test; stop every node after."""

    def test(tmp_path: Path) -> None:
        async def main() -> None:
            net = Net(tmp_path)
            try:
                await body(net)
            finally:
                await net.stop_all()

        asyncio.run(main())

    test.__name__ = body.__name__
    test.__doc__ = body.__doc__
    return test


def feed(node: Node, blocks: list[Any]) -> None:
    for block in blocks:
        node.process_block(block)


def connected(pm: PeerManager) -> int:
    return pm.connected_count()


@network_test
async def test_two_nodes_sync_relay_blocks_and_transactions(net: Net) -> None:
    builder = ChainBuilder()
    chain = builder.chain(30)
    a, pm_a = await net.start("a")
    feed(a, chain)
    b, pm_b = await net.start("b", connect=[f"127.0.0.1:{pm_a.listen_port}"])

    await wait_until(lambda: b.tip.hash == chain[-1].hash)
    assert b.tip.height == 30
    info_b = pm_b.peer_info()
    assert [(p["direction"], p["connected"]) for p in info_b] == [("outbound", True)]
    assert info_b[0]["address"] == f"127.0.0.1:{pm_a.listen_port}"
    assert info_b[0]["blocks_received"] == 30
    assert info_b[0]["height"] == 30
    await wait_until(lambda: connected(pm_a) == 1)
    assert pm_a.peer_info()[0]["direction"] == "inbound"

    # a new block is announced with headers and fetched
    more = builder.chain(2, parent=chain[-1])
    feed(a, more)
    await wait_until(lambda: b.tip.hash == more[-1].hash)

    # a transaction accepted by b's mempool is relayed to a by inv/getdata
    funded = builder.chain(1, parent=more[-1], recipient=ALICE.pub)
    feed(a, funded + builder.chain(10, parent=funded[-1]))
    await wait_until(lambda: b.tip.height == 43)
    tx = ALICE.transfer(BOB.pub, 1_000, nonce=0)
    b.submit_transaction(tx)
    await wait_until(lambda: a.mempool.get(tx.txid) is not None)


@network_test
async def test_getheaders_continues_after_a_full_headers_message(net: Net) -> None:
    """A full batch of 2,000 headers means "there may be more": ask again from its last hash.

    (Driven by a fake peer: syncing 2,000 bodies between two nodes costs too much test time.)
    """
    chain = ChainBuilder().chain(m.MAX_HEADERS + 5)
    node, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, best_height=len(chain))
    await peer.wait_for(m.GetHeaders)
    await peer.send(m.Headers(tuple(b.header for b in chain[: m.MAX_HEADERS])))
    again = await peer.wait_for(m.GetHeaders, timeout=30)
    assert again.locator[0] == chain[m.MAX_HEADERS - 1].hash
    assert again.locator[-1] == genesis_block(REGTEST).hash
    request = await peer.wait_for(m.GetData)
    assert request.items[0] == m.InvItem(m.InvType.BLOCK, chain[0].hash)
    assert len(request.items) == 16  # at most 16 blocks in flight per peer
    await peer.send(m.Headers(tuple(b.header for b in chain[m.MAX_HEADERS :])))
    await wait_until(lambda: node.best_header.hash == chain[-1].hash, timeout=30)
    await peer.close()


@network_test
async def test_wrong_genesis_refused_with_both_networks_named(net: Net) -> None:
    _, pm_a = await net.start("a")
    _, pm_d = await net.start("d", params=DEVNET)
    with pytest.raises(ConnectionError, match="wrong-network"):
        await pm_d.connect("127.0.0.1", pm_a.listen_port)
    await wait_until(lambda: any("reason" in p for p in pm_a.peer_info()))
    (refused,) = [p for p in pm_a.peer_info() if not p["connected"]]
    assert "peer is on network 'devnet'" in str(refused["reason"])
    assert "we are on 'regtest'" in str(refused["reason"])
    assert genesis_block(DEVNET).header.hash_hex in str(refused["reason"])
    assert pm_a.ban_list() == []  # another network is not misbehaviour


@network_test
async def test_fake_peer_with_wrong_genesis_is_disconnected(net: Net) -> None:
    _, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    with pytest.raises(ConnectionError):
        await peer.handshake(REGTEST, genesis=bytes(32))
    assert await peer.closed()
    assert pm.connected_count() == 0


@network_test
async def test_self_connection_detected(net: Net) -> None:
    _, pm = await net.start("a")
    with pytest.raises(ConnectionError, match="self-connection"):
        await pm.connect("127.0.0.1", pm.listen_port)
    assert pm.connected_count() == 0
    assert pm.ban_list() == []


@network_test
async def test_garbage_bytes_ban_persists_across_restart(net: Net) -> None:
    node, pm = await net.start("a", ban_seconds=3600)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40001, nonce=0xABC)
    await peer.send_raw(b"\xff\x00garbage")
    assert await peer.closed()
    assert peer.close_code == 1008
    (ban,) = pm.ban_list()
    assert ban["address"] == "127.0.0.1:40001#0000000000000abc"
    assert str(ban["reason"]).startswith("bad-message")
    assert ban["until"] == ban["banned_at"] + 3600

    await net.stop(node, pm)
    node, pm = await net.start("a", ban_seconds=3600)
    assert [b["address"] for b in pm.ban_list()] == ["127.0.0.1:40001#0000000000000abc"]
    again = await FakePeer.connect(pm.listen_port)
    with pytest.raises(ConnectionError):
        await again.handshake(REGTEST, listen_port=40001, nonce=0xABC)
    assert await again.closed()
    # another local node process (its own nonce) is not banned, even claiming the same port
    other = await FakePeer.connect(pm.listen_port)
    await other.handshake(REGTEST, listen_port=40001)
    await wait_until(lambda: pm.connected_count() == 1)
    await other.close()


@network_test
async def test_loopback_ban_cannot_be_aimed_at_another_local_node(net: Net) -> None:
    """Issue 11: an attacker claiming node b's listen port and misbehaving got
    "127.0.0.1:<b's port>" banned, so a refused b, inbound and outbound, for 24 h. Now the
    ban names the attacker's claim with its nonce; a still dials b and accepts it."""
    a, pm_a = await net.start("a")
    b, pm_b = await net.start("b")
    attacker = await FakePeer.connect(pm_a.listen_port)
    await attacker.handshake(REGTEST, listen_port=pm_b.listen_port)
    await attacker.send_raw(b"\xff\x00garbage")
    assert await attacker.closed()
    (ban,) = pm_a.ban_list()
    assert str(ban["address"]).startswith(f"127.0.0.1:{pm_b.listen_port}#")
    info = await pm_a.connect("127.0.0.1", pm_b.listen_port)  # outbound to b: not banned
    assert info["connected"] is True
    await pm_b.connect("127.0.0.1", pm_a.listen_port)  # b inbound to a, claiming its port
    await wait_until(lambda: pm_a.connected_count() == 2)


@network_test
async def test_message_before_handshake_is_a_violation(net: Net) -> None:
    _, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    await peer.send(m.Ping(1))
    assert await peer.closed()
    (ban,) = pm.ban_list()
    assert ban["reason"] == "unexpected-ping-in-handshake"


@network_test
async def test_oversized_frame_is_refused_and_banned(net: Net) -> None:
    _, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40003)
    await peer.send_raw(bytes([m.Command.BLOCK]) + bytes(m.MAX_MESSAGE_SIZE + 4096))
    assert await peer.closed()
    await wait_until(lambda: pm.ban_list() != [])
    assert pm.ban_list()[0]["reason"] == "oversized-message"


@network_test
async def test_invalid_proof_of_work_header_bans(net: Net) -> None:
    _, pm = await net.start("a")
    genesis = genesis_block(REGTEST)
    header = BlockHeader(1, genesis.hash, bytes(32), genesis.header.time + 600, 0x207FFFFF, 0)
    while int.from_bytes(header.hash, "little") <= (0x7FFFFF << 8 * (0x20 - 3)):
        header = header.with_nonce(header.nonce + 1)  # find a nonce that does NOT meet the target
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40004)
    await peer.send(m.Headers((header,)))
    assert await peer.closed()
    (ban,) = pm.ban_list()
    assert ban["reason"] == "invalid-header: high-hash"


@network_test
async def test_orphan_header_asks_for_headers_without_ban(net: Net) -> None:
    _, pm = await net.start("a")
    orphan = solve(
        BlockHeader(1, b"\x11" * 32, bytes(32), genesis_block(REGTEST).header.time, 0x207FFFFF, 0)
    )
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40005)
    await peer.wait_for(m.GetHeaders)  # the one sent on connect
    await peer.send(m.Headers((orphan,)))
    request = await peer.wait_for(m.GetHeaders)
    assert request.locator[-1] == genesis_block(REGTEST).hash
    assert pm.ban_list() == []
    assert pm.connected_count() == 1
    await peer.close()


@network_test
async def test_serves_headers_blocks_mempool_and_notfound(net: Net) -> None:
    builder = ChainBuilder()
    funded = builder.chain(1, recipient=ALICE.pub)
    chain = funded + builder.chain(10, parent=funded[-1])
    node, pm = await net.start("a")
    feed(node, chain)
    tx = ALICE.transfer(BOB.pub, 5, nonce=0)
    node.submit_transaction(tx)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST)

    await peer.send(m.GetHeaders((genesis_block(REGTEST).hash,)))
    headers = await peer.wait_for(m.Headers)
    assert [h.hash for h in headers.headers] == [b.hash for b in chain]

    unknown = m.InvItem(m.InvType.BLOCK, b"\x22" * 32)
    await peer.send(m.GetData((m.InvItem(m.InvType.BLOCK, chain[3].hash), unknown)))
    assert (await peer.wait_for(m.BlockMsg)).block == chain[3]
    assert (await peer.wait_for(m.NotFound)).items == (unknown,)

    await peer.send(m.MempoolMsg())
    inv = await peer.wait_for(m.Inv)
    assert inv.items == (m.InvItem(m.InvType.TX, tx.txid),)
    await peer.send(m.GetData(inv.items))
    assert (await peer.wait_for(m.TxMsg)).tx == tx

    await peer.send(m.Ping(77))
    assert (await peer.wait_for(m.Pong)).nonce == 77
    await peer.close()


@network_test
async def test_stalling_peer_does_not_stall_sync(net: Net) -> None:
    """A peer that announces headers but never sends bodies is dropped; another serves."""
    chain = ChainBuilder().chain(40)
    a, pm_a = await net.start("a")
    feed(a, chain)
    b, pm_b = await net.start("b", block_timeout=0.5)
    staller = await FakePeer.connect(pm_b.listen_port)
    await staller.handshake(REGTEST, listen_port=40006, best_height=40)
    await staller.send(m.Headers(tuple(blk.header for blk in chain)))
    await staller.wait_for(m.GetData)
    assert b.tip.height == 0
    await pm_b.connect("127.0.0.1", pm_a.listen_port)
    await wait_until(lambda: b.tip.hash == chain[-1].hash)
    assert await staller.closed()
    assert pm_b.ban_list() == []  # stalling is not misbehaviour


@network_test
async def test_addresses_exchanged_and_persisted(net: Net) -> None:
    _, pm_a = await net.start("a")
    peer = await FakePeer.connect(pm_a.listen_port)
    await peer.handshake(REGTEST)
    await peer.send(
        m.Addr((m.NetAddress("127.0.0.1", 40100, 1), m.NetAddress("10.0.0.9", 40101, 2)))
    )
    await peer.send(m.GetAddr())
    addr = await peer.wait_for(m.Addr)
    assert {(a.host, a.port) for a in addr.addresses} == {("127.0.0.1", 40100), ("10.0.0.9", 40101)}
    await peer.close()


@network_test
async def test_outbound_reconnects_after_peer_restart(net: Net) -> None:
    a, pm_a = await net.start("a")
    port = pm_a.listen_port
    b, pm_b = await net.start("b", connect=[f"127.0.0.1:{port}"])
    await wait_until(lambda: pm_b.connected_count() == 1)
    await net.stop(a, pm_a)
    await wait_until(lambda: pm_b.connected_count() == 0)
    a, pm_a = await net.start("a", p2p_port=port)
    await wait_until(lambda: pm_b.connected_count() == 1)


@network_test
async def test_pings_measure_latency_and_silent_peers_time_out(net: Net) -> None:
    _, pm = await net.start("a", ping_interval=0.1, idle_timeout=1)
    lively = await FakePeer.connect(pm.listen_port)
    await lively.handshake(REGTEST, listen_port=40200)
    await wait_until(lambda: any(p.get("ping_ms") is not None for p in pm.peer_info()))
    silent = await FakePeer.connect(pm.listen_port, auto_pong=False)
    await silent.handshake(REGTEST, listen_port=40201)
    assert await silent.closed(timeout=15)
    assert pm.ban_list() == []  # silence is not misbehaviour
    await lively.close()


@network_test
async def test_text_frames_and_duplicate_version_are_violations(net: Net) -> None:
    _, pm = await net.start("a")
    text = await FakePeer.connect(pm.listen_port)
    await text.handshake(REGTEST, listen_port=40300)
    await text.send_raw("hello")
    assert await text.closed()
    dup = await FakePeer.connect(pm.listen_port)
    await dup.handshake(REGTEST, listen_port=40301)
    await dup.send(make_version(REGTEST))
    assert await dup.closed()
    reasons = {str(b["address"]).split("#")[0]: b["reason"] for b in pm.ban_list()}
    assert reasons == {"127.0.0.1:40300": "text-frame", "127.0.0.1:40301": "duplicate-version"}


@network_test
async def test_handshake_deadline(net: Net) -> None:
    _, pm = await net.start("a", handshake_timeout=0.3)
    mute = await FakePeer.connect(pm.listen_port)
    assert await mute.closed()
    assert [p["reason"] for p in pm.peer_info()] == ["handshake-timeout"]
    assert pm.ban_list() == []


@network_test
async def test_invalid_transaction_is_dropped_not_banned_nor_relayed(net: Net) -> None:
    builder = ChainBuilder()
    funded = builder.chain(1, recipient=ALICE.pub)
    chain = funded + builder.chain(10, parent=funded[-1])
    a, pm_a = await net.start("a")
    feed(a, chain)
    b, _ = await net.start("b", connect=[f"127.0.0.1:{pm_a.listen_port}"])
    await wait_until(lambda: b.tip.height == 11)
    peer = await FakePeer.connect(pm_a.listen_port)
    await peer.handshake(REGTEST, listen_port=40400)
    # invalid against our state only (an honest race can produce it): no ban
    forged = ALICE.transfer(BOB.pub, 10**15, nonce=0)  # more than ALICE holds
    good = ALICE.transfer(BOB.pub, 8, nonce=0)
    await peer.send(m.TxMsg(forged))
    await peer.send(m.TxMsg(good))
    await wait_until(lambda: b.mempool.get(good.txid) is not None)  # relayed a -> b
    assert a.mempool.get(forged.txid) is None and b.mempool.get(forged.txid) is None
    await peer.send(m.Inv((m.InvItem(m.InvType.TX, forged.txid),)))
    await peer.send(m.Ping(5))
    await peer.wait_for(m.Pong)
    assert not any(isinstance(x, m.GetData) for x in peer.received)  # not fetched again
    assert pm_a.ban_list() == []
    assert pm_a.connected_count() == 2
    await peer.close()


@network_test
async def test_transaction_with_a_bad_signature_bans_its_relayer(net: Net) -> None:
    """Issue 11, item 7: a signature is invalid whatever our state, so its relayer is at
    fault (before, a forged tx cost us the check and the peer nothing)."""
    builder = ChainBuilder()
    funded = builder.chain(1, recipient=ALICE.pub)
    a, pm_a = await net.start("a")
    feed(a, funded + builder.chain(10, parent=funded[-1]))
    honest = await FakePeer.connect(pm_a.listen_port)
    await honest.handshake(REGTEST, listen_port=40401)
    good = ALICE.transfer(BOB.pub, 8, nonce=0)
    await honest.send(m.TxMsg(good))  # the happy case next to it
    await wait_until(lambda: a.mempool.get(good.txid) is not None)
    forger = await FakePeer.connect(pm_a.listen_port)
    await forger.handshake(REGTEST, listen_port=40402)
    forged = ALICE.transfer(BOB.pub, 7, nonce=1).with_signature(bytes(64))
    await forger.send(m.TxMsg(forged))
    assert await forger.closed()
    assert [b["reason"] for b in pm_a.ban_list()] == ["invalid-tx: bad-signature"]
    assert a.mempool.get(forged.txid) is None and pm_a.connected_count() == 1
    await honest.close()


@network_test
async def test_low_work_deep_fork_headers_are_not_indexed(net: Net) -> None:
    """Anti-DoS (issue 5): a complete header branch forking more than LOW_WORK_FORK_DEPTH
    blocks below the tip with less work is ignored without a ban; one with more work is
    indexed. Before the rule, 10,000 such headers were all indexed (+11.5 MiB)."""
    builder = ChainBuilder()
    height = LOW_WORK_FORK_DEPTH + 2
    a, pm = await net.start("a")
    feed(a, builder.chain(height))
    low = builder.chain(height - 1, recipient=BOB.pub)
    more = builder.chain(height + 1, recipient=ALICE.pub)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=40400)
    await peer.send(m.Headers(tuple(b.header for b in low)))
    await peer.send(m.Ping(7))
    await peer.wait_for(m.Pong)  # the headers were handled before the ping
    assert [b for b in low if a.entry(b.hash) is not None] == []
    await peer.send(m.Headers(tuple(b.header for b in more)))
    await wait_until(lambda: a.entry(more[-1].hash) is not None)
    assert pm.ban_list() == []
    await peer.close()


async def serve_in_chunks(peer: FakePeer, headers: list[BlockHeader], size: int) -> list[bytes]:
    """Answer the node's getheaders with `headers` in messages of `size`, each continuing after
    the locator's first hash (or after genesis, their fork); returns the first locator hash of
    each getheaders answered. Others (the node's own sync from its tip) are not answered."""
    asked: list[bytes] = []
    genesis = genesis_block(REGTEST).hash
    index = {genesis: 0} | {h.hash: i + 1 for i, h in enumerate(headers)}
    while True:
        request = await peer.wait_for(m.GetHeaders)
        first = request.locator[0]
        if first not in index:
            continue
        asked.append(first)
        start = index[first]
        chunk = headers[start : start + size]
        await peer.send(m.Headers(tuple(chunk)))
        if len(chunk) < size:
            return asked


PRESYNC_SIZE = 50
"""MAX_HEADERS in the presync tests: a regtest chain of ~150 blocks spans several full messages
(at 2,000, a regtest branch long enough to be full always has more work than our tip)."""


@contextlib.contextmanager
def small_headers_messages() -> Iterator[None]:
    original = m.MAX_HEADERS
    m.MAX_HEADERS = PRESYNC_SIZE
    try:
        yield
    finally:
        m.MAX_HEADERS = original


async def deep_fork_peer(
    net: Net, listen_port: int
) -> tuple[Node, PeerManager, ChainBuilder, list[BlockHeader], FakePeer]:
    """Node `a` LOW_WORK_FORK_DEPTH + 2 blocks high, a low-work branch from genesis one block
    shorter (its headers), and a handshaken fake peer."""
    builder = ChainBuilder()
    height = LOW_WORK_FORK_DEPTH + 2
    a, pm = await net.start("a")
    feed(a, builder.chain(height))
    low = [b.header for b in builder.chain(height - 1, recipient=BOB.pub)]
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=listen_port)
    return a, pm, builder, low, peer


@network_test
async def test_low_work_branch_in_full_messages_is_presynced_not_indexed(net: Net) -> None:
    """Header presync (p2p/presync.py): a deep low-work branch sent in full headers messages
    is followed without being indexed and forgotten when it ends below our tip's work; a deep
    branch that proves more work is downloaded again from the fork and indexed."""
    size = PRESYNC_SIZE
    with small_headers_messages():
        a, pm, builder, low, peer = await deep_fork_peer(net, 40401)
        more = [b.header for b in builder.chain(LOW_WORK_FORK_DEPTH + 3, recipient=ALICE.pub)]
        await peer.send(m.Headers(tuple(low[:size])))
        asked = await serve_in_chunks(peer, low, size)
        assert asked == [low[size - 1].hash, low[2 * size - 1].hash]  # followed, chunk by chunk
        await peer.send(m.Ping(8))
        await peer.wait_for(m.Pong)
        assert [h for h in low if a.entry(h.hash) is not None] == []

        await peer.send(m.Headers(tuple(more[:size])))
        presynced = await serve_in_chunks(peer, more, size)
        assert presynced == [more[size - 1].hash, more[2 * size - 1].hash]
        assert a.entry(more[0].hash) is None  # proven, but not indexed until downloaded again
        downloaded = await serve_in_chunks(peer, more, size)
        genesis = genesis_block(REGTEST).hash
        assert downloaded == [genesis, more[size - 1].hash, more[2 * size - 1].hash]
        await wait_until(lambda: a.entry(more[-1].hash) is not None)
        assert pm.ban_list() == []
        await peer.close()


@network_test
async def test_presync_header_that_breaks_the_chain_bans(net: Net) -> None:
    """A full message continuing a presync whose headers do not link is misbehaviour."""
    size = PRESYNC_SIZE
    with small_headers_messages():
        a, pm, _builder, low, peer = await deep_fork_peer(net, 40402)
        await peer.send(m.Headers(tuple(low[:size])))
        await peer.wait_for(m.GetHeaders)
        broken = low[size : size + 10] + low[size + 11 : 2 * size + 1]
        await peer.send(m.Headers(tuple(broken)))
        assert await peer.closed()
        await wait_until(lambda: len(pm.ban_list()) == 1)
        assert [h for h in low if a.entry(h.hash) is not None] == []
