"""B7 (block relay over a five-node line) and B8 (transaction relay over a five-node mesh).

Real node processes on loopback, each watched through its server-sent event stream
(`GET /api/v1/events`): the arrival time of a block or transaction at a node is when that
node publishes it. B7 subtracts the block's own validation time (measured in-process on the
same state, with the same signature workers) from each hop; B8 has no bound (a latency).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path

import httpx

from powchain.core.block import Block
from powchain.core.hashing import hash_to_hex
from powchain.core.keys import encode_address

from .chain import open_node, plain_key
from .data import Data
from .harness import Row
from .proc import NodeProc


class Watcher:
    """Streams one node's events in a thread; `seen[(kind, id)]` = first perf_counter time."""

    def __init__(self, url: str) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(5, read=None))
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("event stream did not open")

    def _run(self) -> None:
        kind = ""
        try:
            with self._client.stream("GET", "/api/v1/events") as resp:
                for line in resp.iter_lines():
                    now = time.perf_counter()
                    self._ready.set()
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        key = data.get("txid") or data.get("hash")
                        if key:
                            self.seen.setdefault((kind, key), now)
        except httpx.HTTPError:
            return  # the node stopped

    def close(self) -> None:
        self._client.close()


def _token(node: NodeProc) -> dict[str, str]:
    return {"Authorization": f"Bearer {(node.datadir / 'api.cookie').read_text().strip()}"}


def _wait(pred: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError("condition not met in time")


def _peer_count(node: NodeProc) -> int:
    return len(httpx.get(node.url + "/api/v1/peers", timeout=10).json()["peers"])


def _size(data: Data) -> int:
    """Nodes in the network: five, three for the smoke run."""
    return 3 if data.smoke else 5


def _network(data: Data, name: str, links: list[tuple[int, int]]) -> list[NodeProc]:
    nodes: list[NodeProc] = []
    try:
        for i in range(_size(data)):
            nodes.append(NodeProc(data.small.copy_datadir(data.root / f"{name}{i}")))
        for a, b in links:
            nodes[a].connect(nodes[b])
        degree = [sum(1 for link in links if i in link) for i in range(len(nodes))]
        _wait(lambda: all(_peer_count(n) >= d for n, d in zip(nodes, degree, strict=True)), 60)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def _txs(data: Data, nonce: int, count: int, label: str) -> list[bytes]:
    senders = data.small.senders[:count]
    return [
        s.pay(plain_key(f"{label}/{i}"), 1_000, nonce).serialize() for i, s in enumerate(senders)
    ]


def b8(data: Data) -> Row:
    count = 20 if data.smoke else 1_000
    n = _size(data)
    mesh = [(a, b) for a in range(n) for b in range(a + 1, n)]
    nodes = _network(data, "b8-", mesh)
    watchers = [Watcher(n.url) for n in nodes]
    try:
        raws = _txs(data, data.blocks, count, "b8")
        sent: dict[str, float] = {}
        clients = [httpx.Client(base_url=n.url, timeout=30) for n in nodes]
        start = time.perf_counter()
        for i, raw in enumerate(raws):  # 100/s, spread over the five nodes
            time.sleep(max(0.0, start + i / 100 - time.perf_counter()))
            t = time.perf_counter()
            resp = clients[i % n].post("/api/v1/txs", json={"raw": raw.hex()})
            sent[resp.json()["txid"]] = t
        _wait(lambda: all(len(w.seen) >= count for w in watchers), 120)
        for c in clients:
            c.close()
        lat = sorted(max(w.seen[("tx", txid)] for w in watchers) - t for txid, t in sent.items())
        p95 = lat[int(0.95 * (len(lat) - 1))]
    finally:
        for w in watchers:
            w.close()
        for node in nodes:
            node.stop()
    return Row(
        "B8",
        f"tx relay, {n}-node mesh, {count:,} txs at 100/s, p95",
        p95 * 1000,
        "ms",
        None,
        "",
        1000,
        "<= 1000 ms",
        target_is_max=True,
        note=f"B8 median {statistics.median(lat) * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms",
    )


def _validation_seconds(data: Data, raw_blocks: list[bytes], workdir: Path) -> list[float]:
    """In-process connect time of each block, in order, on the same starting state."""
    node = open_node(data.small.copy_datadir(workdir), verify_processes=2)
    try:
        assert node.chainstate.verifier is not None
        node.chainstate.verifier.warm_up()
        times = []
        for raw in raw_blocks:
            t = time.perf_counter()
            node.process_block(Block.parse(raw))
            times.append(time.perf_counter() - t)
        return times
    finally:
        node.close()


def b7(data: Data) -> Row:
    per_block = 20 if data.smoke else len(data.small.senders)
    rounds = 1 if data.smoke else 3
    n = _size(data)
    hops = n - 1
    line = [(i, i + 1) for i in range(hops)]
    nodes = _network(data, "b7-", line)
    watchers = [Watcher(n.url) for n in nodes]
    address = encode_address("rpow", plain_key("b7-miner"))
    spans, blocks = [], []
    try:
        for r in range(rounds):
            raws = _txs(data, data.blocks + r, per_block, f"b7/{r}")
            bodies = [{"raw": raw.hex()} for raw in raws]
            with httpx.Client(base_url=nodes[0].url, timeout=60) as client:
                for body in bodies:
                    client.post("/api/v1/txs", json=body)
            # let the transactions reach every node first: only the block moves when timed
            _wait(lambda: all(n.status()["mempool_size"] == per_block for n in nodes), 300)
            resp = httpx.post(
                nodes[0].url + "/api/v1/mine",
                json={"blocks": 1, "address": address},
                headers=_token(nodes[0]),
                timeout=120,
            )
            block_hex = resp.json()["blocks"][0]
            _wait(lambda h=block_hex: all(("block", h) in w.seen for w in watchers), 120)
            spans.append(
                watchers[hops].seen[("block", block_hex)] - watchers[0].seen[("block", block_hex)]
            )
            raw = httpx.get(f"{nodes[0].url}/api/v1/blocks/{block_hex}/raw", timeout=30).json()
            blocks.append(bytes.fromhex(raw["raw"] if isinstance(raw, dict) else raw))
            assert hash_to_hex(Block.parse(blocks[-1]).hash) == block_hex
    finally:
        for w in watchers:
            w.close()
        for node in nodes:
            node.stop()
    valid = _validation_seconds(data, blocks, data.root / "b7-validate")
    overhead = [(s - hops * v) / hops for s, v in zip(spans, valid, strict=True)]
    size = len(blocks[0])
    return Row(
        "B7",
        f"block relay, {n}-node line, {size / 1e6:.2f} MB block, per hop",
        statistics.median(overhead) * 1000,
        "ms",
        None,
        "",
        30,
        "<= 30 ms",
        target_is_max=True,
        note=f"B7 node0->node{hops} {statistics.median(spans) * 1000:.0f} ms, validation "
        f"{statistics.median(valid) * 1000:.0f} ms per node (x{hops} subtracted)",
    )


def run(data: Data) -> list[Row]:
    return [b8(data), b7(data)]
