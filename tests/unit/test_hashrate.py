"""The network hash-rate estimate (`node.hashrate`): chainwork over the window's time span."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from powchain.consensus.pow import block_work
from powchain.core.params import DEVNET
from powchain.node.hashrate import WINDOW, format_rate, network_hashrate

RATE = 2_940_000.0
"""Nonces per second of the miner in issue 12 (the dashboard said 40-47 H/s)."""


@dataclass(frozen=True)
class Entry:
    height: int
    time: int
    chainwork: int
    prev: Entry | None


def chain(solve_times: list[float], bits: int = 0x1E010000, genesis_age: int = 10**7) -> Entry:
    """Genesis `genesis_age` s before block 1 (fixed in code), then blocks taking `solve_times`."""
    work = block_work(bits)
    entry = Entry(0, 1_767_225_600, work, None)
    clock = float(entry.time + genesis_age)
    for height, solve in enumerate(solve_times, start=1):
        clock += solve
        entry = Entry(height, int(clock), entry.chainwork + work, entry)
    return entry


def test_exact_solve_times_give_the_nonce_rate() -> None:
    spacing = block_work(0x1E010000) / RATE
    tip = chain([spacing] * 300)
    estimate = network_hashrate(tip)
    assert estimate is not None and 0.98 <= estimate / RATE <= 1.02


def test_within_2x_of_a_known_nonce_rate_for_sampled_solve_times() -> None:
    """Poisson solve times (seeded) at a known rate: the estimate over 120 blocks is within 2x
    (its spread is ~9 %; here within 25 % for 50 seeds)."""
    mean = block_work(0x1E010000) / RATE
    for seed in range(50):
        rng = random.Random(seed)
        tip = chain([rng.expovariate(1 / mean) for _ in range(200)])
        estimate = network_hashrate(tip)
        assert estimate is not None and 0.75 <= estimate / RATE <= 1.25, (seed, estimate)


def test_the_genesis_time_never_enters_the_window() -> None:
    """Issue 12: a young chain's window reached back to the genesis, fixed months earlier."""
    spacing = block_work(0x1E010000) / RATE
    young = chain([spacing] * 5, genesis_age=10**7)
    estimate = network_hashrate(young)
    assert estimate is not None and 0.8 <= estimate / RATE <= 1.25
    assert format_rate(estimate).endswith(" MH/s")


def test_window_and_unknown_cases() -> None:
    spacing = block_work(0x1E010000) / RATE
    assert network_hashrate(chain([])) is None  # genesis only
    assert network_hashrate(chain([spacing])) is None  # block 1 has no predecessor in range
    assert network_hashrate(chain([0.0, 0.0, 0.0])) is None  # no time passed
    # the window: a rate change 200 blocks ago does not show
    tip = chain([spacing * 10] * 200 + [spacing] * WINDOW)
    estimate = network_hashrate(tip)
    assert estimate is not None and 0.95 <= estimate / RATE <= 1.05
    shorter = network_hashrate(tip, window=10)
    assert shorter is not None and 0.8 <= shorter / RATE <= 1.25


def test_out_of_order_timestamps_use_the_window_span() -> None:
    """Timestamps are miners' claims: min..max of the window, never a negative span."""
    spacing = block_work(DEVNET.genesis_bits) / RATE
    tip = chain([spacing] * 50 + [-3 * spacing, 4 * spacing] * 5)
    estimate = network_hashrate(tip)
    assert estimate is not None and estimate > 0


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (47.0, "47 H/s"), (2_940_000.0, "2.94 MH/s"), (6.4e9, "6.4 GH/s")],
)
def test_format_rate(value: float | None, text: str) -> None:
    assert format_rate(value) == text


# -- the test-only machine-speed knob ($POWCHAIN_TEST_HASHRATE) -------------------------------


def test_hashrate_factor_parses_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from powchain.node.miner import HASHRATE_ENV, hashrate_factor

    monkeypatch.delenv(HASHRATE_ENV, raising=False)
    assert hashrate_factor() == 1.0
    monkeypatch.setenv(HASHRATE_ENV, "0.25")
    assert hashrate_factor() == 0.25
    for bad in ("0", "-1", "fast", "65"):
        monkeypatch.setenv(HASHRATE_ENV, bad)
        with pytest.raises(ValueError, match=HASHRATE_ENV):
            hashrate_factor()


def test_a_faster_machine_is_an_easier_devnet_genesis(monkeypatch: pytest.MonkeyPatch) -> None:
    from powchain.config import emulate_hashrate
    from powchain.consensus.pow import bits_to_target, check_proof_of_work
    from powchain.core.params import REGTEST, TESTNET, genesis_block
    from powchain.node.miner import HASHRATE_ENV

    monkeypatch.setenv(HASHRATE_ENV, "4")
    fast = emulate_hashrate(DEVNET)
    assert bits_to_target(fast.genesis_bits) // bits_to_target(DEVNET.genesis_bits) == 4
    assert fast.genesis_hash_hex == genesis_block(fast).header.hash_hex != DEVNET.genesis_hash_hex
    check_proof_of_work(genesis_block(fast).header, fast)
    assert emulate_hashrate(TESTNET) is TESTNET and emulate_hashrate(REGTEST) is REGTEST
    monkeypatch.setenv(HASHRATE_ENV, "0.25")  # slower: the miner's limit, the chain unchanged
    assert emulate_hashrate(DEVNET) is DEVNET


def test_status_line_compares_the_network_with_this_miner() -> None:
    from powchain.cli.query import _hashrate_line

    line = _hashrate_line({"network_hashrate": 2.94e6, "miner_hashrate": 9.8e6})
    assert line == (
        "hash rate: network ~2.94 MH/s (estimated, last 120 blocks), this node's miner 9.8 MH/s"
    )
    assert _hashrate_line({"network_hashrate": None, "miner_hashrate": None}).endswith(
        "network ~- (estimated, last 120 blocks), this node's miner not mining"
    )


def test_status_line_on_a_validator_network_names_the_quorum_not_a_hash_rate() -> None:
    from powchain.cli.query import _validators_line

    line = {"count": 5, "threshold": 3, "online": 2, "round": 4, "local": "x1abc"}
    assert _validators_line({**line, "signing": True}) == (
        "validators: 2 of 5 online, final with 3 signatures, round 4; this node signs"
    )
    assert _validators_line({**line, "signing": False, "why_not_signing": "no quorum"}).endswith(
        "round 4; not signing: no quorum"
    )
    assert _validators_line({**line, "local": None}).endswith("this node has no validator key")
