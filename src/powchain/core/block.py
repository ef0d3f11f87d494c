"""Block headers and blocks (SPEC §4). Pure data with symmetric codecs.

Header: Bitcoin's 80 bytes `version:i32 | prev_block:32 | merkle_root:32 | time:u32 | bits:u32 |
nonce:u32`. Block: header | CompactSize(count) | transactions (coinbase first) | trailer.

The trailer is what a block carries beyond its header and transactions, outside the block hash
(issue 14): empty under proof of work (the `pow` engine refuses any byte of it), a validator
signature set under the `validators` engine. Its meaning belongs to the consensus engine; here it
is opaque bytes, so a parser that knows no engine still reads every block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .encoding import ByteReader, ParseError, compact_size, i32, u32
from .hashing import hash_to_hex, merkle_root, sha256d
from .transaction import Transaction

__all__ = ["BlockHeader", "Block", "HEADER_SIZE", "MAX_BLOCK_TXS_PARSE"]

HEADER_SIZE = 80
MAX_BLOCK_TXS_PARSE = 100_000
"""Parser bound on the transaction count; MAX_BLOCK_SIZE is checked by consensus."""


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """80-byte header. `prev_block`, `merkle_root`: 32 bytes, internal order. `time`: Unix s."""

    version: int
    prev_block: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int
    _hash: list[bytes] = field(default_factory=list, init=False, repr=False, compare=False)

    def serialize(self) -> bytes:
        """Exactly 80 bytes."""
        return (
            i32(self.version)
            + self.prev_block
            + self.merkle_root
            + u32(self.time)
            + u32(self.bits)
            + u32(self.nonce)
        )

    @property
    def hash(self) -> bytes:
        """sha256d(header), 32 bytes, internal order (cached)."""
        if not self._hash:
            self._hash.append(sha256d(self.serialize()))
        return self._hash[0]

    @property
    def hash_hex(self) -> str:
        """Block hash as people read it (byte-reversed hex, leading zeros)."""
        return hash_to_hex(self.hash)

    @classmethod
    def read(cls, reader: ByteReader) -> BlockHeader:
        """Read 80 bytes from a reader."""
        return cls(
            reader.read_i32(),
            reader.read(32),
            reader.read(32),
            reader.read_u32(),
            reader.read_u32(),
            reader.read_u32(),
        )

    @classmethod
    def parse(cls, raw: bytes) -> BlockHeader:
        """Parse exactly 80 bytes; ParseError otherwise."""
        if len(raw) != HEADER_SIZE:
            raise ParseError(f"a header is {HEADER_SIZE} bytes, got {len(raw)}")
        return cls.read(ByteReader(raw))

    def with_nonce(self, nonce: int, time: int | None = None) -> BlockHeader:
        """A copy with another nonce (and optionally time)."""
        return BlockHeader(
            self.version,
            self.prev_block,
            self.merkle_root,
            self.time if time is None else time,
            self.bits,
            nonce,
        )


@dataclass(frozen=True, slots=True)
class Block:
    """A header and its transactions; `txs[0]` is the coinbase in a valid block."""

    header: BlockHeader
    txs: tuple[Transaction, ...]
    trailer: bytes = b""  # outside the hash; the engine gives it meaning (core/block.py doc)

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def txids(self) -> list[bytes]:
        return [tx.txid for tx in self.txs]

    def compute_merkle_root(self) -> bytes:
        return merkle_root(self.txids)

    def serialize(self) -> bytes:
        return (
            self.header.serialize()
            + compact_size(len(self.txs))
            + b"".join(tx.serialize() for tx in self.txs)
            + self.trailer
        )

    @property
    def size(self) -> int:
        return len(self.serialize())

    def with_trailer(self, trailer: bytes) -> Block:
        """The same block (same hash) carrying another trailer."""
        return Block(self.header, self.txs, trailer)

    @classmethod
    def read(cls, reader: ByteReader) -> Block:
        """Read a block whose trailer is every byte left in `reader` (a block is always the
        last thing of its frame or row)."""
        header = BlockHeader.read(reader)
        count = reader.read_compact_size(MAX_BLOCK_TXS_PARSE)
        txs = tuple(Transaction.parse(reader) for _ in range(count))
        return cls(header, txs, reader.read(reader.remaining()))

    @classmethod
    def parse(cls, raw: bytes) -> Block:
        """Parse exactly one block from `raw`, the bytes after its transactions being its
        trailer; ParseError when malformed. The consensus engine judges the trailer."""
        return cls.read(ByteReader(raw))

    def __str__(self) -> str:  # pragma: no cover - debugging aid
        return f"Block({hash_to_hex(self.hash)}, {len(self.txs)} txs)"
