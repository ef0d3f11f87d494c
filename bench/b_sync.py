"""B5: initial sync over loopback from one peer (a node process serving the chain to a fresh
node process), in payments per second, against connecting the same blocks from local storage
in-process with the same signature workers (the B4 path).

Sizes: the issue asks for 1,000 blocks of 1,000 payments; building and syncing a million
signed payments twice takes longer than the whole 10-minute budget on 2 cores, so the run
uses `Data.sync_blocks` blocks of `Data.sync_payments` (the ratio is per payment).

B10b: the same path with small blocks, `Data.growth_blocks` (1,000 vs 5,000) blocks of
`Data.growth_payments` payments: the per-payment sync time of the longer chain over the
shorter's. Both sinks start at the funded state, so only the payment blocks are synced.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

from powchain.core.block import Block

from .b_connect import connect_rate
from .chain import funded_dir, open_node
from .data import Chain, Data
from .harness import Row, growth_row
from .proc import NodeProc


def run(data: Data) -> list[Row]:
    chain = data.sync
    height = len(chain.raw)
    payments = data.sync_blocks * data.sync_payments
    bound = connect_rate(chain, data.root / "b5-local", 2)
    source = NodeProc(chain.copy_datadir(data.root / "b5-source"))
    sink = NodeProc(data.root / "b5-sink")
    try:
        sink.connect(source)
        seconds = sink.wait_height(height, timeout=600)
    finally:
        sink.stop()
        source.stop()
    # the funding blocks are synced too; count only the measured payments' share of the time
    rate = payments / seconds
    return [
        Row(
            "B5",
            f"initial sync, {data.sync_blocks} blocks x {data.sync_payments:,} payments",
            rate,
            "tx/s",
            bound,
            "tx/s local connect",
            0.6,
            ">= 0.6",
            note=f"B5 synced {height} blocks in {seconds:.1f} s (funding blocks included)",
        ),
    ]


def _source_datadir(chain: Chain, blocks: int, dest: Path) -> float:
    """Make `dest` a datadir at the funded state plus the first `blocks` payment blocks of
    `chain`, connected in-process; returns the seconds of those `process_block` calls."""
    shutil.copytree(funded_dir(chain.datadir), dest)
    parsed = [Block.parse(raw) for raw in chain.raw[chain.first_payment :][:blocks]]
    node = open_node(dest)
    try:
        started = time.perf_counter()
        for block in parsed:
            node.process_block(block)
        return time.perf_counter() - started
    finally:
        node.close()


def _sync_seconds(chain: Chain, source_dir: Path, blocks: int, sink_dir: Path) -> float:
    """Wall seconds for a fresh node process at the funded state to sync `blocks` payment
    blocks from a node process serving `source_dir`, from the dial to the height."""
    shutil.copytree(funded_dir(chain.datadir), sink_dir)
    source = NodeProc(source_dir)
    sink = NodeProc(sink_dir)
    try:
        started = time.perf_counter()
        sink.connect(source)
        sink.wait_height(chain.first_payment + blocks, timeout=600, poll=0.02)
        return time.perf_counter() - started
    finally:
        sink.stop()
        source.stop()


def growth(data: Data) -> list[Row]:
    """B10b: per-payment sync cost with the larger chain over the smaller one (B5's path,
    small blocks, only the payment blocks synced). The smaller size runs before and after
    the larger so load drift hits both; its bound is the mean of the two."""
    chain = data.growth
    small, large = data.growth_blocks
    payments = data.growth_payments
    sources = {n: data.root / f"b10b-source-{n}" for n in (small, large)}
    # building the sources times the same blocks connected in-process: storage's share
    local = {n: _source_datadir(chain, n, path) for n, path in sources.items()}
    runs: list[tuple[int, float]] = []
    for i, n in enumerate((small, large, small)):
        runs.append((n, _sync_seconds(chain, sources[n], n, data.root / f"b10b-sink-{i}")))
    small_cost = statistics.mean(s / (n * payments) for n, s in runs if n == small)
    large_cost = statistics.mean(s / (n * payments) for n, s in runs if n == large)
    local_growth = (local[large] / large) / (local[small] / small)
    return [
        growth_row(
            "B10b",
            f"sync cost per tx, {small:,} vs {large:,} blocks x {payments} payments",
            large_cost / small_cost,
            "B10b sync "
            + ", ".join(f"{n:,} blocks {s:.1f} s ({n * payments / s:,.0f} tx/s)" for n, s in runs)
            + f"; in-process connect of the same blocks {local[small]:.1f} s and "
            f"{local[large]:.1f} s ({local_growth:.2f}x per tx)",
        )
    ]
