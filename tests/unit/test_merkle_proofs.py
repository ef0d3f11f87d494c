"""Merkle branches (core.hashing) and BIP-37 partial merkle trees (core.merkleblock).

Every position of blocks of 1, 2, 3, 5, 8 and 1,001 transactions folds back to the root; a
flipped bit anywhere in the branch, index or leaf does not. The merkleblock bytes are read back
by `Bip37Reader`, a decoder written here from BIP-37's text that imports nothing of powchain.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

from powchain.core.block import BlockHeader
from powchain.core.hashing import (
    MAX_BRANCH_DEPTH,
    BranchError,
    fold_branch,
    merkle_branch,
    merkle_root,
)
from powchain.core.merkleblock import (
    MerkleBlockError,
    PartialMerkleTree,
    build_partial_tree,
    decode_merkleblock,
    encode_merkleblock,
    extract_matches,
)

SIZES = [1, 2, 3, 5, 8, 1001]


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(salt + i.to_bytes(4, "little")).digest() for i in range(n)]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def folds(leaf: bytes, index: int, branch: list[bytes], root: bytes) -> bool:
    try:
        return fold_branch(leaf, index, branch) == root
    except BranchError:
        return False


@pytest.mark.parametrize("n", SIZES)
def test_every_position_folds_to_the_root(n: int) -> None:
    txids = leaves(n)
    root = merkle_root(txids)
    depth = (n - 1).bit_length()
    for index in range(n):
        branch = merkle_branch(txids, index)
        assert len(branch) == depth
        assert fold_branch(txids[index], index, branch) == root


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_any_flipped_bit_fails(n: int) -> None:
    txids = leaves(n)
    root = merkle_root(txids)
    for index in range(n):
        branch = merkle_branch(txids, index)
        for level in range(len(branch)):
            for bit in range(256):
                bad = list(branch)
                bad[level] = flip(bad[level], bit)
                assert not folds(txids[index], index, bad, root)
        for bit in range(256):
            assert not folds(flip(txids[index], bit), index, branch, root)
        for bit in range(32):
            assert not folds(txids[index], index ^ (1 << bit), branch, root)


def test_large_block_sampled_flips_fail() -> None:
    txids = leaves(1001)
    root = merkle_root(txids)
    for index in (0, 1, 500, 999, 1000):
        branch = merkle_branch(txids, index)
        for level in range(len(branch)):
            for bit in (0, 7, 128, 255):
                bad = list(branch)
                bad[level] = flip(bad[level], bit)
                assert not folds(txids[index], index, bad, root)
        for bit in range(32):
            assert not folds(txids[index], index ^ (1 << bit), branch, root)


def test_the_duplicated_last_leaf_is_not_a_position() -> None:
    txids = leaves(3)  # level 0 is [a, b, c, c]: position 3 would "prove" c a second time
    root = merkle_root(txids)
    branch = [txids[2], merkle_root(txids[:2])]
    with pytest.raises(BranchError) as info:
        fold_branch(txids[2], 3, branch)
    assert info.value.reason == "duplicate-right"
    assert fold_branch(txids[2], 2, branch) == root


def test_index_must_be_consumed_and_branch_bounded() -> None:
    txids = leaves(4)
    branch = merkle_branch(txids, 1)
    with pytest.raises(BranchError) as info:
        fold_branch(txids[1], 1 + 4, branch)
    assert info.value.reason == "index-not-consumed"
    with pytest.raises(BranchError) as info:
        fold_branch(txids[1], 1, [bytes(32)] * (MAX_BRANCH_DEPTH + 1))
    assert info.value.reason == "branch-too-long"
    with pytest.raises(BranchError) as info:
        fold_branch(txids[1], 1, [b"short"])
    assert info.value.reason == "bad-hash"
    with pytest.raises(ValueError):
        merkle_branch(txids, 4)


# -- BIP-37, independently ----------------------------------------------------------------


def _dsha(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class Bip37Reader:
    """A merkleblock decoder written from BIP-37 ("Partial Merkle branch format"): header,
    total transactions, hashes, flag bytes; depth-first, flags least significant bit first."""

    def __init__(self, raw: bytes) -> None:
        self.raw, self.pos = raw, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.raw):
            raise ValueError("truncated")
        out = self.raw[self.pos : self.pos + n]
        self.pos += n
        return out

    def varint(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        return int.from_bytes(self.take(size), "little")

    def decode(self) -> tuple[bytes, bytes, list[tuple[int, bytes]]]:
        """(header bytes, merkle root computed, [(position, txid)])."""
        header = self.take(80)
        total = struct.unpack("<I", self.take(4))[0]
        hashes = [self.take(32) for _ in range(self.varint())]
        flag_bytes = self.take(self.varint())
        if self.pos != len(self.raw):
            raise ValueError("trailing bytes")
        flags = [(flag_bytes[i // 8] >> (i % 8)) & 1 for i in range(len(flag_bytes) * 8)]
        height = 0
        while (total + (1 << height) - 1) >> height > 1:
            height += 1
        state = {"f": 0, "h": 0}
        matched: list[tuple[int, bytes]] = []

        def width(h: int) -> int:
            return (total + (1 << h) - 1) >> h

        def visit(h: int, pos: int) -> bytes:
            flag = flags[state["f"]]
            state["f"] += 1
            if h == 0 or not flag:
                value = hashes[state["h"]]
                state["h"] += 1
                if h == 0 and flag:
                    matched.append((pos, value))
                return value
            left = visit(h - 1, 2 * pos)
            right = visit(h - 1, 2 * pos + 1) if 2 * pos + 1 < width(h - 1) else left
            return _dsha(left + right)

        root = visit(height, 0)
        assert state["h"] == len(hashes)
        return header, root, matched


def _header_for(root: bytes) -> BlockHeader:
    return BlockHeader(1, bytes(32), root, 1_767_225_600, 0x207FFFFF, 7)


@pytest.mark.parametrize("n", SIZES)
def test_merkleblock_round_trips_through_an_independent_decoder(n: int) -> None:
    txids = leaves(n, b"mb")
    header = _header_for(merkle_root(txids))
    for index in sorted({0, n // 2, n - 1}):
        raw = encode_merkleblock(header, txids, {index})
        got_header, root, matched = Bip37Reader(raw).decode()
        assert got_header == header.serialize()
        assert root == header.merkle_root
        assert matched == [(index, txids[index])]
        ours = decode_merkleblock(raw)
        assert extract_matches(ours.tree) == (root, [(index, txids[index])])
        assert ours.serialize() == raw


def test_merkleblock_with_several_matches() -> None:
    txids = leaves(13)
    header = _header_for(merkle_root(txids))
    raw = encode_merkleblock(header, txids, {1, 6, 12})
    _h, root, matched = Bip37Reader(raw).decode()
    assert root == header.merkle_root
    assert [i for i, _ in matched] == [1, 6, 12]


def test_bad_partial_trees_raise_typed_errors() -> None:
    txids = leaves(5)
    tree = build_partial_tree(txids, {2})
    cases = {
        "bad-pmt-empty": PartialMerkleTree(0, (), ()),
        "bad-pmt-too-many": PartialMerkleTree(10**6, (), ()),
        "bad-pmt-hashes": PartialMerkleTree(
            tree.total, tree.hashes + (bytes(32),), tree.flags + (False,)
        ),
        "bad-pmt-flags": PartialMerkleTree(tree.total, tree.hashes, tree.flags + (False,) * 8),
    }
    for reason, bad in cases.items():
        with pytest.raises(MerkleBlockError) as info:
            extract_matches(bad)
        assert info.value.reason == reason, reason
    # CVE-2012-2459: a tree whose right child equals its left sibling
    dup = PartialMerkleTree(2, (txids[0], txids[0]), (True, True, True))
    with pytest.raises(MerkleBlockError) as info:
        extract_matches(dup)
    assert info.value.reason == "bad-pmt-duplicate"


def test_merkleblock_parser_is_bounded() -> None:
    header = _header_for(bytes(32)).serialize()
    for raw in (b"", header, header + b"\x01\x00\x00\x00\xfe\xff\xff\xff\xff"):
        with pytest.raises(MerkleBlockError) as info:
            decode_merkleblock(raw)
        assert info.value.reason == "bad-merkleblock"
    good = encode_merkleblock(_header_for(merkle_root(leaves(3))), leaves(3), {0})
    with pytest.raises(MerkleBlockError):
        decode_merkleblock(good + b"\x00")
