"""Hash functions: sha256d, BIP-340 tagged hashes and Bitcoin's merkle root. Pure."""

from __future__ import annotations

import hashlib

__all__ = ["sha256", "sha256d", "tagged_hash", "merkle_root", "hash_to_hex", "hex_to_hash"]


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


def hash_to_hex(h: bytes) -> str:
    """Hex shown to people: byte-reversed, as Bitcoin shows block hashes and txids."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Inverse of `hash_to_hex`; raises ValueError unless s is 64 hex digits."""
    if len(s) != 64:
        raise ValueError("a hash is 64 hex digits")
    return bytes.fromhex(s)[::-1]
