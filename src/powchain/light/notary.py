"""Notarized files: a file's SHA-256 committed on chain, and the `.pcproof` file that proves it.

One transaction notarizes many files: its `data` is `NOTARY_TAG (0x02) | root` where `root`
(32 bytes) is the Bitcoin-style merkle root (`core.hashing.merkle_root`) of the files'
SHA-256 digests in command-line order, repeated digests once (the same bytes have the same
proof). For a single file the root is the file's SHA-256 itself.

`FILE.pcproof` (JSON, UTF-8, at most MAX_PCPROOF_BYTES) - docs/spec.md "Issue 15":

    {"format": "powchain-pcproof", "version": 1,
     "network": name, "genesis": people's hex of the genesis hash,
     "file": {"name": base name, "size": bytes, "sha256": hex of the digest},
     "leaf_index": int, "leaf_count": int, "leaf_branch": [hex (internal order), ...],
     "tx": hex of the raw notarizing transaction,
     "tx_proof": the TxProof JSON of `light.proof` (without "tx")}

`verify_pcproof(digest, proof, chain, min_confirmations)` (digest: the file's SHA-256)
checks, cheapest first: the network (genesis), the file's SHA-256, the file's branch to the
root, the transaction's data and id, then the transaction's proof against the header
chain. Failures raise `ProofError(reason)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..core.encoding import ParseError
from ..core.hashing import BranchError, fold_branch, hash_to_hex, merkle_branch, merkle_root
from ..core.transaction import NOTARY_TAG, Transaction
from .headerchain import HeaderChain
from .proof import Confirmed, ProofError, TxProof, verify_tx_proof

__all__ = [
    "PCPROOF_FORMAT",
    "PCPROOF_VERSION",
    "MAX_PCPROOF_BYTES",
    "DigestTree",
    "PcProof",
    "notary_data",
    "verify_pcproof",
]

PCPROOF_FORMAT = "powchain-pcproof"
PCPROOF_VERSION = 1
MAX_PCPROOF_BYTES = 64 * 1024


@dataclass(frozen=True)
class DigestTree:
    """The merkle tree of distinct file digests (32 bytes each), in first-seen order."""

    leaves: tuple[bytes, ...]

    @classmethod
    def of(cls, digests: list[bytes]) -> DigestTree:
        if not digests:
            raise ValueError("notarize at least one file")
        return cls(tuple(dict.fromkeys(digests)))

    @property
    def root(self) -> bytes:
        return merkle_root(list(self.leaves))

    def branch(self, digest: bytes) -> tuple[int, list[bytes]]:
        index = self.leaves.index(digest)
        return index, merkle_branch(list(self.leaves), index)


def notary_data(root: bytes) -> bytes:
    """A notarizing transaction's data: 0x02 | 32-byte root."""
    if len(root) != 32:
        raise ValueError("a notary root is 32 bytes")
    return bytes((NOTARY_TAG,)) + root


@dataclass(frozen=True)
class PcProof:
    """A `.pcproof` (see the module docstring); hashes are 32 bytes in internal order."""

    network: str
    genesis: bytes
    file_name: str
    file_size: int
    file_sha256: bytes
    leaf_index: int
    leaf_count: int
    leaf_branch: tuple[bytes, ...]
    tx: bytes
    tx_proof: TxProof

    def to_json(self) -> dict[str, Any]:
        tx_proof = self.tx_proof.to_json()
        tx_proof.pop("tx", None)
        return {
            "format": PCPROOF_FORMAT,
            "version": PCPROOF_VERSION,
            "network": self.network,
            "genesis": hash_to_hex(self.genesis),
            "file": {
                "name": self.file_name,
                "size": self.file_size,
                "sha256": self.file_sha256.hex(),
            },
            "leaf_index": self.leaf_index,
            "leaf_count": self.leaf_count,
            "leaf_branch": [h.hex() for h in self.leaf_branch],
            "tx": self.tx.hex(),
            "tx_proof": tx_proof,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def loads(cls, text: str | bytes) -> PcProof:
        """Parse a .pcproof; ProofError `bad-proof` (malformed) or `unknown-version`."""
        if len(text) > MAX_PCPROOF_BYTES:
            raise ProofError("bad-proof", f"a .pcproof is at most {MAX_PCPROOF_BYTES} bytes")
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProofError("bad-proof", "not a JSON .pcproof") from exc
        if not isinstance(doc, dict) or doc.get("format") != PCPROOF_FORMAT:
            raise ProofError("bad-proof", f"not a {PCPROOF_FORMAT} document")
        if doc.get("version") != PCPROOF_VERSION:
            raise ProofError("unknown-version", f"version {doc.get('version')!r}, this reads 1")
        return cls._from_doc(doc)

    @classmethod
    def _from_doc(cls, doc: dict[str, Any]) -> PcProof:
        base = TxProof.from_json(  # reuses the field checks; txid etc. come from tx_proof
            {**_obj(doc, "tx_proof"), "tx": doc.get("tx")}
        )
        file = _obj(doc, "file")
        branch = doc.get("leaf_branch")
        if not isinstance(branch, list) or len(branch) > 32:
            raise ProofError("bad-proof", "leaf_branch is a list of at most 32 hashes")
        if base.tx is None:
            raise ProofError("bad-proof", "the notarizing transaction is missing")
        return cls(
            network=_str(doc, "network"),
            genesis=_hex32(_str(doc, "genesis"))[::-1],
            file_name=_str(file, "name"),
            file_size=_int(file, "size"),
            file_sha256=_hex32(_str(file, "sha256")),
            leaf_index=_int(doc, "leaf_index"),
            leaf_count=_int(doc, "leaf_count"),
            leaf_branch=tuple(_hex32(h) for h in branch),
            tx=base.tx,
            tx_proof=base,
        )


def _obj(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise ProofError("bad-proof", f"field {name!r} is not an object")
    return value


def _str(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) > 4096:
        raise ProofError("bad-proof", f"field {name!r} is not a string")
    return value


def _int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ProofError("bad-proof", f"field {name!r} is not a non-negative integer")
    return value


def _hex32(text: Any) -> bytes:
    try:
        raw = bytes.fromhex(text) if isinstance(text, str) and len(text) == 64 else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ProofError("bad-proof", "a hash is 64 hex digits")
    return raw


def verify_pcproof(
    digest: bytes, proof: PcProof, chain: HeaderChain, min_confirmations: int = 1
) -> Confirmed:
    """Check that the file whose SHA-256 is `digest` is what `proof` notarized, on `chain`.

    ProofError reasons: `wrong-network`, `file-changed` (SHA-256 differs: the file is not the
    one notarized), `bad-file-branch` (the digest does not fold to a root), `tx-mismatch` (the
    transaction does not carry that root, or is not the proved txid), then every reason of
    `verify_tx_proof`.
    """
    if proof.genesis != chain.genesis_hash:
        raise ProofError("wrong-network", f"the proof is for {proof.network}, not this network")
    if digest != proof.file_sha256:
        raise ProofError(
            "file-changed",
            f"the file's SHA-256 is {digest.hex()[:16]}..., the proof is for "
            f"{proof.file_sha256.hex()[:16]}... (the file is not the one notarized)",
        )
    try:
        root = fold_branch(digest, proof.leaf_index, list(proof.leaf_branch))
    except BranchError as exc:
        raise ProofError("bad-file-branch", str(exc)) from exc
    try:
        tx = Transaction.from_bytes(proof.tx)
    except (ParseError, ValueError) as exc:
        raise ProofError(
            "tx-mismatch", f"the notarizing transaction does not parse: {exc}"
        ) from exc
    if tx.data != notary_data(root):
        raise ProofError("tx-mismatch", "the transaction does not commit to this file's root")
    if tx.txid != proof.tx_proof.txid:
        raise ProofError("tx-mismatch", "the transaction is not the one the tx proof proves")
    return verify_tx_proof(proof.tx_proof, chain, min_confirmations)
