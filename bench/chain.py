"""Regtest chains for the benchmarks, built block by block on an in-process `Node`.

Keys are deterministic (sha256 of a label). `ChainMaker` appends blocks with explicit
transactions on its own node (so each block is valid on its tip) and keeps the raw blocks,
which a fresh node under measurement then receives. Recipients that never send need no
secret: their keys are sha256 digests (an account needs no curve point to receive).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

from coincurve import PrivateKey

from powchain.consensus.subsidy import block_subsidy
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import merkle_root
from powchain.core.params import REGTEST
from powchain.core.transaction import TX_VERSION, Transaction
from powchain.node.miner import coinbase_data, solve_in_process
from powchain.node.node import Node, NodeConfig

PARAMS = REGTEST
FEE = 1_000  # units: above the minimum relay fee of a 158-byte payment


class Signer:
    """A key that signs payments; `pub` is its 32-byte x-only key."""

    def __init__(self, label: str) -> None:
        self.secret = hashlib.sha256(b"powchain-bench/" + label.encode()).digest()
        self._key = PrivateKey(self.secret)
        self.pub = self._key.public_key.format(compressed=True)[1:]

    def pay(self, recipient: bytes, amount: int, nonce: int, fee: int = FEE) -> Transaction:
        unsigned = Transaction(
            TX_VERSION, PARAMS.chain_id, nonce, self.pub, recipient, amount, fee, b"", bytes(64)
        )
        return unsigned.with_signature(self._key.sign_schnorr(unsigned.sighash(), bytes(32)))


def plain_key(label: str) -> bytes:
    """A 32-byte account key for a recipient that never sends."""
    return hashlib.sha256(b"powchain-bench-acct/" + label.encode()).digest()


def open_node(datadir: Path, verify_processes: int = 0) -> Node:
    node = Node(NodeConfig(PARAMS, datadir, listen=False, verify_processes=verify_processes))
    node.open()
    return node


class ChainMaker:
    """Builds blocks on its own node; `raw` holds every block made, in order."""

    def __init__(self, datadir: Path) -> None:
        self.node = open_node(datadir)
        self.miner = Signer("miner")
        self.raw: list[bytes] = []

    def block(self, txs: Sequence[Transaction]) -> Block:
        node = self.node
        height = node.tip.height + 1
        reward = block_subsidy(height, PARAMS) + sum(tx.fee for tx in txs)
        coinbase = Transaction.coinbase(
            PARAMS.chain_id, height, self.miner.pub, reward, coinbase_data(0)
        )
        all_txs = (coinbase, *txs)
        header = BlockHeader(
            1,
            node.tip.hash,
            merkle_root([tx.txid for tx in all_txs]),
            max(node.now(), node.median_time_past() + 1),
            node.next_bits(),
            0,
        )
        solved = solve_in_process(Block(header, all_txs), PARAMS)
        assert solved is not None  # regtest target: the first few nonces do
        node.process_block(solved)
        self.raw.append(solved.serialize())
        return solved

    def coinbases(self, n: int) -> None:
        """`n` empty blocks paying the miner (funds after maturity)."""
        for _ in range(n):
            self.block([])

    def fan_out(self, recipients: Sequence[bytes], amount: int, fee: int = 0) -> None:
        """The miner pays each recipient `amount`, as many blocks of <= 5,000 as needed."""
        nonce = self.node.state_view().get_account(self.miner.pub).nonce
        for i in range(0, len(recipients), 5_000):
            chunk = recipients[i : i + 5_000]
            self.block([self.miner.pay(r, amount, nonce + j, fee) for j, r in enumerate(chunk)])
            nonce += len(chunk)

    def close(self) -> None:
        self.node.close()


def funded_dir(datadir: Path) -> Path:
    """Where `payment_chain` keeps the datadir as it was before the first payment block."""
    return datadir.with_name(datadir.name + "-funded")


def payment_chain(
    datadir: Path, senders: int, blocks: int, existing: int = 0
) -> tuple[list[bytes], int]:
    """Raw blocks: funding, then `blocks` blocks of `senders` payments (each sender pays a new
    account once per block). `existing` extra funded accounts exist first. Returns (raw blocks,
    index of the first payment block)."""
    maker = ChainMaker(datadir)
    keys = [Signer(f"s{i}") for i in range(senders)]
    coins_needed = (senders * 10_000_000 + existing) // block_subsidy(1, PARAMS) + 1
    maker.coinbases(PARAMS.coinbase_maturity + coins_needed)
    maker.fan_out([plain_key(f"e{i}") for i in range(existing)], 1)
    maker.fan_out([k.pub for k in keys], 10_000_000)
    first = len(maker.raw)
    maker.node.close()  # a snapshot of the funded state: measured nodes start from a copy
    shutil.copytree(datadir, funded_dir(datadir))
    maker.node.open()
    for b in range(blocks):
        maker.block([k.pay(plain_key(f"r{b}/{i}"), 1_000, b) for i, k in enumerate(keys)])
    maker.close()
    return maker.raw, first
