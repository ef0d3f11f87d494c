"""Chain state on a real SQLite file: connect/disconnect, reorgs, rejections, maturity, halving."""

from __future__ import annotations

from pathlib import Path

import pytest

from powchain.consensus.errors import Kind, Rejected
from powchain.core.block import Block
from powchain.core.params import REGTEST
from powchain.core.units import COIN
from powchain.node.chainstate import ChainState, Status
from powchain.node.validation import accept_block, accept_headers, raise_if_invalid
from powchain.storage.db import Database

from .chainbuilder import ALICE, BOB, MINER, ChainBuilder

NOW = REGTEST.genesis_time + 10_000_000
MATURITY = REGTEST.coinbase_maturity


def open_chainstate(path: Path) -> ChainState:
    cs = ChainState(Database.open_in(path), REGTEST)
    cs.load()
    return cs


def feed(cs: ChainState, blocks: list[Block], now: int = NOW) -> None:
    for block in blocks:
        entry, _new, activation = accept_block(cs, block, now)
        raise_if_invalid(entry, activation)


def snapshot(cs: ChainState) -> dict[str, list[tuple[object, ...]]]:
    tables = ("accounts", "coinbases", "tx_index", "address_history", "posts", "active_chain")
    return {t: cs.db.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}


def balance(cs: ChainState, key: bytes) -> tuple[int, int, int]:
    row = cs.db.query_one("SELECT balance, nonce, immature FROM accounts WHERE pubkey = ?", (key,))
    return (0, 0, 0) if row is None else (row[0], row[1], row[2])


@pytest.fixture
def cs(tmp_path: Path) -> ChainState:
    return open_chainstate(tmp_path / "node")


@pytest.fixture
def builder() -> ChainBuilder:
    return ChainBuilder()


def mature_chain(builder: ChainBuilder) -> list[Block]:
    """MATURITY + 1 blocks to MINER: the coinbase of block 1 is spendable at the tip."""
    return builder.chain(MATURITY + 1)


def test_new_database_starts_at_genesis(cs: ChainState, builder: ChainBuilder) -> None:
    assert cs.height == 0
    assert cs.tip.hash == builder.genesis.hash
    assert cs.tip.status is Status.VALID
    assert cs.db.integrity_check() == "ok"


def test_connect_then_disconnect_restores_state_exactly(
    cs: ChainState, builder: ChainBuilder
) -> None:
    base = mature_chain(builder)
    feed(cs, base)
    before = snapshot(cs)
    pay = MINER.transfer(ALICE.pub, 7 * COIN, fee=5_000, nonce=0)
    post = ALICE.post("hello", fee=1_000, nonce=0)
    block = builder.block(base[-1], [pay, post])
    feed(cs, [block])
    assert balance(cs, ALICE.pub) == (7 * COIN - 1_000, 1, 0)
    assert snapshot(cs) != before

    disconnected, height = cs.disconnect_tip()

    assert (disconnected.hash, height) == (block.hash, MATURITY + 2)
    assert snapshot(cs) == before
    assert cs.tip.hash == base[-1].hash
    assert cs.db.integrity_check() == "ok"


def test_reorg_to_most_work_matches_replay(tmp_path: Path, builder: ChainBuilder) -> None:
    base = mature_chain(builder)
    # Both branches spend MINER's nonce 0: they conflict.
    branch_a = [builder.block(base[-1], [MINER.transfer(ALICE.pub, 10 * COIN, nonce=0)], tag=1)]
    branch_a += builder.chain(2, branch_a[-1], tag=1)
    branch_b = [builder.block(base[-1], [MINER.transfer(BOB.pub, 20 * COIN, nonce=0)], tag=2)]
    branch_b += builder.chain(4, branch_b[-1], tag=2)

    cs = open_chainstate(tmp_path / "reorg")
    feed(cs, base + branch_a)
    assert cs.tip.hash == branch_a[-1].hash
    assert balance(cs, ALICE.pub)[0] == 10 * COIN
    feed(cs, branch_b[:3])  # equal work (3 vs 3): the first seen tip stays
    assert cs.tip.hash == branch_a[-1].hash
    entry, _, activation = accept_block(cs, branch_b[3], NOW)
    assert len(activation.disconnected) == 3
    assert len(activation.connected) == 4
    feed(cs, branch_b[4:])

    assert cs.tip.hash == branch_b[-1].hash
    assert cs.height == len(base) + 5
    assert balance(cs, ALICE.pub) == (0, 0, 0)
    assert balance(cs, BOB.pub)[0] == 20 * COIN
    replay = open_chainstate(tmp_path / "replay")
    feed(replay, base + branch_b)
    assert snapshot(cs) == snapshot(replay)
    assert cs.db.integrity_check() == "ok"


def test_restart_resumes_at_tip_without_replay(tmp_path: Path, builder: ChainBuilder) -> None:
    blocks = builder.chain(20)
    side = builder.chain(2, blocks[15], tag=9)
    cs = open_chainstate(tmp_path / "n")
    feed(cs, blocks + side)
    before = snapshot(cs)
    assert cs.connect_count == 20
    cs.db.close()

    again = open_chainstate(tmp_path / "n")

    assert again.connect_count == 0
    assert again.tip.hash == blocks[-1].hash
    assert again.height == 20
    assert snapshot(again) == before
    assert again.get(side[-1].hash) is not None  # side branches are remembered
    feed(again, [builder.block(blocks[-1])])
    assert again.height == 21 and again.connect_count == 1


def test_block_with_bad_merkle_root_is_rejected_and_not_stored(
    cs: ChainState, builder: ChainBuilder
) -> None:
    bad = builder.block(merkle_root=bytes(32))
    with pytest.raises(Rejected) as err:
        feed(cs, [bad])
    assert (err.value.kind, err.value.reason) == (Kind.CONSENSUS, "bad-txnmrklroot")
    assert cs.get(bad.hash) is None
    feed(cs, [builder.block()])  # the good sibling still connects
    assert cs.height == 1


def test_block_with_wrong_bits_is_rejected(cs: ChainState, builder: ChainBuilder) -> None:
    bad = builder.block(bits=0x207FFFFE)
    with pytest.raises(Rejected) as err:
        feed(cs, [bad])
    assert (err.value.kind, err.value.reason) == (Kind.CONSENSUS, "bad-diffbits")
    assert cs.get(bad.hash) is None


def test_block_reusing_a_nonce_is_invalid_with_descendants(
    cs: ChainState, builder: ChainBuilder
) -> None:
    base = mature_chain(builder)
    first = builder.block(base[-1], [MINER.transfer(ALICE.pub, COIN, nonce=0)])
    replay = builder.block(first, [MINER.transfer(BOB.pub, COIN, nonce=0)])
    feed(cs, base + [first])
    before = snapshot(cs)

    with pytest.raises(Rejected) as err:
        feed(cs, [replay])

    assert (err.value.kind, err.value.reason) == (Kind.CONSENSUS, "bad-nonce")
    assert cs.tip.hash == first.hash
    assert cs.get(replay.hash).status is Status.INVALID  # type: ignore[union-attr]
    assert snapshot(cs) == before
    with pytest.raises(Rejected) as again:
        feed(cs, [replay])
    assert again.value.reason == "duplicate-invalid"
    with pytest.raises(Rejected) as child:
        feed(cs, [builder.block(replay)])
    assert child.value.reason == "bad-prevblk"


def test_duplicate_missing_parent_and_old_time(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(12)
    feed(cs, blocks[:11])
    with pytest.raises(Rejected) as dup:
        feed(cs, [blocks[3]])
    assert (dup.value.kind, dup.value.reason) == (Kind.DUPLICATE, "duplicate")
    orphan = builder.block(builder.block(blocks[-1]))
    with pytest.raises(Rejected) as missing:
        feed(cs, [orphan])
    assert (missing.value.kind, missing.value.reason) == (Kind.MISSING_PARENT, "prev-blk-not-found")
    mtp = cs.median_time_past(cs.tip)
    with pytest.raises(Rejected) as old:
        feed(cs, [builder.block(blocks[10], time=mtp)])
    assert old.value.reason == "time-too-old"
    feed(cs, [builder.block(blocks[10], time=mtp + 1)])


def test_future_block_is_retried_not_remembered(cs: ChainState, builder: ChainBuilder) -> None:
    now = builder.genesis.header.time + 600
    future = builder.block(time=now + REGTEST.max_future_block_time + 1)
    with pytest.raises(Rejected) as err:
        feed(cs, [future], now=now)
    assert (err.value.kind, err.value.reason) == (Kind.TIME_FUTURE, "time-too-new")
    assert cs.get(future.hash) is None

    feed(cs, [future], now=now + 1)

    assert cs.tip.hash == future.hash


def test_coinbase_matures_after_maturity_blocks(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(MATURITY - 1)
    feed(cs, blocks)
    # Block h = MATURITY cannot spend the coinbase of block 1 yet.
    early = builder.block(blocks[-1], [MINER.transfer(ALICE.pub, COIN, nonce=0)], tag=1)
    with pytest.raises(Rejected) as err:
        feed(cs, [early])
    assert err.value.reason == "insufficient-funds"
    blocks.append(builder.block(blocks[-1]))
    feed(cs, blocks[-1:])
    assert balance(cs, MINER.pub) == (0, 0, MATURITY * 50 * COIN)

    # Block h = 1 + MATURITY matures the coinbase of block 1 before its transactions run.
    spend = builder.block(blocks[-1], [MINER.transfer(ALICE.pub, COIN, fee=0, nonce=0)])
    feed(cs, [spend])

    assert balance(cs, ALICE.pub) == (COIN, 0, 0)
    assert balance(cs, MINER.pub) == (49 * COIN, 1, MATURITY * 50 * COIN)


def test_subsidy_halves_at_height_150(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(REGTEST.halving_interval - 1)
    feed(cs, blocks)
    greedy = builder.block(blocks[-1], coinbase_amount=50 * COIN)
    with pytest.raises(Rejected) as err:
        feed(cs, [greedy])
    assert err.value.reason == "bad-cb-amount"
    halved = builder.block(blocks[-1])
    assert halved.txs[0].amount == 25 * COIN
    feed(cs, [halved])
    assert cs.height == 150
    assert cs.db.integrity_check() == "ok"


def test_headers_first_then_bodies(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(30)
    added = accept_headers(cs, [b.header for b in blocks], NOW)
    assert len(added) == 30
    assert cs.best_header is not None and cs.best_header.hash == blocks[-1].hash
    assert cs.height == 0
    assert cs.missing_blocks(16) == [b.hash for b in blocks[:16]]
    assert accept_headers(cs, [blocks[0].header], NOW) == []

    feed(cs, blocks[5:])  # out of order: nothing connects until the gap is filled
    assert cs.height == 0
    feed(cs, blocks[:5])

    assert cs.tip.hash == blocks[-1].hash
    assert cs.missing_blocks(16) == []


def test_bad_header_is_rejected_in_a_batch(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(3)
    bad = builder.block(blocks[1], bits=0x207FFFFE)
    with pytest.raises(Rejected) as err:
        accept_headers(cs, [blocks[0].header, blocks[1].header, bad.header], NOW)
    assert err.value.reason == "bad-diffbits"
    # issue 11: nothing of a message with a bad header is indexed, in memory or on disk
    assert [cs.get(b.hash) for b in (blocks[0], blocks[1], bad)] == [None, None, None]
    assert cs.best_header is not None and cs.best_header.height == 0
    assert cs.db.query_one("SELECT count(*) FROM block_index") == (1,)
    assert len(accept_headers(cs, [blocks[0].header, blocks[1].header], NOW)) == 2


def test_locator_and_headers_after(cs: ChainState, builder: ChainBuilder) -> None:
    blocks = builder.chain(40)
    feed(cs, blocks)
    locator = cs.locator()
    assert locator[:10] == [b.hash for b in blocks[::-1][:10]]
    assert locator[-1] == builder.genesis.hash
    assert len(locator) <= 101
    heights = [cs.get(h).height for h in locator]  # type: ignore[union-attr]
    assert heights == sorted(heights, reverse=True)

    assert cs.headers_after([blocks[9].hash], None, 5) == [b.header for b in blocks[10:15]]
    assert cs.headers_after([bytes(32)], blocks[2].hash) == [b.header for b in blocks[:3]]
    fork = builder.chain(2, blocks[19], tag=3)
    feed(cs, fork)  # a side branch: its hashes are not on the active chain
    assert cs.headers_after([fork[-1].hash, blocks[19].hash], None, 1) == [blocks[20].header]


def test_failed_reorg_past_an_equal_work_sibling_returns_to_the_first_seen_tip(
    cs: ChainState, builder: ChainBuilder
) -> None:
    """Also reported (issue 11): after a failed reorg the node stayed on the attacker's
    equal-work branch instead of the first-seen tip (a free way to move a victim's tip)."""
    base = builder.chain(2, tag=1)
    first = builder.block(base[-1], tag=1)
    feed(cs, base + [first])
    sibling = builder.block(base[-1], tag=2)  # equal work, seen second: not connected
    feed(cs, [sibling])
    assert cs.tip.hash == first.hash
    bad = builder.block(sibling, [ALICE.transfer(BOB.pub, COIN, nonce=0)])  # unfunded
    entry, _, activation = accept_block(cs, bad, NOW)
    assert activation.invalid[bad.hash].reason == "insufficient-funds"
    assert cs.tip.hash == first.hash  # was: the sibling
    assert [k for k, _, _ in activation.steps] == ["disconnect", "connect", "disconnect", "connect"]
    good = builder.block(sibling, tag=3)  # the happy case: a valid longer branch still wins
    feed(cs, [good])
    assert cs.tip.hash == good.hash


def test_failed_reorg_returns_to_the_old_chain(cs: ChainState, builder: ChainBuilder) -> None:
    old = builder.chain(3, tag=1)
    feed(cs, old)
    new = builder.chain(1, tag=2)
    new.append(builder.block(new[-1], [ALICE.transfer(BOB.pub, COIN, nonce=0)]))  # unfunded
    new += builder.chain(3, new[-1], tag=2)
    for block in new[:3]:
        feed(cs, [block])  # less or equal work: stored, not connected
    assert cs.tip.hash == old[-1].hash

    entry, _, activation = accept_block(cs, new[3], NOW)  # 4 > 3: reorg, B2 fails, back to A

    assert activation.invalid[new[1].hash].reason == "insufficient-funds"
    assert entry.status is Status.INVALID
    assert cs.tip.hash == old[-1].hash
    kinds = [kind for kind, _, _ in activation.steps]
    assert kinds == ["disconnect"] * 3 + ["connect", "disconnect"] + ["connect"] * 3
    assert activation.old_tip is cs.tip
    with pytest.raises(Rejected) as err:
        feed(cs, [new[4]])
    assert err.value.reason == "bad-prevblk"
    assert cs.best_header is not None and cs.best_header.hash == old[-1].hash


def test_median_time_span_above_eleven_is_honoured(tmp_path: Path) -> None:
    """Also reported (issue 11): a network's median_time_span above 11 was cut to 11."""
    from dataclasses import replace

    for span in (11, 15):  # the default next to the wider one
        params = replace(REGTEST, median_time_span=span)
        cs = ChainState(Database.open_in(tmp_path / f"span{span}"), params)
        cs.load()
        blocks = ChainBuilder(params).chain(20)  # times 600 s apart, strictly increasing
        feed(cs, blocks)
        times = [b.header.time for b in blocks]
        assert cs.median_time_past(cs.tip) == sorted(times[-span:])[span // 2]
        cs.db.close()
