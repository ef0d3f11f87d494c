"""Signature checks of a block spread over worker processes (DESIGN: runtime model).

`connect_block(..., check_signatures=False)` applies the state rules on the loop while the
workers verify every BIP-340 signature of the same block; the block connects only when both
succeed. The signatures go out in CHUNKS pieces; when the caller's own work is done,
`check()` verifies here every piece no worker has started yet (work stealing: the caller's
core is not left idle while a worker catches up). Small blocks (fewer than `min_batch`
signatures) are verified inline, where a round trip to a worker would cost more than it saves.
The pool starts on the first large block, so a node that never sees one never spawns a worker.
Consensus is unchanged: the same `core.keys.schnorr_verify` runs on the same (key, sighash,
signature) triples.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..consensus.errors import Kind, Rejected
from ..core.keys import schnorr_verify
from ..core.transaction import Transaction

__all__ = ["SignatureVerifier", "PendingSignatures", "verify_packed", "MIN_BATCH"]

log = logging.getLogger(__name__)

MIN_BATCH = 256
"""Blocks with fewer signatures than this are verified inline."""
CHUNKS = 16
"""Pieces a block's signatures are split into (at least 2 per worker)."""
ITEM = 32 + 32 + 64  # pubkey | sighash | signature


def verify_packed(packed: bytes) -> int:
    """Worker entry: `packed` is ITEM-byte records (pubkey32, msg32, sig64); returns the index
    of the first record that does not verify, or -1 when all do."""
    for i in range(len(packed) // ITEM):
        rec = packed[i * ITEM : (i + 1) * ITEM]
        if not schnorr_verify(rec[:32], rec[32:64], rec[64:]):
            return i
    return -1


class PendingSignatures:
    """Signature checks in flight for one block; `check()` waits and raises if one failed."""

    def __init__(self, jobs: list[tuple[int, Future[int]]], txs: Sequence[Transaction]) -> None:
        self._jobs = jobs  # (index of the chunk's first tx, future)
        self._txs = txs

    def check(self) -> None:
        """Verify here the chunks no worker has started (newest first), wait for the others.

        Raises `Rejected(CONSENSUS, 'bad-signature')` when any signature does not verify.
        """
        for offset, job in reversed(self._jobs):
            if job.cancel() and _first_bad_inline(self._chunk(offset)) >= 0:
                raise _bad_signature()
        for offset, job in self._jobs:
            if job.cancelled():
                continue
            try:
                bad = job.result()
            except BrokenProcessPool:  # a worker died: do this chunk here
                bad = _first_bad_inline(self._chunk(offset))
            if bad >= 0:
                raise _bad_signature()

    def _chunk(self, offset: int) -> Sequence[Transaction]:
        starts = [o for o, _ in self._jobs] + [len(self._txs)]
        return self._txs[offset : starts[starts.index(offset) + 1]]


def _bad_signature() -> Rejected:
    message = "signature does not verify for the sender's key"
    return Rejected(Kind.CONSENSUS, "bad-signature", message)


def _first_bad_inline(txs: Sequence[Transaction]) -> int:
    for i, tx in enumerate(txs):
        if not schnorr_verify(tx.sender, tx.sighash(), tx.signature):
            return i
    return -1


class SignatureVerifier:
    """A lazily started pool of `processes` workers that verify blocks' signatures."""

    def __init__(self, processes: int, min_batch: int = MIN_BATCH) -> None:
        self.processes = max(1, processes)
        self.min_batch = min_batch
        self._pool: ProcessPoolExecutor | None = None

    def start(self, txs: Sequence[Transaction]) -> PendingSignatures | None:
        """Submit the signatures of `txs` (no coinbase) to the workers; None when the batch is
        too small or no worker pool can be started, and the caller verifies inline. A pool
        broken by a dead worker is replaced (BrokenProcessPool never reaches the caller; a
        chunk whose worker died is verified in `check()`)."""
        if len(txs) < self.min_batch or any(
            len(tx.sender) != 32 or len(tx.signature) != 64 for tx in txs
        ):
            return None  # malformed lengths never pass check_block; inline keeps records aligned
        chunks = max(CHUNKS, self.processes * 2)
        size = -(-len(txs) // chunks)
        parts = [
            (
                offset,
                b"".join(tx.sender + tx.sighash() + tx.signature for tx in txs[offset:][:size]),
            )
            for offset in range(0, len(txs), size)
        ]
        for _attempt in range(2):  # a dead worker breaks the pool: start a new one, once
            pool = self._ensure_pool()
            try:
                jobs = [(offset, pool.submit(verify_packed, packed)) for offset, packed in parts]
            except BrokenProcessPool:
                log.warning("a signature worker died; restarting the pool")
                self._discard_pool()
                continue
            return PendingSignatures(jobs, txs)
        return None  # no pool will start: the caller verifies inline

    def warm_up(self) -> None:
        """Start the workers now (benchmarks; otherwise the first large block does)."""
        pool = self._ensure_pool()
        for job in [pool.submit(verify_packed, b"") for _ in range(self.processes)]:
            job.result()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.processes, mp_context=ctx)
            log.info("signature verification: %d worker processes", self.processes)
        return self._pool

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
