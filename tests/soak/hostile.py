"""Helpers of the hostile-peer and API-abuse scenarios: regtest header and block builders
(regtest proof of work is trivial), a node's resident memory and its block-index size."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from powchain.consensus.pow import bits_to_target
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import merkle_root
from powchain.core.params import REGTEST
from powchain.core.transaction import Transaction
from powchain.core.units import COIN

__all__ = ["solve", "branch", "orphan_block", "rss_kib", "index_rows", "RssSampler"]

BITS = REGTEST.pow_limit_bits  # regtest never retargets


def solve(header: BlockHeader, valid: bool = True) -> BlockHeader:
    """`header` with the first nonce whose hash meets (valid) or misses its own target."""
    target = bits_to_target(header.bits)
    for nonce in range(1_000_000):
        candidate = header.with_nonce(nonce)
        if (int.from_bytes(candidate.hash, "little") <= target) == valid:
            return candidate
    raise AssertionError("no nonce found")


def branch(
    prev: bytes, prev_time: int, length: int, salt: bytes, bits: int = BITS
) -> list[BlockHeader]:
    """`length` solved headers on `prev`, one second apart; `salt` (32 bytes) stands in for the
    merkle root so that branches on the same parent differ."""
    headers: list[BlockHeader] = []
    for i in range(length):
        header = solve(BlockHeader(1, prev, salt, prev_time + 1 + i, bits, 0))
        headers.append(header)
        prev = header.hash
    return headers


def orphan_block(payee: bytes, seed: int, time: int) -> Block:
    """A solved, well-formed block whose parent nobody knows."""
    coinbase = Transaction.coinbase(REGTEST.chain_id, 5 + seed % 1000, payee, 50 * COIN)
    prev = seed.to_bytes(8, "little") + os.urandom(24)
    header = BlockHeader(1, prev, merkle_root([coinbase.txid]), time, BITS, 0)
    return Block(solve(header), (coinbase,))


def rss_kib(pid: int) -> int:
    """Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def index_rows(datadir: Path) -> int:
    """Headers the node has indexed (rows of block_index), read beside the running node."""
    with sqlite3.connect(f"file:{datadir / 'chain.sqlite'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM block_index").fetchone()[0])


class RssSampler:
    """Highest VmRSS (KiB) of `pid` seen while in the `with` block, sampled every 5 ms from a
    thread (a peak that lasts less than that may be missed)."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.before = rss_kib(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))

    @property
    def grown_mib(self) -> float:
        return (self.peak - self.before) / 1024
