"""The consensus engine seam (issue 14): one small set of answers per way of agreeing. Pure.

`ChainParams.consensus` names the engine; `engine_for(params)` returns it. Every engine answers
the same questions, and chain selection, storage, sync, mempool, API and explorer ask it instead
of branching on its name (py-evm composes its chains the same way, from configuration):

- `check_header(header, params)`: the context-free header rule (proof of work, or the round and
  fixed bits of a signed block). Raises `Rejected(CONSENSUS, reason)`.
- `required_bits(params, parent_height, parent_header, genesis_header, get_ancestor_header)`:
  the bits a child of the parent must carry (the DAA, or the fixed genesis bits).
- `weight(header)`: what one block adds to its chain's score for fork choice (the work its
  bits claim, or 1 per final block: a height).
- `check_trailer(block, params)`: the context-free shape of what the block carries beyond its
  header and transactions (nothing, or a validator signature set outside the hash).
- `trailer_info(block, params)`: the trailer for people (API and explorer): `{}`, or the
  signers' addresses.
- `producer`: how blocks are made, "miner" (nonce search) or "proposer" (the in-turn validator
  proposes and collects signatures); the node starts the matching producer.
- `votes`: True when transactions may carry validator votes (`core.transaction.vote_of`): the
  mempool's policy then relays them.
- `finality`: True when every accepted block is final (no reorg can ever replace it), False
  under most-work selection, where depth only makes a reorg unlikely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

from ..core.block import Block, BlockHeader
from ..core.params import ChainParams
from .errors import Kind, Rejected
from .pow import block_work, check_proof_of_work, next_bits
from .validators import ValidatorsEngine

__all__ = ["Engine", "PowEngine", "ENGINES", "engine_for"]


class Engine(Protocol):
    """What every consensus engine answers (see the module docstring)."""

    name: ClassVar[str]
    producer: ClassVar[str]
    finality: ClassVar[bool]
    votes: ClassVar[bool]

    def check_header(self, header: BlockHeader, params: ChainParams) -> None: ...

    def required_bits(
        self,
        params: ChainParams,
        parent_height: int,
        parent_header: BlockHeader,
        genesis_header: BlockHeader,
        get_ancestor_header: Callable[[int], BlockHeader],
    ) -> int: ...

    def weight(self, header: BlockHeader) -> int: ...

    def check_trailer(self, block: Block, params: ChainParams) -> None: ...

    def trailer_info(self, block: Block, params: ChainParams) -> dict[str, object]: ...


class PowEngine:
    """Proof of work: SHA-256d under the target, most cumulative work wins, no trailer."""

    name: ClassVar[str] = "pow"
    producer: ClassVar[str] = "miner"
    finality: ClassVar[bool] = False
    votes: ClassVar[bool] = False

    def check_header(self, header: BlockHeader, params: ChainParams) -> None:
        """`high-hash` / `bad-diffbits` (consensus.pow.check_proof_of_work)."""
        check_proof_of_work(header, params)

    def required_bits(
        self,
        params: ChainParams,
        parent_height: int,
        parent_header: BlockHeader,
        genesis_header: BlockHeader,
        get_ancestor_header: Callable[[int], BlockHeader],
    ) -> int:
        """The difficulty rule of `params.daa` (consensus.pow.next_bits)."""
        return next_bits(params, parent_height, parent_header, genesis_header, get_ancestor_header)

    def weight(self, header: BlockHeader) -> int:
        """The work the header's bits claim: 2**256 // (target + 1)."""
        return block_work(header.bits)

    def check_trailer(self, block: Block, params: ChainParams) -> None:
        """A proof-of-work block ends with its last transaction: `bad-blk-trailer` otherwise."""
        if block.trailer:
            raise Rejected(
                Kind.CONSENSUS,
                "bad-blk-trailer",
                f"{len(block.trailer)} bytes after the last transaction",
            )

    def trailer_info(self, block: Block, params: ChainParams) -> dict[str, object]:
        """Nothing: a proof-of-work block carries nothing beyond its transactions."""
        return {}


POW = PowEngine()
VALIDATORS = ValidatorsEngine()
ENGINES: dict[str, Engine] = {POW.name: POW, VALIDATORS.name: VALIDATORS}
"""Engine name (ChainParams.consensus) -> engine."""


def engine_for(params: ChainParams) -> Engine:
    """The engine `params.consensus` names. ValueError for an unknown name (a params bug; a
    network file's name is checked when it loads)."""
    try:
        return ENGINES[params.consensus]
    except KeyError:
        raise ValueError(f"unknown consensus engine {params.consensus!r}") from None
