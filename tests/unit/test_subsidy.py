"""Block subsidy by height: 50 coins halved every halving interval, nothing at genesis."""

from __future__ import annotations

import pytest

from powchain.consensus.subsidy import block_subsidy
from powchain.core.params import BITCOIN_MAINNET, REGTEST, TESTNET
from powchain.core.units import COIN, MAX_MONEY


def test_genesis_pays_nothing() -> None:
    assert block_subsidy(0, REGTEST) == 0


@pytest.mark.parametrize(
    ("height", "subsidy"),
    [(1, 50 * COIN), (149, 50 * COIN), (150, 25 * COIN), (299, 25 * COIN), (300, 1_250_000_000)],
)
def test_regtest_halves_every_150_blocks(height: int, subsidy: int) -> None:
    assert block_subsidy(height, REGTEST) == subsidy


def test_tiny_and_zero_tail() -> None:
    interval = REGTEST.halving_interval
    assert block_subsidy(32 * interval, REGTEST) == 1  # 5e9 >> 32
    assert block_subsidy(33 * interval, REGTEST) == 0
    assert block_subsidy(64 * interval, REGTEST) == 0
    assert block_subsidy(10**18, REGTEST) == 0


def test_total_supply_stays_below_max_money() -> None:
    # Bitcoin's schedule: the sum of all subsidies is just under 21 million coins
    params = BITCOIN_MAINNET
    total = sum(
        block_subsidy(max(1, era * params.halving_interval), params) * params.halving_interval
        for era in range(64)
    )
    assert total == 2_099_999_997_690_000
    assert total <= MAX_MONEY
    assert block_subsidy(210_000, TESTNET) == 25 * COIN


def test_negative_height_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        block_subsidy(-1, REGTEST)
