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
    names = ("avx512", "sha-ni", "avx2", "openssl", "portable")
    assert powsearch.backend() in ("python", *(f"c-{n}" for n in names))
    if powsearch.KERNEL is not None:
        assert powsearch.backend() == f"c-{powsearch.kernel_backends()[0]}"  # the best
        assert set(powsearch.kernel_backends()) <= set(names)
        assert "portable" in powsearch.kernel_backends()


def _reference(header76: bytes, start: int, end: int, target: int) -> int | None:
    for nonce in range(start, end):
        raw = header76 + nonce.to_bytes(4, "little")
        digest = hashlib.sha256(hashlib.sha256(raw).digest()).digest()
        if int.from_bytes(digest, "little") <= target:
            return nonce
    return None


BACKENDS = powsearch.kernel_backends()


@needs_kernel
@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_agrees_with_hashlib_on_random_headers(name: str) -> None:
    import random

    assert powsearch.KERNEL is not None
    rng = random.Random(f"powkernel-{name}")
    for _ in range(40):
        header76 = rng.randbytes(76)
        target = rng.choice([2**256 - 1, 1 << 250, 1 << 246, 1 << 243, 1 << 240, 0])
        start = rng.randrange(0, 2000)
        end = start + rng.choice([0, 1, 2, 3, 7, 15, 16, 17, 33, rng.randrange(0, 3000)])
        got = powsearch.KERNEL.search_with(
            name, header76, start, end, target.to_bytes(32, "little")
        )
        assert got == _reference(header76, start, end, target), (header76.hex(), start, end)


@needs_kernel
@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_meets_the_exact_target_and_the_end_of_the_nonce_space(name: str) -> None:
    assert powsearch.KERNEL is not None
    search = powsearch.KERNEL.search_with
    exact = header_hash(3224)  # the hash of nonce 3224 as a target: met, and one less is not
    assert search(name, HEADER76, 3200, 3300, exact.to_bytes(32, "little")) == 3224
    assert search(name, HEADER76, 3224, 3225, (exact - 1).to_bytes(32, "little")) is None
    anything = (2**256 - 1).to_bytes(32, "little")
    assert search(name, HEADER76, NONCE_SPACE - 1, NONCE_SPACE + 9, anything) == NONCE_SPACE - 1
    assert search(name, HEADER76, NONCE_SPACE - 3, NONCE_SPACE, bytes(32)) is None
    last = _reference(HEADER76, NONCE_SPACE - 40, NONCE_SPACE, 1 << 252)
    assert (
        search(name, HEADER76, NONCE_SPACE - 40, NONCE_SPACE, (1 << 252).to_bytes(32, "little"))
        == last
    )
    assert powsearch.KERNEL.bound_loop(name, HEADER76, 1000) == 1000
    with pytest.raises(ValueError):
        search("no-such-kernel", HEADER76, 0, 1, anything)
