"""Validator-set votes (issue 14): EIP-225's vote-tally cases as test vectors.

Each case lists the validators at genesis, then one vote per block ("A votes to add C"; a block
without a vote is `(signer,)`), and the set that results. The cases are those of geth Clique's
snapshot tests (EIP-225), minus the ones about epochs and Clique's "signed recently" rule,
which powchain does not have; the threshold is the default, floor(N/2) + 1.
"""

from __future__ import annotations

import hashlib

import pytest

from powchain.consensus.valset import (
    ValidatorSet,
    Vote,
    apply_block_votes,
    apply_vote,
    default_threshold,
    genesis_set,
    proposer_for,
    threshold_for,
)
from powchain.core.transaction import Transaction, make_vote_data


def key(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


V = tuple[str, ...]
CASES: list[tuple[str, V, list[tuple[str, ...]], V]] = [
    ("single signer, no votes cast", ("A",), [("A",)], ("A",)),
    (
        "single signer, voting to add two others (only the first, the second needs 2 votes)",
        ("A",),
        [("A", "+B"), ("B",), ("A", "+C")],
        ("A", "B"),
    ),
    (
        "two signers, voting to add three others (the third needs 3 votes already)",
        ("A", "B"),
        [("A", "+C"), ("B", "+C"), ("A", "+D"), ("B", "+D"), ("C",), ("A", "+E"), ("B", "+E")],
        ("A", "B", "C", "D"),
    ),
    ("single signer, dropping itself", ("A",), [("A", "-A")], ()),
    ("two signers, mutual consent to drop (not fulfilled)", ("A", "B"), [("A", "-B")], ("A", "B")),
    ("two signers, mutual consent (fulfilled)", ("A", "B"), [("A", "-B"), ("B", "-B")], ("A",)),
    ("three signers, two drop the third", ("A", "B", "C"), [("A", "-C"), ("B", "-C")], ("A", "B")),
    (
        "four signers, two are not enough to drop anyone",
        ("A", "B", "C", "D"),
        [("A", "-C"), ("B", "-C")],
        ("A", "B", "C", "D"),
    ),
    (
        "four signers, three are enough to drop someone",
        ("A", "B", "C", "D"),
        [("A", "-D"), ("B", "-D"), ("C", "-D")],
        ("A", "B", "C"),
    ),
    (
        "authorizations are counted once per signer per target",
        ("A", "B"),
        [("A", "+C"), ("B",), ("A", "+C"), ("B",), ("A", "+C")],
        ("A", "B"),
    ),
    (
        "authorizing multiple accounts concurrently is permitted",
        ("A", "B"),
        [("A", "+C"), ("B",), ("A", "+D"), ("B",), ("A",), ("B", "+D"), ("A",), ("B", "+C")],
        ("A", "B", "C", "D"),
    ),
    (
        "deauthorizations are counted once per signer per target",
        ("A", "B"),
        [("A", "-B"), ("B",), ("A", "-B"), ("B",), ("A", "-B")],
        ("A", "B"),
    ),
    (
        "deauthorizing multiple accounts concurrently is permitted",
        ("A", "B", "C", "D"),
        [
            ("A", "-C"), ("B",), ("C",), ("A", "-D"), ("B",), ("C",), ("A",),
            ("B", "-D"), ("C", "-D"), ("A",), ("B", "-C"),
        ],
        ("A", "B"),
    ),
    (
        "votes from deauthorized signers are discarded immediately (deauth votes)",
        ("A", "B", "C"),
        [("C", "-B"), ("A", "-C"), ("B", "-C"), ("A", "-B")],
        ("A", "B"),
    ),
    (
        "votes from deauthorized signers are discarded immediately (auth votes)",
        ("A", "B", "C"),
        [("C", "+D"), ("A", "-C"), ("B", "-C"), ("A", "+D")],
        ("A", "B"),
    ),
    (
        "cascading changes are not allowed, only the account voted on may change",
        ("A", "B", "C", "D"),
        [
            ("A", "-C"), ("B",), ("C",), ("A", "-D"), ("B", "-C"), ("C",), ("A",),
            ("B", "-D"), ("C", "-D"),
        ],
        ("A", "B", "C"),
    ),
    (
        "changes reaching consensus out of bounds (via a deauth) execute on touch",
        ("A", "B", "C", "D"),
        [
            ("A", "-C"), ("B",), ("C",), ("A", "-D"), ("B", "-C"), ("C",), ("A",),
            ("B", "-D"), ("C", "-D"), ("A",), ("C", "+C"),
        ],
        ("A", "B"),
    ),
    (
        "changes reaching consensus out of bounds may go out of consensus on first touch",
        ("A", "B", "C", "D"),
        [
            ("A", "-C"), ("B",), ("C",), ("A", "-D"), ("B", "-C"), ("C",), ("A",),
            ("B", "-D"), ("C", "-D"), ("A",), ("B", "+C"),
        ],
        ("A", "B", "C"),
    ),
    (
        "pending votes don't survive authorization status changes",
        ("A", "B", "C", "D", "E"),
        [
            ("A", "+F"), ("B", "+F"), ("C", "+F"),
            ("D", "-F"), ("E", "-F"), ("B", "-F"), ("C", "-F"),
            ("D", "+F"), ("E", "+F"),
            ("B", "-A"), ("C", "-A"), ("D", "-A"),
            ("B", "+F"),
        ],
        ("B", "C", "D", "E", "F"),
    ),
]  # fmt: skip


def run(validators: V, blocks: list[tuple[str, ...]]) -> ValidatorSet:
    names = {key(n): n for n in "ABCDEF"}
    state = genesis_set(tuple(key(n) for n in validators), default_threshold(len(validators)))
    for block in blocks:
        signer, *vote = block
        assert key(signer) in state, (
            f"{signer} may not sign: {sorted(names[k] for k in state.validators)}"
        )
        if vote:
            state = apply_vote(state, Vote(key(signer), key(vote[0][1]), vote[0][0] == "+"))
    return state


@pytest.mark.parametrize(
    ("name", "validators", "blocks", "result"), CASES, ids=[c[0] for c in CASES]
)
def test_eip225_vote_tally(
    name: str, validators: V, blocks: list[tuple[str, ...]], result: V
) -> None:
    state = run(validators, blocks)
    assert state.validators == tuple(sorted(key(n) for n in result))
    assert state.threshold == default_threshold(len(result))


def test_a_non_validator_vote_counts_for_nothing() -> None:
    state = genesis_set((key("A"), key("B")), 2)
    assert apply_vote(state, Vote(key("X"), key("C"), True)) == state


def test_votes_travel_as_transactions_and_take_effect_after_their_block() -> None:
    state = genesis_set((key("A"),), 1)
    tx = Transaction(1, 7, 0, key("A"), key("B"), 0, 100, make_vote_data(key("B"), True), b"")
    coinbase = Transaction.coinbase(7, 1, key("A"), 0, b"")
    after = apply_block_votes(state, (coinbase, tx))
    assert after.validators == tuple(sorted((key("A"), key("B"))))
    assert after.epoch == 1 and state.epoch == 0


def test_threshold_follows_the_set() -> None:
    assert [default_threshold(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 3, 4, 4]
    assert threshold_for(6, 5, 3) == 4  # default stays the default
    assert threshold_for(6, 5, 4) == 5  # 4 of 5 (> 2/3) stays above 2/3
    assert threshold_for(4, 5, 4) == 4


def test_proposer_rotates_by_height_and_round() -> None:
    state = genesis_set(tuple(key(n) for n in "ABC"), 2)
    keys = state.validators
    assert [proposer_for(state, h, 0) for h in range(4)] == [keys[0], keys[1], keys[2], keys[0]]
    assert proposer_for(state, 1, 1) == keys[2]
    assert proposer_for(genesis_set((), 1), 5, 0) is None


def test_state_round_trips() -> None:
    state = run(("A", "B", "C"), [("A", "+D"), ("B", "-C")])
    assert ValidatorSet.parse(state.serialize()) == state
