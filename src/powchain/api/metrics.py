"""Prometheus metrics (GET /metrics) on a per-app CollectorRegistry.

Gauges are read from the node at scrape time; counters count node events (blocks connected,
transactions accepted, reorgs) from the moment the app was created.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["NodeMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _NodeGauges(Collector):
    def __init__(self, node: Any, stats: Any, peers: Any) -> None:
        self._node = node
        self._stats = stats
        self._peers = peers

    def collect(self) -> Iterator[Metric]:
        node = self._node
        mempool = self._stats(node)
        peers = self._peers(node)
        for name, doc, value in (
            ("powchain_height", "Height of the active tip", node.tip.height),
            ("powchain_peers", "Connected peers", peers),
            ("powchain_mempool_transactions", "Transactions in the mempool", mempool["count"]),
            ("powchain_mempool_bytes", "Serialized bytes in the mempool", mempool["bytes"]),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


class NodeMetrics:
    """The registry of one app: gauges over `node`, counters fed by `node.events`."""

    def __init__(self, node: Any, mempool_stats: Any, peer_count: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_NodeGauges(node, mempool_stats, peer_count))
        self.blocks = Counter(
            "powchain_blocks_connected",
            "Blocks connected to the active chain",
            registry=self.registry,
        )
        self.txs = Counter(
            "powchain_txs_accepted", "Transactions accepted to the mempool", registry=self.registry
        )
        self.reorgs = Counter("powchain_reorgs", "Chain reorganisations", registry=self.registry)
        self._unsubscribe = node.events.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        kind = type(event).__name__
        if kind == "BlockConnected":
            self.blocks.inc()
        elif kind == "TxAccepted":
            self.txs.inc()
        elif kind == "TipChanged" and getattr(event, "reorg_depth", 0) > 0:
            self.reorgs.inc()

    def close(self) -> None:
        self._unsubscribe()

    def render(self) -> bytes:
        return generate_latest(self.registry)
