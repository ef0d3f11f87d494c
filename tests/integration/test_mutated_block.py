"""Issue 11, item 1: a mutated copy of a valid block (BIP-54's 64-byte transaction) must not get
the valid block marked invalid, and its honest relayer must not be banned.

The mutated copy is built for real: a two-transaction block whose top merkle children L (the
coinbase's txid) and R (the payment's txid) satisfy L[0] == 0x00 and R[21] == 0x0a is ground
(about 2 x 256 tries), and `L || R` then parses as a 64-byte coinbase whose txid is the block's
merkle root, so the copy has the same header (hash, proof of work, merkle root).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from powchain.consensus.block_check import check_block
from powchain.consensus.errors import Kind, Rejected
from powchain.core.block import Block
from powchain.core.params import REGTEST
from powchain.core.transaction import COINBASE_VERSION, Transaction
from powchain.node.chainstate import ChainState
from powchain.node.validation import accept_block, raise_if_invalid
from powchain.p2p import messages as m
from powchain.storage.db import Database
from tests.fakepeer import FakePeer
from tests.integration.chainbuilder import BOB, MINER, ChainBuilder, solve
from tests.integration.test_p2p_network import Net, network_test, wait_until

NOW = REGTEST.genesis_time + 10_000_000


def grind_mutable_block(builder: ChainBuilder, parent: Block) -> Block:
    """A valid block on `parent` (coinbase + one payment from MINER) whose top merkle
    children L, R make `L || R` parse as a 64-byte coinbase."""
    amount = 1_000
    while True:
        pay = MINER.transfer(BOB.pub, amount, fee=10_000, nonce=0)
        if pay.txid[21] == 0x0A:  # CompactSize 10: R's last 10 bytes are the "data"
            break
        amount += 1
    tag = 1
    while True:
        block = builder.block(parent, [pay], tag=tag)
        if block.txs[0].txid[0] == COINBASE_VERSION:  # L[0]: the "version" byte
            return block
        tag += 1


def mutated_copy(block: Block) -> Block:
    """The header of `block` with the single "transaction" L || R."""
    left, right = block.txs[0].txid, block.txs[1].txid
    fake = Transaction.from_bytes(left + right)
    assert fake.size == 64 and fake.is_coinbase
    copy = Block(block.header, (fake,))
    assert copy.hash == block.hash and copy.compute_merkle_root() == block.header.merkle_root
    return copy


@pytest.fixture(scope="module")
def shapes() -> tuple[list[Block], Block, Block]:
    builder = ChainBuilder()
    base = builder.chain(REGTEST.coinbase_maturity + 1)  # MINER's first coinbase is spendable
    real = grind_mutable_block(builder, base[-1])
    return base, real, mutated_copy(real)


def open_chainstate(path: Path) -> ChainState:
    cs = ChainState(Database.open_in(path), REGTEST)
    cs.load()
    return cs


def test_a_64_byte_transaction_is_invalid_and_coinbase_building_pads(shapes: tuple) -> None:
    _base, real, mutated = shapes
    with pytest.raises(Rejected) as info:
        check_block(mutated, REGTEST)
    assert (info.value.kind, info.value.reason) == (Kind.CONSENSUS, "bad-txns-64-byte")
    check_block(real, REGTEST)  # the happy case: the real block is well formed
    # the only 64-byte shape is a coinbase with 10 bytes of data: the builder pads it
    padded = Transaction.coinbase(REGTEST.chain_id, 1, MINER.pub, 1, b"0123456789")
    assert padded.data == b"0123456789\x00" and padded.size == 65
    for length in (0, 9, 11, 100):
        data = bytes(length)
        assert Transaction.coinbase(REGTEST.chain_id, 1, MINER.pub, 1, data).data == data


def test_mutated_copy_is_not_stored_and_the_real_block_still_connects(
    tmp_path: Path, shapes: tuple
) -> None:
    base, real, mutated = shapes
    cs = open_chainstate(tmp_path / "node")
    for block in base:
        entry, _, activation = accept_block(cs, block, NOW)
        raise_if_invalid(entry, activation)
    with pytest.raises(Rejected) as info:
        accept_block(cs, mutated, NOW)
    assert info.value.reason == "bad-txns-64-byte"
    known = cs.get(real.hash)
    assert known is None or (not known.is_invalid and not known.has_data)
    entry, _, activation = accept_block(cs, real, NOW)
    raise_if_invalid(entry, activation)
    assert cs.tip.hash == real.hash
    cs.db.close()
    cs = open_chainstate(tmp_path / "node")  # and nothing invalid was persisted
    assert cs.tip.hash == real.hash and not cs.get(real.hash).is_invalid  # type: ignore[union-attr]
    cs.db.close()


def test_body_with_a_wrong_coinbase_is_not_stored_nor_marked_invalid(tmp_path: Path) -> None:
    """The second half: the coinbase's chain id and height are checked before a body is
    stored, so such a body never reaches connect (which marked the hash invalid)."""
    builder = ChainBuilder()
    base = builder.chain(2)
    cs = open_chainstate(tmp_path / "node")
    for block in base:
        accept_block(cs, block, NOW)
    template = builder.block(base[-1]).header
    for coinbase, reason in (
        (Transaction.coinbase(REGTEST.chain_id, 7, MINER.pub, 1), "bad-cb-height"),
        (Transaction.coinbase(REGTEST.chain_id ^ 1, 3, MINER.pub, 1), "wrong-chain"),
    ):
        header = replace(template, merkle_root=coinbase.txid, nonce=0)
        forged = Block(solve(header), (coinbase,))
        with pytest.raises(Rejected) as info:
            accept_block(cs, forged, NOW)
        assert (info.value.kind, info.value.reason) == (Kind.CONSENSUS, reason)
        entry = cs.get(forged.hash)
        assert entry is None or (not entry.has_data and not entry.is_invalid)
    good = builder.block(base[-1])  # the happy case next to it
    entry, _, activation = accept_block(cs, good, NOW)
    raise_if_invalid(entry, activation)
    assert cs.tip.hash == good.hash
    cs.db.close()


@network_test
async def test_mutated_block_from_one_peer_does_not_split_us_from_the_real_one(net: Net) -> None:
    builder = ChainBuilder()
    base = builder.chain(REGTEST.coinbase_maturity + 1)
    real = grind_mutable_block(builder, base[-1])
    mutated = mutated_copy(real)
    node, pm = await net.start("a")
    for block in base:
        node.process_block(block)
    attacker = await FakePeer.connect(pm.listen_port)
    await attacker.handshake(REGTEST, listen_port=41101)
    honest = await FakePeer.connect(pm.listen_port)
    await honest.handshake(REGTEST, listen_port=41102)
    await attacker.send(m.BlockMsg(mutated))
    assert await attacker.closed()  # a mutated body is a peer fault
    entry = node.entry(real.hash)
    assert entry is None or not entry.is_invalid
    await honest.send(m.BlockMsg(real))
    await wait_until(lambda: node.tip.hash == real.hash, timeout=30)
    await honest.send(m.Ping(11))
    await honest.wait_for(m.Pong)
    bans = [b["reason"] for b in pm.ban_list()]
    assert bans == ["invalid-block: bad-txns-64-byte"]
    assert pm.connected_count() == 1  # the honest relayer is still connected
    await honest.close()
