"""Hypothesis round trips for every consensus encoding, and parsers that only raise ParseError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powchain.consensus.state import AccountState, BlockUndo
from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import ByteReader, ParseError, compact_size, u16, u32, u64
from powchain.core.transaction import Transaction

U32 = st.integers(min_value=0, max_value=2**32 - 1)
U64 = st.integers(min_value=0, max_value=2**64 - 1)
KEY = st.binary(min_size=32, max_size=32)
DATA = st.binary(max_size=300)

transfers = st.builds(
    Transaction,
    version=st.just(1),
    chain_id=U32,
    nonce=U64,
    sender=KEY,
    recipient=KEY,
    amount=U64,
    fee=U64,
    data=DATA,
    signature=st.binary(min_size=64, max_size=64),
)
coinbases = st.builds(Transaction.coinbase, U32, U64, KEY, U64, st.binary(max_size=100))
headers = st.builds(
    BlockHeader,
    version=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    prev_block=KEY,
    merkle_root=KEY,
    time=U32,
    bits=U32,
    nonce=U32,
)
blocks = st.builds(
    lambda h, cb, txs: Block(h, (cb, *txs)), headers, coinbases, st.lists(transfers, max_size=5)
)
accounts = st.builds(AccountState, balance=U64, nonce=U64, immature=U64)


@given(U64)
def test_compact_size_round_trip(n: int) -> None:
    raw = compact_size(n)
    assert len(raw) == (1 if n < 0xFD else 3 if n <= 0xFFFF else 5 if n <= 0xFFFFFFFF else 9)
    reader = ByteReader(raw)
    assert reader.read_compact_size(2**64) == n
    reader.expect_end()


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_non_canonical_compact_size_is_rejected(n: int) -> None:
    longer = []
    if n < 0xFD:
        longer.append(b"\xfd" + u16(n))
    if n <= 0xFFFF:
        longer.append(b"\xfe" + u32(n))
    longer.append(b"\xff" + u64(n))
    for raw in longer:
        with pytest.raises(ParseError, match="non-canonical"):
            ByteReader(raw).read_compact_size(2**64)


def test_compact_size_limit_and_truncation() -> None:
    with pytest.raises(ParseError, match="exceeds"):
        ByteReader(compact_size(1001)).read_compact_size(1000)
    with pytest.raises(ParseError, match="truncated"):
        ByteReader(b"\xfe\x00\x00").read_compact_size()
    with pytest.raises(ParseError, match="truncated"):
        ByteReader(compact_size(10) + b"short").read_var_bytes(100)


@given(st.one_of(transfers, coinbases))
def test_transaction_round_trip(tx: Transaction) -> None:
    raw = tx.serialize()
    again = Transaction.from_bytes(raw)
    assert again == tx
    assert again.txid == tx.txid
    assert again.serialize() == raw


@given(st.one_of(transfers, coinbases), st.binary(min_size=1, max_size=4))
def test_transaction_trailing_bytes_rejected(tx: Transaction, extra: bytes) -> None:
    with pytest.raises(ParseError, match="trailing"):
        Transaction.from_bytes(tx.serialize() + extra)


@given(headers)
def test_header_round_trip(header: BlockHeader) -> None:
    raw = header.serialize()
    assert len(raw) == 80
    assert BlockHeader.parse(raw) == header
    assert BlockHeader.parse(raw).hash == header.hash


@given(blocks)
@settings(max_examples=50)
def test_block_round_trip(block: Block) -> None:
    raw = block.serialize()
    again = Block.parse(raw)
    assert again == block
    assert again.hash == block.hash
    assert again.txids == block.txids


@given(st.lists(st.tuples(KEY, accounts), max_size=10))
def test_block_undo_round_trip(items: list[tuple[bytes, AccountState]]) -> None:
    undo = BlockUndo(tuple(items))
    assert BlockUndo.parse(undo.serialize()) == undo


@given(st.binary(max_size=600))
@settings(max_examples=300)
def test_random_bytes_raise_only_parse_error(raw: bytes) -> None:
    for parse in (Transaction.from_bytes, Block.parse):
        with contextlib.suppress(ParseError):
            parse(raw)


@given(blocks, st.data())
@settings(max_examples=100)
def test_mutated_blocks_raise_only_parse_error(block: Block, data: st.DataObject) -> None:
    raw = bytearray(block.serialize())
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    flips = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw) - 1), max_size=4))
    for i in flips:
        raw[i] ^= data.draw(st.integers(min_value=1, max_value=255))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        with contextlib.suppress(ParseError):
            Block.parse(candidate)


def test_header_parse_needs_exactly_80_bytes() -> None:
    with pytest.raises(ParseError):
        BlockHeader.parse(bytes(79))
    with pytest.raises(ParseError):
        BlockHeader.parse(bytes(81))


def test_unknown_transaction_version_rejected() -> None:
    raw = bytearray(Transaction.coinbase(1, 1, bytes(32), 1).serialize())
    raw[0] = 2
    with pytest.raises(ParseError, match="version"):
        Transaction.from_bytes(bytes(raw))
