"""Transactions of the account model (SPEC §3): transfers, posts and the coinbase.

Pure data: frozen value objects with symmetric `serialize()` / `parse()` and computed ids.
A transfer (version 1) serializes as
    version:u8 | chain_id:u32 | nonce:u64 | sender:32 | recipient:32 | amount:u64 | fee:u64 |
    data:CompactSize+bytes | signature:64
and the coinbase (version 0) as
    version:u8 | chain_id:u32 | nonce:u64 | recipient:32 | amount:u64 | data:CompactSize+bytes
For a coinbase, `sender` is 32 zero bytes, `fee` is 0 and `signature` is empty.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .encoding import ByteReader, ParseError, compact_size, u8, u32, u64, var_bytes
from .hashing import sha256d, tagged_hash

__all__ = [
    "Transaction",
    "TX_VERSION",
    "COINBASE_VERSION",
    "POST_TAG",
    "NOTARY_TAG",
    "SIGHASH_TAG",
    "MAX_DATA_PARSE",
    "post_text",
    "make_post_data",
    "VOTE_TAG",
    "make_vote_data",
    "vote_of",
    "pad_coinbase_data",
    "FORBIDDEN_SIZE",
]

TX_VERSION = 1
COINBASE_VERSION = 0
POST_TAG = 0x01
"""data[0] of a post; UTF-8 text follows."""
NOTARY_TAG = 0x02
"""data[0] of a notarization (issue 15); a 32-byte digest follows (light.notary)."""
VOTE_TAG = 0x03
"""data[0] of a validator vote (issue 14): `0x03 | add:u8 (1 add, 0 remove) | subject:32`."""
SIGHASH_TAG = b"powchain/tx"
MAX_DATA_PARSE = 1_000_000
"""Parser bound on `data`; consensus limits (MAX_TX_DATA, 100 for coinbase) are checked later."""
NO_SENDER = bytes(32)
_HEAD = struct.Struct("<BIQ")  # version, chain_id, nonce
_COINBASE_BODY = struct.Struct("<32sQ")  # recipient, amount
_TRANSFER_BODY = struct.Struct("<32s32sQQ")  # sender, recipient, amount, fee


@dataclass(frozen=True, slots=True)
class Transaction:
    """A transfer/post (version 1) or a coinbase (version 0).

    `sender`, `recipient`: 32-byte x-only public keys. `amount`, `fee`: base units.
    `nonce`: sender's count of earlier confirmed transactions (for a coinbase: block height).
    """

    version: int
    chain_id: int
    nonce: int
    sender: bytes
    recipient: bytes
    amount: int
    fee: int
    data: bytes
    signature: bytes
    _txid: list[bytes] = field(default_factory=list, init=False, repr=False, compare=False)
    _raw: list[bytes] = field(default_factory=list, init=False, repr=False, compare=False)

    @staticmethod
    def coinbase(
        chain_id: int, height: int, recipient: bytes, amount: int, data: bytes = b""
    ) -> Transaction:
        """The coinbase of block `height` paying `amount` units to `recipient`.

        A coinbase of exactly 64 bytes is consensus-invalid (BIP-54; only `data` of 10 bytes
        gives that size), so such `data` gets one zero byte appended (`pad_coinbase_data`).
        """
        return Transaction(
            COINBASE_VERSION,
            chain_id,
            height,
            NO_SENDER,
            recipient,
            amount,
            0,
            pad_coinbase_data(data),
            b"",
        )

    @property
    def is_coinbase(self) -> bool:
        return self.version == COINBASE_VERSION

    def serialize_unsigned(self) -> bytes:
        """Every field before the signature (what the signature commits to)."""
        if self._raw:  # the full serialization is known: it ends with the signature
            raw = self._raw[0]
            return raw[: len(raw) - len(self.signature)]
        return self._encode_unsigned()

    def _encode_unsigned(self) -> bytes:
        if self.is_coinbase:
            return (
                u8(self.version)
                + u32(self.chain_id)
                + u64(self.nonce)
                + self.recipient
                + u64(self.amount)
                + var_bytes(self.data)
            )
        return (
            u8(self.version)
            + u32(self.chain_id)
            + u64(self.nonce)
            + self.sender
            + self.recipient
            + u64(self.amount)
            + u64(self.fee)
            + var_bytes(self.data)
        )

    def serialize(self) -> bytes:
        """Canonical bytes (SPEC §3), encoded once per object (txid, size, the block's bytes
        and the sighash all reuse them)."""
        if not self._raw:
            unsigned = self._encode_unsigned()
            self._raw.append(unsigned if self.is_coinbase else unsigned + self.signature)
        return self._raw[0]

    def sighash(self) -> bytes:
        """32-byte message the sender signs: tagged_hash('powchain/tx', unsigned bytes)."""
        return tagged_hash(SIGHASH_TAG, self.serialize_unsigned())

    @property
    def txid(self) -> bytes:
        """sha256d of the full serialization, 32 bytes, internal order (cached)."""
        if not self._txid:
            self._txid.append(sha256d(self.serialize()))
        return self._txid[0]

    @property
    def size(self) -> int:
        """Serialized size in bytes."""
        return len(self.serialize())

    def with_signature(self, signature: bytes) -> Transaction:
        """A copy carrying `signature` (64 bytes)."""
        return Transaction(
            self.version,
            self.chain_id,
            self.nonce,
            self.sender,
            self.recipient,
            self.amount,
            self.fee,
            self.data,
            signature,
        )

    @classmethod
    def parse(cls, reader: ByteReader) -> Transaction:
        """Read one transaction; ParseError on truncated or unknown-version bytes.

        The bytes read are kept as the transaction's serialization (every field has one
        encoding, CompactSize included), so parsing never re-encodes for txid or storage.
        """
        start = reader.pos
        version, chain_id, nonce = reader.read_struct(_HEAD)
        if version == COINBASE_VERSION:
            recipient, amount = reader.read_struct(_COINBASE_BODY)
            data = reader.read_var_bytes(MAX_DATA_PARSE)
            tx = cls(version, chain_id, nonce, NO_SENDER, recipient, amount, 0, data, b"")
        elif version == TX_VERSION:
            sender, recipient, amount, fee = reader.read_struct(_TRANSFER_BODY)
            data = reader.read_var_bytes(MAX_DATA_PARSE)
            signature = reader.read(64)
            tx = cls(version, chain_id, nonce, sender, recipient, amount, fee, data, signature)
        else:
            raise ParseError(f"unknown transaction version {version}")
        tx._raw.append(reader.consumed_since(start))
        return tx

    @classmethod
    def from_bytes(cls, raw: bytes) -> Transaction:
        """Parse exactly one transaction from `raw`; ParseError on trailing bytes."""
        reader = ByteReader(raw)
        tx = cls.parse(reader)
        reader.expect_end()
        return tx


COINBASE_FIXED_SIZE = 53
"""Bytes of a coinbase before its data's CompactSize: version, chain id, nonce, recipient,
amount."""
FORBIDDEN_SIZE = 64
"""The one transaction size consensus forbids (BIP-54, checked by `consensus.block_check`): 64
bytes could be the two 32-byte children of a merkle node, so a block whose only "transaction" is
L || R would share a valid block's header. Only a coinbase with 10 bytes of data has this size."""


def pad_coinbase_data(data: bytes) -> bytes:
    """`data` such that the coinbase carrying it is not 64 bytes: 10-byte data gets one zero
    byte appended (a coinbase is 54 + len(data) bytes below 253 bytes of data); any other
    length is returned unchanged. Builders that place extranonces in the data (Stratum) size
    the data so its total length is never 10."""
    if COINBASE_FIXED_SIZE + len(compact_size(len(data))) + len(data) == FORBIDDEN_SIZE:
        return data + b"\x00"
    return data


def make_post_data(text: str) -> bytes:
    """`data` of a post: 0x01 then the UTF-8 text."""
    return bytes((POST_TAG,)) + text.encode("utf-8")


def post_text(data: bytes) -> str | None:
    """The text of a post's `data`, or None when `data` is not a well-formed post."""
    if not data or data[0] != POST_TAG:
        return None
    try:
        return data[1:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def make_vote_data(subject: bytes, add: bool) -> bytes:
    """`data` of a validator vote: 0x03, 1 to add or 0 to remove, the 32-byte x-only key."""
    if len(subject) != 32:
        raise ValueError("a vote names a 32-byte x-only key")
    return bytes((VOTE_TAG, 1 if add else 0)) + subject


def vote_of(data: bytes) -> tuple[bytes, bool] | None:
    """(subject key, add) of a well-formed vote's `data`, else None (34 bytes exactly)."""
    if len(data) != 34 or data[0] != VOTE_TAG or data[1] not in (0, 1):
        return None
    return data[2:], data[1] == 1
