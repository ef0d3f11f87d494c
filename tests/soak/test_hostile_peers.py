"""Scenario 5: hostile peers against a real regtest `powchain node` (tests/fakepeer.py).

Each case prints its figure through `report.record`; the short versions run in `make test`,
the full sizes (10,000 low-work headers, 80 junk messages of 4 MiB, ...) under `-m soak`.

- low-work headers: side branches forking at genesis, each with less work than the node's
  tip (regtest never retargets, so work = length); the node must not index them (the
  anti-DoS rule of `p2p.peerman`: complete low-work branches forking deeper than
  `LOW_WORK_FORK_DEPTH` below the tip are ignored) and its memory stays flat;
- orphan flood: solved blocks with unknown parents: no ban, nothing stored, tip kept;
- inv and addr floods over the codec's limits (50,000 items, 1,000 addresses): banned;
- junk: messages of 4 MiB of random bytes from many connections while an honest peer's pings
  are answered (figure: the worst round trip);
- a peer that serves headers but never blocks: sync completes from a second real node;
- a longer chain with bad proof of work or wrong bits: rejected, banned;
- time warp: a header at the median time past: rejected (time-too-old), banned;
- a transaction of another network (devnet's chain id): refused (wrong-chain), not relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from powchain.core.block import BlockHeader
from powchain.core.encoding import compact_size
from powchain.core.params import NETWORKS, REGTEST, genesis_block
from powchain.core.units import COIN
from powchain.p2p import messages as m
from powchain.p2p.peerman import LOW_WORK_FORK_DEPTH
from tests.fakepeer import FakePeer
from tests.functional.framework import (
    ApiError,
    NodeProcess,
    Wallet,
    free_port,
    sync_blocks,
    wait_until,
)
from tests.integration.chainbuilder import ALICE, BOB, ChainBuilder, Key

from .hostile import BITS, RssSampler, branch, index_rows, orphan_block, rss_kib, solve
from .report import record

log = logging.getLogger("soak")
GENESIS = genesis_block(REGTEST)
TIP_HEIGHT = LOW_WORK_FORK_DEPTH + 16
BLOCK_TIMEOUT = 5
"""Seconds the victim of the stalling peer waits for a block asked (`--block-timeout`)."""
RSS_BOUND_KIB = 8 * 1024
"""Growth of the node's resident memory a flood may cause (allocator slack, caches)."""

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One regtest node with TIP_HEIGHT blocks, shared by the cases of this module."""
    proc = NodeProcess(0, tmp_path_factory.mktemp("hostile") / "node", connect=["127.0.0.1:1"])
    proc.start()
    proc.mine(TIP_HEIGHT, Wallet.new(REGTEST, "hostile-miner").address)
    yield proc
    proc.stop()


async def hostile(node: NodeProcess) -> tuple[FakePeer, int]:
    """A handshaken fake peer with its own listen port (bans on loopback name that port)."""
    port = free_port()
    peer = await FakePeer.connect(node.p2p_port)
    await peer.handshake(REGTEST, listen_port=port)
    return peer, port


def banned(node: NodeProcess, port: int) -> str | None:
    """The reason of the ban on 127.0.0.1:port, if any."""
    for line in node.log_text().splitlines():
        if f"(127.0.0.1:{port}#" in line and "banned" in line:
            return line
    return None


async def still_answers(peer: FakePeer, timeout: float = 10) -> float:
    """Ping `peer`'s node; the round trip in seconds (TimeoutError if none)."""
    nonce = int.from_bytes(os.urandom(8), "little")
    start = time.monotonic()
    await peer.send(m.Ping(nonce))
    async with asyncio.timeout(timeout):
        while True:
            pong = await peer.wait_for(m.Pong, timeout)
            if pong.nonce == nonce:
                return time.monotonic() - start


# -- low-work headers ------------------------------------------------------------------------


def low_work_headers(node: NodeProcess, total: int) -> tuple[int, int, int]:
    """Send `total` headers in branches of TIP_HEIGHT - 1 forking at genesis; (index rows
    added, RSS growth KiB, branches)."""
    rows_before = index_rows(node.datadir)
    length = TIP_HEIGHT - 1
    branches = [
        branch(GENESIS.hash, GENESIS.header.time, min(length, total - start), os.urandom(32))
        for start in range(0, total, length)
    ]

    async def run() -> None:
        peer, port = await hostile(node)
        await still_answers(peer)
        for headers in branches:
            await peer.send(m.Headers(tuple(headers)))
        await still_answers(peer, 60)  # every headers message before it was handled
        assert banned(node, port) is None, "low-work headers are not misbehaviour"
        await peer.close()

    rss_before = rss_kib(node.process.pid)
    asyncio.run(run())
    return (
        index_rows(node.datadir) - rows_before,
        rss_kib(node.process.pid) - rss_before,
        len(branches),
    )


def check_low_work(node: NodeProcess, total: int, scenario: str) -> None:
    tip = node.tip
    added, grown, count = low_work_headers(node, total)
    log.info("low-work headers: %d indexed, RSS +%d KiB", added, grown)
    assert node.tip == tip
    assert added == 0, f"{added} low-work side-chain headers were indexed"
    assert grown < RSS_BOUND_KIB, f"RSS grew {grown} KiB"
    record(
        scenario,
        f"{total:,} low-work headers ({count} branches forking at genesis, tip {TIP_HEIGHT}): "
        f"0 indexed, RSS +{grown / 1024:.1f} MiB, no ban",
        f"none indexed, RSS < +{RSS_BOUND_KIB // 1024} MiB",
        True,
    )


def test_low_work_headers_short(node: NodeProcess) -> None:
    check_low_work(node, 2_000, "5a low-work headers (short)")


@pytest.mark.soak
def test_low_work_headers(node: NodeProcess) -> None:
    check_low_work(node, 10_000, "5a low-work headers")


# -- orphan blocks -----------------------------------------------------------------------------


def check_orphans(node: NodeProcess, count: int, scenario: str) -> None:
    tip, rows_before = node.tip, index_rows(node.datadir)
    payee = Wallet.new(REGTEST, "orphans").pubkey
    now = int(time.time())
    blocks = [orphan_block(payee, i, now) for i in range(count)]

    async def run() -> int:
        peer, port = await hostile(node)
        for block in blocks:
            await peer.send(m.BlockMsg(block))
        await still_answers(peer, 60)  # handled them all and kept us
        assert banned(node, port) is None, "orphan blocks are not misbehaviour"
        await peer.close()
        return port

    rss_before = rss_kib(node.process.pid)
    asyncio.run(run())
    grown = rss_kib(node.process.pid) - rss_before
    added = index_rows(node.datadir) - rows_before
    assert node.tip == tip
    assert added == 0, f"{added} orphans were indexed"
    assert grown < RSS_BOUND_KIB, f"RSS grew {grown} KiB"
    record(
        scenario,
        f"{count:,} blocks with unknown parents: 0 stored, no ban, tip kept, "
        f"RSS +{grown / 1024:.1f} MiB",
        f"none stored, no ban, RSS < +{RSS_BOUND_KIB // 1024} MiB",
        True,
    )


def test_orphan_flood_short(node: NodeProcess) -> None:
    check_orphans(node, 300, "5b orphan flood (short)")


@pytest.mark.soak
def test_orphan_flood(node: NodeProcess) -> None:
    check_orphans(node, 5_000, "5b orphan flood")


# -- inv and addr floods -----------------------------------------------------------------------


def inv_frame(count: int) -> bytes:
    """An inv of `count` transaction items (the codec refuses to build more than 50,000)."""
    items = b"".join(m.InvItem(m.InvType.TX, os.urandom(32)).serialize() for _ in range(count))
    return bytes([m.Command.INV]) + compact_size(count) + items


def addr_frame(count: int) -> bytes:
    """An addr of `count` addresses (the codec refuses to build more than 1,000)."""
    now = int(time.time())
    body = b"".join(
        m.NetAddress(f"10.1.{i // 250}.{i % 250 + 1}", 8333, now).serialize() for i in range(count)
    )
    return bytes([m.Command.ADDR]) + compact_size(count) + body


def test_inv_addr_floods(node: NodeProcess) -> None:
    tip = node.tip

    async def flood(frame: bytes) -> tuple[bool, str | None]:
        peer, port = await hostile(node)
        await peer.send_raw(frame)
        try:
            await still_answers(peer)
            kept = True
        except (ConnectionError, TimeoutError):
            kept = False
        kept = kept and not await peer.closed(0.5)
        await peer.close()
        line = banned(node, port) if kept else wait_until(lambda: banned(node, port), 10, 0.1)
        return kept, line

    async def run() -> dict[str, tuple[bool, str | None]]:
        return {
            "inv 50,000": await flood(inv_frame(m.MAX_INV_ITEMS)),
            "inv 50,001": await flood(inv_frame(m.MAX_INV_ITEMS + 1)),
            "addr 1,000": await flood(addr_frame(m.MAX_ADDR)),
            "addr 1,001": await flood(addr_frame(m.MAX_ADDR + 1)),
        }

    outcome = asyncio.run(run())
    log.info("floods: %s", outcome)
    assert outcome["inv 50,000"] == (True, None)
    assert outcome["addr 1,000"] == (True, None)
    for over in ("inv 50,001", "addr 1,001"):
        kept, line = outcome[over]
        assert not kept and line is not None and "bad-message" in line, (over, line)
    assert node.tip == tip
    record(
        "5c inv/addr floods",
        "inv of 50,000 and addr of 1,000: kept; inv of 50,001 and addr of 1,001: banned "
        "(bad-message)",
        "over the limit: banned",
        True,
    )


# -- junk while an honest peer pings -----------------------------------------------------------


def check_junk(node: NodeProcess, count: int, scenario: str) -> None:
    commands = list(m.Command)

    async def junk(i: int) -> bool:
        peer, port = await hostile(node)
        frame = bytes([commands[i % len(commands)]]) + os.urandom(m.MAX_MESSAGE_SIZE - 1)
        await peer.send_raw(frame)
        closed = await peer.closed(30)
        await peer.close()
        return closed

    async def run() -> tuple[float, int, list[bool]]:
        honest = await FakePeer.connect(node.p2p_port)
        await honest.handshake(REGTEST, listen_port=free_port())
        worst, pings, done = 0.0, 0, asyncio.Event()

        async def pinger() -> None:
            nonlocal worst, pings
            while not done.is_set():
                worst = max(worst, await still_answers(honest, 30))
                pings += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.1)

        task = asyncio.get_running_loop().create_task(pinger())
        closed: list[bool] = []
        for start in range(0, count, 4):  # four hostile connections at a time
            closed += await asyncio.gather(*(junk(i) for i in range(start, min(count, start + 4))))
        done.set()
        await task
        await honest.close()
        return worst, pings, closed

    rss_before = rss_kib(node.process.pid)
    worst, pings, closed = asyncio.run(run())
    grown = rss_kib(node.process.pid) - rss_before
    node.check_alive()
    assert all(closed), f"{closed.count(False)} junk senders were kept"
    assert worst < 2.0, f"an honest ping took {worst:.2f} s"
    record(
        scenario,
        f"{count} junk messages of 4 MiB (each sender banned): {pings} honest pings, worst "
        f"round trip {worst * 1000:.0f} ms, RSS +{grown / 1024:.1f} MiB",
        "every ping < 2 s",
        True,
    )


def test_junk_short(node: NodeProcess) -> None:
    check_junk(node, 8, "5d 4 MiB junk (short)")


@pytest.mark.soak
def test_junk(node: NodeProcess) -> None:
    check_junk(node, 80, "5d 4 MiB junk")


# -- a peer that stalls in the middle of sync -------------------------------------------------


async def headers_of(node: NodeProcess) -> list[BlockHeader]:
    """Every header of `node`'s active chain (up to 2,000), asked as a peer would."""
    peer = await FakePeer.connect(node.p2p_port)
    await peer.handshake(REGTEST, listen_port=free_port())
    await peer.send(m.GetHeaders((GENESIS.hash,)))
    headers = await peer.wait_for(m.Headers)
    await peer.close()
    return list(headers.headers)


def test_stalling_peer(tmp_path: Path) -> None:
    source = NodeProcess(1, tmp_path / "source", connect=["127.0.0.1:1"])
    victim = NodeProcess(
        2,
        tmp_path / "victim",
        connect=["127.0.0.1:1"],
        extra_args=["--block-timeout", str(BLOCK_TIMEOUT)],
    )
    source.start()
    victim.start()
    try:
        source.mine(60, Wallet.new(REGTEST, "stall-miner").address)

        async def run() -> tuple[int, float]:
            chain = await headers_of(source)
            staller = await FakePeer.connect(victim.p2p_port)
            await staller.handshake(REGTEST, listen_port=free_port(), best_height=len(chain))
            await staller.wait_for(m.GetHeaders)
            await staller.send(m.Headers(tuple(chain)))
            asked = await staller.wait_for(m.GetData)  # and never answered
            log.info(
                "The staller holds %d block requests; connect the honest node", len(asked.items)
            )
            start = time.monotonic()
            await asyncio.to_thread(victim.connect_to, source)
            await asyncio.to_thread(sync_blocks, [source, victim], 120)
            seconds = time.monotonic() - start
            assert await staller.closed(5), "the staller was kept"
            await staller.close()
            return len(asked.items), seconds

        held, seconds = asyncio.run(run())
        assert "stalled block download" in victim.log_text()
        assert victim.height == 60
    finally:
        source.stop()
        victim.stop()
    record(
        "5e stalling peer",
        f"a peer serving 60 headers but none of the {held} blocks asked of it: sync finished from "
        f"a real node in {seconds:.0f} s (block timeout {BLOCK_TIMEOUT} s), staller dropped",
        "sync completes",
        True,
    )


# -- a longer chain with bad proof of work or wrong bits; a time warp -------------------------


def test_bad_chains_and_time_warp(node: NodeProcess) -> None:
    tip = node.tip

    async def offer(headers: list[BlockHeader]) -> str:
        peer, port = await hostile(node)
        await peer.send(m.Headers(tuple(headers)))
        assert await peer.closed(10), "the node kept the peer"
        await peer.close()
        line = wait_until(lambda: banned(node, port), 10, 0.1, "a ban")
        return line.split(" s: ", 1)[-1]

    async def run() -> dict[str, str]:
        chain = await headers_of(node)
        longer = TIP_HEIGHT + 10
        bad_pow = branch(GENESIS.hash, GENESIS.header.time, longer, os.urandom(32))
        middle = bad_pow[longer // 2]
        bad_pow[longer // 2] = solve(middle.with_nonce(0), valid=False)
        wrong_bits = branch(GENESIS.hash, GENESIS.header.time, longer, os.urandom(32), 0x2000FFFF)
        times = sorted(h.time for h in chain[-11:])
        mtp = times[len(times) // 2]
        warp = [solve(BlockHeader(1, chain[-1].hash, os.urandom(32), mtp, BITS, 0))]
        return {
            "bad proof of work": await offer(bad_pow),
            "wrong bits": await offer(wrong_bits),
            "time warp": await offer(warp),
        }

    reasons = asyncio.run(run())
    log.info("bad chains: %s", reasons)
    assert reasons == {
        "bad proof of work": "invalid-header: high-hash",
        "wrong bits": "invalid-header: bad-diffbits",
        "time warp": "invalid-header: time-too-old",
    }
    assert node.tip == tip
    record(
        "5f bad chains, time warp",
        f"a {TIP_HEIGHT + 10}-header chain with one bad PoW: banned (high-hash); with wrong bits: "
        "banned (bad-diffbits); a header at the median time past: banned (time-too-old)",
        "rejected, banned, tip kept",
        True,
    )


# -- a transaction of another network --------------------------------------------------------


def test_replayed_transaction(node: NodeProcess) -> None:
    devnet = NETWORKS["devnet"]
    sender = Wallet.new(devnet, "hostile-miner")  # the regtest miner's key, funded here
    tx = sender.transfer(Wallet.new(devnet, "elsewhere").address, COIN, 0, 10_000)

    async def run() -> list[object]:
        listener = await FakePeer.connect(node.p2p_port)
        await listener.handshake(REGTEST, listen_port=free_port())
        peer, port = await hostile(node)
        await peer.send(m.TxMsg(tx))
        assert await peer.closed(timeout=30)  # invalid whatever our state: its relayer is at fault
        await still_answers(listener)  # a relay would have been queued before this pong
        assert "invalid-tx: wrong-chain" in (banned(node, port) or "")
        await listener.close()
        return [x for x in listener.received if isinstance(x, m.Inv | m.TxMsg)]

    relayed = asyncio.run(run())
    assert relayed == []
    assert tx.txid.hex() not in node.mempool_txids()
    with pytest.raises(ApiError) as refused:
        node.submit(tx.serialize().hex())
    assert refused.value.error == "wrong-chain"
    record(
        "5g replayed transaction",
        "a devnet transaction (same key, funded here) sent to a regtest node: not accepted, "
        "not relayed, its relayer banned (invalid-tx: wrong-chain); the API names it wrong-chain",
        "rejected, not relayed, relayer banned",
        True,
    )


# -- the cases of one size also run under `make soak` (pytest -m soak), for its table ---------


@pytest.mark.soak
@pytest.mark.parametrize(
    "case", [test_inv_addr_floods, test_bad_chains_and_time_warp, test_replayed_transaction]
)
def test_single_size_cases_in_soak(node: NodeProcess, case: Any) -> None:
    case(node)


@pytest.mark.soak
def test_stalling_peer_in_soak(tmp_path: Path) -> None:
    test_stalling_peer(tmp_path)


# -- issue 11: what one peer may cost (getdata, mempool, notfound, claimed work, bits 0) ------

BIG_BLOCKS = 4
BIG_TXS = 230
"""Payments of 4,000 data bytes per big block: 230 make a block of ~978 KB."""
MEMPOOL_KEYS = 625
MEMPOOL_PER_KEY = 64
"""625 funded keys x 64 pending payments each (the per-sender cap) = 40,000 mempool txs."""


def costly_chain() -> tuple[list[Any], list[Any]]:
    """(blocks, keys): a funded ALICE, BIG_BLOCKS blocks of ~978 KB, then one block paying
    MEMPOOL_KEYS keys 0.01 coin each."""
    builder = ChainBuilder()
    chain = builder.big_blocks(BIG_BLOCKS, BIG_TXS)
    nonce = BIG_BLOCKS * BIG_TXS
    keys = [Key.named(f"soak-mempool-{i}") for i in range(MEMPOOL_KEYS)]
    pay = [ALICE.transfer(k.pub, COIN // 100, nonce=nonce + i) for i, k in enumerate(keys)]
    chain.append(builder.block(chain[-1], pay))
    return chain, keys


@pytest.fixture(scope="module")
def costly(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A regtest node holding BIG_BLOCKS blocks of ~978 KB and 40,000 mempool txs."""
    chain, keys = costly_chain()
    proc = NodeProcess(0, tmp_path_factory.mktemp("costly") / "node", connect=["127.0.0.1:1"])
    proc.start()

    async def feed() -> None:
        peer, _ = await hostile(proc)
        for block in chain:
            await peer.send(m.BlockMsg(block))
        await still_answers(peer, 120)
        for n in range(MEMPOOL_KEYS * MEMPOOL_PER_KEY):
            key = keys[n // MEMPOOL_PER_KEY]
            await peer.send(m.TxMsg(key.transfer(BOB.pub, 1, nonce=n % MEMPOOL_PER_KEY)))
        await still_answers(peer, 300)
        await peer.close()

    asyncio.run(feed())
    assert proc.height == len(chain)
    yield proc, chain
    proc.stop()


@pytest.mark.soak
def test_getdata_amplification(costly: Any) -> None:
    """The issue's shape: one 50 KB getdata naming a 978 KB block 1,500 times, then 25 more
    naming the four big blocks, from a peer that reads nothing."""
    node, chain = costly
    big = chain[11 : 11 + BIG_BLOCKS]
    size = len(big[0].serialize())

    async def run() -> float:
        attacker = await FakePeer.connect(node.p2p_port, max_queue=1)
        await attacker.handshake(REGTEST, listen_port=free_port())
        await attacker.stop_reading()
        one = m.InvItem(m.InvType.BLOCK, big[0].hash)
        await attacker.send(m.GetData((one,) * 1_500))
        four = tuple(m.InvItem(m.InvType.BLOCK, b.hash) for b in big)
        for _ in range(25):
            await attacker.send(m.GetData(four))
        honest = await FakePeer.connect(node.p2p_port)
        await honest.handshake(REGTEST, listen_port=free_port())
        worst = 0.0
        for _ in range(50):  # 10 s of pings while the attacker holds its requests
            worst = max(worst, await still_answers(honest, 30))
            await asyncio.sleep(0.2)
        await honest.send(m.GetData(four[:1]))
        assert (await honest.wait_for(m.BlockMsg, 60)).block.hash == big[0].hash
        await honest.close()
        await attacker.close()
        return worst

    with RssSampler(node.process.pid) as rss:
        worst = asyncio.run(run())
    node.check_alive()
    assert rss.grown_mib < 16, f"RSS peak grew {rss.grown_mib:.1f} MiB"
    record(
        "5h getdata amplification",
        f"a peer reading nothing asked a {size / 1e3:.0f} KB block 1,500 times in one getdata "
        f"and 4 blocks in 25 more: RSS peak +{rss.grown_mib:.1f} MiB (was +1.4 GB), honest "
        f"ping worst {worst * 1000:.0f} ms, an honest peer served",
        "RSS < +16 MiB",
        True,
    )


@pytest.mark.soak
def test_mempool_requests(costly: Any) -> None:
    """40 `mempool` requests against 40,000 txs from a peer that reads nothing, while an
    honest peer pings."""
    node, _ = costly

    async def run() -> float:
        honest = await FakePeer.connect(node.p2p_port)
        await honest.handshake(REGTEST, listen_port=free_port())
        attacker = await FakePeer.connect(node.p2p_port, max_queue=1)
        await attacker.handshake(REGTEST, listen_port=free_port())
        await attacker.stop_reading()
        for _ in range(40):
            await attacker.send(m.MempoolMsg())
        worst = 0.0
        for _ in range(50):
            worst = max(worst, await still_answers(honest, 30))
            await asyncio.sleep(0.1)
        await attacker.close()
        await honest.close()
        return worst

    with RssSampler(node.process.pid) as rss:
        worst = asyncio.run(run())
    node.check_alive()
    assert worst < 1.0, f"an honest ping took {worst * 1000:.0f} ms"
    record(
        "5i mempool requests",
        f"40 mempool requests, {MEMPOOL_KEYS * MEMPOOL_PER_KEY:,} txs, the requester reading "
        f"nothing: honest ping worst {worst * 1000:.0f} ms (was 5.7 s), RSS peak "
        f"+{rss.grown_mib:.1f} MiB (was +49 MB queued)",
        "ping < 1 s",
        True,
    )


@pytest.mark.soak
def test_notfound_flood(node: NodeProcess) -> None:
    """100 `notfound` of 50,000 distinct hashes nobody asked for."""

    async def run() -> None:
        peer, port = await hostile(node)
        for k in range(100):
            hashes = (i.to_bytes(32, "big") for i in range(k * 50_000, (k + 1) * 50_000))
            await peer.send(m.NotFound(tuple(m.InvItem(m.InvType.BLOCK, h) for h in hashes)))
        await still_answers(peer, 120)
        assert banned(node, port) is None
        await peer.close()

    before = rss_kib(node.process.pid)
    with RssSampler(node.process.pid) as rss:
        asyncio.run(run())
    kept = (rss_kib(node.process.pid) - before) / 1024
    assert kept < 16, f"RSS kept +{kept:.1f} MiB"  # allocator slack of 100 x 1.65 MB parses
    record(
        "5j notfound flood",
        f"100 notfound of 50,000 unrequested hashes: RSS kept +{kept:.1f} MiB, peak "
        f"+{rss.grown_mib:.1f} MiB (was +523 MB kept), ignored, no ban",
        "RSS kept < +16 MiB",
        True,
    )


@pytest.mark.soak
def test_claimed_work_and_bits_zero(node: NodeProcess) -> None:
    """A deep low-work branch with one appended header claiming ~2**255 of work (bits
    0x03000001), and one with a header of bits 0: each a ban, nothing indexed, no traceback."""
    low = branch(GENESIS.hash, GENESIS.header.time, TIP_HEIGHT - 1, os.urandom(32))
    liar = BlockHeader(1, low[-1].hash, bytes(32), low[-1].time + 1, 0x03000001, 0)
    zero = BlockHeader(1, low[-1].hash, bytes(32), low[-1].time + 1, 0, 0)
    rows = index_rows(node.datadir)
    tracebacks = node.log_text().count("Traceback")

    async def send(headers: list[BlockHeader]) -> str:
        peer, port = await hostile(node)
        await peer.send(m.Headers(tuple(headers)))
        assert await peer.closed(30)
        await peer.close()
        return str(wait_until(lambda: banned(node, port), 10, 0.1, "a ban"))

    lines = [asyncio.run(send([*low, liar])), asyncio.run(send([*low, zero]))]
    assert "high-hash" in lines[0] and "bad-diffbits" in lines[1], lines
    assert index_rows(node.datadir) == rows
    assert node.log_text().count("Traceback") == tracebacks
    record(
        "5k claimed work, bits 0",
        f"{len(low)} deep low-work headers + one claiming ~2^255 work: banned (high-hash), "
        f"0 indexed (were {len(low)}); + one with bits 0: banned (bad-diffbits), no traceback "
        "(was a dead task, no ban)",
        "banned, none indexed",
        True,
    )
