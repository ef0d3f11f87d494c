"""Compact bits, targets, chainwork, the PoW check and the next-bits dispatcher."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.pow import (
    BOUNDED_SOLVE_CAP,
    bits_to_target,
    block_work,
    check_proof_of_work,
    next_bits,
    next_bits_asert,
    next_bits_bounded,
    target_to_bits,
)
from powchain.core.block import BlockHeader
from powchain.core.params import BITCOIN_MAINNET, DEVNET, REGTEST, ChainParams

BITCOIN_GENESIS = BlockHeader(
    version=1,
    prev_block=bytes(32),
    merkle_root=bytes.fromhex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")[
        ::-1
    ],
    time=1_231_006_505,
    bits=0x1D00FFFF,
    nonce=2_083_236_893,
)


@pytest.mark.parametrize(
    ("bits", "target"),
    [
        (0x1D00FFFF, 0xFFFF << 208),
        (0x207FFFFF, 0x7FFFFF << 232),
        (0x1703D869, 0x03D869 << 160),
        (0x01010000, 1),
        (0x02008000, 0x80),
        (0x05009234, 0x92340000),
        (0x04123456, 0x12345600),
    ],
)
def test_bits_to_target_known_values(bits: int, target: int) -> None:
    assert bits_to_target(bits) == target


@pytest.mark.parametrize(
    "bits",
    [
        0x00000000,  # zero
        0x01003456,  # mantissa shifted away: zero
        0x00123456,  # size 0: zero
        0x04923456,  # negative (sign bit, nonzero mantissa)
        0x01FEDCBA,  # negative after the shift
        0xFF123456,  # overflow
        0x22000100,  # size 34 with a two-byte mantissa: overflow
        0x21010000,  # size 33 with a three-byte mantissa: overflow
        0x1_0000_0000,  # not 32 bits
        -1,
    ],
)
def test_bits_to_target_rejects_invalid_encodings(bits: int) -> None:
    with pytest.raises(Rejected) as exc:
        bits_to_target(bits)
    assert exc.value.kind is Kind.CONSENSUS
    assert exc.value.reason == "bad-diffbits"


def test_sign_bit_with_zero_mantissa_is_zero_not_negative() -> None:
    with pytest.raises(Rejected, match="zero target"):
        bits_to_target(0x04800000)


@pytest.mark.parametrize(
    ("target", "bits"),
    [
        (0, 0),
        (1, 0x01010000),
        (0x80, 0x02008000),  # high bit of the mantissa would read as a sign: size grows
        (0x12345600, 0x04123456),
        (2**224 - 1, 0x1D00FFFF),  # Bitcoin's pow limit truncates to the genesis bits
        (0x03D869 << 160 | 0xFFFF, 0x1703D869),  # low bytes are truncated
    ],
)
def test_target_to_bits_matches_core_getcompact(target: int, bits: int) -> None:
    assert target_to_bits(target) == bits


def test_target_to_bits_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        target_to_bits(2**256)
    with pytest.raises(ValueError):
        target_to_bits(-1)


@given(st.integers(min_value=1, max_value=2**256 - 1))
def test_compact_round_trip_truncates_to_three_bytes(target: int) -> None:
    bits = target_to_bits(target)
    decoded = bits_to_target(bits)
    assert decoded <= target
    assert target_to_bits(decoded) == bits
    assert target - decoded < 2 ** max(0, target.bit_length() - 16)


def test_block_work_values() -> None:
    assert block_work(0x1D00FFFF) == 0x1_0001_0001  # Bitcoin genesis: 4295032833
    assert block_work(0x207FFFFF) == 2
    assert block_work(0x01010000) == 2**255  # target 1
    with pytest.raises(Rejected, match="bad-diffbits"):
        block_work(0x04923456)


def test_bitcoin_genesis_header_has_valid_pow() -> None:
    assert BITCOIN_GENESIS.hash_hex == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    )
    check_proof_of_work(BITCOIN_GENESIS, BITCOIN_MAINNET)


def test_high_hash_is_rejected() -> None:
    bad = BITCOIN_GENESIS.with_nonce(BITCOIN_GENESIS.nonce + 1)
    with pytest.raises(Rejected) as exc:
        check_proof_of_work(bad, BITCOIN_MAINNET)
    assert (exc.value.kind, exc.value.reason) == (Kind.CONSENSUS, "high-hash")


def test_target_above_pow_limit_is_bad_diffbits() -> None:
    easy = dataclasses.replace(BITCOIN_GENESIS, bits=0x1D01FFFF)
    with pytest.raises(Rejected) as exc:
        check_proof_of_work(easy, BITCOIN_MAINNET)
    assert exc.value.reason == "bad-diffbits"


def test_negative_bits_in_header_is_bad_diffbits() -> None:
    with pytest.raises(Rejected, match="bad-diffbits"):
        check_proof_of_work(dataclasses.replace(BITCOIN_GENESIS, bits=0x1D80FFFF), BITCOIN_MAINNET)


def _header(time: int, bits: int) -> BlockHeader:
    return BlockHeader(1, bytes(32), bytes(32), time, bits, 0)


def _no_ancestors(height: int) -> BlockHeader:
    raise AssertionError(f"ancestor {height} must not be needed")


def test_next_bits_fixed_is_always_genesis_bits() -> None:
    genesis = _header(REGTEST.genesis_time, REGTEST.genesis_bits)
    parent = _header(REGTEST.genesis_time + 10**6, 0x1D00FFFF)
    assert next_bits(REGTEST, 500, parent, genesis, _no_ancestors) == REGTEST.genesis_bits


ANCHORED = dataclasses.replace(DEVNET, daa="asert", half_life=600)
"""The block-1-anchored `asert` rule (network files made before issue 10)."""


@pytest.mark.parametrize("params", [DEVNET, ANCHORED])
def test_next_bits_asert_block_one_keeps_genesis_target(params: ChainParams) -> None:
    genesis = _header(params.genesis_time, params.genesis_bits)
    assert next_bits(params, 0, genesis, genesis, _no_ancestors) == params.genesis_bits


def test_next_bits_bounded_is_one_asert_step_from_the_parent() -> None:
    """asert-bounded: the parent's target times 2**((solve - spacing) / half_life)."""
    genesis = _header(DEVNET.genesis_time, DEVNET.genesis_bits)
    spacing, half_life, bits = DEVNET.target_spacing, DEVNET.half_life, 0x1D7FFFFF
    grandparent = _header(2_000_000_000, 0x1D7FFFFF)
    asked: list[int] = []

    def ancestor(height: int) -> BlockHeader:
        asked.append(height)
        return grandparent

    def child(solve: int) -> int:
        parent = _header(grandparent.time + solve, bits)
        return next_bits(DEVNET, 500, parent, genesis, ancestor)

    assert child(spacing) == bits  # on time: unchanged, no drift
    assert asked == [499]  # the grandparent, and nothing else
    assert child(spacing + half_life // 2) == child(BOUNDED_SOLVE_CAP * spacing)  # capped
    assert child(10**6) == child(BOUNDED_SOLVE_CAP * spacing)  # a gap of any length, too
    assert child(spacing - half_life) == target_to_bits(bits_to_target(bits) // 2)
    assert child(-3 * half_life) < child(0) < child(spacing)  # negative solve times count
    slow = next_bits_asert(bits, 0, 7, 2 * spacing, 7, spacing, half_life, DEVNET.pow_limit_bits)
    assert child(2 * spacing) == slow > bits
    assert next_bits_bounded(bits, 100, 90, spacing, half_life, DEVNET.pow_limit_bits) == bits


def test_next_bits_bounded_clamps_to_pow_limit() -> None:
    limit = DEVNET.pow_limit_bits
    assert next_bits_bounded(limit, 10**6, 0, 10, 40, limit) == limit


def test_next_bits_asert_on_schedule_keeps_target_and_reacts_to_time() -> None:
    """The schedule is anchored at block 1 (see pow._next_bits_asert_anchored)."""
    DEVNET = ANCHORED  # noqa: N806 - the anchored rule on devnet's other values
    genesis = _header(DEVNET.genesis_time, DEVNET.genesis_bits)
    spacing, half_life = DEVNET.target_spacing, DEVNET.half_life
    block1 = _header(DEVNET.genesis_time + 5_000_000, DEVNET.genesis_bits)

    def ancestors(height: int) -> BlockHeader:
        assert height == 1
        return block1

    start = block1.time
    on_time = _header(start + 99 * spacing, 0)
    assert next_bits(DEVNET, 100, on_time, genesis, ancestors) == DEVNET.genesis_bits
    # one half-life late: the target doubles (exactly, since 2**1 needs no approximation)
    late = _header(start + 99 * spacing + half_life, 0)
    doubled = target_to_bits(bits_to_target(DEVNET.genesis_bits) * 2)
    assert next_bits(DEVNET, 100, late, genesis, ancestors) == doubled
    # one half-life early: the target halves
    early = _header(start + 99 * spacing - half_life, 0)
    halved = target_to_bits(bits_to_target(DEVNET.genesis_bits) // 2)
    assert next_bits(DEVNET, 100, early, genesis, ancestors) == halved


def test_next_bits_asert_genesis_in_the_past_does_not_make_blocks_trivial() -> None:
    """A devnet started months after its fixed genesis still mines at the genesis target."""
    DEVNET = ANCHORED  # noqa: N806 - the anchored rule on devnet's other values
    genesis = _header(DEVNET.genesis_time, DEVNET.genesis_bits)
    block1 = _header(DEVNET.genesis_time + 30_000_000, DEVNET.genesis_bits)
    assert next_bits(DEVNET, 1, block1, genesis, _no_ancestors) == DEVNET.genesis_bits
    block2 = _header(block1.time + DEVNET.target_spacing, DEVNET.genesis_bits)
    assert next_bits(DEVNET, 2, block2, genesis, lambda h: block1) == DEVNET.genesis_bits
    # the literal genesis anchoring would have given the pow limit here
    assert (
        next_bits_asert(
            DEVNET.genesis_bits,
            genesis.time - DEVNET.target_spacing,
            0,
            block2.time,
            2,
            DEVNET.target_spacing,
            DEVNET.half_life,
            DEVNET.pow_limit_bits,
        )
        == DEVNET.pow_limit_bits
    )


def test_next_bits_asert_clamps_to_pow_limit_and_one() -> None:
    far_late = next_bits_asert(0x1D00FFFF, 0, 1, 10**9, 2, 600, 172_800, 0x1D00FFFF)
    assert far_late == 0x1D00FFFF
    far_early = next_bits_asert(0x1D00FFFF, 0, 1, 0, 10**7, 600, 172_800, 0x1D00FFFF)
    assert far_early == 0x01010000  # target 1


def test_next_bits_bitcoin_dispatch_uses_the_period() -> None:
    params = BITCOIN_MAINNET
    interval = params.retarget_interval
    genesis = _header(params.genesis_time, params.genesis_bits)
    first = _header(1_000_000, 0x1B0404CB)
    asked: list[int] = []

    def ancestor(height: int) -> BlockHeader:
        asked.append(height)
        return first

    # half the expected timespan: the target halves
    parent = _header(1_000_000 + params.retarget_timespan // 2, 0x1B0404CB)
    got = next_bits(params, 2 * interval - 1, parent, genesis, ancestor)
    assert got == target_to_bits(bits_to_target(0x1B0404CB) // 2)
    assert asked == [interval]
    # not a boundary: the parent's bits, no ancestor lookup
    assert next_bits(params, 2 * interval, parent, genesis, _no_ancestors) == 0x1B0404CB


def test_next_bits_unknown_rule() -> None:
    bogus = dataclasses.replace(REGTEST, daa="scrypt")
    genesis = _header(0, REGTEST.genesis_bits)
    with pytest.raises(ValueError, match="scrypt"):
        next_bits(bogus, 1, genesis, genesis, _no_ancestors)


def test_library_api_of_spec_section_9() -> None:
    import powchain.consensus as consensus

    names = [
        "BlockHeader",
        "Block",
        "Transaction",
        "merkle_root",
        "bits_to_target",
        "target_to_bits",
        "check_proof_of_work",
        "block_work",
        "next_bits_asert",
        "next_bits_bitcoin",
        "ChainParams",
        "REGTEST",
        "DEVNET",
        "TESTNET",
        "BITCOIN_MAINNET",
    ]
    assert [n for n in names if not hasattr(consensus, n)] == []
