"""The validator's signing record (issue 14): never sign two different blocks at one height.

Like CometBFT's `priv_validator_state.json`: before a signature leaves the process, the height,
the block hash, the signature and the signed block are written to `DATADIR/validator_state.json`
(temporary file, fsync, rename, fsync of the directory), so a validator killed at any point and
restarted refuses to sign another block at that height, or any lower one, and can re-propose
the block it is locked on. `sign` is the only way the node signs a block.

Crash points (node/crashpoints.py, tests only): `sign-before-record`, `sign-after-record`
(written, signature not yet returned), and the caller's `sign-after-send`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..consensus.signatures import signing_hash
from ..core.keys import schnorr_sign, xonly_pubkey
from .crashpoints import crash_point

__all__ = ["SignRecord", "Signed", "RECORD_FILE", "SignRefused"]

RECORD_FILE = "validator_state.json"
MAX_RECORD_BYTES = 8_000_000  # a record holds one block; bound the read


class SignRefused(Exception):
    """Signing would break the record: `reason` is `height-regression` or `locked`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Signed:
    """The last signed block: height, 32-byte hash, 64-byte signature, raw block."""

    height: int
    block_hash: bytes
    signature: bytes
    block: bytes


class SignRecord:
    """The persisted signing record of one validator key in `datadir`."""

    def __init__(self, datadir: Path, secret: bytes) -> None:
        self.path = Path(datadir) / RECORD_FILE
        self._secret = secret
        self.key = xonly_pubkey(secret)
        self.last: Signed | None = self._load()

    def _load(self) -> Signed | None:
        if not self.path.exists():
            return None
        with self.path.open("rb") as f:
            raw = f.read(MAX_RECORD_BYTES + 1)
        if len(raw) > MAX_RECORD_BYTES:
            raise RuntimeError(f"{self.path} is larger than a signing record can be")
        doc = json.loads(raw)
        if doc.get("key") != self.key.hex():
            raise RuntimeError(f"{self.path} records another validator key: refusing to sign")
        return Signed(
            int(doc["height"]),
            bytes.fromhex(doc["hash"]),
            bytes.fromhex(doc["signature"]),
            bytes.fromhex(doc["block"]),
        )

    def locked(self, height: int) -> Signed | None:
        """The block signed at `height`, if any."""
        return self.last if self.last is not None and self.last.height == height else None

    def may_sign(self, height: int, block_hash: bytes) -> str | None:
        """None when `sign` would sign; else the reason it would refuse."""
        last = self.last
        if last is None or height > last.height:
            return None
        if height < last.height:
            return "height-regression"
        return None if block_hash == last.block_hash else "locked"

    def sign(self, height: int, block_hash: bytes, block_raw: bytes) -> bytes:
        """The signature of this key over the block `block_hash` at `height`, recorded on disk
        before it is returned. The same block again gives the recorded signature. Raises
        `SignRefused` for a lower height (`height-regression`) or another block at the
        signed height (`locked`)."""
        reason = self.may_sign(height, block_hash)
        if reason is not None:
            raise SignRefused(reason, f"signed {self.last} already; refusing height {height}")
        if self.last is not None and self.last.height == height:
            return self.last.signature
        crash_point("sign-before-record")
        signature = schnorr_sign(self._secret, signing_hash(block_hash), os.urandom(32))
        record = Signed(height, block_hash, signature, block_raw)
        self._write(record)
        self.last = record
        crash_point("sign-after-record")
        return signature

    def _write(self, record: Signed) -> None:
        doc = {
            "key": self.key.hex(),
            "height": record.height,
            "hash": record.block_hash.hex(),
            "signature": record.signature.hex(),
            "block": record.block.hex(),
        }
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
