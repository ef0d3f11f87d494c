"""The getheaders-only light peer (light.wspeer) against a real in-process node and PeerManager
on 127.0.0.1: it syncs past one 2,000-header answer, follows the node through a reorg, is
served like any peer (listed with its user agent, never banned) and reports a broken peer."""

from __future__ import annotations

import asyncio

from powchain.core.params import REGTEST
from powchain.light.headerchain import HeaderChain
from powchain.light.sync import follow
from powchain.light.wspeer import USER_AGENT, WsSource
from tests.integration.chainbuilder import ChainBuilder
from tests.integration.test_p2p_network import Net, feed, network_test, wait_until


@network_test
async def test_light_peer_syncs_and_follows_a_reorg(net: Net) -> None:
    builder = ChainBuilder()
    main = builder.chain(2_050)
    node, pm = await net.start("a")
    feed(node, main)
    source = WsSource(f"127.0.0.1:{pm.listen_port}", REGTEST)
    chain = HeaderChain(REGTEST)
    report = await asyncio.to_thread(follow, chain, [source])
    assert chain.height == 2_050 and chain.tip_hash == node.tip.hash, report.sources[0].describe()
    assert report.sources[0].status == "agrees"
    await wait_until(lambda: any(p.get("user_agent") == USER_AGENT for p in pm.peer_info()))

    fork = builder.chain(8, parent=main[-6], tag=1)  # forks below our tip, ends 3 blocks higher
    feed(node, fork)
    assert node.tip.hash == fork[-1].hash
    report = await asyncio.to_thread(follow, chain, [source])
    assert chain.tip_hash == fork[-1].hash, report.sources[0].describe()
    assert report.reorgs == 1
    await asyncio.to_thread(source.close)
    assert pm.ban_list() == []


@network_test
async def test_light_peer_to_another_network_is_unreachable(net: Net) -> None:
    from powchain.core.params import DEVNET

    node, pm = await net.start("a")
    source = WsSource(f"127.0.0.1:{pm.listen_port}", DEVNET)
    report = await asyncio.to_thread(follow, HeaderChain(DEVNET), [source])
    assert report.sources[0].status == "unreachable"
    await asyncio.to_thread(source.close)
