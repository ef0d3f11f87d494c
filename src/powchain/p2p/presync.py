"""Header presync: a low-work header chain is followed in memory, not indexed (Core:
HeadersSyncState, simplified).

A peer may send a side branch in full 2,000-header `headers` messages that forks deep below
our tip and, so far, carries less work than it. Indexing it would let anyone grow our block
index for the price of cheap headers. Instead the peer's chain is followed with a constant
amount of memory per peer: each header must link to the one before and meet the target its
own bits claim (so the work counted was really done). When the followed chain's work reaches
our tip's, the peer has proven it and is asked for the same headers again from the fork, to be
indexed with full validation (`redownload`, a budget of as many headers as were followed). If
the peer's chain ends first with less work, nothing of it was stored.

Simplified from Core: no commitments that the second download equals the first; a peer that
proved more work than our tip may send other headers during its redownload budget, which are
then checked by full header validation like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from powchain.consensus.engine import engine_for
from powchain.consensus.errors import Kind, Rejected
from powchain.core.block import BlockHeader
from powchain.core.params import ChainParams

__all__ = ["Presync", "Progress"]


class Progress(Enum):
    MORE = "more"  # a full message: ask for the headers after the last one
    LOW_WORK = "low-work"  # the peer's chain ended below our tip's work: forget it
    PROVEN = "proven"  # the chain reached our tip's work: download it again, to index


@dataclass
class Presync:
    """What one peer's low-work chain has shown so far: 80-byte headers are never kept.

    `fork_hash`: the indexed header the chain builds on; `chainwork` counts from genesis,
    `target_work` is our tip's chainwork when the presync started.
    """

    fork_hash: bytes
    last_hash: bytes
    height: int
    chainwork: int
    target_work: int
    count: int = 0

    @classmethod
    def start(cls, fork_hash: bytes, fork_height: int, fork_work: int, target: int) -> Presync:
        return cls(fork_hash, fork_hash, fork_height, fork_work, target)

    def follows(self, headers: Sequence[BlockHeader]) -> bool:
        """True when `headers` continue this presync (the first links to our last)."""
        return bool(headers) and headers[0].prev_block == self.last_hash

    def feed(self, headers: Sequence[BlockHeader], params: ChainParams, full: bool) -> Progress:
        """Follow `headers` (one `headers` message, `full` when it had the maximum count).

        Raises `Rejected(CONSENSUS, 'bad-presync-link')` when a header does not link to the one
        before, and the engine's header reasons (PoW: 'high-hash', bad bits): both are
        misbehaviour, not a low-work fork. The work counted is the engine's weight.
        """
        engine = engine_for(params)
        for header in headers:
            if header.prev_block != self.last_hash:
                message = "a presync header does not link to the one before it"
                raise Rejected(Kind.CONSENSUS, "bad-presync-link", message)
            engine.check_header(header, params)
            self.last_hash = header.hash
            self.height += 1
            self.chainwork += engine.weight(header)
            self.count += 1
        if self.chainwork >= self.target_work:
            return Progress.PROVEN
        return Progress.MORE if full else Progress.LOW_WORK
