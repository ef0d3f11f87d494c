"""The `bitcoin` rule and the PoW check against 8,065 real Bitcoin mainnet headers.

Heights 822,528..830,592 (extdata/bitcoin): every header parses with our `BlockHeader`, meets
its target, links to its predecessor, and the bits of each retarget block inside the file
(824544, 826560, 828576, 830592) equal `next_bits_bitcoin` over the previous period; all other
headers keep their parent's bits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.pow import check_proof_of_work, next_bits, next_bits_bitcoin
from powchain.core.block import HEADER_SIZE, BlockHeader
from powchain.core.params import BITCOIN_MAINNET

FIRST_HEIGHT = 822_528
COUNT = 8_065
FIRST_HASH = "000000000000000000001daacd23f9cb40c69ba923085618a5f9dbdd4d97e93a"
BOUNDARIES = {824_544: 0x1703D869, 826_560: 0x1704005A, 828_576: 0x1703BA5D, 830_592: 0x170371B1}


@pytest.fixture(scope="module")
def headers(shared: Path) -> list[BlockHeader]:
    raw = (shared / "extdata" / "bitcoin" / "mainnet-headers-822528-830592.bin").read_bytes()
    assert len(raw) == COUNT * HEADER_SIZE
    return [BlockHeader.parse(raw[i : i + HEADER_SIZE]) for i in range(0, len(raw), HEADER_SIZE)]


def test_first_header_hash_and_round_trip(headers: list[BlockHeader]) -> None:
    assert headers[0].hash_hex == FIRST_HASH
    assert all(BlockHeader.parse(h.serialize()) == h for h in headers[:100])


def test_every_header_meets_its_target(headers: list[BlockHeader]) -> None:
    for header in headers:
        check_proof_of_work(header, BITCOIN_MAINNET)


def test_prev_hash_links(headers: list[BlockHeader]) -> None:
    broken = [
        FIRST_HEIGHT + i for i in range(1, COUNT) if headers[i].prev_block != headers[i - 1].hash
    ]
    assert broken == []


def test_bits_follow_the_bitcoin_rule(headers: list[BlockHeader]) -> None:
    interval = BITCOIN_MAINNET.retarget_interval
    computed = {}
    for i in range(1, COUNT):
        height = FIRST_HEIGHT + i
        if height % interval:
            assert headers[i].bits == headers[i - 1].bits, f"bits changed at {height}"
            continue
        first, last = headers[i - interval], headers[i - 1]
        computed[height] = next_bits_bitcoin(last.bits, first.time, last.time, BITCOIN_MAINNET)
    assert computed == BOUNDARIES
    assert {h: headers[h - FIRST_HEIGHT].bits for h in BOUNDARIES} == BOUNDARIES


def test_dispatcher_agrees_on_every_header(headers: list[BlockHeader]) -> None:
    genesis = headers[0]  # unused by the `bitcoin` rule

    for i in range(1, COUNT):
        height = FIRST_HEIGHT + i

        def ancestor(h: int, height: int = height) -> BlockHeader:
            assert FIRST_HEIGHT <= h < height
            return headers[h - FIRST_HEIGHT]

        got = next_bits(BITCOIN_MAINNET, height - 1, headers[i - 1], genesis, ancestor)
        assert got == headers[i].bits, f"height {height}"


def test_flipped_nonce_fails_pow(headers: list[BlockHeader]) -> None:
    tampered = headers[1234].with_nonce(headers[1234].nonce ^ 1)
    with pytest.raises(Rejected) as exc:
        check_proof_of_work(tampered, BITCOIN_MAINNET)
    assert (exc.value.kind, exc.value.reason) == (Kind.CONSENSUS, "high-hash")


def test_wrong_boundary_bits_is_detected(headers: list[BlockHeader]) -> None:
    i = 824_544 - FIRST_HEIGHT
    first, last = headers[i - 2016], headers[i - 1]
    # a miner claiming the old (unchanged) bits at a boundary, or a shifted period
    assert next_bits_bitcoin(last.bits, first.time, last.time, BITCOIN_MAINNET) != last.bits
    shifted = next_bits_bitcoin(last.bits, first.time + 3600, last.time, BITCOIN_MAINNET)
    assert shifted != headers[i].bits
    forged = dataclasses.replace(headers[i], bits=last.bits)
    assert forged.bits != next_bits_bitcoin(last.bits, first.time, last.time, BITCOIN_MAINNET)


def test_retarget_timespan_is_clamped() -> None:
    params = BITCOIN_MAINNET
    span = params.retarget_timespan
    bits = 0x1B0404CB
    assert next_bits_bitcoin(bits, 0, 1, params) == next_bits_bitcoin(bits, 0, span // 4, params)
    assert next_bits_bitcoin(bits, 0, span * 10, params) == next_bits_bitcoin(
        bits, 0, span * 4, params
    )
    # never easier than the pow limit
    assert next_bits_bitcoin(0x1D00FFFF, 0, span * 4, params) == 0x1D00FFFF
