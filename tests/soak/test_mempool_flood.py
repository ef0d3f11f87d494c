"""Scenario 8: a full mempool under forged and pinning transactions (issue 11, items 7 and 8).

A real Node (SQLite in tmp_path) with a real PeerManager on 127.0.0.1, on a regtest variant whose
genesis funds the flood's senders. The pool is filled to its byte bound with signed, executable
payments (contiguous nonces) through `submit_transaction`, then:

- 8a forged transactions: well-formed payments from funded senders paying a high fee rate, with
  bad signatures. Figure: event-loop time per forgery at the full pool (measured around
  `submit_transaction`, the loop's whole cost), and the round trip of an honest peer's pings
  while forgers connect, each sending one (each is banned: a bad signature is stateless).
  Before issue 11 the eviction plan sorted the whole pool before the signature check: at
  80,000 entries a forgery cost 257 ms on the development machine (1.49 s in the report).
- 8b pinning with nonce gaps: eight keys fill a pool with transactions behind a nonce gap at
  5 units/byte; an honest payment at 2 units/byte is accepted and lands in the next template
  (before: `mempool-full`, an empty template for 14 days).

The short versions run in `make test`; the full sizes (80,000 entries) under `-m soak`.
Invariants asserted, never timings: the forgeries are refused `bad-signature` and their
relayers banned, the pool is unchanged by them, its counters agree with its contents, the
honest payment is mined. The figures are recorded for the table.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import statistics
import time
from pathlib import Path

import pytest

from powchain.consensus.errors import Rejected
from powchain.core.keys import schnorr_sign, xonly_pubkey
from powchain.core.params import REGTEST, ChainParams
from powchain.core.transaction import TX_VERSION, Transaction, make_post_data
from powchain.core.units import COIN
from powchain.node.miner import build_template
from powchain.node.node import Node, NodeConfig
from powchain.p2p import messages as m
from powchain.p2p.peerman import PeerManager
from powchain.policy.limits import MAX_FUTURE_PER_SENDER
from tests.fakepeer import FakePeer

from .report import record

pytestmark = pytest.mark.timeout(1800)

SIZE = 158  # a payment without data
PER_SENDER = 50  # contiguous nonces per flooding sender (the queue holds 64)
FORGERIES = 40


def key(i: int) -> bytes:
    return hashlib.sha256(b"powchain-soak-mempool/%d" % i).digest()


def params_for(senders: int) -> ChainParams:
    """Regtest whose genesis funds `senders` keys (the flood) plus 16 more (pinners, honest,
    forgers)."""
    allocations = tuple((xonly_pubkey(key(i)), 1_000 * COIN) for i in range(senders + 16))
    return dataclasses.replace(REGTEST, genesis_allocations=allocations, genesis_hash_hex="")


def payment(i: int, nonce: int, fee: int, data: bytes = b"", signed: bool = True) -> Transaction:
    secret = key(i)
    unsigned = Transaction(
        TX_VERSION, REGTEST.chain_id, nonce, xonly_pubkey(secret), bytes(32), 1, fee, data, b""
    )
    signature = schnorr_sign(secret, unsigned.sighash()) if signed else bytes(64)
    return unsigned.with_signature(signature)


def pool_consistent(node: Node) -> bool:
    """The mempool's counters agree with what it holds (they replace per-request sorts)."""
    pool = node.mempool
    txs = pool.txs()
    stats = pool.fee_stats()
    return (
        stats["count"] == len(txs) == len(pool)
        and stats["bytes"] == sum(tx.size for tx in txs) == pool.total_bytes
        and stats["total_fees"] == sum(tx.fee for tx in txs)
    )


async def start(tmp: Path, params: ChainParams, max_bytes: int) -> tuple[Node, PeerManager]:
    config = NodeConfig(params=params, datadir=tmp, p2p_port=0, mempool_max_bytes=max_bytes)
    node = Node(config)
    await node.start()
    pm = PeerManager(node, tick=0.05)
    await pm.start()
    return node, pm


async def ping_rtt(peer: FakePeer, nonce: int) -> float:
    started = time.perf_counter()
    await peer.send(m.Ping(nonce))
    while True:
        pong = await peer.wait_for(m.Pong, timeout=60)
        if pong.nonce == nonce:
            return time.perf_counter() - started


def check_forgeries(tmp: Path, entries: int, scenario: str) -> None:
    senders = -(-entries // PER_SENDER)
    params = params_for(senders)

    async def run() -> None:
        node, pm = await start(tmp, params, entries * SIZE)
        try:
            for k in range(entries):  # fee rates 2..6 units/byte
                node.submit_transaction(
                    payment(k // PER_SENDER, k % PER_SENDER, SIZE * (2 + k % 5))
                )
            assert len(node.mempool) == entries and node.mempool.total_bytes == entries * SIZE
            before = set(t.txid for t in node.mempool.txs())
            forger = senders + 1
            costs = []
            for j in range(FORGERIES):  # the loop's cost per forgery, in-process
                forged = payment(forger, 0, SIZE * 100 + j, signed=False)
                started = time.perf_counter()
                with pytest.raises(Rejected) as info:
                    node.submit_transaction(forged)
                costs.append(time.perf_counter() - started)
                assert info.value.reason == "bad-signature" and info.value.stateless
            honest = await FakePeer.connect(pm.listen_port)
            await honest.handshake(params, listen_port=45000)
            rtts = []
            for j in range(FORGERIES // 4):  # forgers over the wire: each one is banned
                peer = await FakePeer.connect(pm.listen_port)
                await peer.handshake(params, listen_port=45001 + j)
                await peer.send(m.TxMsg(payment(forger, 0, SIZE * 200 + j, signed=False)))
                rtts.append(await ping_rtt(honest, j + 1))
                assert await peer.closed(timeout=60)
            bans = [b["reason"] for b in pm.ban_list()]
            assert bans == ["invalid-tx: bad-signature"] * (FORGERIES // 4)
            assert set(t.txid for t in node.mempool.txs()) == before and pool_consistent(node)
            good = payment(forger, 0, SIZE * 100)  # the happy case: it evicts the lowest
            node.submit_transaction(good)
            assert good.txid in node.mempool and pool_consistent(node)
            await honest.close()
        finally:
            await pm.stop()
            await node.stop()
        record(
            scenario,
            f"{entries:,} txs ({entries * SIZE / 1e6:.1f} MB) in a full pool: a forgery costs the "
            f"loop median {statistics.median(costs) * 1000:.2f} ms (worst "
            f"{max(costs) * 1000:.2f} ms; 257 ms before, 80,000 entries); "
            f"{FORGERIES // 4} forgers over the wire all banned (invalid-tx: bad-signature), "
            f"honest pings worst {max(rtts) * 1000:.0f} ms; pool unchanged",
            "refused before eviction work, relayer banned",
            True,
        )

    asyncio.run(run())


def test_forgeries_at_a_full_pool_short(tmp_path: Path) -> None:
    check_forgeries(tmp_path, 2_000, "8a forged txs, full mempool (short)")


@pytest.mark.soak
def test_forgeries_at_a_full_pool(tmp_path: Path) -> None:
    check_forgeries(tmp_path, 80_000, "8a forged txs, full mempool")


def check_pinning(tmp: Path, scenario: str, data_bytes: int) -> None:
    params = params_for(0)
    pinners = range(8)
    per_pinner = MAX_FUTURE_PER_SENDER
    data = make_post_data("p" * (data_bytes - 1))  # standard data is a post
    tx_size = payment(0, 1, 0, data).size
    max_bytes = len(pinners) * per_pinner * tx_size

    async def run() -> None:
        node, pm = await start(tmp, params, max_bytes)
        try:
            for i in pinners:  # nonce 0 is never sent: none of these can be mined
                for nonce in range(1, 1 + per_pinner):
                    node.submit_transaction(payment(i, nonce, 5 * tx_size, data))
            assert node.mempool.total_bytes == max_bytes
            beyond = payment(0, 1 + per_pinner, 5 * tx_size, data)
            with pytest.raises(Rejected) as info:
                node.submit_transaction(beyond)
            assert info.value.reason == "too-many-future"
            assert build_template(node, xonly_pubkey(key(15))).txs[1:] == ()
            honest = payment(9, 0, 2 * SIZE)  # the explorer's default 2 units/byte
            node.submit_transaction(honest)
            template = build_template(node, xonly_pubkey(key(15)))
            assert [tx.txid for tx in template.txs[1:]] == [honest.txid]
            assert pool_consistent(node)
        finally:
            await pm.stop()
            await node.stop()
        record(
            scenario,
            f"8 keys x {per_pinner} txs of {tx_size} B behind a nonce gap at 5 units/B filled a "
            f"{max_bytes / 1e3:.0f} kB pool: the 9th behind a gap refused (too-many-future); an "
            "honest payment at 2 units/B accepted and the only tx of the next template",
            "executable txs always get room; template not empty",
            True,
        )

    asyncio.run(run())


def test_nonce_gap_pinning_short(tmp_path: Path) -> None:
    check_pinning(tmp_path, "8b nonce-gap pinning (short)", 200)


@pytest.mark.soak
def test_nonce_gap_pinning(tmp_path: Path) -> None:
    check_pinning(tmp_path, "8b nonce-gap pinning", 4_000)
