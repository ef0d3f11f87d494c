"""The datadir lock and the devnet's shape (issue 12), without starting nodes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from powchain.devnet import default_miners, peers_of
from powchain.lockfile import DatadirLocked, lock_datadir


def test_a_second_lock_names_the_holder(tmp_path: Path) -> None:
    held = lock_datadir(tmp_path / "d", "powchain node")
    assert (tmp_path / "d" / ".lock").read_text() == f"{os.getpid()} powchain node\n"
    with pytest.raises(DatadirLocked) as caught:
        lock_datadir(tmp_path / "d", "powchain node")
    assert caught.value.pid == os.getpid()
    assert str(caught.value) == (
        f"{tmp_path / 'd'} is in use by PID {os.getpid()} (powchain node); stop that process "
        "first, or use another --datadir"
    )
    held.release()
    again = lock_datadir(tmp_path / "d", "powchain devnet")  # a stale file never blocks
    assert (tmp_path / "d" / ".lock").read_text().endswith(" powchain devnet\n")
    again.release()


def test_devnet_links_and_miners() -> None:
    assert [peers_of(i) for i in range(4)] == [[], [0], [0, 1], [1, 2]]
    assert max(len(peers_of(i)) for i in range(32)) == 5
    # every node reaches node 0 through earlier nodes: the graph is connected
    reach = {0}
    for i in range(1, 25):
        assert set(peers_of(i)) & reach
        reach.add(i)
    assert [default_miners(n) for n in (1, 3, 4, 5, 25)] == [1, 3, 4, 3, 3]
