"""Wire codec of p2p/messages.py: round trips for every message, fixed vectors, limits."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import ParseError, compact_size
from powchain.core.transaction import Transaction
from powchain.p2p import messages as m

hashes = st.binary(min_size=32, max_size=32)
u16s = st.integers(0, 2**16 - 1)
u32s = st.integers(0, 2**32 - 1)
u64s = st.integers(0, 2**64 - 1)
texts = st.text(max_size=20)

headers = st.builds(
    BlockHeader,
    version=st.integers(-(2**31), 2**31 - 1),
    prev_block=hashes,
    merkle_root=hashes,
    time=u32s,
    bits=u32s,
    nonce=u32s,
)
transfers = st.builds(
    Transaction,
    version=st.just(1),
    chain_id=u32s,
    nonce=u64s,
    sender=hashes,
    recipient=hashes,
    amount=u64s,
    fee=u64s,
    data=st.binary(max_size=50),
    signature=st.binary(min_size=64, max_size=64),
)
coinbases = st.builds(
    Transaction.coinbase,
    chain_id=u32s,
    height=u64s,
    recipient=hashes,
    amount=u64s,
    data=st.binary(max_size=20),
)
txs = st.one_of(transfers, coinbases)
items = st.builds(m.InvItem, type=st.sampled_from(m.InvType), hash=hashes)
addresses = st.builds(
    m.NetAddress, host=st.text(min_size=1, max_size=30), port=u16s, last_seen=u64s
)

every_message = st.one_of(
    st.builds(
        m.Version,
        protocol_version=u32s,
        network=st.text(max_size=8),
        magic=st.binary(min_size=4, max_size=4),
        chain_id=u32s,
        genesis=hashes,
        best_height=u32s,
        user_agent=texts,
        listen_port=u16s,
        nonce=u64s,
    ),
    st.just(m.Verack()),
    st.builds(m.Ping, nonce=u64s),
    st.builds(m.Pong, nonce=u64s),
    st.just(m.GetAddr()),
    st.builds(m.Addr, addresses=st.lists(addresses, max_size=5).map(tuple)),
    st.builds(m.Inv, items=st.lists(items, max_size=5).map(tuple)),
    st.builds(m.GetData, items=st.lists(items, max_size=5).map(tuple)),
    st.builds(m.NotFound, items=st.lists(items, max_size=5).map(tuple)),
    st.builds(m.GetHeaders, locator=st.lists(hashes, max_size=5).map(tuple), stop=hashes),
    st.builds(m.Headers, headers=st.lists(headers, max_size=5).map(tuple)),
    st.builds(
        m.BlockMsg,
        block=st.builds(Block, header=headers, txs=st.lists(txs, max_size=3).map(tuple)),
    ),
    st.builds(m.TxMsg, tx=txs),
    st.just(m.MempoolMsg()),
    st.builds(
        m.Proposal,
        round=u32s,
        block=st.builds(
            Block,
            header=headers,
            txs=st.lists(txs, max_size=2).map(tuple),
            trailer=st.binary(max_size=200),
        ),
    ),
    st.builds(
        m.BlockSignature,
        block_hash=hashes,
        key=hashes,
        signature=st.binary(min_size=64, max_size=64),
    ),
    st.builds(
        m.EvidenceMsg,
        header_a=headers,
        trailer_a=st.binary(max_size=200),
        header_b=headers,
        trailer_b=st.binary(max_size=200),
    ),
)


@settings(max_examples=300)
@given(every_message)
def test_every_message_round_trips(message: m.AnyMessage) -> None:
    frame = m.encode(message)
    assert frame[0] == message.command
    assert m.decode(frame) == message


def test_command_table_covers_every_command() -> None:
    assert set(m.MESSAGES) == set(m.Command)
    assert all(cls.command is cmd for cmd, cls in m.MESSAGES.items())


def test_fixed_vectors() -> None:
    assert m.encode(m.Verack()).hex() == "01"
    assert m.encode(m.Ping(1)).hex() == "02" + "0100000000000000"
    item = m.InvItem(m.InvType.BLOCK, bytes(range(32)))
    assert m.encode(m.GetData((item,))).hex() == "07" + "01" + "02" + bytes(range(32)).hex()
    assert m.encode(m.GetHeaders((), bytes(32))).hex() == "09" + "00" + "00" * 32
    version = m.Version(1, "regtest", b"rpow", 7, bytes(32), 5, "ua", 18744, 9)
    assert m.encode(version).hex() == (
        "00"
        + "01000000"
        + "07"
        + b"regtest".hex()
        + b"rpow".hex()
        + "07000000"
        + "00" * 32
        + "05000000"
        + "02"
        + b"ua".hex()
        + "3849"
        + "0900000000000000"
    )


@pytest.mark.parametrize(
    "frame, why",
    [
        (b"", "empty"),
        (bytes([200]), "unknown command"),
        (bytes([m.Command.PING]) + b"\x01\x02", "truncated"),
        (bytes([m.Command.VERACK]) + b"\x00", "trailing"),
        (bytes([m.Command.INV]) + b"\x01\x09" + bytes(32), "unknown inventory type"),
        (bytes([m.Command.ADDR]) + b"\x01\x00" + bytes(10), "empty host"),
        (bytes([m.Command.VERSION]) + b"\x01\x00\x00\x00\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_garbage_raises_parse_error(frame: bytes, why: str) -> None:
    with pytest.raises(ParseError):
        m.decode(frame)


@pytest.mark.parametrize(
    "command, limit, item_size",
    [
        (m.Command.INV, m.MAX_INV_ITEMS, 33),
        (m.Command.GETDATA, m.MAX_INV_ITEMS, 33),
        (m.Command.NOTFOUND, m.MAX_INV_ITEMS, 33),
        (m.Command.ADDR, m.MAX_ADDR, 12),
        (m.Command.HEADERS, m.MAX_HEADERS, 80),
    ],
)
def test_counts_over_the_limit_are_refused(command: m.Command, limit: int, item_size: int) -> None:
    # the count alone is refused before any item is read: a peer cannot make us allocate
    frame = bytes([command]) + compact_size(limit + 1) + bytes(item_size)
    with pytest.raises(ParseError, match="exceeds limit"):
        m.decode(frame)


def test_locator_over_101_refused() -> None:
    frame = bytes([m.Command.GETHEADERS]) + compact_size(102) + bytes(32 * 103)
    with pytest.raises(ParseError, match="exceeds limit"):
        m.decode(frame)


def test_full_headers_message_at_the_limit_is_accepted() -> None:
    header = BlockHeader(1, bytes(32), bytes(32), 0, 0x207FFFFF, 0)
    message = m.Headers((header,) * m.MAX_HEADERS)
    assert m.decode(m.encode(message)) == message


def test_oversized_frame_refused() -> None:
    frame = bytes([m.Command.PING]) + bytes(m.MAX_MESSAGE_SIZE)
    with pytest.raises(ParseError, match="exceeds"):
        m.decode(frame)


def test_encoder_refuses_to_build_oversized_lists() -> None:
    item = m.InvItem(m.InvType.TX, bytes(32))
    with pytest.raises(ValueError):
        m.encode(m.Inv((item,) * (m.MAX_INV_ITEMS + 1)))
    with pytest.raises(ValueError):
        m.encode(m.GetHeaders((bytes(32),) * (m.MAX_LOCATOR + 1)))


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_parse_error(frame: bytes) -> None:
    with contextlib.suppress(ParseError):
        m.decode(frame)


@settings(max_examples=100)
@given(st.lists(txs, min_size=1, max_size=4), headers)
def test_raw_block_frame_is_the_encoded_block_message(
    block_txs: list[Transaction], header: BlockHeader
) -> None:
    block = Block(header, tuple(block_txs))
    frame = m.encode_block_raw(block.serialize())
    assert frame == m.encode(m.BlockMsg(block))
    assert m.decode(frame) == m.BlockMsg(block)


def test_raw_block_frame_over_the_limit_is_refused() -> None:
    assert len(m.encode_block_raw(bytes(m.MAX_MESSAGE_SIZE - 1))) == m.MAX_MESSAGE_SIZE
    with pytest.raises(ValueError, match="exceeds"):
        m.encode_block_raw(bytes(m.MAX_MESSAGE_SIZE))
