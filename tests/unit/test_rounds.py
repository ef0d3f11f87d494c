"""Validator rounds (issue 14): round r of a height lasts timeout x (r + 1), after the block
time; the start of a round is a closed form, so a high round costs nothing to compute."""

from __future__ import annotations

from powchain.node.proposer import MIN_ROUND_TIMEOUT, round_offset


def test_rounds_grow_linearly_after_the_block_time() -> None:
    starts = [round_offset(r, 2.0, 4.0) for r in range(5)]
    assert starts == [2.0, 6.0, 14.0, 26.0, 42.0]
    lengths = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert lengths == [4.0, 8.0, 12.0, 16.0]  # growing: rounds of skewed nodes overlap less


def test_closed_form_equals_the_sum_and_a_huge_round_is_cheap() -> None:
    for r in (0, 1, 7, 100):
        assert round_offset(r, 1.0, 3.0) == 1.0 + sum(3.0 * (i + 1) for i in range(r))
    assert round_offset(1_000_000, 0.0, MIN_ROUND_TIMEOUT) > 1e12
