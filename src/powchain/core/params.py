"""Chain parameters: one frozen `ChainParams` per network, and each network's genesis block.

Pure data (SPEC §5). There is no global "current network": callers pass params explicitly.
Every genesis block is fixed here (time, bits and nonce committed in code, never created with
the current time); `genesis_block(params)` rebuilds it and `tests/unit` check its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .block import Block, BlockHeader
from .hashing import merkle_root, sha256
from .keys import xonly_pubkey
from .transaction import Transaction
from .units import COIN

__all__ = [
    "ChainParams",
    "REGTEST",
    "DEVNET",
    "TESTNET",
    "BITCOIN_MAINNET",
    "NETWORKS",
    "genesis_block",
    "GENESIS_RECIPIENT",
    "DEVNET_FAUCET_SECRET",
]

GENESIS_RECIPIENT = bytes(32)
"""The genesis coinbase pays 0 units to no key: nothing at height 0 is spendable."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Consensus and network parameters of one network. Times in seconds, money in units."""

    name: str
    chain_id: int
    magic: bytes  # 4 bytes, names the network on the wire
    hrp: str  # bech32m human-readable part of addresses
    p2p_port: int
    api_port: int
    daa: str  # "asert-bounded" | "asert" | "bitcoin" | "fixed" (consensus.pow.next_bits)
    pow_limit_bits: int  # easiest allowed target, compact form
    target_spacing: int  # seconds between blocks the DAA aims for
    half_life: int  # ASERT half-life (`asert-bounded`, `asert`), seconds
    halving_interval: int  # blocks per subsidy halving
    coinbase_maturity: int  # blocks before a coinbase is spendable
    genesis_time: int
    genesis_bits: int
    genesis_nonce: int
    genesis_message: bytes
    initial_subsidy: int = 50 * COIN
    max_block_size: int = 1_000_000
    max_tx_data: int = 4_096
    max_post_text: int = 4_000
    max_coinbase_data: int = 100
    max_future_block_time: int = 7_200
    median_time_span: int = 11
    retarget_interval: int = 2_016  # `bitcoin` DAA only
    retarget_timespan: int = 14 * 24 * 3600  # `bitcoin` DAA only
    mine_on_demand: bool = False  # POST /mine allowed (regtest, devnet)
    genesis_hash_hex: str = ""  # expected genesis hash (people's hex); checked by tests
    # (x-only key, units) credited as spendable balance by the genesis block
    genesis_allocations: tuple[tuple[bytes, int], ...] = ()


def _genesis_coinbase(params: ChainParams) -> Transaction:
    return Transaction.coinbase(params.chain_id, 0, GENESIS_RECIPIENT, 0, params.genesis_message)


def _allocation(params: ChainParams, index: int, pubkey: bytes, amount: int) -> Transaction:
    data = b"genesis allocation " + str(index).encode()
    return Transaction.coinbase(params.chain_id, 0, pubkey, amount, data)


@lru_cache(maxsize=16)
def genesis_block(params: ChainParams) -> Block:
    """The fixed genesis block of `params` (height 0).

    Its coinbase pays nothing; each genesis allocation follows as a version-0 transaction
    (coinbase layout, nonce 0) that the genesis connect credits as spendable balance.
    """
    txs = (_genesis_coinbase(params),) + tuple(
        _allocation(params, i, key, amount)
        for i, (key, amount) in enumerate(params.genesis_allocations)
    )
    header = BlockHeader(
        version=1,
        prev_block=bytes(32),
        merkle_root=merkle_root([tx.txid for tx in txs]),
        time=params.genesis_time,
        bits=params.genesis_bits,
        nonce=params.genesis_nonce,
    )
    return Block(header, txs)


REGTEST = ChainParams(
    name="regtest",
    chain_id=0x72707700,
    magic=b"rpow",
    hrp="rpow",
    p2p_port=18744,
    api_port=18745,
    daa="fixed",
    pow_limit_bits=0x207FFFFF,
    target_spacing=600,
    half_life=2 * 24 * 3600,
    halving_interval=150,
    coinbase_maturity=10,
    genesis_time=1_767_225_600,  # 2026-01-01T00:00:00Z
    genesis_bits=0x207FFFFF,
    genesis_nonce=1,
    genesis_message=b"powchain regtest genesis",
    mine_on_demand=True,
    genesis_hash_hex="73c796dafe9c2a1d31e4be6c573a1859ac6c3b4df9cdae0bdc8d6d140c7fd6fd",
)

DEVNET_FAUCET_SECRET = sha256(b"powchain devnet faucet")
"""A published key, like a development chain's prefunded accounts: devnet coins are play money.

The devnet genesis credits it 1,000,000 coins so that `powchain faucet` and the devnet's traffic
can pay from block 1 on, without waiting for a coinbase to mature."""

DEVNET = ChainParams(
    name="devnet",
    chain_id=0x64707700,
    magic=b"dpow",
    hrp="dpow",
    p2p_port=28744,
    api_port=28745,
    daa="asert-bounded",
    pow_limit_bits=0x1F0FFFFF,
    target_spacing=10,
    # issue 10: 4 block times, so a 1/8x..8x change of hash rate is followed within 20 blocks;
    # the future-time limit keeps the catch-up bound (netfile._check_catch_up: 60 <= 80 - 20)
    half_life=40,
    max_future_block_time=60,
    halving_interval=10_000,
    coinbase_maturity=10,
    genesis_time=1_767_225_600,
    # 2**24 hashes: ~4 s for the three miners of `powchain devnet` on a slow two-core machine
    # (C kernel without SHA-NI, ~1.7 M nonces/s per process), ~1 s with SHA-NI (~6-10 M/s).
    # Easy on purpose: a fast machine's surplus is absorbed in ~20 quick blocks, while a slow
    # machine facing a hard genesis would wait minutes for the same correction.
    genesis_bits=0x1E010000,
    genesis_nonce=10_421_414,
    genesis_message=b"powchain devnet genesis 2",
    genesis_allocations=((xonly_pubkey(DEVNET_FAUCET_SECRET), 1_000_000 * COIN),),
    mine_on_demand=True,
    genesis_hash_hex="00000047cb87cb25e05d16543e1ae961b9aa040d7155583fbe37a5414dcf869e",
)

TESTNET = ChainParams(
    name="testnet",
    chain_id=0x74707700,
    magic=b"tpow",
    hrp="tpow",
    p2p_port=38744,
    api_port=38745,
    daa="asert-bounded",
    pow_limit_bits=0x1F0FFFFF,
    target_spacing=60,
    half_life=240,  # issue 10: 4 block times (as devnet); future limit 360 <= 480 - 120
    max_future_block_time=360,
    halving_interval=210_000,
    coinbase_maturity=100,
    genesis_time=1_767_225_600,
    genesis_bits=0x1D080000,  # ~2**29 hashes: ~60 s for four processes of the C nonce kernel
    genesis_nonce=180_057_037,
    genesis_message=b"powchain testnet genesis 2",
    genesis_hash_hex="00000000d3f187477a90e9dd6c7513db8fed3523832bd27265d76920398c0943",
)

BITCOIN_MAINNET = ChainParams(
    name="bitcoin",
    chain_id=0,
    magic=bytes.fromhex("f9beb4d9"),
    hrp="bc",
    p2p_port=8333,
    api_port=8332,
    daa="bitcoin",
    pow_limit_bits=0x1D00FFFF,
    target_spacing=600,
    half_life=2 * 24 * 3600,
    halving_interval=210_000,
    coinbase_maturity=100,
    genesis_time=1_231_006_505,
    genesis_bits=0x1D00FFFF,
    genesis_nonce=2_083_236_893,
    genesis_message=b"",
)
"""Enough of Bitcoin's rules to check real mainnet headers (proof of work and retargets)."""

NETWORKS: dict[str, ChainParams] = {p.name: p for p in (REGTEST, DEVNET, TESTNET)}
