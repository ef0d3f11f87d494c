"""Chain parameters: every network's fixed genesis block, distinct identities, SPEC §5 values."""

from __future__ import annotations

import dataclasses

import pytest

from powchain.consensus.pow import bits_to_target, check_proof_of_work
from powchain.core.hashing import merkle_root
from powchain.core.params import (
    BITCOIN_MAINNET,
    DEVNET,
    NETWORKS,
    REGTEST,
    TESTNET,
    ChainParams,
    genesis_block,
)
from powchain.core.units import COIN

ALL = [REGTEST, DEVNET, TESTNET]


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.name)
def test_genesis_satisfies_its_own_proof_of_work(params: ChainParams) -> None:
    header = genesis_block(params).header
    assert header.bits == params.genesis_bits
    check_proof_of_work(header, params)


@pytest.mark.parametrize("params", [REGTEST, DEVNET], ids=lambda p: p.name)
def test_genesis_hash_is_committed(params: ChainParams) -> None:
    assert params.genesis_hash_hex, f"{params.name}: genesis_hash_hex not filled in"
    assert genesis_block(params).header.hash_hex == params.genesis_hash_hex


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.name)
def test_genesis_block_shape(params: ChainParams) -> None:
    block = genesis_block(params)
    assert block.header.prev_block == bytes(32)
    assert block.header.time == params.genesis_time == 1_767_225_600  # fixed, not "now"
    assert len(block.txs) == 1 + len(params.genesis_allocations)
    coinbase = block.txs[0]
    assert coinbase.is_coinbase and coinbase.nonce == 0 and coinbase.amount == 0
    assert coinbase.chain_id == params.chain_id
    allocations = [(tx.recipient, tx.amount) for tx in block.txs[1:]]
    assert allocations == list(params.genesis_allocations)
    assert all(tx.is_coinbase and tx.chain_id == params.chain_id for tx in block.txs[1:])
    assert block.header.merkle_root == merkle_root(block.txids)
    assert genesis_block(params) == genesis_block(dataclasses.replace(params))


def test_networks_have_distinct_identities() -> None:
    for field in ("chain_id", "magic", "hrp", "p2p_port", "api_port", "genesis_message"):
        values = [getattr(p, field) for p in ALL]
        assert len(set(values)) == len(values), field
    ports = [port for p in ALL for port in (p.p2p_port, p.api_port)]
    assert len(set(ports)) == len(ports)
    assert len({genesis_block(p).hash for p in ALL}) == 3
    assert all(len(p.magic) == 4 for p in ALL)


def test_networks_table() -> None:
    assert NETWORKS == {"regtest": REGTEST, "devnet": DEVNET, "testnet": TESTNET}
    assert "bitcoin" not in NETWORKS


def test_spec_section_5_values() -> None:
    got = {
        p.name: (p.hrp, p.daa, p.halving_interval, p.coinbase_maturity, p.initial_subsidy)
        for p in ALL
    }
    assert got == {
        "regtest": ("rpow", "fixed", 150, 10, 50 * COIN),
        "devnet": ("dpow", "asert-bounded", 10_000, 10, 50 * COIN),
        "testnet": ("tpow", "asert-bounded", 210_000, 100, 50 * COIN),
    }
    assert REGTEST.pow_limit_bits == REGTEST.genesis_bits == 0x207FFFFF
    assert (DEVNET.target_spacing, DEVNET.half_life, DEVNET.max_future_block_time) == (10, 40, 60)
    assert (TESTNET.target_spacing, TESTNET.half_life, TESTNET.max_future_block_time) == (
        60, 240, 360
    )  # fmt: skip
    assert REGTEST.mine_on_demand and DEVNET.mine_on_demand and not TESTNET.mine_on_demand


@pytest.mark.parametrize("params", [*ALL, BITCOIN_MAINNET], ids=lambda p: p.name)
def test_genesis_target_within_pow_limit(params: ChainParams) -> None:
    assert bits_to_target(params.genesis_bits) <= bits_to_target(params.pow_limit_bits)


def test_params_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGTEST.chain_id = 1  # type: ignore[misc]


def test_bitcoin_mainnet_params() -> None:
    assert BITCOIN_MAINNET.daa == "bitcoin"
    assert BITCOIN_MAINNET.pow_limit_bits == 0x1D00FFFF
    assert BITCOIN_MAINNET.retarget_interval == 2_016
    assert BITCOIN_MAINNET.retarget_timespan == 14 * 24 * 3600


def test_devnet_faucet_is_funded_at_genesis_and_spendable() -> None:
    """The published devnet faucet key holds 1,000,000 coins from height 0, not immature."""
    from powchain.consensus.block_verify import connect_block
    from powchain.consensus.state import EMPTY_ACCOUNT, AccountState
    from powchain.core.keys import xonly_pubkey
    from powchain.core.params import DEVNET_FAUCET_SECRET
    from powchain.core.units import COIN

    class Empty:
        def get_account(self, pubkey: bytes) -> AccountState:
            return EMPTY_ACCOUNT

        def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
            return None

    overlay, fees = connect_block(genesis_block(DEVNET), 0, Empty(), DEVNET)
    faucet = xonly_pubkey(DEVNET_FAUCET_SECRET)
    assert dict(overlay.changes()) == {faucet: AccountState(balance=1_000_000 * COIN)}
    assert fees == 0


def test_genesis_with_a_non_allocation_transaction_is_refused() -> None:
    from powchain.consensus.block_verify import connect_genesis
    from powchain.consensus.errors import Rejected
    from powchain.core.block import Block

    genesis = genesis_block(DEVNET)
    forged = Block(genesis.header, (genesis.txs[0], dataclasses.replace(genesis.txs[1], version=1)))

    class Empty:
        def get_account(self, pubkey: bytes) -> object:
            from powchain.consensus.state import EMPTY_ACCOUNT

            return EMPTY_ACCOUNT

        def get_coinbase(self, height: int) -> None:
            return None

    with pytest.raises(Rejected) as info:
        connect_genesis(forged, Empty(), DEVNET)  # type: ignore[arg-type]
    assert info.value.reason == "bad-genesis"
