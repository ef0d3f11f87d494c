"""Signatures of large blocks checked in worker processes: same verdicts as inline checks."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from powchain.consensus.errors import Rejected
from powchain.core.transaction import Transaction
from powchain.core.units import COIN
from powchain.node.chainstate import ChainState
from powchain.node.sigverify import PendingSignatures, SignatureVerifier, verify_packed

from .chainbuilder import ALICE, MINER, ChainBuilder
from .test_chainstate import MATURITY, balance, feed, open_chainstate, snapshot


@pytest.fixture
def verifier() -> Iterator[SignatureVerifier]:
    v = SignatureVerifier(1, min_batch=1)  # every block goes to the worker
    yield v
    v.close()


@pytest.fixture
def cs(tmp_path: Path, verifier: SignatureVerifier) -> ChainState:
    state = open_chainstate(tmp_path / "node")
    state.verifier = verifier
    return state


def payments(n: int, bad_at: int | None = None) -> list[Transaction]:
    txs = [MINER.transfer(ALICE.pub, COIN, fee=1_000, nonce=i) for i in range(n)]
    if bad_at is not None:
        sig = bytearray(txs[bad_at].signature)
        sig[5] ^= 1
        txs[bad_at] = txs[bad_at].with_signature(bytes(sig))
    return txs


def test_worker_checked_block_connects(cs: ChainState) -> None:
    builder = ChainBuilder()
    base = builder.chain(MATURITY + 1)
    feed(cs, base)
    block = builder.block(base[-1], payments(6))
    feed(cs, [block])
    assert cs.tip.hash == block.hash
    assert balance(cs, ALICE.pub) == (6 * COIN, 0, 0)


def test_a_bad_signature_found_by_a_worker_rejects_the_block(cs: ChainState) -> None:
    builder = ChainBuilder()
    base = builder.chain(MATURITY + 1)
    feed(cs, base)
    before = snapshot(cs)
    block = builder.block(base[-1], payments(6, bad_at=4))
    with pytest.raises(Rejected) as info:
        feed(cs, [block])
    assert info.value.reason == "bad-signature"
    assert cs.tip.hash == base[-1].hash
    assert snapshot(cs) == before  # the writes made while the workers ran were rolled back


def test_verify_packed_names_the_first_bad_record() -> None:
    txs = payments(3, bad_at=1)
    packed = b"".join(tx.sender + tx.sighash() + tx.signature for tx in txs)
    assert verify_packed(packed) == 1
    assert verify_packed(packed[:128]) == -1
    assert verify_packed(b"") == -1


def test_small_batches_stay_inline() -> None:
    v = SignatureVerifier(1, min_batch=10)
    assert v.start(payments(3)) is None
    v.close()


def pending_never_started(txs: list[Transaction], starts: list[int]) -> PendingSignatures:
    """Chunks whose futures no worker ever picked up: `check()` must verify them itself."""
    return PendingSignatures([(offset, Future()) for offset in starts], txs)


def test_chunks_no_worker_started_are_verified_by_the_caller() -> None:
    pending_never_started(payments(6), [0, 3]).check()  # no exception: all good
    with pytest.raises(Rejected) as info:
        pending_never_started(payments(6, bad_at=4), [0, 3]).check()
    assert info.value.reason == "bad-signature"
    with pytest.raises(Rejected):  # a bad one in the first chunk, stolen last
        pending_never_started(payments(6, bad_at=0), [0, 3]).check()


def test_mixed_worker_and_stolen_chunks_find_a_bad_signature(verifier: SignatureVerifier) -> None:
    txs = payments(40, bad_at=37)
    pending = verifier.start(txs)
    assert pending is not None
    with pytest.raises(Rejected) as info:
        pending.check()
    assert info.value.reason == "bad-signature"
    good = verifier.start(payments(40))
    assert good is not None
    good.check()


def test_a_dead_worker_is_replaced_and_later_blocks_still_connect(
    cs: ChainState, verifier: SignatureVerifier
) -> None:
    """Also reported (issue 11): a dead signature worker broke the pool for good, and every
    later large block aborted activation with BrokenProcessPool (not a Rejected)."""
    import os
    import signal
    import time

    builder = ChainBuilder()
    base = builder.chain(MATURITY + 1)
    feed(cs, base)
    first = builder.block(base[-1], payments(4))
    feed(cs, [first])  # the happy case: the pool is up and verified the block
    pool = verifier._pool
    assert pool is not None
    for pid in list(pool._processes):  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while not pool._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)  # the pool notices the death on its own thread
    assert pool._broken  # type: ignore[attr-defined]
    second = builder.block(first, [MINER.transfer(ALICE.pub, COIN, fee=1_000, nonce=4)])
    feed(cs, [second])
    assert cs.tip.hash == second.hash and verifier._pool is not pool
    bad = builder.block(second, payments(6, bad_at=5)[5:])  # and verdicts stay right
    with pytest.raises(Rejected) as info:
        feed(cs, [bad])
    assert info.value.reason == "bad-signature"
