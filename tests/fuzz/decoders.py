"""The decoders under fuzz, a seed corpus of valid encodings, and the one property they share.

Every decoder of untrusted bytes (transaction, block, header, every peer message, undo data,
addresses) must, for ANY input, either return a value whose canonical encoding is the input
(so two different byte strings never decode to the same object) or raise its typed error.
Anything else (IndexError, OverflowError, UnicodeDecodeError, RecursionError, ...) is a bug.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass

from powchain.consensus.state import AccountState, BlockUndo
from powchain.core import keys
from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import ParseError
from powchain.core.hashing import merkle_root
from powchain.core.merkleblock import (
    MerkleBlock,
    MerkleBlockError,
    decode_merkleblock,
    encode_merkleblock,
    extract_matches,
)
from powchain.core.params import DEVNET, REGTEST, genesis_block
from powchain.core.transaction import Transaction, make_post_data
from powchain.p2p import messages as m

__all__ = ["Decoder", "DECODERS", "check", "mutate", "SEEDS"]


@dataclass(frozen=True)
class Decoder:
    """`decode(bytes) -> object`, `encode(object) -> bytes`, the typed errors it may raise."""

    name: str
    decode: Callable[[bytes], object]
    encode: Callable[[object], bytes]
    errors: tuple[type[BaseException], ...] = (ParseError,)


def _address_decode(raw: bytes) -> object:
    return keys.decode_address(raw.decode("latin-1"), REGTEST.hrp)


def _merkleblock_decode(raw: bytes) -> MerkleBlock:
    """Parse, then walk the partial tree (its own typed errors count as a clean refusal)."""
    block = decode_merkleblock(raw)
    with contextlib.suppress(MerkleBlockError):
        extract_matches(block.tree)
    return block


def _address_encode(value: object) -> bytes:
    assert isinstance(value, bytes)
    return keys.encode_address(REGTEST.hrp, value).encode("latin-1")


DECODERS: dict[str, Decoder] = {
    "transaction": Decoder(
        "transaction",
        Transaction.from_bytes,
        lambda tx: tx.serialize(),  # type: ignore[attr-defined]
    ),
    "block": Decoder("block", Block.parse, lambda b: b.serialize()),  # type: ignore[attr-defined]
    "header": Decoder(
        "header",
        BlockHeader.parse,
        lambda h: h.serialize(),  # type: ignore[attr-defined]
    ),
    "message": Decoder("message", m.decode, lambda msg: m.encode(msg)),  # type: ignore[arg-type]
    "undo": Decoder(
        "undo",
        BlockUndo.parse,
        lambda u: u.serialize(),  # type: ignore[attr-defined]
    ),
    "address": Decoder(
        "address",
        _address_decode,
        _address_encode,
        (keys.AddressError,),
    ),
    "merkleblock": Decoder(
        "merkleblock",
        _merkleblock_decode,
        lambda b: b.serialize(),  # type: ignore[attr-defined]
    ),
}


def check(decoder: Decoder, raw: bytes) -> None:
    """The fuzz property: a typed error, or a value that re-encodes to exactly `raw`."""
    try:
        value = decoder.decode(raw)
    except decoder.errors:
        return
    if decoder.name == "address":
        # bech32m is case-insensitive (an all-uppercase address re-encodes lowercased), and
        # keys.decode_address strips surrounding whitespace on purpose (pasted addresses);
        # the fuzz loop found that lenience first (regressions/address-trailing-*.hex). The
        # whitespace is str.isspace's, as the decoder sees the text: it includes \x1c-\x1f,
        # \x85 and \xa0, which bytes.strip keeps (regressions/address-trailing-separator.hex)
        text = raw.decode("latin-1").strip().lower()
        assert _address_encode(value) == text.encode("latin-1"), raw
        return
    assert decoder.encode(value) == raw, f"{decoder.name}: {raw.hex()} is not canonical"


def _seed_messages() -> list[bytes]:
    genesis = genesis_block(DEVNET)
    header = genesis.header
    tx = Transaction(
        1, REGTEST.chain_id, 3, b"\x01" * 32, b"\x02" * 32, 5, 7, make_post_data("hi"), b"\x03" * 64
    )
    items = (m.InvItem(m.InvType.TX, b"\x04" * 32), m.InvItem(m.InvType.BLOCK, b"\x05" * 32))
    addrs = (m.NetAddress("10.0.0.1", 18744, 1_700_000_000), m.NetAddress("::1", 1, 0))
    msgs: list[m.AnyMessage] = [
        m.Version(1, "regtest", REGTEST.magic, REGTEST.chain_id, header.hash, 5, "/x/", 1, 9),
        m.Verack(),
        m.Ping(1),
        m.Pong(2),
        m.GetAddr(),
        m.Addr(addrs),
        m.Inv(items),
        m.GetData(items),
        m.NotFound(items),
        m.GetHeaders((header.hash, b"\x00" * 32), b"\x00" * 32),
        m.Headers((header, header)),
        m.BlockMsg(genesis),
        m.TxMsg(tx),
        m.MempoolMsg(),
    ]
    return [m.encode(msg) for msg in msgs]


def _seeds() -> dict[str, list[bytes]]:
    genesis = genesis_block(DEVNET)
    tx = Transaction(1, 7, 1, b"\x01" * 32, b"\x02" * 32, 10, 1, b"", b"\x09" * 64)
    undo = BlockUndo(((b"\x01" * 32, AccountState(5, 1, 2)), (b"\x02" * 32, AccountState())))
    address = keys.encode_address(REGTEST.hrp, keys.xonly_pubkey(b"\x01" * 32))
    return {
        "transaction": [tx.serialize(), genesis.txs[0].serialize()]
        + [t.serialize() for t in genesis.txs[1:]],
        "block": [genesis.serialize(), genesis_block(REGTEST).serialize()],
        "header": [genesis.header.serialize()],
        "message": _seed_messages(),
        "undo": [undo.serialize()],
        "address": [address.encode("latin-1")],
        "merkleblock": [
            encode_merkleblock(_header_over(ids), ids, {1, len(ids) - 1})
            for ids in ([bytes([i]) * 32 for i in range(n)] for n in (1, 3, 7))
            if len(ids) > 1
        ]
        + [encode_merkleblock(_header_over([b"\x07" * 32]), [b"\x07" * 32], {0})],
    }


def _header_over(txids: list[bytes]) -> BlockHeader:
    return BlockHeader(1, b"\x00" * 32, merkle_root(txids), 1_700_000_000, 0x207FFFFF, 3)


SEEDS = _seeds()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits: flip, set a byte to an edge value, cut, insert, duplicate."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[pos % len(buf)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos % len(buf)] = rng.choice((0, 1, 0x7F, 0x80, 0xFC, 0xFD, 0xFE, 0xFF))
        elif op == 2:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 3:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 9))
        elif op == 4 and buf:
            end = min(len(buf), pos + rng.randint(1, 40))
            buf[pos:pos] = buf[pos:end]
        else:
            buf[pos:pos] = rng.choice((b"\xfd\xff\xff", b"\xfe\xff\xff\xff\xff", b"\xff" * 9))
    return bytes(buf)
