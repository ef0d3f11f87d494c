"""Scenario 4: skewed clocks. A block past the 2-hour limit is refused (TIME_FUTURE: no ban,
not remembered as invalid) and accepted once the receiver's clock has caught up."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from powchain.core.params import NETWORKS
from tests.functional.framework import Wallet, sync_blocks, wait_until

from .harness import SoakNode
from .report import record

log = logging.getLogger("soak")
PARAMS = NETWORKS["regtest"]
AHEAD = PARAMS.max_future_block_time + 8


def test_future_block_refused_then_accepted(tmp_path: Path) -> None:
    miner = Wallet.new(PARAMS, "skew").address
    b = SoakNode(1, tmp_path / "b")
    b.start()
    a = SoakNode(
        0, tmp_path / "a", connect=[b.p2p_address], extra_args=["--clock-offset", str(AHEAD)]
    )
    a.start()
    try:
        wait_until(lambda: len(b.peers()) >= 1, 30, 0.1, "A and B connected")
        log.info("A, %d s ahead, mines a block B must refuse for now", AHEAD)
        a.mine(1, miner)
        mined = time.monotonic()
        wait_until(lambda: "time-too-new" in b.log_text() or b.height == 0, 10, 0.1)
        assert b.height == 0, "B accepted a block more than 2 h in its future"
        log.info("No new block: B must fetch it again by itself once its clock allows")
        sync_blocks([a, b], 60)
        seconds = time.monotonic() - mined
        assert any(p.get("connected", True) for p in a.peers()), "A was banned or dropped"
    finally:
        a.stop()
        b.stop()
    record(
        "4 clock skew (short)",
        f"block {AHEAD} s ahead refused, accepted {seconds:.0f} s after mining, no ban",
        "refused, then accepted without a new block",
        True,
    )
