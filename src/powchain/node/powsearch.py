"""Proof-of-work nonce search: the hot loop that runs in the miner's worker processes.

Imports only `hashlib` and `struct` (and the optional C kernel) so a freshly spawned worker
starts fast. Pure: no I/O, no clock. `search_nonce` runs the C kernel `_powkernel` when it was
built at install time (setup.py, optional) and the pure-Python `search_nonce_py` otherwise;
both return the same nonce for the same arguments. The first 64 header bytes (version,
prev_block, 28 bytes of merkle_root) are fixed for a whole search, so their SHA-256 midstate is
computed once; only the last 16 bytes (rest of merkle_root, time, bits, nonce) are hashed per
try.
"""

from __future__ import annotations

import hashlib
import struct
from types import ModuleType

__all__ = [
    "search_nonce",
    "search_nonce_py",
    "NONCE_SPACE",
    "KERNEL",
    "backend",
    "kernel_backends",
]

NONCE_SPACE = 2**32
"""The header nonce is a u32."""

KERNEL: ModuleType | None
try:
    from . import _powkernel as KERNEL  # type: ignore[attr-defined, no-redef]
except ImportError:  # no compiler at install time: the pure-Python search below
    KERNEL = None


def backend() -> str:
    """Which search runs: 'c-avx512', 'c-sha-ni', 'c-avx2' (multi-way kernels, chosen by CPU
    feature), 'c-openssl', 'c-portable' (one nonce at a time) or 'python'."""
    return "python" if KERNEL is None else f"c-{KERNEL.backend()}"


def kernel_backends() -> list[str]:
    """The C kernel's backends this CPU runs, best first (empty without the kernel)."""
    return [] if KERNEL is None else list(KERNEL.backends())


def search_nonce(header76: bytes, start: int, end: int, target: int) -> int | None:
    """The first nonce in [start, end) whose header hash meets `target`, or None.

    `header76`: the first 76 bytes of an 80-byte header (everything but the nonce).
    The hash is sha256d(header76 + nonce as u32 little-endian), read as a little-endian
    integer, and it meets the target when <= `target` (SPEC §4). Raises ValueError when
    `header76` is not 76 bytes.
    """
    if len(header76) != 76:
        raise ValueError("header76 must be 76 bytes")
    start, end = max(start, 0), min(end, NONCE_SPACE)
    if KERNEL is None:
        return search_nonce_py(header76, start, end, target)
    if start >= end:
        return None
    limit = min(max(target, 0), 2**256 - 1)
    found: int | None = KERNEL.search(header76, start, end, limit.to_bytes(32, "little"))
    return found


def search_nonce_py(header76: bytes, start: int, end: int, target: int) -> int | None:
    """`search_nonce` in pure Python (hashlib): the fallback, and the reference for tests."""
    if len(header76) != 76:
        raise ValueError("header76 must be 76 bytes")
    start, end = max(start, 0), min(end, NONCE_SPACE)
    midstate = hashlib.sha256(header76[:64])
    tail = bytearray(header76[64:] + bytes(4))
    pack_into = struct.pack_into
    sha256 = hashlib.sha256
    from_bytes = int.from_bytes
    # Cheap pre-filter: the top byte of the little-endian hash must not exceed the target's.
    top = min(target >> 248, 255)
    for nonce in range(start, end):
        pack_into("<I", tail, 12, nonce)
        h = midstate.copy()
        h.update(tail)
        digest = sha256(h.digest()).digest()
        if digest[31] <= top and from_bytes(digest, "little") <= target:
            return nonce
    return None
