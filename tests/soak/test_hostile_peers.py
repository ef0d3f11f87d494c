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
