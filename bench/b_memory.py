"""B9: resident memory of a node process, idle on a fresh regtest chain, and loaded with the
big chain's accounts (100,000 + senders) and a 20,000-transaction mempool. No bound: the
target is absolute (MB)."""

from __future__ import annotations

from .chain import plain_key
from .data import Data
from .harness import Row
from .proc import NodeProc, post_txs


def run(data: Data) -> list[Row]:
    idle = NodeProc(data.root / "b9-idle")
    try:
        idle_mb = idle.rss_mb()
    finally:
        idle.stop()
    chain = data.big
    per_sender = 2 if data.smoke else -(-data.b9_mempool // data.senders)
    raws = [
        s.pay(plain_key(f"b9/{i}/{k}"), 1_000, data.blocks + k).serialize()
        for k in range(per_sender)
        for i, s in enumerate(chain.senders)
    ][: len(chain.senders) * 2 if data.smoke else data.b9_mempool]
    node = NodeProc(chain.copy_datadir(data.root / "b9-loaded"))
    try:
        _seconds, statuses = post_txs(node.url, raws)
        pool = node.status().get("mempool_size")
        loaded_mb = node.rss_mb()
    finally:
        node.stop()
    accounts = data.existing + data.senders
    return [
        Row("B9a", "node RSS idle", idle_mb, "MB", None, "", 60, "<= 60 MB", target_is_max=True),
        Row(
            "B9b",
            f"node RSS, {accounts:,} accounts, {pool:,} txs in mempool",
            loaded_mb,
            "MB",
            None,
            "",
            150,
            "<= 150 MB",
            target_is_max=True,
            note=f"B9b accepted {statuses.count(202):,} of {len(raws):,} transactions",
        ),
    ]
