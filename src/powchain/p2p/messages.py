"""Wire messages of the peer-to-peer protocol (SPEC §6): a pure codec, no I/O.

One WebSocket binary frame carries one message: `command:u8 | payload`. Every message is a
frozen dataclass with `serialize()` (the payload) and `parse(reader)`; `encode(msg)` adds the
command byte and `decode(frame)` looks the command up in the explicit `MESSAGES` table, parses
with a bounded `ByteReader` and rejects trailing bytes. Anything malformed or over a limit
raises `ParseError`. Hashes are 32 bytes in internal order; integers little-endian.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Protocol

from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import (
    ByteReader,
    ParseError,
    compact_size,
    u8,
    u16,
    u32,
    u64,
    var_bytes,
)
from powchain.core.transaction import Transaction

from .commands import Command
from .valmsgs import BlockSignature, EvidenceMsg, Proposal

__all__ = [
    "Command",
    "InvType",
    "InvItem",
    "NetAddress",
    "Message",
    "Version",
    "Verack",
    "Ping",
    "Pong",
    "GetAddr",
    "Addr",
    "Inv",
    "GetData",
    "NotFound",
    "GetHeaders",
    "Headers",
    "BlockMsg",
    "TxMsg",
    "MempoolMsg",
    "Proposal",
    "BlockSignature",
    "EvidenceMsg",
    "MESSAGES",
    "encode",
    "encode_block_raw",
    "decode",
    "ParseError",
    "PROTOCOL_VERSION",
    "MAX_MESSAGE_SIZE",
    "MAX_INV_ITEMS",
    "MAX_ADDR",
    "MAX_LOCATOR",
    "MAX_HEADERS",
    "MAX_USER_AGENT",
    "MAX_HOST",
]

PROTOCOL_VERSION = 1
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
"""Largest frame (command byte included) a peer may send us."""
MAX_INV_ITEMS = 50_000
MAX_ADDR = 1_000
MAX_LOCATOR = 101
MAX_HEADERS = 2_000
MAX_USER_AGENT = 256
MAX_NETWORK_NAME = 32
MAX_HOST = 255


class InvType(IntEnum):
    """What an inventory hash names (Core: MSG_TX, MSG_BLOCK)."""

    TX = 1
    BLOCK = 2
    PROPOSAL = 3
    """Validator networks (issue 14): a proposal not final yet, asked by block hash with
    `getdata`, answered with a `proposal` message (or `notfound`)."""


class Message(Protocol):
    """What every message class provides."""

    command: ClassVar[Command]

    def serialize(self) -> bytes: ...


def _read_hash(reader: ByteReader) -> bytes:
    return reader.read(32)


def _read_text(reader: ByteReader, maximum: int) -> str:
    raw = reader.read_var_bytes(maximum)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("text is not UTF-8") from exc


def _text(value: str) -> bytes:
    return var_bytes(value.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class InvItem:
    """`type:u8 | hash:32` naming a transaction (txid) or a block (block hash)."""

    type: InvType
    hash: bytes

    def serialize(self) -> bytes:
        return u8(self.type) + self.hash

    @classmethod
    def parse(cls, reader: ByteReader) -> InvItem:
        raw_type = reader.read_u8()
        if raw_type not in (InvType.TX, InvType.BLOCK, InvType.PROPOSAL):
            raise ParseError(f"unknown inventory type {raw_type}")
        return cls(InvType(raw_type), _read_hash(reader))


@dataclass(frozen=True, slots=True)
class NetAddress:
    """A peer address: `host:var_str (<= 255) | port:u16 | last_seen:u64` (Unix seconds)."""

    host: str
    port: int
    last_seen: int = 0

    def serialize(self) -> bytes:
        return _text(self.host) + u16(self.port) + u64(self.last_seen)

    @classmethod
    def parse(cls, reader: ByteReader) -> NetAddress:
        host = _read_text(reader, MAX_HOST)
        if not host:
            raise ParseError("empty host")
        return cls(host, reader.read_u16(), reader.read_u64())


@dataclass(frozen=True, slots=True)
class Version:
    """First message of the handshake.

    `network`: params name; `magic`: 4 bytes; `genesis`: genesis hash (32, internal order);
    `best_height`: the sender's active tip height; `listen_port`: 0 when not listening;
    `nonce`: random u64 that detects a connection to ourselves.
    """

    command: ClassVar[Command] = Command.VERSION
    protocol_version: int
    network: str
    magic: bytes
    chain_id: int
    genesis: bytes
    best_height: int
    user_agent: str
    listen_port: int
    nonce: int

    def serialize(self) -> bytes:
        return (
            u32(self.protocol_version)
            + _text(self.network)
            + self.magic
            + u32(self.chain_id)
            + self.genesis
            + u32(self.best_height)
            + _text(self.user_agent)
            + u16(self.listen_port)
            + u64(self.nonce)
        )

    @classmethod
    def parse(cls, reader: ByteReader) -> Version:
        return cls(
            protocol_version=reader.read_u32(),
            network=_read_text(reader, MAX_NETWORK_NAME),
            magic=reader.read(4),
            chain_id=reader.read_u32(),
            genesis=_read_hash(reader),
            best_height=reader.read_u32(),
            user_agent=_read_text(reader, MAX_USER_AGENT),
            listen_port=reader.read_u16(),
            nonce=reader.read_u64(),
        )


@dataclass(frozen=True, slots=True)
class Verack:
    """Second message of the handshake: the version was accepted. Empty payload."""

    command: ClassVar[Command] = Command.VERACK

    def serialize(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, reader: ByteReader) -> Verack:
        return cls()


@dataclass(frozen=True, slots=True)
class Ping:
    """Liveness probe: `nonce:u64`, echoed by `Pong`."""

    command: ClassVar[Command] = Command.PING
    nonce: int

    def serialize(self) -> bytes:
        return u64(self.nonce)

    @classmethod
    def parse(cls, reader: ByteReader) -> Ping:
        return cls(reader.read_u64())


@dataclass(frozen=True, slots=True)
class Pong:
    """Answer to `Ping` with the same nonce."""

    command: ClassVar[Command] = Command.PONG
    nonce: int

    def serialize(self) -> bytes:
        return u64(self.nonce)

    @classmethod
    def parse(cls, reader: ByteReader) -> Pong:
        return cls(reader.read_u64())


@dataclass(frozen=True, slots=True)
class GetAddr:
    """Ask for known peer addresses. Empty payload."""

    command: ClassVar[Command] = Command.GETADDR

    def serialize(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, reader: ByteReader) -> GetAddr:
        return cls()


@dataclass(frozen=True, slots=True)
class Addr:
    """Known peer addresses: CompactSize(count <= 1,000) | NetAddress..."""

    command: ClassVar[Command] = Command.ADDR
    addresses: tuple[NetAddress, ...]

    def serialize(self) -> bytes:
        if len(self.addresses) > MAX_ADDR:
            raise ValueError(f"addr holds at most {MAX_ADDR} addresses")
        return compact_size(len(self.addresses)) + b"".join(a.serialize() for a in self.addresses)

    @classmethod
    def parse(cls, reader: ByteReader) -> Addr:
        count = reader.read_compact_size(MAX_ADDR)
        return cls(tuple(NetAddress.parse(reader) for _ in range(count)))


def _serialize_items(items: tuple[InvItem, ...]) -> bytes:
    if len(items) > MAX_INV_ITEMS:
        raise ValueError(f"at most {MAX_INV_ITEMS} inventory items per message")
    return compact_size(len(items)) + b"".join(item.serialize() for item in items)


def _parse_items(reader: ByteReader) -> tuple[InvItem, ...]:
    count = reader.read_compact_size(MAX_INV_ITEMS)
    return tuple(InvItem.parse(reader) for _ in range(count))


@dataclass(frozen=True, slots=True)
class Inv:
    """Announces transactions (new blocks are announced with `Headers`)."""

    command: ClassVar[Command] = Command.INV
    items: tuple[InvItem, ...]

    def serialize(self) -> bytes:
        return _serialize_items(self.items)

    @classmethod
    def parse(cls, reader: ByteReader) -> Inv:
        return cls(_parse_items(reader))


@dataclass(frozen=True, slots=True)
class GetData:
    """Requests the bodies of the listed blocks and transactions."""

    command: ClassVar[Command] = Command.GETDATA
    items: tuple[InvItem, ...]

    def serialize(self) -> bytes:
        return _serialize_items(self.items)

    @classmethod
    def parse(cls, reader: ByteReader) -> GetData:
        return cls(_parse_items(reader))


@dataclass(frozen=True, slots=True)
class NotFound:
    """Answer to `GetData` for the items we do not have."""

    command: ClassVar[Command] = Command.NOTFOUND
    items: tuple[InvItem, ...]

    def serialize(self) -> bytes:
        return _serialize_items(self.items)

    @classmethod
    def parse(cls, reader: ByteReader) -> NotFound:
        return cls(_parse_items(reader))


@dataclass(frozen=True, slots=True)
class GetHeaders:
    """`CompactSize(n <= 101) | locator hashes | stop:32` (stop = 32 zero bytes: no stop)."""

    command: ClassVar[Command] = Command.GETHEADERS
    locator: tuple[bytes, ...]
    stop: bytes = bytes(32)

    def serialize(self) -> bytes:
        if len(self.locator) > MAX_LOCATOR:
            raise ValueError(f"a locator holds at most {MAX_LOCATOR} hashes")
        return compact_size(len(self.locator)) + b"".join(self.locator) + self.stop

    @classmethod
    def parse(cls, reader: ByteReader) -> GetHeaders:
        count = reader.read_compact_size(MAX_LOCATOR)
        locator = tuple(_read_hash(reader) for _ in range(count))
        return cls(locator, _read_hash(reader))


@dataclass(frozen=True, slots=True)
class Headers:
    """`CompactSize(n <= 2,000) | 80-byte headers` (no tx count, unlike Bitcoin)."""

    command: ClassVar[Command] = Command.HEADERS
    headers: tuple[BlockHeader, ...]

    def serialize(self) -> bytes:
        if len(self.headers) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers per message")
        return compact_size(len(self.headers)) + b"".join(h.serialize() for h in self.headers)

    @classmethod
    def parse(cls, reader: ByteReader) -> Headers:
        count = reader.read_compact_size(MAX_HEADERS)
        return cls(tuple(BlockHeader.read(reader) for _ in range(count)))


@dataclass(frozen=True, slots=True)
class BlockMsg:
    """One serialized block (SPEC §4)."""

    command: ClassVar[Command] = Command.BLOCK
    block: Block

    def serialize(self) -> bytes:
        return self.block.serialize()

    @classmethod
    def parse(cls, reader: ByteReader) -> BlockMsg:
        return cls(Block.read(reader))


@dataclass(frozen=True, slots=True)
class TxMsg:
    """One serialized transaction (SPEC §3)."""

    command: ClassVar[Command] = Command.TX
    tx: Transaction

    def serialize(self) -> bytes:
        return self.tx.serialize()

    @classmethod
    def parse(cls, reader: ByteReader) -> TxMsg:
        return cls(Transaction.parse(reader))


@dataclass(frozen=True, slots=True)
class MempoolMsg:
    """Ask for an `Inv` of every mempool txid (Core: BIP-35). Empty payload."""

    command: ClassVar[Command] = Command.MEMPOOL

    def serialize(self) -> bytes:
        return b""

    @classmethod
    def parse(cls, reader: ByteReader) -> MempoolMsg:
        return cls()


AnyMessage = (
    Version
    | Verack
    | Ping
    | Pong
    | GetAddr
    | Addr
    | Inv
    | GetData
    | NotFound
    | GetHeaders
    | Headers
    | BlockMsg
    | TxMsg
    | MempoolMsg
    | Proposal
    | BlockSignature
    | EvidenceMsg
)

MESSAGES: dict[Command, type[AnyMessage]] = {
    Command.VERSION: Version,
    Command.VERACK: Verack,
    Command.PING: Ping,
    Command.PONG: Pong,
    Command.GETADDR: GetAddr,
    Command.ADDR: Addr,
    Command.INV: Inv,
    Command.GETDATA: GetData,
    Command.NOTFOUND: NotFound,
    Command.GETHEADERS: GetHeaders,
    Command.HEADERS: Headers,
    Command.BLOCK: BlockMsg,
    Command.TX: TxMsg,
    Command.MEMPOOL: MempoolMsg,
    Command.PROPOSAL: Proposal,
    Command.SIGNATURE: BlockSignature,
    Command.EVIDENCE: EvidenceMsg,
}
"""The explicit command table: a command byte off the wire names a class only through this."""


def encode(message: AnyMessage) -> bytes:
    """One frame: `command:u8 | payload`. ValueError if over MAX_MESSAGE_SIZE."""
    frame = u8(message.command) + message.serialize()
    if len(frame) > MAX_MESSAGE_SIZE:
        raise ValueError(f"message of {len(frame)} bytes exceeds {MAX_MESSAGE_SIZE}")
    return frame


def encode_block_raw(raw: bytes) -> bytes:
    """The `block` frame of an already serialized block (`command:u8 | raw`), the same bytes
    `encode(BlockMsg(Block.parse(raw)))` gives without parsing and re-serializing (a stored
    body is relayed as stored). ValueError if over MAX_MESSAGE_SIZE."""
    if len(raw) + 1 > MAX_MESSAGE_SIZE:
        raise ValueError(f"message of {len(raw) + 1} bytes exceeds {MAX_MESSAGE_SIZE}")
    return bytes((Command.BLOCK,)) + raw


def decode(frame: bytes) -> AnyMessage:
    """Parse one frame; ParseError when empty, oversized, unknown, malformed or trailing."""
    if not frame:
        raise ParseError("empty frame")
    if len(frame) > MAX_MESSAGE_SIZE:
        raise ParseError(f"message of {len(frame)} bytes exceeds {MAX_MESSAGE_SIZE}")
    try:
        cls = MESSAGES[Command(frame[0])]
    except ValueError as exc:
        raise ParseError(f"unknown command {frame[0]}") from exc
    reader = ByteReader(frame[1:])
    message = cls.parse(reader)
    reader.expect_end()
    return message
