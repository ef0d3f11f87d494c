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


def in_process_rate(data: Data, raws: list[bytes], label: str) -> float:
    """tx/s of parse + `submit_transaction` in this process, on a fresh copy of the chain."""
    node = open_node(data.small.copy_datadir(data.root / f"b6-inproc-{label}"), verify_processes=0)
    try:
        start = time.perf_counter()
        for raw in raws:
            node.submit_transaction(Transaction.from_bytes(raw))
        return len(raws) / (time.perf_counter() - start)
    finally:
        node.close()


def rest_rate(data: Data, raws: list[bytes], label: str) -> float:
    """tx/s through POST /api/v1/txs of a node process on a fresh copy of the chain; every
    transaction must be answered 202."""
    node = NodeProc(data.small.copy_datadir(data.root / f"b6-rest-{label}"))
    try:
        seconds, statuses = post_txs(node.url, raws)
        accepted = sum(1 for s in statuses if s == 202)
        if accepted != len(raws):
            raise RuntimeError(f"only {accepted} of {len(raws)} accepted")
        return len(raws) / seconds
    finally:
        node.stop()


def run(data: Data) -> list[Row]:
    raws = payments(data, 1)[: 100 if data.smoke else 2_000]  # 16 clients x 125
    bounds: list[float] = []
    rates: list[float] = []
    for n in range(1 if data.smoke else ROUNDS):
        bounds.append(in_process_rate(data, raws, str(n)))
        rates.append(rest_rate(data, raws, str(n)))
    rounds = ", ".join(f"{r:,.0f}/{b:,.0f}" for r, b in zip(rates, bounds, strict=True))
    return [
        Row(
            "B6",
            f"POST /txs, 16 keep-alive clients, {len(raws):,} txs",
            max(rates),
            "tx/s",
            max(bounds),
            "tx/s in-process submit",
            0.5,
            ">= 0.5",
            note=f"B6 rounds (REST/in-process tx/s): {rounds}; best of each kept",
        ),
    ]
