"""An example functional test to copy; it runs with the others (pytest collects *_test.py).

Copy to `test_<area>_<name>.py` (areas: p2p_, feature_, mempool_, mining_, interface_,
wallet_), keep the `pytestmark`, and write the test as a log: each step starts with a
`log.info` sentence saying what happens next and why. Use the fewest nodes that show the
point, wait on conditions (`wait_until`, `sync_blocks`), never on `time.sleep`.

Run it with: .venv/bin/python -m pytest tests/functional/example_test.py -q
"""

from __future__ import annotations

import pytest

from .framework import TestFramework, connect_nodes, sync_blocks, wait_until

# Every functional test starts real processes: mark it so `-m "not functional"` can skip it,
# and give it a deadline well above its normal run time.
pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]


def test_example(framework: TestFramework) -> None:
    log = framework.log

    log.info("Start two regtest nodes; they do not know each other yet")
    node0, node1 = framework.add_nodes(2)

    log.info("Connect node0 to node1 through POST /api/v1/peers (an admin call)")
    connect_nodes(node0, node1)

    log.info("Mine 3 blocks on node0 to a fresh wallet's address")
    miner = framework.wallet("example-miner")
    hashes = node0.mine(3, miner.address)
    assert len(hashes) == 3

    log.info("node1 receives them: both nodes report the same tip")
    tip = sync_blocks([node0, node1])
    assert tip == hashes[-1]
    assert node1.height == 3

    log.info("The miner's coinbases are immature (maturity is 10 blocks on regtest)")
    account = node1.account(miner.address)
    assert account["balance"] == 0
    assert account["immature"] == 3 * 50 * 10**8

    log.info("Stop node1 and restart it: it reopens at the same tip")
    node1.restart()
    wait_until(lambda: node1.tip == tip, 30, description="node1 back at the tip")

    # No teardown needed: the `framework` fixture stops every node, even when an assert fails,
    # and a failure report shows the tail of each node's log (DATADIR/process.log).
