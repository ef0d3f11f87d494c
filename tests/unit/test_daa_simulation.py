"""Deterministic simulation of the difficulty rules (issue 10; docs/spec.md §4 `asert-bounded`).

No randomness: every block takes exactly its expected solve time, work(bits) / hash rate, on a
real-time clock kept as a Fraction. A miner strategy chooses each block's timestamp; the
median-time-past rule (time > MTP) and the future-time rule (time <= clock + limit) clip it, as
a validating node would. The rule under test is the consensus dispatcher `next_bits` itself.

Two properties, for devnet, testnet and new network files:
- bounded catch-up: at a constant hash rate, from any starting block, the blocks mined never
  exceed the real time elapsed / spacing by more than 2 * half_life / spacing;
- recovery: after the hash rate steps by 1/8 or 8, every block from the 20th on is expected
  within +-30 % of the spacing.
The anchored `asert` rule (files made before issue 10) is run through the same chains to show
the test can fail: a lying block 1 or a dormant gap puts it thousands of blocks ahead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction

import pytest

from powchain.consensus.netfile import half_life_for, max_future_for
from powchain.consensus.pow import block_work, next_bits
from powchain.core.block import BlockHeader
from powchain.core.params import DEVNET, TESTNET, ChainParams

DAY = 86_400
START = 300 * DAY
"""The network's first miner starts 300 days after the genesis time (a genesis fixed in code)."""

Stamp = Callable[[int, int, int, list[int], int], int]
"""(height, the clock's second, MTP of the parent, earlier timestamps, spacing) -> time."""


def file_network(spacing: int) -> ChainParams:
    future = max_future_for(spacing)
    return dataclasses.replace(
        DEVNET,
        name=f"file{spacing}",
        target_spacing=spacing,
        max_future_block_time=future,
        half_life=half_life_for(spacing, future),
    )


BOUNDED = [DEVNET, TESTNET, file_network(1), file_network(10), file_network(600)]
ANCHORED = dataclasses.replace(DEVNET, daa="asert", half_life=600, max_future_block_time=7_200)


@dataclasses.dataclass
class Run:
    """The simulated chain: per block, real time (s since genesis), timestamp, bits."""

    params: ChainParams
    real: list[Fraction]
    times: list[int]
    bits: list[int]

    def expected_spacing(self, height: int, hash_rate: Fraction) -> Fraction:
        """Seconds block `height` is expected to take at `hash_rate`, in block times."""
        return block_work(self.bits[height]) / hash_rate / self.params.target_spacing

    def most_ahead(self) -> Fraction:
        """max over s < e of (e - s) - (real[e] - real[s]) / spacing: blocks beyond schedule."""
        spacing = self.params.target_spacing
        best, lowest = Fraction(0), Fraction(0)
        for height, real in enumerate(self.real):
            lead = height - real / spacing
            best = max(best, lead - lowest)
            lowest = min(lowest, lead)
        return best


def honest(height: int, clock: int, mtp: int, times: list[int], spacing: int) -> int:
    return clock


def simulate(
    params: ChainParams,
    blocks: int,
    stamp: Stamp = honest,
    steps: dict[int, Fraction] | None = None,
    gaps: dict[int, int] | None = None,
) -> Run:
    """Mine `blocks` blocks after genesis; `steps[h]` multiplies the hash rate from block h on,
    `gaps[h]` seconds of dormancy pass before block h is searched for."""
    genesis = BlockHeader(1, bytes(32), bytes(32), 0, params.genesis_bits, 0)
    headers = [genesis]
    hash_rate = Fraction(block_work(params.genesis_bits), params.target_spacing)
    run = Run(params, [Fraction(0)], [0], [params.genesis_bits])
    clock = Fraction(START)
    for height in range(1, blocks + 1):
        hash_rate *= (steps or {}).get(height, 1)
        clock += (gaps or {}).get(height, 0)
        parent = headers[-1]
        bits = next_bits(params, height - 1, parent, genesis, lambda h: headers[h])
        clock += block_work(bits) / hash_rate
        window = sorted(run.times[-params.median_time_span :])
        mtp = window[len(window) // 2]
        second = int(clock)
        proposed = stamp(height, second, mtp, run.times, params.target_spacing)
        time = min(max(proposed, mtp + 1), second + params.max_future_block_time)
        # the rule reads times, bits and heights only; no hash (times may pass 2**32 here)
        headers.append(BlockHeader(1, bytes(32), bytes(32), time, bits, 0))
        run.real.append(clock)
        run.times.append(time)
        run.bits.append(bits)
    return run


def block1_at_genesis_plus_one(
    height: int, clock: int, mtp: int, times: list[int], spacing: int
) -> int:
    """The lying (or clock-less) first miner of issue 10; honest from block 2 on."""
    return 1 if height == 1 else clock


def at_mtp_edge_until(last: int) -> Stamp:
    """Every block up to `last` dated MTP + 1 (the oldest time allowed), then honest."""
    return lambda height, clock, mtp, times, spacing: mtp + 1 if height <= last else clock


def forward_from(first: int) -> Stamp:
    """From `first` on, every block dated two block times after its parent (all the cap
    credits) and never behind the clock: the chain's time runs ahead to the future-time limit
    (which clips it) and stays there."""

    def stamp(height: int, clock: int, mtp: int, times: list[int], spacing: int) -> int:
        return clock if height < first else max(clock, times[-1] + 2 * spacing)

    return stamp


def release_lag_from(first: int, honest_every: int = 0) -> Stamp:
    """From `first` on, every block dated two block times after its parent (what the cap
    credits) while that is behind the clock: a chain whose time lags (after a gap) pays its lag
    back at the cap. With `honest_every`, every such block is dated by an honest clock."""

    def stamp(height: int, clock: int, mtp: int, times: list[int], spacing: int) -> int:
        if height < first or (honest_every and height % honest_every == 0):
            return clock
        return min(times[-1] + 2 * spacing, clock)

    return stamp


def bound(params: ChainParams) -> Fraction:
    return Fraction(2 * params.half_life, params.target_spacing)


@pytest.mark.parametrize("params", BOUNDED, ids=lambda p: p.name)
@pytest.mark.parametrize(
    ("chain", "blocks", "stamp", "gaps"),
    [
        ("honest", 300, honest, None),
        ("block 1 at genesis + 1 s, then now", 300, block1_at_genesis_plus_one, None),
        ("60 days dormant at 150", 300, honest, {150: 60 * DAY}),
        ("MTP edge for 500 blocks", 600, at_mtp_edge_until(500), None),
        ("forward to the future limit", 300, forward_from(100), None),
        ("60 days dormant, then forward", 300, forward_from(150), {150: 60 * DAY}),
        ("lag paid back, 1 block in 10 honest", 300, release_lag_from(150, 10), {150: 60 * DAY}),
    ],
)
def test_catch_up_is_bounded(
    params: ChainParams, chain: str, blocks: int, stamp: Stamp, gaps: dict[int, int] | None
) -> None:
    run = simulate(params, blocks, stamp, gaps=gaps)
    ahead = run.most_ahead()
    assert ahead <= bound(params), f"{chain}: {float(ahead):.1f} blocks ahead"


def test_the_chains_are_the_hard_cases() -> None:
    """The strategies do what they claim: the liar's block 1, the MTP edge, the future limit."""
    lied = simulate(DEVNET, 20, block1_at_genesis_plus_one)
    assert lied.times[1] == 1 and lied.times[2] >= START
    edge = simulate(DEVNET, 60, at_mtp_edge_until(50))
    assert edge.times[50] < edge.times[40] + 10 < edge.real[40]  # the clock left far behind
    assert edge.times[51] == int(edge.real[51])  # then the clock again
    ahead = simulate(DEVNET, 200, forward_from(100))
    assert ahead.times[-1] == int(ahead.real[-1]) + DEVNET.max_future_block_time
    assert simulate(DEVNET, 300, forward_from(100)).most_ahead() > bound(DEVNET) / 2


def test_documented_limit_a_miner_with_every_block_paying_back_lag() -> None:
    """docs/spec.md §4: no rule that sees only timestamps can tell a chain paying back a lag
    (dated behind the clock, two block times a block) from a hash rate that keeps falling. It
    takes every block: one honest block in ten ends the lag (test_catch_up_is_bounded)."""
    lag = simulate(DEVNET, 300, release_lag_from(150), gaps={150: 60 * DAY})
    assert lag.most_ahead() > bound(DEVNET)
    assert all(t < r for t, r in zip(lag.times[150:], lag.real[150:], strict=True))


@pytest.mark.parametrize(
    ("chain", "stamp", "gaps"),
    [
        ("block 1 at genesis + 1 s, then now", block1_at_genesis_plus_one, None),
        ("60 days dormant at 150", honest, {150: 60 * DAY}),
    ],
)
def test_anchored_asert_fails_the_same_chains(
    chain: str, stamp: Stamp, gaps: dict[int, int] | None
) -> None:
    """The rule asert-bounded replaces: the schedule's debt is paid in blocks at the pow limit."""
    ahead = simulate(ANCHORED, 600, stamp, gaps=gaps).most_ahead()
    assert ahead > 3 * bound(ANCHORED), f"{chain}: {float(ahead):.1f} blocks ahead"


@pytest.mark.parametrize("params", [DEVNET, TESTNET, file_network(10)], ids=lambda p: p.name)
@pytest.mark.parametrize("factor", [Fraction(1, 8), Fraction(1, 4), Fraction(1, 2), 2, 4, 8])
def test_recovers_within_20_blocks_of_a_hash_rate_step(
    params: ChainParams, factor: Fraction | int
) -> None:
    step, after = 100, 200
    factor = Fraction(factor)
    run = simulate(params, step + after, steps={step: factor})
    rate = Fraction(block_work(params.genesis_bits), params.target_spacing) * factor
    before = run.expected_spacing(step, rate) * factor  # at the old difficulty and old rate
    assert Fraction(9, 10) <= before <= Fraction(11, 10)  # the chain was on pace at the step
    for height in range(step + 20, step + after + 1):
        spacing = run.expected_spacing(height, rate)
        assert Fraction(7, 10) <= spacing <= Fraction(13, 10), (height - step, float(spacing))
