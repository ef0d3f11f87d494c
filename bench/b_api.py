"""B6: mempool acceptance through `POST /api/v1/txs` (16 concurrent keep-alive httpx clients
against a real node process) against in-process `Node.submit_transaction` of the same
transactions (parsed from the same bytes) on a copy of the same chain."""

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


def in_process_rate(data: Data, raws: list[bytes]) -> float:
    node = open_node(data.small.copy_datadir(data.root / "b6-inproc"), verify_processes=0)
    try:
        start = time.perf_counter()
        for raw in raws:
            node.submit_transaction(Transaction.from_bytes(raw))
        return len(raws) / (time.perf_counter() - start)
    finally:
        node.close()


def rest_rate(data: Data, raws: list[bytes]) -> float:
    node = NodeProc(data.small.copy_datadir(data.root / "b6-rest"))
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
    bound = in_process_rate(data, raws)
    rate = rest_rate(data, raws)
    return [
        Row(
            "B6",
            f"POST /txs, 16 keep-alive clients, {len(raws):,} txs",
            rate,
            "tx/s",
            bound,
            "tx/s in-process submit",
            0.5,
            ">= 0.5",
        ),
    ]
