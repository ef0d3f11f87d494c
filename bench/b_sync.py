"""B5: initial sync over loopback from one peer (a node process serving the chain to a fresh
node process), in payments per second, against connecting the same blocks from local storage
in-process with the same signature workers (the B4 path).

Sizes: the issue asks for 1,000 blocks of 1,000 payments; building and syncing a million
signed payments twice takes longer than the whole 10-minute budget on 2 cores, so the run
uses `Data.sync_blocks` blocks of `Data.sync_payments` (the ratio is per payment).
"""

from __future__ import annotations

from .b_connect import connect_rate
from .data import Data
from .harness import Row
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
