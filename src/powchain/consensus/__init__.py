"""powchain.consensus: the pure rules of the chain (SPEC §1-§5), importable without a node.

Re-exports the library API of SPEC §9. No I/O, clock or randomness happens below this package.
"""

from ..core.block import Block, BlockHeader
from ..core.hashing import merkle_root
from ..core.params import BITCOIN_MAINNET, DEVNET, REGTEST, TESTNET, ChainParams, genesis_block
from ..core.transaction import Transaction
from .errors import Kind, Rejected
from .pow import (
    bits_to_target,
    block_work,
    check_proof_of_work,
    next_bits_asert,
    next_bits_bitcoin,
    target_to_bits,
)

__all__ = [
    "Block",
    "BlockHeader",
    "Transaction",
    "merkle_root",
    "bits_to_target",
    "target_to_bits",
    "check_proof_of_work",
    "block_work",
    "next_bits_asert",
    "next_bits_bitcoin",
    "ChainParams",
    "REGTEST",
    "DEVNET",
    "TESTNET",
    "BITCOIN_MAINNET",
    "genesis_block",
    "Kind",
    "Rejected",
]
