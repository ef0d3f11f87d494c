"""Peer messages of validator networks (issue 14): a pure codec, no I/O.

Registered in `messages.MESSAGES` like every message (one WebSocket frame, `command:u8 |
payload`, bounded parsers raising `ParseError`):

- `Proposal` (14): `round:u32 | block` (the block with its signature trailer so far: at least
  the proposer's signature), sent by the proposer for (height, round) to its peers.
- `BlockSignature` (15): `block_hash:32 | key:32 | signature:64`, a validator's BIP-340
  signature over `signatures.signing_hash(block_hash)`, sent to every peer.
- `EvidenceMsg` (16): `header_a:80 | var_bytes(trailer_a) | header_b:80 | var_bytes(trailer_b)`
  (each trailer at most MAX_TRAILER bytes): two blocks on one parent signed by one key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from powchain.consensus.signatures import Evidence, encode_trailer
from powchain.consensus.valset import MAX_VALIDATORS
from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import ByteReader, u32, var_bytes

from .commands import Command

__all__ = ["PROPOSAL", "SIGNATURE", "EVIDENCE", "Proposal", "BlockSignature", "EvidenceMsg"]

PROPOSAL, SIGNATURE, EVIDENCE = Command.PROPOSAL, Command.SIGNATURE, Command.EVIDENCE
MAX_TRAILER = 3 + MAX_VALIDATORS * 96


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed block for (its height, `round`) with the signatures gathered so far."""

    command: ClassVar[Command] = Command.PROPOSAL
    round: int
    block: Block

    def serialize(self) -> bytes:
        return u32(self.round) + self.block.serialize()

    @classmethod
    def parse(cls, reader: ByteReader) -> Proposal:
        return cls(reader.read_u32(), Block.read(reader))


@dataclass(frozen=True, slots=True)
class BlockSignature:
    """One validator's signature over a proposed block."""

    command: ClassVar[Command] = Command.SIGNATURE
    block_hash: bytes
    key: bytes
    signature: bytes

    def serialize(self) -> bytes:
        return self.block_hash + self.key + self.signature

    @classmethod
    def parse(cls, reader: ByteReader) -> BlockSignature:
        return cls(reader.read(32), reader.read(32), reader.read(64))


@dataclass(frozen=True, slots=True)
class EvidenceMsg:
    """Equivocation evidence: two signed headers on one parent."""

    command: ClassVar[Command] = Command.EVIDENCE
    header_a: BlockHeader
    trailer_a: bytes
    header_b: BlockHeader
    trailer_b: bytes

    @classmethod
    def of(cls, evidence: Evidence) -> EvidenceMsg:
        return cls(
            evidence.header_a,
            encode_trailer(evidence.signatures_a),
            evidence.header_b,
            encode_trailer(evidence.signatures_b),
        )

    def serialize(self) -> bytes:
        return (
            self.header_a.serialize()
            + var_bytes(self.trailer_a)
            + self.header_b.serialize()
            + var_bytes(self.trailer_b)
        )

    @classmethod
    def parse(cls, reader: ByteReader) -> EvidenceMsg:
        header_a = BlockHeader.read(reader)
        trailer_a = reader.read_var_bytes(MAX_TRAILER)
        header_b = BlockHeader.read(reader)
        return cls(header_a, trailer_a, header_b, reader.read_var_bytes(MAX_TRAILER))
