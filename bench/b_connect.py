"""B3, B4, B10 (accounts): block connect throughput against raw coincurve verification.

A fresh node receives the funding blocks unmeasured, then each payment block is timed from
its raw bytes through `Node.process_block(Block.parse(raw))`: parse, context-free and context
checks, signatures, state and the one SQLite commit. B3 verifies inline (1 core); B4 spreads
signatures over 2 worker processes. The bound is coincurve's BIP-340 verify over the same
blocks' (key, sighash, signature) triples, keys parsed beforehand. Each is the best of three
alternating rounds (B10a: small and big state alternating too).
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from coincurve.keys import PublicKeyXOnly

from powchain.core.block import Block

from .chain import funded_dir, open_node
from .data import Chain, Data
from .harness import Row, growth_row


def verify_rate(raw_blocks: list[bytes]) -> float:
    """Raw BIP-340 verifications per second over every payment of `raw_blocks`."""
    triples = []
    for raw in raw_blocks:
        for tx in Block.parse(raw).txs[1:]:
            triples.append((PublicKeyXOnly(tx.sender), tx.sighash(), tx.signature))
    start = time.perf_counter()
    for key, msg, sig in triples:
        key.verify(sig, msg)
    return len(triples) / (time.perf_counter() - start)


def connect_rate(chain: Chain, workdir: Path, processes: int) -> float:
    """Median payments/s over the payment blocks of `chain`, on a fresh node that starts from
    a copy of the funded state."""
    shutil.copytree(funded_dir(chain.datadir), workdir)
    node = open_node(workdir, verify_processes=processes)
    try:
        if node.chainstate.verifier is not None:
            node.chainstate.verifier.warm_up()
        rates = []
        for block in chain.raw[chain.first_payment :]:
            start = time.perf_counter()
            parsed = Block.parse(block)
            node.process_block(parsed)
            rates.append((len(parsed.txs) - 1) / (time.perf_counter() - start))
        return statistics.median(rates)
    finally:
        node.close()


def run(data: Data) -> list[Row]:
    root = data.root
    small, big = data.small, data.big
    payments = small.raw[small.first_payment :]
    rounds = 1 if data.smoke else 3
    bounds, b3s, b4s = [], [], []
    for r in range(rounds):  # alternating rounds, best of each: load only slows a round down
        bounds.append(verify_rate(payments))
        b3s.append(connect_rate(small, root / f"b3-{r}", 0))
        b4s.append(connect_rate(small, root / f"b4-{r}", 2))
    bound, b3, b4 = max(bounds), max(b3s), max(b4s)
    smalls, bigs = [], []
    for r in range(rounds):
        smalls.append(connect_rate(small, root / f"b10-small-{r}", 0))
        bigs.append(connect_rate(big, root / f"b10-big-{r}", 0))
    b3_small, b3_big = max(smalls), max(bigs)
    n = data.senders
    return [
        Row(
            "B3",
            f"block connect, {n:,} payments, 1 core",
            b3,
            "tx/s",
            bound,
            "verify/s coincurve",
            0.5,
            ">= 0.5",
        ),
        Row(
            "B4",
            "block connect, signatures in 2 workers",
            b4,
            "tx/s",
            b3,
            "tx/s B3",
            1.5,
            ">= 1.5x",
        ),
        growth_row(
            "B10a",
            f"connect cost per tx, +{data.existing:,} accounts vs none",
            b3_small / b3_big,
            f"B10a connect rate with the big state {b3_big:,.0f} tx/s, small {b3_small:,.0f}",
        ),
    ]
