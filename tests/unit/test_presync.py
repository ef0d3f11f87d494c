"""Header presync (p2p/presync.py): a low-work chain is followed in constant memory and
counted only for work its headers really carry."""

from __future__ import annotations

import os

import pytest

from powchain.consensus.errors import Rejected
from powchain.consensus.pow import block_work
from powchain.core.params import REGTEST, genesis_block
from powchain.p2p.presync import Presync, Progress
from tests.soak.hostile import BITS, branch, solve

GENESIS = genesis_block(REGTEST)
WORK = block_work(BITS)


def start(target_blocks: int) -> Presync:
    """A presync forking at genesis that must reach `target_blocks` blocks of work."""
    return Presync.start(GENESIS.hash, 0, WORK, (target_blocks + 1) * WORK)


def test_full_messages_below_the_target_ask_for_more_then_end_low() -> None:
    headers = branch(GENESIS.hash, GENESIS.header.time, 30, os.urandom(32))
    presync = start(100)
    assert presync.feed(headers[:20], REGTEST, full=True) is Progress.MORE
    assert presync.follows(headers[20:])
    assert presync.feed(headers[20:], REGTEST, full=False) is Progress.LOW_WORK
    assert (presync.height, presync.count, presync.last_hash) == (30, 30, headers[-1].hash)
    assert presync.chainwork == 31 * WORK


def test_reaching_the_tip_work_is_proven() -> None:
    headers = branch(GENESIS.hash, GENESIS.header.time, 12, os.urandom(32))
    presync = start(12)
    assert presync.feed(headers[:11], REGTEST, full=True) is Progress.MORE
    assert presync.feed(headers[11:], REGTEST, full=True) is Progress.PROVEN
    assert presync.fork_hash == GENESIS.hash


def test_a_header_that_does_not_link_is_misbehaviour() -> None:
    headers = branch(GENESIS.hash, GENESIS.header.time, 5, os.urandom(32))
    presync = start(100)
    with pytest.raises(Rejected) as info:
        presync.feed([headers[0], headers[2]], REGTEST, full=True)
    assert info.value.reason == "bad-presync-link"
    assert not presync.follows(headers[3:])


def test_a_header_without_its_claimed_work_is_misbehaviour() -> None:
    good = branch(GENESIS.hash, GENESIS.header.time, 1, os.urandom(32))
    bad = solve(good[0].with_nonce(0), valid=False)
    with pytest.raises(Rejected) as info:
        start(100).feed([bad], REGTEST, full=True)
    assert info.value.reason == "high-hash"
