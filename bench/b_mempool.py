"""B11 (issue 11): the loop's cost of one transaction at a full mempool, against the cost of one
BIP-340 verification (coincurve) measured in the same run.

The pool (a real `Mempool` over a funded in-memory state view) is filled to its byte bound
with signed, executable payments; then
- B11a: a forgery (well formed, funded sender, high fee rate, bad signature) must cost about
  one verification: nothing that grows with the pool runs before the signature (before issue
  11 the eviction plan sorted the pool first: 257 ms at 80,000 entries, ~10,000 verifications);
- B11b: an honest payment that evicts the lowest-ranked entry costs one verification plus
  O(log n) index work.
Targets are ratios to the verification, so they hold on any machine.
"""

from __future__ import annotations

import hashlib
import statistics
import time

from powchain.consensus.errors import Rejected
from powchain.consensus.state import AccountState
from powchain.core.keys import schnorr_sign, schnorr_verify, xonly_pubkey
from powchain.core.params import REGTEST
from powchain.core.transaction import TX_VERSION, Transaction
from powchain.node.mempool import Mempool

from .data import Data
from .harness import Row

PER_SENDER = 50
ROUNDS = 40


class _Funded:
    """Every key holds plenty: the state view of the flood."""

    def get_account(self, pubkey: bytes) -> AccountState:
        return AccountState(10**15, 0)

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        return None


def _payment(secret: bytes, nonce: int, fee: int, signed: bool = True) -> Transaction:
    unsigned = Transaction(
        TX_VERSION, REGTEST.chain_id, nonce, xonly_pubkey(secret), bytes(32), 1, fee, b"", b""
    )
    return unsigned.with_signature(
        schnorr_sign(secret, unsigned.sighash()) if signed else bytes(64)
    )


def _secret(label: str) -> bytes:
    return hashlib.sha256(b"powchain-bench-b11/" + label.encode()).digest()


def _full_pool(entries: int) -> Mempool:
    pool = Mempool(REGTEST, max_bytes=entries * 158, expiry=10**9)
    view = _Funded()
    for k in range(entries):
        secret = _secret(f"s{k // PER_SENDER}")
        pool.accept(_payment(secret, k % PER_SENDER, 158 * (2 + k % 5)), view, 0)
    return pool


def run(data: Data) -> list[Row]:
    entries = 2_000 if data.smoke else 80_000
    pool = _full_pool(entries)
    view = _Funded()
    forged_costs, honest_costs, verify_costs = [], [], []
    for j in range(ROUNDS):
        forged = _payment(_secret("forger"), 0, 158 * 100 + j, signed=False)
        start = time.perf_counter()
        try:
            pool.accept(forged, view, 0)
        except Rejected as exc:
            forged_costs.append(time.perf_counter() - start)
            if exc.reason != "bad-signature":
                raise
        else:
            raise RuntimeError("a forged transaction was accepted")
        honest = _payment(_secret(f"honest{j}"), 0, 158 * 100 + j)
        start = time.perf_counter()
        pool.accept(honest, view, 0)  # evicts the lowest-ranked entry (and its later nonces)
        honest_costs.append(time.perf_counter() - start)
        start = time.perf_counter()
        schnorr_verify(honest.sender, honest.sighash(), honest.signature)
        verify_costs.append(time.perf_counter() - start)
    verify = statistics.median(verify_costs)
    note = f"{entries:,} entries ({entries * 158 / 1e6:.1f} MB), median of {ROUNDS}"
    return [
        Row(
            "B11a",
            "forged tx at a full mempool",
            statistics.median(forged_costs) * 1000,
            "ms",
            verify * 1000,
            "ms per BIP-340 verify",
            3.0,
            "<= 3x one verify",
            True,
            note,
        ),
        Row(
            "B11b",
            "evicting tx at a full mempool",
            statistics.median(honest_costs) * 1000,
            "ms",
            verify * 1000,
            "ms per BIP-340 verify",
            5.0,
            "<= 5x one verify",
            True,
            note,
        ),
    ]
