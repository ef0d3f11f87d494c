"""B6: mempool acceptance through `POST /api/v1/txs` (16 concurrent keep-alive connections
from one load process against a real node process) against in-process
`Node.submit_transaction` of the same transactions (parsed from the same bytes) on a copy of
the same chain.

The two are measured in alternating rounds, each on a fresh copy of the chain, and the best
round of each is kept: on cores shared with other work a single pair drifts 30 to 50 %.
"""

from __future__ import annotations

import time

from powchain.core.transaction import Transaction

from .chain import open_node, plain_key
from .data import Data
from .harness import Row
from .proc import NodeProc, post_txs


def payments(data: Data, per_sender: int) -> list[bytes]:
    """Raw payments: each funded sender pays `per_sender` times, in nonce order."""
    chain = data.small
    first_nonce = data.blocks  # each payment block used one nonce per sender
    return [
        s.pay(plain_key(f"m{i}/{k}"), 1_000, first_nonce + k).serialize()
        for k in range(per_sender)
        for i, s in enumerate(chain.senders)
    ]


ROUNDS = 3


def in_process_rate(data: Data, raws: list[bytes], label: str) -> tuple[float, float]:
    """(tx/s, CPU seconds per tx) of parse + `submit_transaction` in this process, on a
    fresh copy of the chain."""
    node = open_node(data.small.copy_datadir(data.root / f"b6-inproc-{label}"), verify_processes=0)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for raw in raws:
            node.submit_transaction(Transaction.from_bytes(raw))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        return len(raws) / seconds, cpu / len(raws)
    finally:
        node.close()


def rest_rate(data: Data, raws: list[bytes], label: str) -> tuple[float, float]:
    """(tx/s, node CPU seconds per tx) through POST /api/v1/txs of a node process on a fresh
    copy of the chain; every transaction must be answered 202."""
    node = NodeProc(data.small.copy_datadir(data.root / f"b6-rest-{label}"))
    try:
        cpu = node.cpu_seconds()
        seconds, statuses = post_txs(node.url, raws)
        cpu = node.cpu_seconds() - cpu
        accepted = sum(1 for s in statuses if s == 202)
        if accepted != len(raws):
            raise RuntimeError(f"only {accepted} of {len(raws)} accepted")
        return len(raws) / seconds, cpu / len(raws)
    finally:
        node.stop()


def run(data: Data) -> list[Row]:
    raws = payments(data, 1)[: 100 if data.smoke else 2_000]  # 16 clients x 125
    bounds: list[tuple[float, float]] = []
    rates: list[tuple[float, float]] = []
    for n in range(1 if data.smoke else ROUNDS):
        bounds.append(in_process_rate(data, raws, str(n)))
        rates.append(rest_rate(data, raws, str(n)))
    rounds = ", ".join(f"{r:,.0f}/{b:,.0f}" for (r, _), (b, _) in zip(rates, bounds, strict=True))
    node_us = min(c for _, c in rates) * 1e6
    inproc_us = min(c for _, c in bounds) * 1e6
    return [
        Row(
            "B6",
            f"POST /txs, 16 keep-alive clients, {len(raws):,} txs",
            max(r for r, _ in rates),
            "tx/s",
            max(b for b, _ in bounds),
            "tx/s in-process submit",
            0.5,
            ">= 0.5",
            note=f"B6 rounds (REST/in-process tx/s): {rounds}; best of each kept. CPU per tx, "
            f"least of the rounds: node process {node_us:.0f} us, in-process {inproc_us:.0f} us",
        ),
    ]
