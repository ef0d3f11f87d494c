"""B7 (block relay over a five-node line) and B8 (transaction relay over a five-node mesh).

Real node processes on loopback, each watched through its server-sent event stream
(`GET /api/v1/events`): the arrival time of a block or transaction at a node is when that
node publishes it. B8 has no bound (a latency).

B7: each hop (publication on node i to publication on node i + 1) minus what node i + 1
spent parsing and accepting the block (`process_block`, which for these nodes also clears the
block's 5,000 transactions from the mempool), as that node logs it: the same process, at the
same moment, under the same load. As a cross-check the same block's parse + `process_block`
is timed in-process on the same state (chain, the block's transactions in the mempool, two
warm signature workers) right after each relay. The value is the median over every hop.

B7's event streams open only once the round's transactions are in every mempool: a node
drops an event-stream client that falls 256 events behind, and a burst of 5,000 relayed
transactions did that (the block's arrival was then never seen).
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from pathlib import Path

import httpx

from powchain.core.block import Block
from powchain.core.hashing import hash_to_hex
from powchain.core.keys import encode_address
from powchain.core.transaction import Transaction

from .chain import open_node, plain_key
from .data import Data
from .harness import Row
from .proc import NodeProc


class Watcher:
    """Streams one node's events in a thread; `seen[(kind, id)]` = first perf_counter time."""

    def __init__(self, url: str) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.ended = False  # the stream closed (node stopped, or dropped us as too slow)
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
            pass  # the node stopped
        self.ended = True

    def close(self) -> None:
        self._client.close()


def _token(node: NodeProc) -> dict[str, str]:
    return {"Authorization": f"Bearer {(node.datadir / 'api.cookie').read_text().strip()}"}


def _wait(pred: object, timeout: float, watchers: list[Watcher] | None = None) -> None:
    """Poll `pred()` every 0.1 s; RuntimeError after `timeout` s or when one of `watchers`
    lost its event stream (it could never see what `pred` waits for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        if watchers and any(w.ended for w in watchers):
            raise RuntimeError("an event stream ended (the node dropped a slow client)")
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
        _wait(lambda: all(len(w.seen) >= count for w in watchers), 120, watchers)
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


class Validator:
    """An in-process node on the relaying nodes' starting state with two warm signature
    workers: `seconds(raw_block, raw_txs)` puts `raw_txs` in its mempool (untimed), as the
    relaying nodes hold them, then times `process_block(Block.parse(raw_block))`."""

    def __init__(self, data: Data, workdir: Path) -> None:
        self.node = open_node(data.small.copy_datadir(workdir), verify_processes=2)
        assert self.node.chainstate.verifier is not None
        self.node.chainstate.verifier.warm_up()

    def seconds(self, raw_block: bytes, raw_txs: list[bytes]) -> float:
        for tx in raw_txs:
            self.node.submit_transaction(Transaction.from_bytes(tx))
        t = time.perf_counter()
        self.node.process_block(Block.parse(raw_block))
        elapsed = time.perf_counter() - t
        assert len(self.node.mempool) == 0, "the block confirms every transaction it was sent"
        return elapsed

    def close(self) -> None:
        self.node.close()


ACCEPT_LOG = re.compile(
    r"block ([0-9a-f]{64}) .*: parsed in ([0-9.]+) ms, accepted in ([0-9.]+) ms"
)
"""The line a node logs for each block a peer sent it (p2p/blockfetch.py `on_block`)."""


def node_validation(node: NodeProc, block_hex: str) -> float:
    """Seconds `node` spent parsing and accepting (process_block) the block from its peer,
    read from its log; RuntimeError when it has not logged it."""
    for line in (node.datadir / "bench-node.log").read_text(errors="replace").splitlines():
        found = ACCEPT_LOG.search(line)
        if found and found.group(1) == block_hex:
            return (float(found.group(2)) + float(found.group(3))) / 1000
    raise RuntimeError(f"{node.datadir.name} did not log accepting block {block_hex}")


def _relay_one_block(nodes: list[NodeProc], address: str) -> tuple[str, list[float]]:
    """Mine one block on nodes[0]; returns (its hash, seconds from its publication on node i
    to node i + 1 for each hop). The event streams open now, with the mempools already full,
    and close before returning."""
    watchers = [Watcher(n.url) for n in nodes]
    try:
        resp = httpx.post(
            nodes[0].url + "/api/v1/mine",
            json={"blocks": 1, "address": address},
            headers=_token(nodes[0]),
            timeout=120,
        )
        block_hex = resp.json()["blocks"][0]
        key = ("block", block_hex)
        _wait(lambda: all(key in w.seen for w in watchers), 120, watchers)
        seen = [w.seen[key] for w in watchers]
        return block_hex, [b - a for a, b in zip(seen, seen[1:], strict=False)]
    finally:
        for w in watchers:
            w.close()


def b7(data: Data) -> Row:
    per_block = 20 if data.smoke else len(data.small.senders)
    rounds = 1 if data.smoke else 3
    n = _size(data)
    hops = n - 1
    line = [(i, i + 1) for i in range(hops)]
    address = encode_address("rpow", plain_key("b7-miner"))
    spans, overhead, valid, node_valid, blocks = [], [], [], [], []
    validator = Validator(data, data.root / "b7-validate")
    nodes: list[NodeProc] = []
    try:
        nodes = _network(data, "b7-", line)
        for r in range(rounds):
            raws = _txs(data, data.blocks + r, per_block, f"b7/{r}")
            bodies = [{"raw": raw.hex()} for raw in raws]
            with httpx.Client(base_url=nodes[0].url, timeout=60) as client:
                for body in bodies:
                    client.post("/api/v1/txs", json=body)
            # let the transactions reach every node first: only the block moves when timed
            _wait(lambda: all(n.status()["mempool_size"] == per_block for n in nodes), 300)
            block_hex, hop_seconds = _relay_one_block(nodes, address)
            spans.append(sum(hop_seconds))
            # each hop minus what its receiving node spent parsing and accepting the block
            took = [node_validation(node, block_hex) for node in nodes[1:]]
            node_valid += took
            overhead += [h - v for h, v in zip(hop_seconds, took, strict=True)]
            raw = httpx.get(f"{nodes[0].url}/api/v1/blocks/{block_hex}/raw", timeout=30).json()
            blocks.append(bytes.fromhex(raw["raw"] if isinstance(raw, dict) else raw))
            assert hash_to_hex(Block.parse(blocks[-1]).hash) == block_hex
            # cross-check, right after the relay so load drift hits both alike
            valid.append(validator.seconds(blocks[-1], raws))
    finally:
        validator.close()
        for node in nodes:
            node.stop()
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
        note=f"B7 median of {len(overhead)} hops ({rounds} blocks); node0->node{hops} "
        f"{statistics.median(spans) * 1000:.0f} ms; parse+accept on the receiving node "
        f"{statistics.median(node_valid) * 1000:.0f} ms per hop (in-process on the same state: "
        f"{statistics.median(valid) * 1000:.0f} ms); overhead by hop "
        f"{', '.join(f'{o * 1000:.0f}' for o in overhead)} ms",
    )


def run(data: Data) -> list[Row]:
    return [b8(data), b7(data)]
