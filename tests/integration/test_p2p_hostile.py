"""Issue 11, items 2-6: what one peer may cost us, each bound next to its happy case.

Real nodes and sockets on 127.0.0.1 (tests/integration/test_p2p_network.py's `Net`), the
scriptable FakePeer as the attacker. Memory is measured with tracemalloc in this process (node
and attacker share it; the attacker reads nothing, so what grows is the node's).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Awaitable, Callable

import pytest

from powchain.core.block import Block, BlockHeader
from powchain.core.params import REGTEST
from powchain.node.node import Node
from powchain.p2p import messages as m
from powchain.p2p.addrman import MAX_NEW_PER_SOURCE
from powchain.p2p.peer import MAX_SEND_BYTES
from powchain.p2p.serving import INV_CHUNK
from tests.fakepeer import FakePeer
from tests.integration.chainbuilder import BOB, ChainBuilder, Key
from tests.integration.test_p2p_network import (
    LOW_WORK_FORK_DEPTH,
    Net,
    deep_fork_peer,
    feed,
    network_test,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)

MB = 1024 * 1024


async def measure(action: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(peak, retained) MB traced while `action` runs, above what was traced before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await action()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / MB, (current - base) / MB


# -- item 2: getdata served lazily, send queue bounded in bytes ------------------------------


@network_test
async def test_getdata_serves_every_block_to_a_peer_that_reads(net: Net) -> None:
    chain = ChainBuilder().big_blocks(4, 60)
    node, pm = await net.start("a")
    feed(node, chain)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=41001)
    wanted = chain[-4:]
    items = tuple(m.InvItem(m.InvType.BLOCK, b.hash) for b in wanted)
    await peer.send(m.GetData(items + items))  # a duplicate is served once
    got = [(await peer.wait_for(m.BlockMsg)).block for _ in wanted]
    assert got == wanted and len(m.encode(m.BlockMsg(got[0]))) > 240_000
    await peer.send(m.Ping(5))
    assert (await peer.wait_for(m.Pong)).nonce == 5
    assert not [x for x in peer.received if isinstance(x, m.BlockMsg)][len(wanted) :]
    await peer.close()


@network_test
async def test_getdata_from_a_peer_that_never_reads_holds_one_block(net: Net) -> None:
    """Before: 100 items naming 250 KB blocks queued 25 MB at once (1,500 x 978 KB grew a node
    by 1.4 GB); now at most one block waits for the peer, which is dropped (`send-timeout`)."""
    chain = ChainBuilder().big_blocks(4, 60)
    node, pm = await net.start("a", send_timeout=1.0)
    feed(node, chain)
    attacker = await FakePeer.connect(pm.listen_port, max_queue=1)
    await attacker.handshake(REGTEST, listen_port=41002)
    items = tuple(m.InvItem(m.InvType.BLOCK, b.hash) for b in chain[-4:])
    await attacker.stop_reading()

    async def attack() -> None:
        for _ in range(25):  # 25 messages x 4 blocks: no duplicate within one message
            await attacker.send(m.GetData(items))
        await wait_until(lambda: pm.connected_count() == 0, timeout=60)

    peak, _ = await measure(attack)
    assert peak < 4, f"{peak:.1f} MB traced while serving a peer that never reads"
    assert "send-timeout" in [p["reason"] for p in pm.peer_info()]
    assert pm.ban_list() == []  # slow is not misbehaviour
    await attacker.close()


def test_send_queue_is_bounded_in_bytes_not_messages() -> None:
    """Small frames are charged their objects' overhead: 5,000 tiny frames were the old bound
    whatever their size; now any mix stops at MAX_SEND_BYTES."""
    import asyncio

    from powchain.p2p.peer import FRAME_OVERHEAD, Peer

    class Ws:
        state = None

        async def close(self, code: int, reason: str) -> None:
            pass

    async def main() -> None:
        peer = Peer(Ws(), "127.0.0.1", 1, "inbound", 0)
        frame = bytes(1_000)
        fits = MAX_SEND_BYTES // (len(frame) + FRAME_OVERHEAD)
        for _ in range(fits):
            peer.push_frame(frame)
        assert peer.queued_bytes <= MAX_SEND_BYTES and not peer.closing
        peer.push_frame(frame)
        assert peer.drop_reason == "send-queue-full" and peer.queued_bytes <= MAX_SEND_BYTES
        await asyncio.sleep(0)
        assert peer.closing

    asyncio.run(main())


# -- item 3: mempool requests -------------------------------------------------------------


def fill_mempool(node: Node, builder: ChainBuilder, count: int) -> None:
    """`count` payments in the mempool, from as many funded keys as the per-sender cap needs."""
    per_key = 60  # under the mempool's pending-per-sender cap
    keys = [Key.named(f"mempool-{i}") for i in range(-(-count // per_key))]
    chain: list[Block] = []
    for key in keys:
        chain.append(builder.block(chain[-1] if chain else None, recipient=key.pub))
    feed(node, chain + builder.chain(10, parent=chain[-1]))
    for n in range(count):
        node.submit_transaction(keys[n // per_key].transfer(BOB.pub, 1, nonce=n % per_key))


@network_test
async def test_mempool_request_is_answered_once_per_interval(net: Net) -> None:
    """Before: each 1-byte `mempool` sorted the pool and queued an inv of all of it (40
    requests, 40,000 txs: 49 MB, an honest ping stalled 5.7 s). Now one answer per peer per
    MEMPOOL_INTERVAL, in chunks of INV_CHUNK that wait for the peer to read."""
    node, pm = await net.start("a")
    count = 2 * INV_CHUNK + 5
    fill_mempool(node, ChainBuilder(), count)
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=41003)
    for _ in range(40):
        await peer.send(m.MempoolMsg())
    await peer.send(m.Ping(9))
    await peer.wait_for(m.Pong, timeout=30)
    invs = [x for x in peer.received if isinstance(x, m.Inv)]
    txids = {i.hash for inv in invs for i in inv.items}
    assert len(txids) == count  # the happy case: all of the pool, once
    assert sum(len(inv.items) for inv in invs) == count
    assert max(len(inv.items) for inv in invs) == INV_CHUNK
    assert pm.connected_count() == 1 and pm.ban_list() == []
    await peer.close()


# -- item 4: notfound --------------------------------------------------------------------------


@network_test
async def test_notfound_counts_only_requested_blocks(net: Net) -> None:
    """Before: every hash of every `notfound` went into a per-peer set (100 messages: 523 MB).
    Now only blocks we asked that peer for count; the happy case: such a block is asked of
    another peer."""
    chain = ChainBuilder().chain(5)
    node, pm = await net.start("a")
    lacking = await FakePeer.connect(pm.listen_port)
    await lacking.handshake(REGTEST, listen_port=41004, best_height=5)
    await lacking.send(m.Headers(tuple(b.header for b in chain)))
    request = await lacking.wait_for(m.GetData)
    assert [i.hash for i in request.items] == [b.hash for b in chain]

    async def flood() -> None:
        for k in range(4):  # 200,000 distinct hashes nobody asked for
            hashes = (i.to_bytes(32, "big") for i in range(k * 50_000, (k + 1) * 50_000))
            await lacking.send(m.NotFound(tuple(m.InvItem(m.InvType.BLOCK, h) for h in hashes)))
        await lacking.send(m.Ping(3))
        await lacking.wait_for(m.Pong, timeout=60)

    _, retained = await measure(flood)
    assert retained < 2, f"{retained:.1f} MB kept after 200,000 unrequested notfound hashes"
    assert len(pm.blockfetch.in_flight) == 5  # unrequested hashes released nothing

    serving = await FakePeer.connect(pm.listen_port)
    await serving.handshake(REGTEST, listen_port=41005, best_height=5)
    await lacking.send(m.NotFound((m.InvItem(m.InvType.BLOCK, chain[0].hash),)))
    again = await serving.wait_for(m.GetData)
    assert [i.hash for i in again.items] == [chain[0].hash]
    assert pm.ban_list() == []
    await lacking.close()
    await serving.close()


# -- items 5 and 6: the low-work fork guard checks before it counts -------------------------


@network_test
async def test_low_work_headers_with_one_header_claiming_huge_work_index_nothing(
    net: Net,
) -> None:
    """Before: one appended header with bits 0x03000001 (claiming ~2**255 of work) carried
    1,999 deep low-work headers past the guard into full validation, which indexed all of
    them before the bad one. Now the message is checked (link, PoW, bits) first: a ban, and
    none of it indexed. The happy case (the same branch without the liar) is ignored, as
    before, with no ban."""
    a, pm, builder, low, peer = await deep_fork_peer(net, 41006)
    honest = low[: LOW_WORK_FORK_DEPTH // 2]
    await peer.send(m.Headers(tuple(honest)))
    await peer.send(m.Ping(1))
    await peer.wait_for(m.Pong)
    assert pm.ban_list() == [] and [h for h in honest if a.entry(h.hash)] == []

    # claims ~2**255 of work; no nonce meets a target of 1, so it is sent unsolved
    liar = BlockHeader(1, low[-1].hash, bytes(32), low[-1].time + 1, 0x03000001, 0)
    before = len(a.chainstate.entries)
    await peer.send(m.Headers((*low, liar)))
    assert await peer.closed()
    assert [b["reason"] for b in pm.ban_list()] == ["invalid-header: high-hash"]
    assert len(a.chainstate.entries) == before
    assert [h for h in low if a.entry(h.hash) is not None] == []


@network_test
async def test_header_with_bits_zero_bans_instead_of_killing_the_connection_task(
    net: Net,
) -> None:
    """Before: `block_work(0)` raised `Rejected` outside any handler; the task died with a
    traceback, the socket closed 1000 and no ban was recorded (no proof of work needed)."""
    a, pm, builder, low, peer = await deep_fork_peer(net, 41007)
    zero = BlockHeader(1, low[9].hash, bytes(32), low[9].time + 1, 0, 0)
    await peer.send(m.Headers((*low[:10], zero)))
    assert await peer.closed()
    assert peer.close_code == 1008
    assert [b["reason"] for b in pm.ban_list()] == ["invalid-header: bad-diffbits"]
    assert [h for h in low[:10] if a.entry(h.hash) is not None] == []


@network_test
async def test_block_with_bits_zero_bans(net: Net) -> None:
    """The same check guards a `block` before its claimed work is summed."""
    a, pm, builder, _low, peer = await deep_fork_peer(net, 41008)
    body = builder.chain(1, recipient=BOB.pub)[0]
    header = BlockHeader(1, body.header.prev_block, body.header.merkle_root, 0, 0, 0)
    await peer.send(m.BlockMsg(Block(header, body.txs)))
    assert await peer.closed()
    assert [b["reason"] for b in pm.ban_list()] == ["invalid-block: bad-diffbits"]


# -- sibling audit: inbound slots ------------------------------------------------------------


@network_test
async def test_full_inbound_slots_evict_the_youngest_unprotected_peer(net: Net) -> None:
    """Before: a full node refused every newcomer, so whoever took the 32 slots first kept
    them. Now a newcomer evicts the youngest unprotected inbound peer (p2p/eviction.py); a
    peer that sent us a new block is protected though it is the youngest."""
    node, pm = await net.start("a", max_inbound=12)
    peers = []
    for i in range(12):
        peer = await FakePeer.connect(pm.listen_port)
        await peer.handshake(REGTEST, listen_port=41100 + i)
        peers.append(peer)
    block = ChainBuilder().chain(1)[0]
    await peers[-1].send(m.BlockMsg(block))
    await wait_until(lambda: node.tip.hash == block.hash)
    newcomer = await FakePeer.connect(pm.listen_port)
    await newcomer.handshake(REGTEST, listen_port=41200)
    assert await peers[10].closed()
    await wait_until(lambda: pm.connected_count() == 12)
    assert "evicted" in [p["reason"] for p in pm.peer_info() if not p["connected"]]
    for survivor in (*peers[:10], peers[11], newcomer):
        await survivor.send(m.Ping(4))
        assert (await survivor.wait_for(m.Pong)).nonce == 4
    assert pm.ban_list() == []
    for peer in (*peers, newcomer):
        await peer.close()


# -- sibling audit: the address book ---------------------------------------------------------


@network_test
async def test_addr_flood_from_one_peer_keeps_what_others_told_us(net: Net) -> None:
    node, pm = await net.start("a")
    honest = await FakePeer.connect(pm.listen_port)
    await honest.handshake(REGTEST, listen_port=41300)
    told = tuple(m.NetAddress(f"10.7.0.{i}", 8333, 1_000) for i in range(20))
    await honest.send(m.Addr(told))
    attacker = await FakePeer.connect(pm.listen_port)
    await attacker.handshake(REGTEST, listen_port=41301)
    for batch in range(10):
        flood = tuple(
            m.NetAddress(f"198.{batch}.{i // 250}.{i % 250}", 1, 2**31) for i in range(1000)
        )
        await attacker.send(m.Addr(flood))
    await attacker.send(m.Ping(2))
    await attacker.wait_for(m.Pong)
    assert pm.addrman is not None
    kept = {(a.host, a.port) for a in pm.addrman.sample(1000)}
    assert {(a.host, a.port) for a in told} <= kept
    assert max(pm.addrman.sources().values()) == MAX_NEW_PER_SOURCE
    await honest.close()
    await attacker.close()


# -- sibling audit: per-peer memory ----------------------------------------------------------


@network_test
async def test_per_peer_memory_stays_bounded_under_an_inv_flood(net: Net) -> None:
    """150,000 fresh tx hashes announced by one peer: what the node keeps about that peer is
    bounded in bytes (KNOWN_TXS hashes, ~3.5 MB); before, 50,000 per set (~8.5 MB each)."""
    node, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=41400)

    async def flood() -> None:
        for k in range(3):
            hashes = (i.to_bytes(32, "big") for i in range(k * 50_000, (k + 1) * 50_000))
            await peer.send(m.Inv(tuple(m.InvItem(m.InvType.TX, h) for h in hashes)))
        await peer.send(m.Ping(6))
        await peer.wait_for(m.Pong, timeout=60)
        peer.received.clear()  # the test's copies of the node's getdata answers

    _, retained = await measure(flood)
    assert retained < 5, f"{retained:.1f} MB kept for one peer after an inv flood"
    assert pm.ban_list() == [] and pm.connected_count() == 1
    await peer.close()


@network_test
async def test_getaddr_is_answered_once_per_connection(net: Net) -> None:
    """Each answer scans the address book: a peer repeating getaddr got one per request."""
    node, pm = await net.start("a")
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=41500)
    for _ in range(20):
        await peer.send(m.GetAddr())
    await peer.send(m.Ping(8))
    await peer.wait_for(m.Pong)
    assert sum(isinstance(x, m.Addr) for x in peer.received) == 1
    await peer.close()


@network_test
async def test_a_block_over_the_size_limit_is_refused_before_it_is_parsed(net: Net) -> None:
    """Cheap before expensive: the frame's length against max_block_size, not a parse of up
    to 4 MiB of transactions first (the happy case: a block just under the limit, above)."""
    node, pm = await net.start("a")
    big = ChainBuilder().big_blocks(1, 250)[-1]
    assert len(big.serialize()) > REGTEST.max_block_size
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(REGTEST, listen_port=41600)
    await peer.send(m.BlockMsg(big))
    assert await peer.closed()
    (ban,) = pm.ban_list()
    assert str(ban["reason"]).startswith("oversized-block")
