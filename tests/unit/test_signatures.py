"""Validator signatures (issue 14): the trailer, the quorum rule, the proposer, evidence."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from powchain.consensus.block_check import check_block
from powchain.consensus.engine import engine_for
from powchain.consensus.errors import Rejected
from powchain.consensus.signatures import (
    Evidence,
    Signature,
    check_evidence,
    check_signed_block,
    encode_trailer,
    parse_trailer,
    signing_hash,
)
from powchain.consensus.valset import genesis_set, proposer_for
from powchain.core.block import BlockHeader
from powchain.core.keys import schnorr_sign, xonly_pubkey
from powchain.core.params import REGTEST, genesis_block

SECRETS = [hashlib.sha256(b"validator %d" % i).digest() for i in range(5)]
KEYS = {xonly_pubkey(s): s for s in SECRETS}
STATE = genesis_set(tuple(KEYS), 3)
PARAMS = dataclasses.replace(
    REGTEST, consensus="validators", validators=STATE.validators, validator_threshold=3
)


def header(round_: int = 0, time: int = 1_800_000_000) -> BlockHeader:
    return BlockHeader(1, bytes(32), bytes(32), time, PARAMS.genesis_bits, round_)


def sign(h: BlockHeader, key: bytes) -> Signature:
    return Signature(key, schnorr_sign(KEYS[key], signing_hash(h.hash)))


def signed_by(h: BlockHeader, keys: list[bytes]) -> tuple[Signature, ...]:
    return parse_trailer(encode_trailer(sign(h, k) for k in keys))


def quorum(height: int, h: BlockHeader, extra: int = 2) -> list[bytes]:
    proposer = proposer_for(STATE, height, h.nonce)
    assert proposer is not None
    return [proposer] + [k for k in STATE.validators if k != proposer][:extra]


def reason(call: object, *args: object) -> str:
    with pytest.raises(Rejected) as info:
        call(*args)  # type: ignore[operator]
    return info.value.reason


def test_threshold_signatures_with_the_proposer_make_a_block_final() -> None:
    h = header()
    signers = check_signed_block(h, signed_by(h, quorum(1, h)), 1, STATE)
    assert len(signers) == 3


def test_t_minus_one_signatures_are_refused() -> None:
    h = header()
    assert (
        reason(check_signed_block, h, signed_by(h, quorum(1, h, 1)), 1, STATE) == "bad-blk-quorum"
    )


def test_wrong_proposer_is_refused() -> None:
    h = header()
    others = [k for k in STATE.validators if k != proposer_for(STATE, 1, 0)]
    assert reason(check_signed_block, h, signed_by(h, others[:4]), 1, STATE) == "bad-proposer"
    # the same signers are the right ones for round 1 when its proposer is among them
    later = header(round_=1)
    assert proposer_for(STATE, 1, 1) in others
    assert len(check_signed_block(later, signed_by(later, others[:4]), 1, STATE)) == 4


def test_signature_over_another_header_is_refused() -> None:
    h, other = header(), header(time=1_800_000_001)
    sigs = list(signed_by(h, quorum(1, h)))
    sigs[1] = Signature(sigs[1].key, sign(other, sigs[1].key).sig)
    assert reason(check_signed_block, h, tuple(sigs), 1, STATE) == "bad-blk-sig"


def test_non_validator_signature_is_refused() -> None:
    h = header()
    stranger = hashlib.sha256(b"stranger").digest()
    KEYS[xonly_pubkey(stranger)] = stranger
    keys = quorum(1, h) + [xonly_pubkey(stranger)]
    assert reason(check_signed_block, h, signed_by(h, keys), 1, STATE) == "bad-blk-signer"


def test_excluded_validators_do_not_count() -> None:
    h = header()
    keys = quorum(1, h)
    assert (
        reason(check_signed_block, h, signed_by(h, keys), 1, STATE, frozenset(keys[1:2]))
        == "bad-blk-quorum"
    )
    assert (
        reason(check_signed_block, h, signed_by(h, keys), 1, STATE, frozenset(keys[:1]))
        == "bad-proposer"
    )


def test_trailer_shape_is_bounded_and_canonical() -> None:
    h = header()
    good = encode_trailer(signed_by(h, quorum(1, h)))
    assert reason(parse_trailer, b"") == "bad-blk-sigs"
    assert reason(parse_trailer, b"\x00") == "bad-blk-sigs"
    assert reason(parse_trailer, good[:-1]) == "bad-blk-sigs"
    assert reason(parse_trailer, good + b"\x00") == "bad-blk-sigs"
    assert reason(parse_trailer, b"\xfd\xff\xff") == "bad-blk-sigs"  # over MAX_VALIDATORS
    swapped = good[:1] + good[97:193] + good[1:97] + good[193:]
    assert reason(parse_trailer, swapped) == "bad-blk-sigs"


def test_engine_checks_header_and_trailer_context_free() -> None:
    engine = engine_for(PARAMS)
    assert engine.weight(header()) == 1 and engine.finality and engine.producer == "proposer"
    block = genesis_block(REGTEST)
    assert reason(check_block, block, PARAMS) == "bad-blk-sigs"  # no signatures at all
    bad_bits = dataclasses.replace(block.header, bits=0x1D00FFFF)
    assert reason(engine.check_header, bad_bits, PARAMS) == "bad-diffbits"
    assert reason(engine.check_header, header(round_=10**7), PARAMS) == "bad-round"


def test_evidence_convicts_exactly_the_double_signers() -> None:
    a, b = header(), header(round_=1)
    keys = list(STATE.validators)
    evidence = Evidence(a, signed_by(a, keys[:3]), b, signed_by(b, keys[2:5]))
    assert check_evidence(evidence, STATE) == frozenset({keys[2]})
    same = Evidence(a, signed_by(a, keys[:3]), a, signed_by(a, keys[2:5]))
    assert reason(check_evidence, same, STATE) == "bad-evidence"
    apart = Evidence(a, signed_by(a, keys[:2]), b, signed_by(b, keys[2:5]))
    assert reason(check_evidence, apart, STATE) == "bad-evidence"


def test_trailer_size_is_what_encode_writes() -> None:
    from powchain.consensus.signatures import trailer_size

    h = header()
    for n in (1, 3, 5):
        assert trailer_size(n) == len(encode_trailer(signed_by(h, list(STATE.validators)[:n])))
