"""Proof of work: compact bits, targets, chainwork and the difficulty adjustment rules (SPEC §4).

Pure integer arithmetic: no I/O, no clock, no floats. Targets are non-negative ints below
2**256; `bits` is Bitcoin's 32-bit compact encoding of a target. Four rules pick the bits of
the next block (`ChainParams.daa`):

- `asert-bounded` (devnet, testnet, new network files; issue 10): aserti3-2d anchored at the
  parent, with the parent's solve time capped at two block times (`next_bits_bounded`);
- `asert`: aserti3-2d as specified for Bitcoin Cash (2020-11-15-asert.md), anchored at block 1
  (network files made before issue 10);
- `bitcoin`: Bitcoin's retarget every `retarget_interval` blocks (Core: CalculateNextWorkRequired);
- `fixed`: the genesis bits forever (regtest).
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.block import BlockHeader
from ..core.params import ChainParams
from .errors import Kind, Rejected

__all__ = [
    "bits_to_target",
    "target_to_bits",
    "block_work",
    "check_proof_of_work",
    "pow_limit",
    "next_bits_asert",
    "next_bits_bitcoin",
    "next_bits_bounded",
    "next_bits",
    "BOUNDED_SOLVE_CAP",
    "DAA_RULES",
]

DAA_RULES = ("asert-bounded", "asert", "bitcoin", "fixed")
"""Every difficulty rule name `ChainParams.daa` may hold."""

BOUNDED_SOLVE_CAP = 2
"""`asert-bounded` credits a parent at most this many block times of solve time."""

_MAX_TARGET = 2**256 - 1

# aserti3-2d works in 16-bit fixed point; the cubic approximates 2**x - 1 on [0, 1).
_RADIX_BITS = 16
_RADIX = 1 << _RADIX_BITS


def _bad_bits(bits: int, why: str) -> Rejected:
    return Rejected(Kind.CONSENSUS, "bad-diffbits", f"bits {bits:#010x}: {why}")


def bits_to_target(bits: int) -> int:
    """The target that compact `bits` encodes (Core: arith_uint256::SetCompact + DeriveTarget).

    bits = size:8 | sign:1 | mantissa:23; target = mantissa * 256**(size - 3).
    Raises Rejected(CONSENSUS, "bad-diffbits") when the encoding is negative (sign bit with a
    nonzero mantissa), overflows 256 bits, decodes to zero, or is not a 32-bit value.
    """
    if not 0 <= bits <= 0xFFFFFFFF:
        raise _bad_bits(bits, "not a 32-bit value")
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = word << (8 * (size - 3))
    if word != 0 and bits & 0x00800000:
        raise _bad_bits(bits, "negative target")
    if word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)):
        raise _bad_bits(bits, "target overflows 256 bits")
    if target == 0:
        raise _bad_bits(bits, "zero target")
    return target


def target_to_bits(target: int) -> int:
    """Compact encoding of 0 <= target < 2**256 (Core: arith_uint256::GetCompact).

    Keeps the top three significant bytes (lower bits are truncated, as Core does) and never
    sets the sign bit. Raises ValueError for a target outside [0, 2**256).
    """
    if not 0 <= target <= _MAX_TARGET:
        raise ValueError("a target is an integer in [0, 2**256)")
    size = (target.bit_length() + 7) // 8
    shift = 8 * (size - 3)
    mantissa = target >> shift if shift >= 0 else target << -shift
    if mantissa & 0x00800000:
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def block_work(bits: int) -> int:
    """Expected hashes to find a block at `bits`: 2**256 // (target + 1) (Core: GetBlockProof).

    Raises Rejected(CONSENSUS, "bad-diffbits") for an invalid encoding.
    """
    return (1 << 256) // (bits_to_target(bits) + 1)


def pow_limit(params: ChainParams) -> int:
    """The easiest target allowed on the network of `params`."""
    return bits_to_target(params.pow_limit_bits)


def check_proof_of_work(header: BlockHeader, params: ChainParams) -> None:
    """Check that `header` carries the work its bits claim (Core: CheckProofOfWork).

    The hash, read as a little-endian 256-bit integer, must be <= the target, and the target
    must be <= the network's pow limit. Raises Rejected(CONSENSUS, "bad-diffbits") for an
    invalid or too-easy target, Rejected(CONSENSUS, "high-hash") for insufficient work.
    """
    target = bits_to_target(header.bits)
    if target > pow_limit(params):
        raise _bad_bits(header.bits, "target above the pow limit")
    if int.from_bytes(header.hash, "little") > target:
        raise Rejected(Kind.CONSENSUS, "high-hash", "proof of work does not meet the target")


def _asert_factor(frac: int) -> int:
    """65536 * 2**(frac / 65536) for 0 <= frac < 65536, by the aserti3-2d cubic (16-bit fixed)."""
    poly = 195_766_423_245_049 * frac + 971_821_376 * frac**2 + 5_127 * frac**3
    return _RADIX + ((poly + (1 << 47)) >> 48)


def next_bits_asert(
    anchor_bits: int,
    anchor_parent_time: int,
    anchor_height: int,
    parent_time: int,
    parent_height: int,
    target_spacing: int,
    half_life: int,
    pow_limit_bits: int,
) -> int:
    """Bits of the block after `parent` by aserti3-2d (BCHN: GetNextASERTWorkRequired).

    Times are Unix seconds, `target_spacing` and `half_life` seconds. The target is the anchor's
    target times 2**((time_delta - spacing * (height_delta + 1)) / half_life), computed with the
    spec's integer-only cubic approximation in 16-bit fixed point, clamped to [1, pow limit],
    then compact-encoded. Raises Rejected(CONSENSUS, "bad-diffbits") for invalid anchor bits.
    """
    anchor_target = bits_to_target(anchor_bits)
    limit = bits_to_target(pow_limit_bits)
    time_delta = parent_time - anchor_parent_time
    height_delta = parent_height - anchor_height
    numerator = (time_delta - target_spacing * (height_delta + 1)) * _RADIX
    # The spec divides as C++ does (truncating toward zero), then floors with the shift.
    exponent = abs(numerator) // half_life * (1 if numerator >= 0 else -1)
    shifts = exponent >> _RADIX_BITS
    frac = exponent - (shifts << _RADIX_BITS)
    scaled = anchor_target * _asert_factor(frac)
    shifts -= _RADIX_BITS
    target = scaled << shifts if shifts >= 0 else scaled >> -shifts
    return target_to_bits(min(max(target, 1), limit))


def next_bits_bitcoin(last_bits: int, first_time: int, last_time: int, params: ChainParams) -> int:
    """Bits of a retarget block by Bitcoin's rule (Core: CalculateNextWorkRequired).

    `last_bits`, `last_time`: the period's last block (the parent); `first_time`: the period's
    first block (retarget_interval - 1 blocks earlier: Bitcoin's historical off-by-one). The
    actual timespan is clamped to [timespan / 4, timespan * 4]; the new target is
    target(last_bits) * actual // timespan, limited by the pow limit, and compact-encoded (which
    truncates it, exactly as real Bitcoin headers record it).
    """
    timespan = params.retarget_timespan
    actual = min(max(last_time - first_time, timespan // 4), timespan * 4)
    target = bits_to_target(last_bits) * actual // timespan
    return target_to_bits(min(target, pow_limit(params)))


def next_bits_bounded(
    parent_bits: int,
    parent_time: int,
    grandparent_time: int,
    target_spacing: int,
    half_life: int,
    pow_limit_bits: int,
) -> int:
    """Bits of the block after `parent` by `asert-bounded` (docs/spec.md §4, issue 10).

    aserti3-2d with the parent as its own anchor: the parent's target times
    2**((solve - target_spacing) / half_life), where solve = parent_time - grandparent_time
    (Unix seconds), capped above at BOUNDED_SOLVE_CAP * target_spacing and not bounded below (a
    negative solve time, after a block dated ahead, counts in full). The exponent, the cubic and
    the rounding are `next_bits_asert`'s (bit for bit), so each step is an aserti3-2d step with
    height delta 0. The cap bounds what a dormant gap or a lying timestamp can lower the target
    (by 2**(spacing / half_life) at most); see docs/spec.md for the catch-up bound. Raises
    Rejected(CONSENSUS, "bad-diffbits") for invalid parent bits.
    """
    solve = min(parent_time - grandparent_time, BOUNDED_SOLVE_CAP * target_spacing)
    return next_bits_asert(
        anchor_bits=parent_bits,
        anchor_parent_time=parent_time - solve,
        anchor_height=0,
        parent_time=parent_time,
        parent_height=0,
        target_spacing=target_spacing,
        half_life=half_life,
        pow_limit_bits=pow_limit_bits,
    )


def _next_bits_asert_anchored(
    params: ChainParams,
    parent_height: int,
    parent_header: BlockHeader,
    genesis_header: BlockHeader,
    get_ancestor_header: Callable[[int], BlockHeader],
) -> int:
    """aserti3-2d with the genesis target, anchored where the chain's clock really starts.

    Block 1 keeps the genesis target (SPEC §4: the genesis time minus one spacing stands for
    the anchor's parent time). Our genesis blocks are fixed in code with a past timestamp, so
    anchoring the schedule at the genesis *time* would make every later block trivially easy
    (the chain would start months "behind schedule"). The schedule is therefore anchored at
    block 1: anchor height 1, anchor bits = genesis bits, anchor parent time = block 1's time
    minus one spacing. This is exactly SPEC's genesis anchoring for a genesis mined the moment
    before block 1, and it is what keeps a devnet started on any date at its target spacing.
    """
    if parent_height == 0:
        return genesis_header.bits
    block1 = parent_header if parent_height == 1 else get_ancestor_header(1)
    return next_bits_asert(
        anchor_bits=genesis_header.bits,
        anchor_parent_time=block1.time - params.target_spacing,
        anchor_height=1,
        parent_time=parent_header.time,
        parent_height=parent_height,
        target_spacing=params.target_spacing,
        half_life=params.half_life,
        pow_limit_bits=params.pow_limit_bits,
    )


def next_bits(
    params: ChainParams,
    parent_height: int,
    parent_header: BlockHeader,
    genesis_header: BlockHeader,
    get_ancestor_header: Callable[[int], BlockHeader],
) -> int:
    """The bits required of the block at `parent_height + 1` on top of `parent_header`.

    `get_ancestor_header(h)` returns the header at height h <= parent_height on the parent's
    own chain: `asert-bounded` asks for the grandparent (h = parent_height - 1) on every call,
    `asert` for block 1, `bitcoin` for the period's first block once per retarget. Rules by
    `params.daa`: `fixed` -> genesis bits; `asert-bounded` -> genesis bits for block 1, then
    `next_bits_bounded`; `asert` -> aserti3-2d, see `_next_bits_asert_anchored`; `bitcoin` ->
    retarget at heights that are multiples of `retarget_interval`, else the parent's bits.
    Raises ValueError for an unknown rule name (a params bug, not untrusted data).
    """
    if params.daa == "fixed":
        return params.genesis_bits
    if params.daa == "asert-bounded":
        if parent_height == 0:
            return genesis_header.bits
        grandparent = get_ancestor_header(parent_height - 1)
        return next_bits_bounded(
            parent_header.bits,
            parent_header.time,
            grandparent.time,
            params.target_spacing,
            params.half_life,
            params.pow_limit_bits,
        )
    if params.daa == "asert":
        return _next_bits_asert_anchored(
            params, parent_height, parent_header, genesis_header, get_ancestor_header
        )
    if params.daa == "bitcoin":
        height = parent_height + 1
        if height % params.retarget_interval:
            return parent_header.bits
        first = get_ancestor_header(height - params.retarget_interval)
        return next_bits_bitcoin(parent_header.bits, first.time, parent_header.time, params)
    raise ValueError(f"unknown difficulty rule {params.daa!r}")
