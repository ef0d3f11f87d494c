"""The miner against a real regtest Node (SQLite in tmp_path): templates that connect, and the
multi-process `Miner` mining blocks and confirming a submitted transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from powchain.consensus.subsidy import block_subsidy
from powchain.core.params import REGTEST
from powchain.node.miner import build_template, solve_in_process
from powchain.node.node import Node, NodeConfig

from .chainbuilder import ALICE, BOB, MINER


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `predicate` on the loop until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def make_node(tmp_path: Path, *, mine: bool = False) -> Node:
    config = NodeConfig(
        params=REGTEST, datadir=tmp_path, listen=False, mine=mine, miner_address=MINER.pub
    )
    return Node(config)


def test_a_solved_template_becomes_the_tip(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    node.open()
    try:
        block = solve_in_process(build_template(node, MINER.pub), REGTEST)
        assert block is not None
        assert node.process_block(block) is True
        assert (node.tip.height, node.tip.hash) == (1, block.hash)
        assert node.account_info(MINER.pub).immature == block_subsidy(1, REGTEST)
    finally:
        node.close()


def test_a_mined_template_collects_the_fee_of_a_submitted_transaction(tmp_path: Path) -> None:
    node = make_node(tmp_path)

    async def scenario() -> None:
        node.open()
        await node.mine_blocks(REGTEST.coinbase_maturity + 1, ALICE.pub)  # block 1 matures
        tx = ALICE.transfer(BOB.pub, 1_000, fee=5_000, nonce=0)
        node.submit_transaction(tx)
        block = solve_in_process(build_template(node, MINER.pub, extra_nonce=1), REGTEST)
        assert block is not None and block.txs[1] == tx
        height = node.tip.height + 1
        assert block.txs[0].amount == block_subsidy(height, REGTEST) + 5_000
        node.process_block(block)
        assert tx.txid not in node.mempool
        assert node.account_info(BOB.pub).balance == 1_000

    try:
        asyncio.run(scenario())
    finally:
        node.close()


def test_the_miner_mines_blocks_and_confirms_transactions(tmp_path: Path) -> None:
    node = make_node(tmp_path)

    async def scenario() -> None:
        node.open()
        await node.mine_blocks(REGTEST.coinbase_maturity + 1, ALICE.pub)
        start = node.tip.height
        node.config.mine = True
        await node.start()  # starts the Miner with one worker process
        try:
            assert node.miner is not None
            await wait_until(lambda: node.tip.height >= start + 2)
            tx = ALICE.transfer(BOB.pub, 7_000, fee=2_000, nonce=0)
            node.submit_transaction(tx)
            await wait_until(lambda: node.account_info(BOB.pub).balance == 7_000)
            assert node.miner.blocks_found >= 3
        finally:
            await node.stop()

    asyncio.run(scenario())
