"""Validator signatures of a block (issue 14): the trailer, the signed message, the quorum rule
and equivocation evidence. Pure.

A validator signs `signing_hash(header_hash)` = BIP-340 tagged hash
`tagged_hash("powchain/validator-signature", header_hash)` with BIP-340 Schnorr. The signatures
travel in the block's trailer, after its transactions and outside its hash (as Elements signed
blocks keep the signature set out of the block hash), so the 80-byte header every parser knows
is unchanged:

    trailer = CompactSize(n, 1..MAX_VALIDATORS) | n x (key:32 | signature:64), keys ascending

A block at height h (round r = `header.nonce`) is valid when its trailer holds valid signatures
by at least T distinct current validators that are not excluded (equivocators, node-local) and
one of them is the proposer for (h, r). Such a block is final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..core.block import BlockHeader
from ..core.encoding import ByteReader, ParseError, compact_size
from ..core.hashing import tagged_hash
from ..core.keys import schnorr_verify
from .errors import Kind, Rejected
from .valset import MAX_VALIDATORS, ValidatorSet, proposer_for

__all__ = [
    "SIGNATURE_TAG",
    "Signature",
    "signing_hash",
    "encode_trailer",
    "trailer_size",
    "parse_trailer",
    "check_signed_block",
    "valid_signers",
    "Evidence",
    "check_evidence",
]

SIGNATURE_TAG = b"powchain/validator-signature"


@dataclass(frozen=True, slots=True)
class Signature:
    """One validator's BIP-340 signature (64 bytes) by x-only `key` (32 bytes)."""

    key: bytes
    sig: bytes


def signing_hash(header_hash: bytes) -> bytes:
    """The 32-byte message a validator signs for the block whose hash is `header_hash`."""
    return tagged_hash(SIGNATURE_TAG, header_hash)


def trailer_size(signers: int) -> int:
    """Bytes of a trailer holding `signers` signatures (CompactSize count + 96 each)."""
    return (1 if signers < 0xFD else 3) + 96 * signers


def encode_trailer(signatures: Iterable[Signature]) -> bytes:
    """The trailer of a signature set (sorted by key, one per key)."""
    unique = {s.key: s for s in signatures}
    ordered = [unique[k] for k in sorted(unique)]
    if not 1 <= len(ordered) <= MAX_VALIDATORS:
        raise ValueError(f"a trailer holds 1 to {MAX_VALIDATORS} signatures")
    return compact_size(len(ordered)) + b"".join(s.key + s.sig for s in ordered)


def _bad(reason: str, message: str) -> Rejected:
    return Rejected(Kind.CONSENSUS, reason, message)


def parse_trailer(trailer: bytes) -> tuple[Signature, ...]:
    """The signatures of a trailer. Raises `Rejected(CONSENSUS, 'bad-blk-sigs')` when it is
    empty, malformed, holds more than MAX_VALIDATORS, or keys are not strictly ascending."""
    if not trailer:
        raise _bad("bad-blk-sigs", "a validator block carries its signatures after its txs")
    reader = ByteReader(trailer)
    try:
        count = reader.read_compact_size(MAX_VALIDATORS)
        if count == 0:
            raise ParseError("no signatures")
        sigs = tuple(Signature(reader.read(32), reader.read(64)) for _ in range(count))
        reader.expect_end()
    except ParseError as exc:
        raise _bad("bad-blk-sigs", f"malformed signature trailer: {exc}") from exc
    if any(a.key >= b.key for a, b in zip(sigs, sigs[1:], strict=False)):
        raise _bad("bad-blk-sigs", "signature keys must be strictly ascending")
    return sigs


def valid_signers(header_hash: bytes, signatures: Iterable[Signature]) -> frozenset[bytes]:
    """Keys whose signature over `header_hash` verifies (membership is not checked)."""
    message = signing_hash(header_hash)
    return frozenset(s.key for s in signatures if schnorr_verify(s.key, message, s.sig))


def check_signed_block(
    header: BlockHeader,
    signatures: tuple[Signature, ...],
    height: int,
    state: ValidatorSet,
    excluded: frozenset[bytes] = frozenset(),
) -> frozenset[bytes]:
    """The counting signers of a block at `height` whose parent's validator state is `state`.

    Cheap checks before signature verification. Raises `Rejected(CONSENSUS, reason)`:
    `bad-blk-signer` (a key that is not a current validator), `bad-proposer` (the proposer for
    (height, round = header.nonce) did not sign, or is excluded), `bad-blk-sig` (a signature
    does not verify: over another header, or forged), `bad-blk-quorum` (fewer than T counting
    signers; an excluded validator's signature does not count).
    """
    keys = [s.key for s in signatures]
    stranger = next((k for k in keys if k not in state), None)
    if stranger is not None:
        raise _bad("bad-blk-signer", f"{stranger.hex()} is not a validator at height {height}")
    proposer = proposer_for(state, height, header.nonce)
    if proposer is None or proposer not in keys or proposer in excluded:
        raise _bad("bad-proposer", f"round {header.nonce}'s proposer did not sign the block")
    counting = [k for k in keys if k not in excluded]
    if len(counting) < state.threshold:
        raise _bad(
            "bad-blk-quorum", f"{len(counting)} counting signatures, {state.threshold} needed"
        )
    signers = valid_signers(header.hash, signatures)
    if len(signers) != len(keys):
        raise _bad("bad-blk-sig", "a signature does not verify over this block's header")
    return signers - excluded


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two different headers with the same parent (so at one height), each with signatures.

    Proves that every validator with a valid signature on both signed two blocks at one height
    (CometBFT: DuplicateVoteEvidence)."""

    header_a: BlockHeader
    signatures_a: tuple[Signature, ...]
    header_b: BlockHeader
    signatures_b: tuple[Signature, ...]


def check_evidence(evidence: Evidence, state: ValidatorSet) -> frozenset[bytes]:
    """The current validators (of `state`, the parent's) the evidence convicts: those with a
    valid signature on both headers. Raises `Rejected(CONSENSUS, 'bad-evidence')` when the
    headers are equal, do not share a parent, or convict nobody."""
    a, b = evidence.header_a, evidence.header_b
    if a.hash == b.hash or a.prev_block != b.prev_block:
        raise _bad("bad-evidence", "evidence needs two different blocks on one parent")
    both = {s.key for s in evidence.signatures_a} & {s.key for s in evidence.signatures_b}
    both &= set(state.validators)
    picks_a = [s for s in evidence.signatures_a if s.key in both]
    picks_b = [s for s in evidence.signatures_b if s.key in both]
    convicted = valid_signers(a.hash, picks_a) & valid_signers(b.hash, picks_b)
    if not convicted:
        raise _bad("bad-evidence", "no validator signed both blocks")
    return convicted
