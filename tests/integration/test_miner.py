"""Mining: the pure nonce search, the in-process solver and block templates (against a small
stand-in for the node exposing the members the miner uses)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from powchain.consensus.block_check import check_block
from powchain.consensus.pow import bits_to_target, check_proof_of_work
from powchain.consensus.subsidy import block_subsidy
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import sha256d
from powchain.core.params import REGTEST, genesis_block
from powchain.node.events import EventBus, TipChanged
from powchain.node.mempool import Mempool
from powchain.node.miner import (
    COINBASE_MESSAGE,
    Miner,
    build_template,
    coinbase_data,
    nonce_ranges,
    search_nonce,
    solve_in_process,
)
from powchain.node.powsearch import NONCE_SPACE

from .test_mempool import ALICE, BOB, NOW, DictView, make_tx, rich_view
from .test_miner_node import wait_until

HEADER76 = bytes(range(76))
MINER = bytes([7]) * 32


def pow_hash(header76: bytes, nonce: int) -> int:
    return int.from_bytes(sha256d(header76 + nonce.to_bytes(4, "little")), "little")


def test_search_nonce_finds_the_first_nonce_under_an_easy_target() -> None:
    target = 2**248  # about 1 hash in 256 meets it
    nonce = search_nonce(HEADER76, 0, 100_000, target)
    assert nonce is not None and pow_hash(HEADER76, nonce) <= target
    assert all(pow_hash(HEADER76, n) > target for n in range(nonce))
    assert search_nonce(HEADER76, nonce + 1, 100_000, target) != nonce


def test_search_nonce_returns_none_for_an_impossible_target() -> None:
    assert search_nonce(HEADER76, 0, 5_000, 0) is None


def test_search_nonce_stays_inside_the_32_bit_space() -> None:
    assert search_nonce(HEADER76, NONCE_SPACE - 3, NONCE_SPACE + 10, 2**256 - 1) == NONCE_SPACE - 3
    assert search_nonce(HEADER76, NONCE_SPACE, NONCE_SPACE + 10, 2**256 - 1) is None


def test_nonce_ranges_split_and_clip() -> None:
    assert nonce_ranges(0, 10, 3) == [(0, 10), (10, 20), (20, 30)]
    assert nonce_ranges(NONCE_SPACE - 15, 10, 3) == [
        (NONCE_SPACE - 15, NONCE_SPACE - 5),
        (NONCE_SPACE - 5, NONCE_SPACE),
    ]


@dataclass
class FakeTip:
    hash: bytes
    height: int
    header: BlockHeader


class FakeNode:
    """The members of Node the miner's template uses, at the genesis tip."""

    def __init__(self, view: DictView) -> None:
        self.params = REGTEST
        genesis = genesis_block(REGTEST)
        self.tip = FakeTip(genesis.hash, 0, genesis.header)
        self.mempool = Mempool(REGTEST, max_bytes=1_000_000, expiry=3_600)
        self.view = view
        self.clock = REGTEST.genesis_time - 100  # behind the tip: time must still move past MTP

    def now(self) -> int:
        return self.clock

    def state_view(self) -> DictView:
        return self.view

    def next_bits(self) -> int:
        return REGTEST.genesis_bits

    def median_time_past(self) -> int:
        return REGTEST.genesis_time


def test_template_coinbase_pays_subsidy_plus_fees() -> None:
    node = FakeNode(rich_view())
    txs = [make_tx(ALICE, 0, fee=1_000), make_tx(ALICE, 1, fee=3_000), make_tx(BOB, 0, fee=500)]
    for tx in txs:
        node.mempool.accept(tx, node.view, NOW)
    block = build_template(node, MINER, extra_nonce=5)  # type: ignore[arg-type]
    coinbase = block.txs[0]
    assert coinbase.is_coinbase and coinbase.nonce == 1 and coinbase.recipient == MINER
    assert coinbase.amount == block_subsidy(1, REGTEST) + 4_500
    assert coinbase.data == coinbase_data(5) and coinbase.data.endswith(COINBASE_MESSAGE)
    assert len(coinbase.data) <= REGTEST.max_coinbase_data
    assert [tx.txid for tx in block.txs[1:]] == [txs[0].txid, txs[1].txid, txs[2].txid]
    header = block.header
    assert (header.prev_block, header.bits, header.nonce) == (node.tip.hash, 0x207FFFFF, 0)
    assert header.time == REGTEST.genesis_time + 1  # max(now, MTP + 1)
    assert header.merkle_root == block.compute_merkle_root()


def test_template_leaves_out_what_the_tip_state_cannot_pay() -> None:
    node = FakeNode(rich_view())
    node.mempool.accept(make_tx(ALICE, 0), node.view, NOW)
    node.view = DictView({})  # e.g. the funds were spent by a reorg not yet revalidated
    block = build_template(node, MINER)  # type: ignore[arg-type]
    assert len(block.txs) == 1 and block.txs[0].amount == block_subsidy(1, REGTEST)


def test_solved_template_passes_the_block_checks() -> None:
    node = FakeNode(DictView({}))
    node.clock = REGTEST.genesis_time + 600
    block = solve_in_process(build_template(node, MINER), REGTEST)  # type: ignore[arg-type]
    assert block is not None and block.header.time == REGTEST.genesis_time + 600
    check_proof_of_work(block.header, REGTEST)
    check_block(block, REGTEST)


def test_solve_in_process_gives_up_after_max_tries() -> None:
    template = build_template(FakeNode(DictView({})), MINER)  # type: ignore[arg-type]
    hard = replace(template.header, bits=0x03000001)
    assert bits_to_target(hard.bits) == 1
    assert solve_in_process(replace(template, header=hard), REGTEST, max_tries=1_000) is None


def test_a_new_tip_restarts_the_search_with_a_fresh_template() -> None:
    """With a target no worker will meet, a TipChanged makes the miner rebuild its template
    (next extra nonce) at the end of the current round, and stop() returns promptly."""
    node = FakeNode(DictView({}))
    node.events = EventBus()  # type: ignore[attr-defined]
    node.next_bits = lambda: 0x1B0404CB  # type: ignore[method-assign]
    node.clock = REGTEST.genesis_time + 10

    async def scenario() -> None:
        miner = Miner(node, MINER, processes=1)  # type: ignore[arg-type]
        await miner.start()
        try:
            await wait_until(lambda: miner.hashes > 0)
            assert miner._extra_nonce == 1
            node.events.publish(TipChanged(bytes(32), 0, 0))  # type: ignore[attr-defined]
            await wait_until(lambda: miner._extra_nonce == 2)
            assert miner.running and miner.blocks_found == 0
        finally:
            await miner.stop()
        assert not miner.running

    asyncio.run(scenario())


def test_hashes_count_the_nonces_tried_up_to_the_one_found() -> None:
    """`Miner.hashes` (the node's powchain_miner_hashes metric) counts nonces actually tried: a
    worker that finds one stops there, so the first block's count is its nonce + 1."""
    node = FakeNode(DictView({}))
    node.events = EventBus()  # type: ignore[attr-defined]
    node.clock = REGTEST.genesis_time + 10
    solved: list[tuple[int, int]] = []  # (header nonce, miner.hashes) at each submission

    async def scenario() -> None:
        miner = Miner(node, MINER, processes=1)  # type: ignore[arg-type]

        def record(block: Block) -> None:
            solved.append((block.header.nonce, miner.hashes))

        node.process_block = record  # type: ignore[attr-defined]
        await miner.start()
        try:
            await wait_until(lambda: len(solved) >= 2)
        finally:
            await miner.stop()

    asyncio.run(scenario())
    (nonce1, hashes1), (nonce2, hashes2) = solved[:2]
    assert hashes1 == nonce1 + 1 and hashes2 == hashes1 + nonce2 + 1
