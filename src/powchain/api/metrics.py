"""Prometheus metrics (GET /metrics) on a per-app CollectorRegistry.

Gauges are read from the node at scrape time; counters count node events (blocks connected,
transactions accepted, reorgs) from the moment the app was created, and the nonces the node's
miner has tried (`Miner.hashes`). The event counters are plain ints bumped by the node's
events; `prometheus_client` (about 1 MB of RSS, and a lock per increment) is imported and the
registry built on the first scrape, which reports them as counters with the app's creation
time as `_created`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

__all__ = ["NodeMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_COUNTERS = (
    ("blocks", "powchain_blocks_connected", "Blocks connected to the active chain"),
    ("txs", "powchain_txs_accepted", "Transactions accepted to the mempool"),
    ("reorgs", "powchain_reorgs", "Chain reorganisations"),
)


class NodeMetrics:
    """The metrics of one app: gauges over `node`, counters fed by `node.events`.

    `stats(node)` gives the mempool's `{"count", "bytes"}`, `peer_count(node)` an int.
    """

    def __init__(self, node: Any, mempool_stats: Any, peer_count: Any) -> None:
        self._node = node
        self._stats = mempool_stats
        self._peers = peer_count
        self.created = time.time()  # seconds since the epoch, as prometheus_client's Counter
        self.counts = {"blocks": 0, "txs": 0, "reorgs": 0}
        self._registry: CollectorRegistry | None = None
        self._unsubscribe = node.events.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        kind = type(event).__name__
        if kind == "BlockConnected":
            self.counts["blocks"] += 1
        elif kind == "TxAccepted":
            self.counts["txs"] += 1
        elif kind == "TipChanged" and getattr(event, "reorg_depth", 0) > 0:
            self.counts["reorgs"] += 1

    def close(self) -> None:
        self._unsubscribe()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import CollectorRegistry, generate_latest

        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=True)
            self._registry.register(self)
        return bytes(generate_latest(self._registry))

    def collect(self) -> Iterator[Metric]:
        """prometheus_client's Collector protocol: the gauges, then the counters."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        node = self._node
        mempool = self._stats(node)
        for name, doc, value in (
            ("powchain_height", "Height of the active tip", node.tip.height),
            ("powchain_peers", "Connected peers", self._peers(node)),
            ("powchain_mempool_transactions", "Transactions in the mempool", mempool["count"]),
            ("powchain_mempool_bytes", "Serialized bytes in the mempool", mempool["bytes"]),
            (
                "powchain_network_hashrate",
                "Estimated network hashes per second over the last 120 blocks (0: unknown)",
                node.network_hashrate() or 0.0,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)
        for key, name, doc in _COUNTERS:
            yield CounterMetricFamily(name, doc, value=self.counts[key], created=self.created)
        yield from _stratum_metrics(node, self.created)
        miner = getattr(node, "miner", None)
        hashes = miner.hashes if miner is not None else 0
        doc = "Nonces tried by this node's miner (0 when not mining): hash rate = rate() of it"
        yield CounterMetricFamily("powchain_miner_hashes", doc, value=hashes, created=self.created)


def _stratum_metrics(node: Any, created: float) -> Iterator[Metric]:
    """powchain_stratum_*: from `node.stratum.stats()` (zeros while the server is off)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    server = getattr(node, "stratum", None)
    stats: dict[str, Any] = server.stats() if server is not None else {}
    shares = stats.get("shares", {"accepted": 0, "rejected": {}})
    for name, doc, value in (
        ("powchain_stratum_connections", "Open Stratum connections", stats.get("connections", 0)),
        (
            "powchain_stratum_workers",
            "Authorized Stratum connections",
            len(stats.get("workers", [])),
        ),
        (
            "powchain_stratum_hashrate",
            "Hashes/s estimated from accepted shares",
            stats.get("hashrate", 0.0),
        ),
    ):
        yield GaugeMetricFamily(name, doc, value=value)
    doc = "Shares accepted by the Stratum server"
    yield CounterMetricFamily(
        "powchain_stratum_shares_accepted", doc, value=shares["accepted"], created=created
    )
    rejected = CounterMetricFamily(
        "powchain_stratum_shares_rejected",
        "Shares rejected, by reason",
        labels=["reason"],
        created=created,
    )
    for reason, count in sorted(shares["rejected"].items()):
        rejected.add_metric([reason], count, created=created)
    yield rejected
    doc = "Expected hashes behind the accepted shares (difficulty x 2**32): the miners' work"
    yield CounterMetricFamily(
        "powchain_stratum_share_hashes", doc, value=stats.get("share_hashes", 0.0), created=created
    )
    doc = "Blocks found through the Stratum server"
    yield CounterMetricFamily(
        "powchain_stratum_blocks_found", doc, value=stats.get("blocks_found", 0), created=created
    )
