"""The `validators` consensus engine (issue 14): a known validator set signs every block. Pure.

Answers of the engine seam (consensus/engine.py):

- header: `bits` equals the genesis bits (no proof of work: `bad-diffbits` otherwise) and the
  round, carried in `nonce`, is at most MAX_ROUND (`bad-round`);
- weight: 1 per block. Every valid block is final (it carries T signatures), so the weight is
  the height; the node never reorganizes below its tip and refuses a conflicting block
  (node/validators.py), which is what finality means here;
- trailer: the signature set of `consensus/signatures.py`, outside the hash;
- producer: the proposer (node/proposer.py), not a miner.

Under it the signatures are checked in context (the validator set after the parent) by
`signatures.check_signed_block`; the set changes by votes (`valset`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ..core.block import Block, BlockHeader
from ..core.keys import encode_address
from ..core.params import ChainParams
from .errors import Kind, Rejected
from .signatures import parse_trailer

__all__ = ["ValidatorsEngine", "MAX_ROUND"]

MAX_ROUND = 1_000_000
"""Highest round a header may carry (rounds of growing timeouts: far beyond any real halt)."""


class ValidatorsEngine:
    """A known validator set, T-of-N signatures per block, finality at once."""

    name: ClassVar[str] = "validators"
    producer: ClassVar[str] = "proposer"
    finality: ClassVar[bool] = True
    votes: ClassVar[bool] = True

    def check_header(self, header: BlockHeader, params: ChainParams) -> None:
        """`bad-diffbits` unless bits are the genesis bits; `bad-round` above MAX_ROUND."""
        if header.bits != params.genesis_bits:
            raise Rejected(Kind.CONSENSUS, "bad-diffbits", "a signed block carries genesis bits")
        if header.nonce > MAX_ROUND:
            raise Rejected(Kind.CONSENSUS, "bad-round", f"round {header.nonce} > {MAX_ROUND}")

    def required_bits(
        self,
        params: ChainParams,
        parent_height: int,
        parent_header: BlockHeader,
        genesis_header: BlockHeader,
        get_ancestor_header: Callable[[int], BlockHeader],
    ) -> int:
        """Always the genesis bits."""
        return params.genesis_bits

    def weight(self, header: BlockHeader) -> int:
        """1: a final block counts one; the chain's weight is its height."""
        return 1

    def check_trailer(self, block: Block, params: ChainParams) -> None:
        """The trailer is a well-formed signature set (`bad-blk-sigs`)."""
        parse_trailer(block.trailer)

    def trailer_info(self, block: Block, params: ChainParams) -> dict[str, object]:
        """`signers`: the addresses whose signatures the block carries (none for genesis)."""
        if not block.trailer:
            return {"signers": []}
        try:
            signatures = parse_trailer(block.trailer)
        except Rejected:
            return {"signers": []}
        return {"signers": [encode_address(params.hrp, s.key) for s in signatures]}
