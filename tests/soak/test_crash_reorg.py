"""Scenario 2 (crash points and kill -9) and scenario 3 (a deep reorg), with figures.

Scenario 2: node A stops exactly at a named crash point (`POWCHAIN_CRASH_AT`, see
`powchain.node.crashpoints`) inside a block connect or a disconnect (a reorg towards node B's
heavier branch), or is killed with SIGKILL at a random moment while mining; every time its
database passes `PRAGMA integrity_check`, it restarts, rejoins B, and the history checker's
replay from genesis matches both nodes' accounts.

Scenario 3: A and B mine apart, B one block more; connecting them makes A reorg the whole
branch; figure: seconds from the connection to the same tip, then the replay check.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from powchain.core.params import NETWORKS
from powchain.node.crashpoints import CRASH_EXIT_CODE, ENV_VAR
from tests.functional.framework import Wallet, connect_nodes, sync_blocks, wait_until

from .harness import SoakNode
from .history import History
from .report import record

log = logging.getLogger("soak")
PARAMS = NETWORKS["regtest"]
DEAD_PEER = "127.0.0.1:1"  # a --connect that never answers: no address-book dialing
LANES = 2
"""Independent node pairs the long crash scenario runs on side by side."""
HIT_CYCLE = 4
"""The n-th crash at a point stops at the point's (1 + n % HIT_CYCLE)-th hit after the restart:
every hit count is exercised while the chain stays short (a disconnect crash needs a fresh
node mining a heavier chain from genesis, so its cost grows with A's height)."""


def integrity(node: SoakNode) -> str:
    with sqlite3.connect(node.datadir / "chain.sqlite") as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def make_pair(tmp_path: Path) -> tuple[SoakNode, SoakNode]:
    a = SoakNode(0, tmp_path / "a", connect=[DEAD_PEER])
    b = SoakNode(1, tmp_path / "b", connect=[DEAD_PEER])
    a.start()
    b.start()
    return a, b


def rejoin(a: SoakNode, b: SoakNode) -> dict:
    """Restart A connected to B, same tip, history check (integrity checked before)."""
    a.connect = [b.p2p_address]
    a.env = {}
    a.start()
    sync_blocks([a, b], 120)
    return History().check_final([a, b], PARAMS)


def crash_once(a: SoakNode, b: SoakNode, point: str, hit: int, miner: str) -> None:
    """Restart A with the crash point armed, drive it there, check it stopped there."""
    a.stop()
    a.env = {ENV_VAR: f"{point}:{hit}"}
    a.connect = [DEAD_PEER]
    a.start()
    if point.startswith("connect"):
        with pytest.raises(Exception):  # noqa: B017 - the node dies under the request
            a.mine(hit + 1, miner)
        code = a.wait_exit(60)
    else:
        # a fresh node C (unknown to A's address book) mines a heavier chain from genesis; A
        # first mines until the reorg disconnects at least `hit` blocks
        if a.height < hit:
            a.mine(hit - a.height, miner)
        c = SoakNode(9, a.datadir.parent / f"c-{time.monotonic_ns()}", connect=[DEAD_PEER])
        c.start()
        try:
            c.mine(a.height + 2, miner)
            with contextlib.suppress(httpx.HTTPError):
                a.connect_to(c)  # A now reorgs to C's chain and dies in a disconnect
            code = a.wait_exit(60)
        finally:
            c.stop()
    assert code == CRASH_EXIT_CODE, f"{point}:{hit} exited with {code}: {a.log_tail(2000)}"
    assert "crash point" in a.log_tail(2000)
    assert integrity(a) == "ok"


def kill_while_mining(a: SoakNode, b: SoakNode, rng: random.Random, miner: str) -> None:
    a.stop()
    a.env = {}
    a.connect = [b.p2p_address]
    a.mining = True
    a.extra_args = ["--miner-address", miner]
    a.start()
    start = a.height
    wait_until(lambda: a.height >= start + rng.randint(1, 8), 60, 0.05, "A mining")
    a.kill9()
    a.mining = False
    a.extra_args = []
    assert integrity(a) == "ok"


def run_crashes(
    tmp_path: Path, points: list[str], hits: int, kills: int, seed: int = 3
) -> tuple[int, int]:
    """`hits` crashes at each of `points` (in order), then `kills` kill -9 while mining, on one
    pair of nodes; (crash-point stops, restarts)."""
    rng = random.Random(seed)
    miner = Wallet.new(PARAMS, "crash-miner").address
    a, b = make_pair(tmp_path)
    crashes = restarts = 0
    try:
        for point in points:
            for n in range(hits):
                hit = 1 + n % HIT_CYCLE
                log.info("Crash A at %s, hit %d", point, hit)
                crash_once(a, b, point, hit, miner)
                crashes += 1
                rejoin(a, b)
                restarts += 1
        for _ in range(kills):
            kill_while_mining(a, b, rng, miner)
            rejoin(a, b)
            restarts += 1
    finally:
        a.stop()
        b.stop()
    return crashes, restarts


def test_crash_points_short(tmp_path: Path) -> None:
    crashes, restarts = run_crashes(tmp_path, ["connect-in-tx", "disconnect-in-tx"], 2, 2)
    record(
        "2 crashes (short)",
        f"{crashes} crash-point stops + 2 kill -9: {restarts} restarts, integrity ok, "
        "replay equal, rejoined",
        "every restart consistent",
        True,
    )


@pytest.mark.soak
@pytest.mark.timeout(2700)
def test_crash_points_soak(tmp_path: Path) -> None:
    from powchain.node.crashpoints import POINTS

    # the figures: 50 crashes per point and 50 kill -9 (350 restarts), split over two
    # independent pairs of nodes (a restart is mostly process start-up: two run side by side)
    hits = int(os.environ.get("POWCHAIN_CRASH_HITS", "50"))
    kills = int(os.environ.get("POWCHAIN_KILLS", "50"))
    points = sorted(POINTS, key=lambda p: not p.startswith("disconnect"))  # while A is short
    with ThreadPoolExecutor(LANES) as pool:
        lanes = [
            pool.submit(
                run_crashes,
                tmp_path / f"lane{i}",
                points,
                hits // LANES + (i < hits % LANES),
                kills // LANES + (i < kills % LANES),
                3 + i,
            )
            for i in range(LANES)
        ]
        results = [lane.result() for lane in lanes]
    crashes, restarts = sum(r[0] for r in results), sum(r[1] for r in results)
    record(
        "2 crashes",
        f"{len(POINTS)} points x {hits} crashes + {kills} kill -9 while mining: {crashes} stops, "
        f"{restarts} restarts, all integrity ok, replay equal, rejoined",
        "every restart consistent",
        True,
    )


def deep_reorg(tmp_path: Path, depth: int) -> float:
    miner_a = Wallet.new(PARAMS, "reorg-a").address
    miner_b = Wallet.new(PARAMS, "reorg-b").address
    a, b = make_pair(tmp_path)
    try:
        log.info("A mines %d blocks, B mines %d apart", depth, depth + 1)
        a.mine(depth, miner_a)
        b.mine(depth + 1, miner_b)
        start = time.monotonic()
        connect_nodes(a, b)
        sync_blocks([a, b], 600)
        seconds = time.monotonic() - start
        figures = History().check_final([a, b], PARAMS)
        assert figures["height"] == depth + 1
    finally:
        a.stop()
        b.stop()
    return seconds


def test_reorg_short(tmp_path: Path) -> None:
    seconds = deep_reorg(tmp_path, 50)
    record("3 reorg (short)", f"50-block reorg in {seconds:.1f} s, replay equal", "<= 60 s", True)


@pytest.mark.soak
def test_reorg_thousand(tmp_path: Path) -> None:
    seconds = deep_reorg(tmp_path, 1000)
    record(
        "3 reorg",
        f"1,000-block reorg in {seconds:.1f} s, replay equal",
        "<= 60 s",
        seconds <= 60,
    )
