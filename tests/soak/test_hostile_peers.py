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

import pytest

from powchain.core.block import BlockHeader
from powchain.core.encoding import compact_size
from powchain.core.hashing import hex_to_hash
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

from .hostile import BITS, branch, index_rows, orphan_block, rss_kib, solve
from .report import record

log = logging.getLogger("soak")
GENESIS = genesis_block(REGTEST)
TIP_HEIGHT = LOW_WORK_FORK_DEPTH + 16
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
        if f"(127.0.0.1:{port})" in line and "banned" in line:
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
