"""The Node facade in-process on a real datadir: mining, mempool flow, events, reorgs, restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from powchain.consensus.errors import Kind, Rejected
from powchain.core.params import REGTEST
from powchain.core.units import COIN
from powchain.node.events import (
    BlockConnected,
    BlockDisconnected,
    Event,
    HeaderAccepted,
    TipChanged,
    TxAccepted,
    TxRemoved,
)
from powchain.node.node import Node, NodeConfig

from .chainbuilder import ALICE, BOB, MINER, ChainBuilder

MATURITY = REGTEST.coinbase_maturity


def make_node(datadir: Path) -> Node:
    node = Node(NodeConfig(params=REGTEST, datadir=datadir))
    node.open()
    return node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    node = make_node(tmp_path / "node")
    yield node
    node.close()


@pytest.fixture
def events(node: Node) -> list[Event]:
    seen: list[Event] = []
    node.events.subscribe(seen.append)
    return seen


def mine(node: Node, n: int, recipient: bytes = MINER.pub) -> list[bytes]:
    return asyncio.run(node.mine_blocks(n, recipient))


def test_mine_blocks_pays_the_recipient_with_maturity(node: Node) -> None:
    hashes = mine(node, MATURITY + 2)

    assert node.tip.height == MATURITY + 2
    assert node.block_hash_at(MATURITY + 2) == hashes[-1] == node.tip.hash
    info = node.account_info(MINER.pub)
    assert (info.balance, info.immature, info.nonce) == (2 * 50 * COIN, MATURITY * 50 * COIN, 0)
    assert node.difficulty() == 1.0
    assert node.is_synced()
    assert node.db.integrity_check() == "ok"


def test_transaction_flows_from_mempool_into_a_block(node: Node, events: list[Event]) -> None:
    mine(node, MATURITY + 1)
    tx = MINER.transfer(ALICE.pub, 3 * COIN, fee=2_000, nonce=0)

    txid = node.submit_transaction(tx)

    assert events[-1] == TxAccepted(tx)
    pending = node.get_transaction(txid)
    assert pending is not None and pending.block_hash is None
    info = node.account_info(MINER.pub)
    assert info.pending_balance == info.balance - 3 * COIN - 2_000
    assert info.next_nonce == 1
    with pytest.raises(Rejected) as dup:
        node.submit_transaction(tx)
    assert (dup.value.kind, dup.value.reason) == (Kind.DUPLICATE, "duplicate")

    [block_hash] = mine(node, 1)

    assert txid not in node.mempool
    confirmed = node.get_transaction(txid)
    assert confirmed is not None
    assert (confirmed.block_hash, confirmed.height) == (block_hash, MATURITY + 2)
    assert TxRemoved(txid, "block") in events
    assert events[-1] == TipChanged(block_hash, MATURITY + 2, 0)
    assert node.account_info(ALICE.pub).balance == 3 * COIN
    with pytest.raises(Rejected) as again:
        node.submit_transaction(tx)
    assert again.value.reason == "duplicate"
    items, cursor = node.address_history(ALICE.pub)
    assert [(i.txid, i.direction) for i in items] == [(txid, "in")] and cursor is None


def test_bad_transaction_is_rejected_with_reason(node: Node) -> None:
    mine(node, MATURITY + 1)
    node.submit_transaction(MINER.transfer(ALICE.pub, COIN, nonce=0))
    mine(node, 1)
    stale = MINER.transfer(BOB.pub, COIN, nonce=0)  # nonce 0 is spent
    too_much = MINER.transfer(ALICE.pub, 10_000 * COIN, nonce=1)
    forged = MINER.transfer(ALICE.pub, COIN, nonce=1).with_signature(bytes(64))

    for tx, reason in (
        (stale, "bad-nonce"),
        (too_much, "insufficient-funds"),
        (forged, "bad-signature"),
    ):
        with pytest.raises(Rejected) as err:
            node.submit_transaction(tx)
        assert err.value.reason == reason
    assert len(node.mempool) == 0


def test_reorg_returns_transactions_to_the_mempool(node: Node, events: list[Event]) -> None:
    builder = ChainBuilder()
    base = builder.chain(MATURITY + 1)
    for block in base:
        node.process_block(block)
    tx = MINER.transfer(BOB.pub, 5 * COIN, nonce=0)
    side = builder.block(base[-1], [tx], tag=1)
    node.process_block(side)
    assert node.account_info(BOB.pub).balance == 5 * COIN
    events.clear()

    longer = builder.chain(2, base[-1], tag=2)
    for block in longer:
        node.process_block(block)

    assert node.tip.hash == longer[-1].hash
    assert node.account_info(BOB.pub).balance == 0
    assert tx.txid in node.mempool
    lookup = node.get_transaction(tx.txid)
    assert lookup is not None and lookup.height is None
    kinds = [type(e) for e in events]
    assert BlockDisconnected(side, MATURITY + 2) in events
    assert kinds.count(BlockConnected) == 2
    assert TipChanged(longer[-1].hash, MATURITY + 3, 1) in events
    assert node.in_active_chain(node.entry(longer[0].hash))  # type: ignore[arg-type]
    assert not node.in_active_chain(node.entry(side.hash))  # type: ignore[arg-type]


def test_reorg_readding_a_transaction_publishes_what_it_evicted(tmp_path: Path) -> None:
    """Also reported (issue 11): re-added reorg transactions that evicted others published no
    removal events, so API and explorer clients kept showing the evicted ones."""

    node = Node(NodeConfig(params=REGTEST, datadir=tmp_path / "n", mempool_max_bytes=2 * 158))
    node.open()
    seen: list[Event] = []
    node.events.subscribe(seen.append)
    carol = type(ALICE).named("carol")
    builder = ChainBuilder()
    base = [builder.block(None, recipient=ALICE.pub)]
    base.append(builder.block(base[-1], recipient=carol.pub))
    base.append(builder.block(base[-1], recipient=BOB.pub))
    base += builder.chain(MATURITY, base[-1])
    for block in base:
        node.process_block(block)
    paid = ALICE.transfer(MINER.pub, COIN, fee=9_000, nonce=0)
    assert paid.size == 158
    side = builder.block(base[-1], [paid], tag=1)
    node.process_block(side)
    cheap = [k.transfer(MINER.pub, COIN, fee=158, nonce=0) for k in (carol, BOB)]
    for tx in cheap:
        node.submit_transaction(tx)
    assert node.mempool.total_bytes == 2 * 158  # full
    seen.clear()
    for block in builder.chain(2, base[-1], tag=2):
        node.process_block(block)
    assert paid.txid in node.mempool
    gone = [tx.txid for tx in cheap if tx.txid not in node.mempool]
    assert len(gone) == 1
    assert [e for e in seen if isinstance(e, TxRemoved)] == [TxRemoved(gone[0], "evicted")]
    node.close()


def test_future_block_accepted_once_the_clock_moves(node: Node) -> None:
    builder = ChainBuilder()
    now = node.now()
    future = builder.block(time=now + REGTEST.max_future_block_time + 60)
    with pytest.raises(Rejected) as err:
        node.process_block(future)
    assert (err.value.kind, err.value.reason) == (Kind.TIME_FUTURE, "time-too-new")
    assert node.entry(future.hash) is None

    node.config.clock_offset = 120

    assert node.process_block(future)
    assert node.tip.hash == future.hash


def test_restart_keeps_tip_and_does_not_replay(tmp_path: Path) -> None:
    first = make_node(tmp_path / "n")
    hashes = mine(first, 15)
    first.close()

    again = make_node(tmp_path / "n")

    assert again.tip.hash == hashes[-1] and again.tip.height == 15
    assert again.chainstate.connect_count == 0
    assert again.account_info(MINER.pub).balance == 5 * 50 * COIN
    mine(again, 1)
    assert again.tip.height == 16
    again.close()


def test_headers_first_sync_between_two_nodes(tmp_path: Path) -> None:
    source = make_node(tmp_path / "a")
    mine(source, 25)
    sink = make_node(tmp_path / "b")
    seen: list[Event] = []
    sink.events.subscribe(seen.append)

    headers = source.headers_after(sink.block_locator(), None, 2000)
    assert sink.process_headers(headers) == 25
    assert sum(isinstance(e, HeaderAccepted) for e in seen) == 25
    assert not sink.is_synced()
    assert sink.process_headers(headers) == 0
    while missing := sink.missing_blocks(16):
        for block_hash in missing:
            raw = source.get_block_raw(block_hash)
            assert raw is not None
            block = source.get_block(block_hash)
            assert block is not None and block.serialize() == raw
            sink.process_block(block)

    assert sink.tip.hash == source.tip.hash
    assert sink.is_synced()
    source.close()
    sink.close()


def test_posts_and_history_paging(node: Node) -> None:
    mine(node, MATURITY + 1)
    node.submit_transaction(MINER.transfer(ALICE.pub, 2 * COIN, nonce=0))
    mine(node, 1)
    for nonce, text in enumerate(("first", "second", "third")):
        node.submit_transaction(ALICE.post(text, nonce=nonce))
        mine(node, 1)

    posts = node.posts()
    assert [p.text for p in posts] == ["third", "second", "first"]
    assert {p.author for p in posts} == {ALICE.pub}
    assert [p.text for p in node.posts(before_height=posts[0].height, limit=1)] == ["second"]
    page1, cursor = node.address_history(ALICE.pub, None, 4)
    page2, end = node.address_history(ALICE.pub, cursor, 4)
    # A post is a 0-amount self-payment: one 'out' and one 'in' row each.
    assert [i.direction for i in page1] == ["out", "in"] * 2 and cursor is not None
    assert [i.direction for i in page2] == ["out", "in", "in"]
    assert page2[-1].height == MATURITY + 2 and end is None
    with pytest.raises(ValueError):
        node.address_history(ALICE.pub, "not-a-cursor", 4)


def test_start_and_stop(tmp_path: Path) -> None:
    async def scenario() -> int:
        node = Node(NodeConfig(params=REGTEST, datadir=tmp_path / "s"))
        await node.start()
        await node.mine_blocks(2, MINER.pub)
        height = node.tip.height
        await node.stop()
        return height

    assert asyncio.run(scenario()) == 2
