"""Hash functions: sha256d, BIP-340 tagged hashes, Bitcoin's merkle root and merkle branches.

Pure. Hashes are 32 bytes in internal order (the bytes that are hashed; people read them
byte-reversed, see `hash_to_hex`). The merkle tree is Bitcoin's: leaves are txids, a parent is
sha256d(left || right), an odd level repeats its last node (Core: ComputeMerkleRoot).
"""

from __future__ import annotations

import hashlib

__all__ = [
    "sha256",
    "sha256d",
    "tagged_hash",
    "merkle_root",
    "merkle_branch",
    "fold_branch",
    "branch_pairs",
    "BranchError",
    "MAX_BRANCH_DEPTH",
    "hash_to_hex",
    "hex_to_hash",
]

MAX_BRANCH_DEPTH = 32
"""Longest merkle branch accepted: a tree of 2**32 leaves (Bitcoin's tx count is a u32)."""


def sha256(data: bytes) -> bytes:
    """32-byte SHA-256."""
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    """sha256(sha256(data)), 32 bytes, internal byte order (Core: Hash)."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


_TAG_CACHE: dict[bytes, bytes] = {}


def tagged_hash(tag: bytes, msg: bytes) -> bytes:
    """BIP-340 tagged hash: sha256(sha256(tag) || sha256(tag) || msg), 32 bytes."""
    prefix = _TAG_CACHE.get(tag)
    if prefix is None:
        t = hashlib.sha256(tag).digest()
        prefix = _TAG_CACHE.setdefault(tag, t + t)
    return hashlib.sha256(prefix + msg).digest()


def merkle_root(txids: list[bytes]) -> bytes:
    """Bitcoin's merkle root over 32-byte txids (internal order); an odd level repeats its last.

    An empty list gives 32 zero bytes. Callers must reject repeated txids separately:
    the duplication rule makes [a, b, c] and [a, b, c, c] share a root (CVE-2012-2459).
    """
    if not txids:
        return bytes(32)
    level = list(txids)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def merkle_branch(leaves: list[bytes], index: int) -> list[bytes]:
    """The siblings of `leaves[index]` from the bottom level up (Electrum: merkle branch).

    Same tree as `merkle_root`: where a level is odd, the last node's sibling is itself. The
    branch has ceil(log2(len(leaves))) hashes (none for a single leaf). Raises ValueError when
    `index` is not a position of `leaves`.
    """
    if not 0 <= index < len(leaves):
        raise ValueError(f"index {index} is not a position of {len(leaves)} leaves")
    branch: list[bytes] = []
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return branch


class BranchError(ValueError):
    """A merkle branch that cannot be a real position of a tree; `reason` is one token."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def fold_branch(leaf: bytes, index: int, branch: list[bytes]) -> bytes:
    """The root that `leaf` at position `index` with `branch` (from `merkle_branch`) commits to.

    Bit i of `index` (LSB first) says whether the node at level i is a right child. Raises
    BranchError `branch-too-long` (more than MAX_BRANCH_DEPTH hashes, checked before hashing),
    `bad-hash` (a hash that is not 32 bytes), `index-not-consumed` (index >= 2**len(branch):
    the branch does not reach the position it claims) and `duplicate-right` (a right child
    equal to its left sibling: only the duplicated last node of an odd level looks like that,
    and no real leaf lives there, CVE-2012-2459). Compare the result with the header's
    `merkle_root`; callers that prove transactions also check the 64-byte inner nodes.
    """
    if len(branch) > MAX_BRANCH_DEPTH:
        raise BranchError("branch-too-long", f"{len(branch)} hashes, at most {MAX_BRANCH_DEPTH}")
    if index < 0 or index >> len(branch):
        raise BranchError(
            "index-not-consumed", f"index {index} does not fit a branch of {len(branch)} levels"
        )
    if len(leaf) != 32 or any(len(h) != 32 for h in branch):
        raise BranchError("bad-hash", "every hash of a branch is 32 bytes")
    node = leaf
    for sibling in branch:
        if index & 1:
            if sibling == node:
                raise BranchError("duplicate-right", "a right child equals its left sibling")
            node = sha256d(sibling + node)
        else:
            node = sha256d(node + sibling)
        index >>= 1
    return node


def branch_pairs(leaf: bytes, index: int, branch: list[bytes]) -> list[bytes]:
    """The 64-byte concatenations hashed on the way up (left || right), bottom first.

    Used to check that no inner node of a proof also parses as a transaction (the 64-byte
    transaction ambiguity). Assumes `fold_branch` accepted the same arguments.
    """
    pairs: list[bytes] = []
    node = leaf
    for sibling in branch:
        pair = sibling + node if index & 1 else node + sibling
        pairs.append(pair)
        node = sha256d(pair)
        index >>= 1
    return pairs


def hash_to_hex(h: bytes) -> str:
    """Hex shown to people: byte-reversed, as Bitcoin shows block hashes and txids."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Inverse of `hash_to_hex`; raises ValueError unless s is 64 hex digits."""
    if len(s) != 64:
        raise ValueError("a hash is 64 hex digits")
    return bytes.fromhex(s)[::-1]
