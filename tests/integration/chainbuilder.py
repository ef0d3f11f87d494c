"""A small chain builder for tests: regtest blocks with a coinbase and signed transfers.

Blocks are built without a node (so tests can feed them in any order, fork anywhere and forge
bad ones). Usage:

    b = ChainBuilder()
    main = b.chain(5)                          # 5 blocks on genesis paying MINER
    side = b.chain(3, parent=main[1])          # a fork at height 2
    tx = ALICE.transfer(BOB.pub, 10, fee=1000, nonce=0)
    blk = b.block(main[-1], [tx])              # coinbase pays subsidy + fees
    bad = b.block(main[-1], merkle_root=bytes(32))   # re-solved PoW, wrong merkle root

Only the `fixed` difficulty rule (regtest) is supported: bits are the genesis bits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from powchain.consensus.pow import bits_to_target
from powchain.consensus.subsidy import block_subsidy
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import merkle_root as compute_merkle_root
from powchain.core.keys import schnorr_sign, xonly_pubkey
from powchain.core.params import REGTEST, ChainParams, genesis_block
from powchain.core.transaction import TX_VERSION, Transaction, make_post_data

__all__ = ["Key", "ChainBuilder", "MINER", "ALICE", "BOB", "CAROL", "solve"]


@dataclass(frozen=True)
class Key:
    """A deterministic test key. `pub`: 32-byte x-only public key."""

    secret: bytes

    @classmethod
    def named(cls, name: str) -> Key:
        return cls(hashlib.sha256(b"powchain-test-key/" + name.encode()).digest())

    @property
    def pub(self) -> bytes:
        return xonly_pubkey(self.secret)

    def transfer(
        self,
        recipient: bytes,
        amount: int,
        *,
        fee: int = 10_000,
        nonce: int = 0,
        data: bytes = b"",
        params: ChainParams = REGTEST,
    ) -> Transaction:
        """A signed version-1 transaction from this key."""
        unsigned = Transaction(
            TX_VERSION, params.chain_id, nonce, self.pub, recipient, amount, fee, data, bytes(64)
        )
        return unsigned.with_signature(schnorr_sign(self.secret, unsigned.sighash()))

    def post(self, text: str, *, fee: int = 10_000, nonce: int = 0) -> Transaction:
        """A post: a 0-amount transaction to itself carrying the text."""
        return self.transfer(self.pub, 0, fee=fee, nonce=nonce, data=make_post_data(text))


MINER = Key.named("miner")
ALICE = Key.named("alice")
BOB = Key.named("bob")
CAROL = Key.named("carol")


def solve(header: BlockHeader) -> BlockHeader:
    """The first nonce from 0 that meets `header.bits` (instant on regtest)."""
    target = bits_to_target(header.bits)
    nonce = 0
    while True:
        candidate = header.with_nonce(nonce)
        if int.from_bytes(candidate.hash, "little") <= target:
            return candidate
        nonce += 1


class ChainBuilder:
    """Builds valid (or deliberately broken) regtest blocks; remembers each block's height."""

    def __init__(self, params: ChainParams = REGTEST) -> None:
        if params.daa != "fixed":
            raise ValueError("the chain builder supports the fixed difficulty rule only")
        self.params = params
        self.genesis = genesis_block(params)
        self._height: dict[bytes, int] = {self.genesis.hash: 0}

    def height(self, block: Block) -> int:
        return self._height[block.hash]

    def block(
        self,
        parent: Block | None = None,
        txs: Sequence[Transaction] = (),
        *,
        recipient: bytes = MINER.pub,
        time: int | None = None,
        bits: int | None = None,
        coinbase_amount: int | None = None,
        coinbase_data: bytes = b"",
        merkle_root: bytes | None = None,
        tag: int = 0,
    ) -> Block:
        """A solved block on `parent` (default genesis). The coinbase pays subsidy + fees unless
        `coinbase_amount` is given; `tag` varies the coinbase so siblings differ."""
        parent = parent or self.genesis
        height = self._height[parent.hash] + 1
        fees = sum(tx.fee for tx in txs)
        amount = (
            block_subsidy(height, self.params) + fees
            if coinbase_amount is None
            else coinbase_amount
        )
        data = coinbase_data or (tag.to_bytes(4, "little") if tag else b"")
        coinbase = Transaction.coinbase(self.params.chain_id, height, recipient, amount, data)
        body = (coinbase, *txs)
        header = BlockHeader(
            version=1,
            prev_block=parent.hash,
            merkle_root=merkle_root or compute_merkle_root([tx.txid for tx in body]),
            time=parent.header.time + self.params.target_spacing if time is None else time,
            bits=self.params.genesis_bits if bits is None else bits,
            nonce=0,
        )
        block = Block(solve(header), body)
        self._height[block.hash] = height
        return block

    def chain(self, n: int, parent: Block | None = None, **kwargs: object) -> list[Block]:
        """`n` consecutive empty blocks on `parent` (default genesis)."""
        blocks: list[Block] = []
        for _ in range(n):
            parent = self.block(parent, **kwargs)  # type: ignore[arg-type]
            blocks.append(parent)
        return blocks

    def big_blocks(self, count: int, txs_each: int) -> list[Block]:
        """A block paying ALICE, 10 to mature it, then `count` blocks of `txs_each` payments
        from ALICE (nonces 0, 1, ...) carrying 4,000 data bytes each (~4.2 KB per tx: 230
        make a block of ~978 KB)."""
        funded = self.chain(1, recipient=ALICE.pub)
        chain = funded + self.chain(10, parent=funded[-1])
        nonce = 0
        for _ in range(count):
            txs = []
            for _ in range(txs_each):
                txs.append(ALICE.transfer(BOB.pub, 1, nonce=nonce, data=bytes(4_000)))
                nonce += 1
            chain.append(self.block(chain[-1], txs))
        return chain
