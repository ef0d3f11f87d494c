"""The C nonce-search kernel agrees with the pure-Python search, bit for bit."""

from __future__ import annotations

import hashlib

import pytest

from powchain.node import powsearch
from powchain.node.powsearch import NONCE_SPACE, search_nonce, search_nonce_py

HEADER76 = bytes(range(76))

needs_kernel = pytest.mark.skipif(powsearch.KERNEL is None, reason="C kernel not built")


def header_hash(nonce: int) -> int:
    raw = HEADER76 + nonce.to_bytes(4, "little")
    return int.from_bytes(hashlib.sha256(hashlib.sha256(raw).digest()).digest(), "little")


@needs_kernel
@pytest.mark.parametrize("target", [2**256 - 1, 1 << 245, 1 << 240, 1 << 236, 0])
def test_kernel_finds_the_same_first_nonce_as_python(target: int) -> None:
    assert search_nonce(HEADER76, 0, 1 << 16, target) == search_nonce_py(
        HEADER76, 0, 1 << 16, target
    )


@needs_kernel
def test_kernel_target_boundary_is_inclusive() -> None:
    # nonce 3224 is the first under 2**245 (the parametrized case above); its exact hash is
    # a target it meets, one less is a target it misses
    exact = header_hash(3224)
    assert search_nonce(HEADER76, 3224, 3225, exact) == 3224
    assert search_nonce(HEADER76, 3224, 3225, exact - 1) is None


@needs_kernel
def test_kernel_stays_inside_the_nonce_space_and_rejects_bad_headers() -> None:
    assert search_nonce(HEADER76, NONCE_SPACE - 2, NONCE_SPACE + 5, 2**256 - 1) == NONCE_SPACE - 2
    assert search_nonce(HEADER76, NONCE_SPACE, NONCE_SPACE + 5, 2**256 - 1) is None
    assert search_nonce(HEADER76, 10, 10, 2**256 - 1) is None
    with pytest.raises(ValueError):
        search_nonce(HEADER76[:75], 0, 10, 2**256 - 1)
    assert powsearch.KERNEL is not None
    with pytest.raises(ValueError):
        powsearch.KERNEL.search(HEADER76, 0, 10, bytes(31))


@needs_kernel
def test_bound_loop_hashes_an_80_byte_header_like_hashlib() -> None:
    assert powsearch.KERNEL is not None
    raw = HEADER76 + bytes(4)
    assert powsearch.KERNEL.sha256d(raw) == hashlib.sha256(hashlib.sha256(raw).digest()).digest()
    assert isinstance(powsearch.KERNEL.sha256d_loop(raw, 1000), int)


def test_backend_names_the_search_in_use() -> None:
    assert powsearch.backend() in ("python", "c-openssl", "c-portable")
