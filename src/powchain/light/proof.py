"""Transaction inclusion proofs and their check against a header chain (SPV).

A `TxProof` says: transaction `txid` sits at position `index` of the block whose 80-byte
`header` is given, at `height`, and `branch` is its merkle branch (`core.hashing.
merkle_branch`). Its JSON shape, served by `GET /api/v1/txs/{txid}/proof` and written by
`powchain proof` (docs/spec.md, "Issue 15"):

    {"txid": hex, "block": hex, "height": int, "index": int,
     "branch": [hex, ...], "header": hex, "tx": hex (optional, the raw transaction)}

`txid` and `block` are people's hex (byte-reversed, like every txid and block hash of the
API); `branch` hashes are hex of the 32 bytes in internal order (the bytes that are hashed),
bottom level first; `header` is the hex of the 80 serialized bytes. A proof file adds
`"format": "powchain-txproof"`, `"version": 1`, `"network"` and `"genesis"` (people's hex).

`verify_tx_proof(proof, chain, min_confirmations)` checks, cheapest first, and raises
`ProofError(reason)` at the first failure (Electrum's verifier.py checks, plus the header's
place in our own best header chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.block import BlockHeader
from ..core.encoding import ParseError
from ..core.hashing import (
    MAX_BRANCH_DEPTH,
    BranchError,
    branch_pairs,
    fold_branch,
    hash_to_hex,
    sha256d,
)
from ..core.transaction import Transaction
from .headerchain import HeaderChain

__all__ = [
    "ProofError",
    "TxProof",
    "Confirmed",
    "verify_tx_proof",
    "check_inclusion",
    "TXPROOF_FORMAT",
    "TXPROOF_VERSION",
]

TXPROOF_FORMAT = "powchain-txproof"
TXPROOF_VERSION = 1


class ProofError(ValueError):
    """A proof that does not hold. `reason`: one token; str(): a one-line explanation."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class TxProof:
    """See the module docstring. Hashes are 32 bytes in internal order."""

    txid: bytes
    block_hash: bytes
    height: int
    index: int
    branch: tuple[bytes, ...]
    header: BlockHeader
    tx: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "txid": hash_to_hex(self.txid),
            "block": hash_to_hex(self.block_hash),
            "height": self.height,
            "index": self.index,
            "branch": [h.hex() for h in self.branch],
            "header": self.header.serialize().hex(),
        }
        if self.tx is not None:
            out["tx"] = self.tx.hex()
        return out

    @classmethod
    def from_json(cls, doc: Any) -> TxProof:
        """Parse the JSON shape; ProofError `bad-proof` naming the field otherwise."""
        if not isinstance(doc, dict):
            raise ProofError("bad-proof", "a proof is a JSON object")
        branch = _field(doc, "branch", list)
        if len(branch) > MAX_BRANCH_DEPTH:
            raise ProofError("bad-proof", f"branch has {len(branch)} hashes, at most 32")
        tx = doc.get("tx")
        return cls(
            txid=_hash(doc, "txid"),
            block_hash=_hash(doc, "block"),
            height=_int(doc, "height"),
            index=_int(doc, "index"),
            branch=tuple(_raw32(h, "branch") for h in branch),
            header=_header(_field(doc, "header", str)),
            tx=None if tx is None else _hex(tx, "tx", 1_000_000),
        )


def _field(doc: dict[str, Any], name: str, kind: type) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ProofError("bad-proof", f"field {name!r} is missing or not a {kind.__name__}")
    return value


def _int(doc: dict[str, Any], name: str) -> int:
    value = _field(doc, name, int)
    if not 0 <= value < 2**32:
        raise ProofError("bad-proof", f"field {name!r} is out of range")
    return int(value)


def _hex(text: Any, name: str, max_bytes: int) -> bytes:
    if not isinstance(text, str) or len(text) > 2 * max_bytes:
        raise ProofError("bad-proof", f"field {name!r} is not hex of at most {max_bytes} bytes")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ProofError("bad-proof", f"field {name!r} is not hex") from exc


def _raw32(text: Any, name: str) -> bytes:
    raw = _hex(text, name, 32)
    if len(raw) != 32:
        raise ProofError("bad-proof", f"a hash of {name!r} is not 32 bytes")
    return raw


def _hash(doc: dict[str, Any], name: str) -> bytes:
    return _raw32(_field(doc, name, str), name)[::-1]  # people's hex is byte-reversed


def _header(text: str) -> BlockHeader:
    try:
        return BlockHeader.parse(_hex(text, "header", 80))
    except ParseError as exc:
        raise ProofError("bad-proof", f"header: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A proof that holds: the block's `height`, `block_hash`, header `time` (Unix s) and
    `confirmations` on the best header chain."""

    height: int
    block_hash: bytes
    time: int
    confirmations: int


def check_inclusion(proof: TxProof) -> None:
    """The proof's own consistency, no chain needed: ProofError `bad-branch` (from
    `fold_branch`: too long, index not consumed, duplicated right node), `block-mismatch`
    (the header is not the named block), `merkle-mismatch` (the branch does not fold to the
    header's merkle root), `inner-node-is-tx` (a 64-byte inner node parses as a transaction,
    so the branch could prove an inner node as a leaf), `tx-mismatch` (the raw tx given is
    not `txid`)."""
    if proof.header.hash != proof.block_hash:
        raise ProofError("block-mismatch", "the header is not the block the proof names")
    try:
        root = fold_branch(proof.txid, proof.index, list(proof.branch))
    except BranchError as exc:
        raise ProofError("bad-branch", str(exc)) from exc
    if root != proof.header.merkle_root:
        raise ProofError("merkle-mismatch", "the branch does not fold to the header's merkle root")
    for level, pair in enumerate(branch_pairs(proof.txid, proof.index, list(proof.branch))):
        if _parses_as_tx(pair):
            raise ProofError(
                "inner-node-is-tx", f"the inner node at level {level + 1} parses as a transaction"
            )
    if proof.tx is not None and sha256d(proof.tx) != proof.txid:
        raise ProofError("tx-mismatch", "the raw transaction in the proof is not its txid")


def _parses_as_tx(raw64: bytes) -> bool:
    try:
        Transaction.from_bytes(raw64)
    except (ParseError, ValueError):
        return False
    return True


def verify_tx_proof(proof: TxProof, chain: HeaderChain, min_confirmations: int = 1) -> Confirmed:
    """`check_inclusion`, then the header's place in `chain`: ProofError `unknown-block` (not
    on the best header chain: never seen, or on a side branch after a reorg), `wrong-height`
    (on it at another height), `not-enough-confirmations`."""
    check_inclusion(proof)
    height = chain.height_of(proof.block_hash)
    if height is None:
        raise ProofError(
            "unknown-block",
            f"block {hash_to_hex(proof.block_hash)} is not on the best header chain "
            f"(tip {chain.height})",
        )
    if height != proof.height:
        raise ProofError("wrong-height", f"the block is at height {height}, not {proof.height}")
    confirmations = chain.confirmations(proof.block_hash)
    if confirmations < min_confirmations:
        raise ProofError(
            "not-enough-confirmations",
            f"{confirmations} confirmation(s), {min_confirmations} required",
        )
    return Confirmed(height, proof.block_hash, proof.header.time, confirmations)
