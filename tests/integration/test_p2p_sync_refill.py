"""Block download refills a peer's request slots in batches during a sync (p2p/blockfetch.py
`request_blocks(refill=True)`): not one walk of the header chain, and one getdata, per block
received, which made a long sync cost more per block than a short one (bench B10b)."""

from __future__ import annotations

import pytest

from powchain.core.params import REGTEST
from powchain.p2p import blockfetch
from powchain.p2p import messages as m
from powchain.p2p.sync import MAX_IN_FLIGHT_PER_PEER
from tests.fakepeer import FakePeer
from tests.integration.chainbuilder import ChainBuilder
from tests.integration.test_p2p_network import Net, network_test, wait_until

pytestmark = pytest.mark.timeout(60)
BLOCKS = 60


@network_test
async def test_sync_requests_bodies_in_batches_of_at_least_half_the_slots(net: Net) -> None:
    """A peer serving 60 blocks one by one gets 16 requests, then refills of 8: six getdata
    messages in all (the periodic sweep is pushed out of the test's reach)."""
    chain = ChainBuilder().chain(BLOCKS)
    by_hash = {b.hash: b for b in chain}
    saved, blockfetch.REQUEST_INTERVAL = blockfetch.REQUEST_INTERVAL, 1e9
    try:
        node, pm = await net.start("a")
        peer = await FakePeer.connect(pm.listen_port)
        await peer.handshake(REGTEST, best_height=BLOCKS)
        await peer.wait_for(m.GetHeaders)
        await peer.send(m.Headers(tuple(b.header for b in chain)))
        sizes: list[int] = []
        while node.tip.height < BLOCKS:
            request = await peer.wait_for(m.GetData)
            sizes.append(len(request.items))
            for item in request.items:
                await peer.send(m.BlockMsg(by_hash[item.hash]))
            if sum(sizes) == BLOCKS:
                break
        await wait_until(lambda: node.tip.hash == chain[-1].hash)
        await peer.close()
    finally:
        blockfetch.REQUEST_INTERVAL = saved
    half = MAX_IN_FLIGHT_PER_PEER // 2
    assert sizes[0] == MAX_IN_FLIGHT_PER_PEER
    assert sum(sizes) == BLOCKS  # every body asked for exactly once
    assert all(size >= half for size in sizes[1:-1])
    assert len(sizes) == 1 + -(-(BLOCKS - MAX_IN_FLIGHT_PER_PEER) // half)
