"""The wallet's own record of what it sent and has not yet seen confirmed (Core's wallet keeps
its transactions the same way), in a JSON file beside the keystore (`wallet.json` ->
`wallet.pending.json`, mode 0600, no secrets).

It gives the next nonce without trusting that the node already shows the previous send in its
mempool (two quick sends, or two nodes): the next nonce is the larger of the node's
`next_nonce` and one past the highest nonce recorded here that the chain has not passed yet.
Entries at or below the account's confirmed nonce are dropped on each use. Bounded: at most
MAX_PER_ADDRESS entries per address, the file at most MAX_FILE bytes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Sent", "PendingStore", "pending_path"]

MAX_PER_ADDRESS = 100
MAX_FILE = 1_000_000


@dataclass(frozen=True)
class Sent:
    """One transaction this wallet submitted: `amount`, `fee` in units; `at` Unix seconds."""

    txid: str
    nonce: int
    amount: int
    fee: int
    at: int


def pending_path(wallet_file: Path) -> Path:
    return wallet_file.with_name(wallet_file.stem + ".pending.json")


class PendingStore:
    """Sent-but-unconfirmed transactions per address, in one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, list[Sent]] = self._read()

    def _read(self) -> dict[str, list[Sent]]:
        try:
            with self.path.open("rb") as f:
                raw = f.read(MAX_FILE + 1)
            doc = json.loads(raw) if len(raw) <= MAX_FILE else {}
            return {
                str(addr): [Sent(**entry) for entry in entries][-MAX_PER_ADDRESS:]
                for addr, entries in dict(doc).items()
            }
        except (OSError, ValueError, TypeError):
            return {}  # a missing or damaged record only costs the nonce hint

    def unconfirmed(self, address: str, confirmed_nonce: int) -> list[Sent]:
        """Entries of `address` the chain has not confirmed yet (nonce >= confirmed_nonce)."""
        kept = [s for s in self._data.get(address, []) if s.nonce >= confirmed_nonce]
        self._data[address] = kept
        return kept

    def next_nonce(self, address: str, confirmed_nonce: int, node_next: int) -> int:
        """The nonce of the next new transaction (see the module docstring)."""
        mine = [s.nonce + 1 for s in self.unconfirmed(address, confirmed_nonce)]
        return max([node_next, confirmed_nonce, *mine])

    def add(self, address: str, sent: Sent) -> None:
        """Record a submitted transaction (a replacement supersedes its nonce's entry)."""
        entries = [s for s in self._data.get(address, []) if s.nonce != sent.nonce]
        self._data[address] = [*entries, sent][-MAX_PER_ADDRESS:]
        self.save()

    def save(self) -> None:
        doc = {addr: [asdict(s) for s in entries] for addr, entries in self._data.items()}
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.path)


def now() -> int:
    return int(time.time())
