"""BIP-37 partial merkle trees and merkleblock bytes (Core: CPartialMerkleTree, CMerkleBlock).

Pure. A merkleblock is what Bitcoin Core's `gettxoutproof` returns and `verifytxoutproof`
reads:

    header:80 | total_transactions:u32 | CompactSize(n) | n * hash:32 | CompactSize(m) | m bytes

The hashes and flag bits come from a depth-first walk of Bitcoin's merkle tree (the one of
`hashing.merkle_root`); flag bit i is bit (i % 8) of byte i // 8 (least significant first).
Hashes are 32 bytes in internal order. `decode_merkleblock` / `extract_matches` are bounded
parsers of untrusted bytes: every fault raises `MerkleBlockError(reason)`, never an assert.
"""

from __future__ import annotations

from dataclasses import dataclass

from .block import HEADER_SIZE, MAX_BLOCK_TXS_PARSE, BlockHeader
from .encoding import ByteReader, ParseError, compact_size, u32
from .hashing import sha256d

__all__ = [
    "MerkleBlockError",
    "PartialMerkleTree",
    "MerkleBlock",
    "build_partial_tree",
    "extract_matches",
    "encode_merkleblock",
    "decode_merkleblock",
    "MAX_PMT_TRANSACTIONS",
]

MAX_PMT_TRANSACTIONS = MAX_BLOCK_TXS_PARSE
"""Largest `total_transactions` accepted (our blocks' parser bound; Core uses weight / 60)."""


class MerkleBlockError(ParseError):
    """Malformed or inconsistent merkleblock bytes. `reason` is one token (bad-pmt-...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PartialMerkleTree:
    """`total`: transactions in the block; `hashes`: 32-byte hashes in walk order; `flags`:
    one bool per visited node (True: an ancestor of a match, or a match at the leaves)."""

    total: int
    hashes: tuple[bytes, ...]
    flags: tuple[bool, ...]

    def serialize(self) -> bytes:
        """total:u32 | CompactSize(n) | hashes | CompactSize(m) | flag bytes (LSB first)."""
        packed = bytearray((len(self.flags) + 7) // 8)
        for i, bit in enumerate(self.flags):
            if bit:
                packed[i // 8] |= 1 << (i % 8)
        return (
            u32(self.total)
            + compact_size(len(self.hashes))
            + b"".join(self.hashes)
            + compact_size(len(packed))
            + bytes(packed)
        )


@dataclass(frozen=True, slots=True)
class MerkleBlock:
    """A header and the partial merkle tree proving some of its transactions."""

    header: BlockHeader
    tree: PartialMerkleTree

    def serialize(self) -> bytes:
        return self.header.serialize() + self.tree.serialize()


def _width(total: int, height: int) -> int:
    """Nodes at `height` (0 = leaves) of a tree over `total` leaves."""
    return (total + (1 << height) - 1) >> height


def _tree_height(total: int) -> int:
    height = 0
    while _width(total, height) > 1:
        height += 1
    return height


def _node_hash(txids: list[bytes], height: int, pos: int) -> bytes:
    if height == 0:
        return txids[pos]
    left = _node_hash(txids, height - 1, pos * 2)
    right = left
    if pos * 2 + 1 < _width(len(txids), height - 1):
        right = _node_hash(txids, height - 1, pos * 2 + 1)
    return sha256d(left + right)


def build_partial_tree(txids: list[bytes], matches: set[int]) -> PartialMerkleTree:
    """The partial merkle tree of a block's `txids` proving the positions in `matches`.

    Raises ValueError for an empty block or a position outside it.
    """
    if not txids:
        raise ValueError("a block has at least one transaction")
    if any(not 0 <= i < len(txids) for i in matches):
        raise ValueError("a match is not a position of the block")
    hashes: list[bytes] = []
    flags: list[bool] = []
    total = len(txids)

    def walk(height: int, pos: int) -> None:
        first, end = pos << height, min((pos + 1) << height, total)
        parent_of_match = any(first <= i < end for i in matches)
        flags.append(parent_of_match)
        if height == 0 or not parent_of_match:
            hashes.append(_node_hash(txids, height, pos))
            return
        walk(height - 1, pos * 2)
        if pos * 2 + 1 < _width(total, height - 1):
            walk(height - 1, pos * 2 + 1)

    walk(_tree_height(total), 0)
    return PartialMerkleTree(total, tuple(hashes), tuple(flags))


def extract_matches(tree: PartialMerkleTree) -> tuple[bytes, list[tuple[int, bytes]]]:
    """(merkle root, [(position, txid), ...]) of a partial tree (Core: ExtractMatches).

    Raises MerkleBlockError: `bad-pmt-empty` (no transactions), `bad-pmt-too-many` (more
    than MAX_PMT_TRANSACTIONS), `bad-pmt-hashes` (more hashes than transactions, more hashes
    than flag bits, running out, or some left unused), `bad-pmt-flags` (running out of flag
    bits, or whole unused flag bytes), `bad-pmt-duplicate` (a right child equal to its left
    sibling, CVE-2012-2459). The caller compares the root with the header's merkle root.
    """
    total = tree.total
    if total == 0:
        raise MerkleBlockError("bad-pmt-empty", "a block has at least one transaction")
    if total > MAX_PMT_TRANSACTIONS:
        raise MerkleBlockError("bad-pmt-too-many", f"{total} transactions")
    if len(tree.hashes) > total:
        raise MerkleBlockError("bad-pmt-hashes", "more hashes than transactions")
    if len(tree.flags) < len(tree.hashes):
        raise MerkleBlockError("bad-pmt-hashes", "more hashes than flag bits")
    used = [0, 0]  # flag bits, hashes
    found: list[tuple[int, bytes]] = []

    def walk(height: int, pos: int) -> bytes:
        if used[0] >= len(tree.flags):
            raise MerkleBlockError("bad-pmt-flags", "ran out of flag bits")
        parent_of_match = tree.flags[used[0]]
        used[0] += 1
        if height == 0 or not parent_of_match:
            if used[1] >= len(tree.hashes):
                raise MerkleBlockError("bad-pmt-hashes", "ran out of hashes")
            node = tree.hashes[used[1]]
            used[1] += 1
            if height == 0 and parent_of_match:
                found.append((pos, node))
            return node
        left = walk(height - 1, pos * 2)
        right = left
        if pos * 2 + 1 < _width(total, height - 1):
            right = walk(height - 1, pos * 2 + 1)
            if right == left:
                raise MerkleBlockError("bad-pmt-duplicate", "a right child equals its left")
        return sha256d(left + right)

    root = walk(_tree_height(total), 0)
    if (used[0] + 7) // 8 != (len(tree.flags) + 7) // 8:
        raise MerkleBlockError("bad-pmt-flags", "unused flag bytes")
    if used[1] != len(tree.hashes):
        raise MerkleBlockError("bad-pmt-hashes", "unused hashes")
    return root, found


def encode_merkleblock(header: BlockHeader, txids: list[bytes], matches: set[int]) -> bytes:
    """Merkleblock bytes (Core: gettxoutproof's answer, hex-decoded) for `matches`."""
    return MerkleBlock(header, build_partial_tree(txids, matches)).serialize()


def decode_merkleblock(raw: bytes) -> MerkleBlock:
    """Parse merkleblock bytes (bounded: at most MAX_PMT_TRANSACTIONS hashes and their flag
    bytes, no trailing bytes). Raises MerkleBlockError `bad-merkleblock` for truncated or
    oversized input; structure is checked by `extract_matches`."""
    try:
        reader = ByteReader(raw)
        header = BlockHeader.parse(reader.read(HEADER_SIZE))
        total = reader.read_u32()
        count = reader.read_compact_size(MAX_PMT_TRANSACTIONS)
        hashes = tuple(reader.read(32) for _ in range(count))
        packed = reader.read_var_bytes((MAX_PMT_TRANSACTIONS * 2 + 7) // 8 + 1)
        reader.expect_end()
    except MerkleBlockError:
        raise
    except ParseError as exc:
        raise MerkleBlockError("bad-merkleblock", str(exc)) from exc
    flags = tuple(bool(packed[i // 8] >> (i % 8) & 1) for i in range(len(packed) * 8))
    return MerkleBlock(header, PartialMerkleTree(total, hashes, flags))
