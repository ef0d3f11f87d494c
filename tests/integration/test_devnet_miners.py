"""`powchain devnet` runs one `powchain miner` per node against node0's Stratum port, and
starts again a miner process that exited (real processes, no node needed: the miner retries
its connection until a pool answers)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from powchain.devnet import DevnetNode, restart_dead_miners


def test_a_dead_miner_is_started_again(tmp_path: Path) -> None:
    nodes = [DevnetNode(i, tmp_path / f"node{i}", 1, 2, bytes([i + 1]) * 32) for i in range(2)]
    pool = "stratum+tcp://127.0.0.1:9"  # nothing listens: the miners keep retrying
    try:
        for node in nodes:
            node.datadir.mkdir(parents=True)
            node.start_miner(pool)
            assert node.miner is not None
            assert node.miner_command(pool)[-4:] == ["--pool", pool, "--user", node.address]
        assert restart_dead_miners(nodes, pool) == []
        first = nodes[1].miner
        assert first is not None
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        assert restart_dead_miners(nodes, pool) == [1]
        assert nodes[1].miner is not first and nodes[1].miner.poll() is None  # type: ignore[union-attr]
    finally:
        for node in nodes:
            node.stop()
    assert all(node.miner is None for node in nodes)
