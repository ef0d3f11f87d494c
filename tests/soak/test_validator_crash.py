"""Scenario 10: a validator crashed around signing again and again (issue 14).

Three real `powchain node --validator-key` processes (T = 2), as in the functional test
`test_crash_at_every_point_around_signing_never_double_signs`, but repeated: the victim is
stopped at each crash point around signing (`sign-before-record`, `sign-after-record`,
`sign-after-send`) CYCLES times, at its 1st, 2nd, 3rd hit in turn (`POWCHAIN_CRASH_AT=point:N`,
node/crashpoints.py), then killed with kill -9 KILLS times at random moments (a random number
of its signatures after a restart), restarted each time. After every restart: the victim's
persisted signing record never holds two hashes for one height nor goes back in height, no
final block on any node carrying the victim's signature differs from what it recorded, no node
holds equivocation evidence, no final block is replaced and the chain keeps finalising.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import pytest

from powchain.core.hashing import hash_to_hex
from powchain.core.keys import encode_address
from powchain.node.crashpoints import CRASH_EXIT_CODE, ENV_VAR
from powchain.node.signrecord import RECORD_FILE
from tests.functional.framework import TestFramework, wait_until
from tests.functional.validator_nodes import History, ValidatorNet, ValidatorProcess, wait_heights

from .report import record

pytestmark = pytest.mark.soak
log = logging.getLogger("soak")
TIMEOUT = 240.0
POINTS = ("sign-before-record", "sign-after-record", "sign-after-send")
CYCLES = 5  # per point, hit counts 1, 2, 3, 1, 2
KILLS = 4


class Checker:
    """Every (height -> hash) the victim's signing record ever held, checked against itself
    and against every node's chain and evidence."""

    def __init__(self, victim: ValidatorProcess, address: str, history: History) -> None:
        self.victim, self.address, self.history = victim, address, history
        self.signed: dict[int, str] = {}
        self.top = 0

    def read_record(self) -> tuple[int, str] | None:
        path = Path(self.victim.datadir) / RECORD_FILE
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        return int(doc["height"]), hash_to_hex(bytes.fromhex(doc["hash"]))  # as the API shows it

    def record_height(self) -> int:
        entry = self.read_record()
        return 0 if entry is None else entry[0]

    def check(self, nodes: list[ValidatorProcess]) -> None:
        entry = self.read_record()
        if entry is not None:
            height, block_hash = entry
            assert height >= self.top, f"signing record went back: {height} < {self.top}"
            before = self.signed.setdefault(height, block_hash)
            assert before == block_hash, f"victim signed {before} and {block_hash} at {height}"
            self.top = height
        for node in (n for n in nodes if n.running):  # the victim's record even when down
            tip = self.history.record(node)
            assert not node.validators()["evidence"], f"{node.name} holds equivocation evidence"
            for h, block_hash in self.signed.items():
                if h > tip or self.address not in node.block(h)["signers"]:
                    continue
                final = node.hash_at(h)
                assert final == block_hash, f"{node.name}: victim's signature on {final} at {h}"


def test_validator_crashed_around_signing_repeatedly(tmp_path: Path) -> None:
    started = time.monotonic()
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    log.info("seed %d", seed)
    framework = TestFramework(tmp_path)
    crashes = kills = 0
    try:
        net = ValidatorNet(framework, 3)  # T = 2
        nodes = [net.add(i) for i in range(3)]
        net.connect_all()
        history = History()
        wait_heights(nodes, 2, history, TIMEOUT)
        victim = nodes[2]
        checker = Checker(victim, encode_address(net.params.hrp, net.keys[2]), history)

        def restart_and_check() -> None:
            victim.env = {}
            victim.start()
            top = max(history.record(n) for n in nodes[:2])
            wait_heights(nodes, top + 2, history, TIMEOUT)
            checker.check(nodes)

        for point in POINTS:
            for cycle in range(CYCLES):
                hit = cycle % 3 + 1
                log.info("crash at %s:%d (cycle %d), then restart", point, hit, cycle + 1)
                victim.stop()
                victim.env = {ENV_VAR: f"{point}:{hit}"}
                victim.start(wait=False)  # it may crash before its API answers
                wait_until(
                    lambda: not victim.running, TIMEOUT, 0.2, f"{victim.name} to crash at {point}"
                )
                assert victim.process is not None
                assert victim.process.returncode == CRASH_EXIT_CODE, victim.log_tail()
                victim.stop()
                crashes += 1
                checker.check(nodes)
                restart_and_check()

        for n in range(KILLS):
            after = rng.randint(0, 3)  # signatures after the restart before the kill
            goal = checker.record_height() + after
            log.info("kill -9 %d after %d more signatures", n + 1, after)
            wait_until(
                lambda g=goal: checker.record_height() >= g, TIMEOUT, 0.05, "victim to sign more"
            )
            victim.kill9()
            kills += 1
            checker.check(nodes)
            restart_and_check()

        for node in nodes:
            history.record(node, full=True)
        history.check_agreement()
        checker.check(nodes)
        final = max(history.record(n) for n in nodes)
    finally:
        framework.shutdown()
    seconds = time.monotonic() - started
    record(
        "10 validator crash loop",
        f"3 validators, T = 2: victim crashed {crashes} times at {len(POINTS)} signing points "
        f"(hits 1-3) and kill -9'd {kills} times (seed {seed}); {len(checker.signed)} recorded "
        f"heights, one hash each; 0 evidence, 0 final blocks replaced, height {final}; "
        f"{seconds:.0f} s",
        "no double sign, no evidence, keeps finalising",
        True,
    )
