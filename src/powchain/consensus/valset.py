"""The validator set of a `validators` network and its vote tally (issue 14). Pure.

A `ValidatorSet` is the state after a block: the validators (x-only keys, ascending), the
threshold T (distinct validators whose signatures make a block final), the pending votes in the
order they were cast, and `epoch`, the number of set changes so far (node-local evidence bans
last until it grows).

Votes are transactions whose `data` is `core.transaction.make_vote_data(subject, add)`, sent by
a validator. The tally follows geth Clique (EIP-225) and passes its vote-tally cases
(tests/unit/test_valset.py):

- a vote is meaningful only when `add` names a key outside the set, or a removal names a
  member; a voter has at most one vote per subject (a new vote on a subject replaces its old
  one, even when the new one is not meaningful);
- after each vote its subject's proposal is checked ("on touch"): when T current validators
  back it, the change applies; the subject's pending votes are cleared, and a removed
  validator's own pending votes are discarded;
- a vote cast by a non-validator counts for nothing (the transaction stays valid).

Not from EIP-225: no epoch checkpoints (votes stay until they pass or their voter leaves), and
the threshold follows the set's size (`threshold_for`). A change made by block N applies to the
signatures of block N + 1 ("takes effect at the next block").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.encoding import ByteReader, compact_size, u8, u32
from ..core.transaction import Transaction, vote_of

__all__ = [
    "MAX_VALIDATORS",
    "Vote",
    "ValidatorSet",
    "default_threshold",
    "threshold_for",
    "genesis_set",
    "apply_vote",
    "apply_block_votes",
    "block_votes",
    "proposer_for",
]

MAX_VALIDATORS = 64
"""Most validators a set may hold (bounds the trailer and the tally)."""


def default_threshold(n: int) -> int:
    """floor(N/2) + 1: more than half (EIP-225's SIGNER_LIMIT)."""
    return n // 2 + 1


def threshold_for(n: int, base_n: int, base_t: int) -> int:
    """T for a set of `n` when the genesis had T = `base_t` of `base_n`: a majority when the
    genesis took the default, else the genesis fraction rounded up and never below a majority
    (a network created with T > 2/3 keeps it as members come and go)."""
    if base_n <= 0 or base_t == default_threshold(base_n):
        return default_threshold(n)
    return max(default_threshold(n), -(-base_t * n // base_n))


@dataclass(frozen=True, slots=True)
class Vote:
    """`voter` votes to add (`add`) or remove `subject` (32-byte x-only keys)."""

    voter: bytes
    subject: bytes
    add: bool


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """The validator state after a block (see the module docstring)."""

    validators: tuple[bytes, ...]
    threshold: int
    base: tuple[int, int]  # (N, T) of the genesis: the threshold rule's fraction
    votes: tuple[Vote, ...] = ()
    epoch: int = 0

    def __contains__(self, key: object) -> bool:
        return key in self.validators

    def tally(self, subject: bytes, add: bool) -> int:
        """Votes pending for the proposal (subject, add)."""
        return sum(1 for v in self.votes if v.subject == subject and v.add == add)

    def serialize(self) -> bytes:
        """`N:u8 T:u8 baseN:u8 baseT:u8 epoch:u32 | keys | CompactSize(votes) | votes`."""
        n, t = self.base
        out = u8(len(self.validators)) + u8(self.threshold) + u8(n) + u8(t) + u32(self.epoch)
        out += b"".join(self.validators) + compact_size(len(self.votes))
        return out + b"".join(v.voter + v.subject + u8(v.add) for v in self.votes)

    @classmethod
    def parse(cls, raw: bytes) -> ValidatorSet:
        """Inverse of `serialize`; `ParseError` when malformed."""
        reader = ByteReader(raw)
        count, threshold, base_n, base_t = (reader.read_u8() for _ in range(4))
        epoch = reader.read_u32()
        keys = tuple(reader.read(32) for _ in range(count))
        n_votes = reader.read_compact_size(MAX_VALIDATORS * MAX_VALIDATORS * 2)
        votes = tuple(
            Vote(reader.read(32), reader.read(32), reader.read_u8() == 1) for _ in range(n_votes)
        )
        reader.expect_end()
        return cls(keys, threshold, (base_n, base_t), votes, epoch)


def genesis_set(validators: tuple[bytes, ...], threshold: int) -> ValidatorSet:
    """The set at height 0."""
    keys = tuple(sorted(validators))
    return ValidatorSet(keys, threshold, (len(keys), threshold))


def _meaningful(state: ValidatorSet, subject: bytes, add: bool) -> bool:
    return (subject in state) != add


def _apply_change(state: ValidatorSet, subject: bytes, add: bool) -> ValidatorSet:
    if add:
        keys = tuple(sorted((*state.validators, subject)))
        votes = state.votes
    else:
        keys = tuple(k for k in state.validators if k != subject)
        votes = tuple(v for v in state.votes if v.voter != subject)  # its own votes go
    votes = tuple(v for v in votes if v.subject != subject)
    n, t = state.base
    return replace(
        state,
        validators=keys,
        threshold=threshold_for(len(keys), n, t),
        votes=votes,
        epoch=state.epoch + 1,
    )


def apply_vote(state: ValidatorSet, vote: Vote) -> ValidatorSet:
    """The state after `vote` (see the module docstring for the rules)."""
    if vote.voter not in state:
        return state
    votes = tuple(
        v for v in state.votes if not (v.voter == vote.voter and v.subject == vote.subject)
    )
    if _meaningful(state, vote.subject, vote.add) and len(state.validators) < MAX_VALIDATORS:
        votes += (vote,)
    state = replace(state, votes=votes)
    add = vote.subject not in state  # the direction a proposal about the subject can take
    if state.validators and state.tally(vote.subject, add) >= state.threshold:
        state = _apply_change(state, vote.subject, add)
    return state


def block_votes(txs: tuple[Transaction, ...]) -> list[Vote]:
    """The votes a block's transactions cast, in order (the coinbase casts none)."""
    votes = []
    for tx in txs[1:]:
        parsed = vote_of(tx.data)
        if parsed is not None:
            votes.append(Vote(tx.sender, parsed[0], parsed[1]))
    return votes


def apply_block_votes(state: ValidatorSet, txs: tuple[Transaction, ...]) -> ValidatorSet:
    """The state after a block whose transactions are `txs`."""
    for vote in block_votes(txs):
        state = apply_vote(state, vote)
    return state


def proposer_for(state: ValidatorSet, height: int, round_: int) -> bytes | None:
    """The validator whose turn (height, round) is: round-robin over the ascending keys,
    `keys[(height + round) % N]`; None for an empty set."""
    if not state.validators:
        return None
    return state.validators[(height + round_) % len(state.validators)]
