"""Scenario 9: a validator network (issue 14) split 3 | 2 and healed.

Five real `powchain node --validator-key` processes of a network made with `powchain network
create --validators` (T = 3), joined through the soak links (namespaces, or the loopback proxy).
The chain makes a few final blocks; the network is cut into 3 | 2: the three keep making blocks
(they are T), the two make none (their height stays); after the heal the two catch up to the
three's tip. The functional validator tests' history checker records every (height, hash) each
node reports: no final block is ever replaced, and all nodes agree at every height.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from powchain.wallet.keystore import PASSPHRASE_ENV
from tests.functional.framework import TestFramework
from tests.functional.validator_nodes import (
    PASSPHRASE,
    History,
    ValidatorNet,
    ValidatorProcess,
    wait_heights,
)

from .harness import Cluster, SoakNode
from .report import record

pytestmark = pytest.mark.soak
log = logging.getLogger("soak")
TIMEOUT = 240.0
MAJORITY, MINORITY = {0, 1, 2}, {3, 4}


@dataclass
class ValidatorSoakNode(SoakNode, ValidatorProcess):
    """A validator of a network file (ValidatorProcess) on the soak links (SoakNode)."""

    def process_env(self) -> dict[str, str]:
        return {PASSPHRASE_ENV: PASSPHRASE, **self.env}


def test_validator_partition_three_two(tmp_path: Path) -> None:
    started = time.monotonic()
    net = ValidatorNet(TestFramework(tmp_path), 5, threshold=3)
    assert "final with 3 signatures" in net.output

    def make_node(i: int, datadir: Path) -> SoakNode:
        return ValidatorSoakNode(i, datadir, network_file=net.file, wallet=net.wallets[i])

    history = History()
    with Cluster(tmp_path, 5, make_node=make_node) as cluster:
        nodes: list[ValidatorProcess] = [
            n for n in cluster.nodes if isinstance(n, ValidatorProcess)
        ]
        assert len(nodes) == 5
        major = [nodes[i] for i in sorted(MAJORITY)]
        minor = [nodes[i] for i in sorted(MINORITY)]

        log.info("All five sign: a few final blocks")
        wait_heights(nodes, 3, history, TIMEOUT)
        line = nodes[0].status()["validators"]
        assert line["threshold"] == 3 and line["count"] == 5 and line["signing"] is True

        cluster.partition(MAJORITY, MINORITY)
        at_cut = max(history.record(n) for n in nodes)
        log.info("Cut 3 | 2 at height %d: the three keep making blocks", at_cut)
        wait_heights(major, at_cut + 4, history, TIMEOUT)
        stuck = max(history.record(n) for n in minor)
        assert stuck <= at_cut + 1, f"the minority made blocks: {stuck} (cut at {at_cut})"

        log.info("The two make none: their height stays while the three add three more")
        top = max(history.record(n) for n in major)
        wait_heights(major, top + 3, history, TIMEOUT)
        assert max(history.record(n) for n in minor) == stuck, "the minority's height moved"
        majority_tip = max(history.record(n) for n in major)

        cluster.heal()
        log.info("Healed: the two catch up to the three's tip (%d) and beyond", majority_tip)
        wait_heights(nodes, majority_tip + 1, history, TIMEOUT)
        for node in nodes:
            history.record(node, full=True)
        history.check_agreement()
        assert all(not n.validators()["evidence"] for n in nodes)
        final = max(history.record(n) for n in nodes)
    seconds = time.monotonic() - started
    record(
        "9 validator partition",
        f"5 validators, T = 3, cut 3 | 2 at height {at_cut}: the three made "
        f"{majority_tip - at_cut} blocks, the two stayed at {stuck}; after the heal all at "
        f">= {majority_tip + 1} (height {final}), 0 final blocks replaced, one hash per height; "
        f"{cluster.note}; {seconds:.0f} s",
        "majority final, minority halted, caught up, none replaced",
        True,
    )
