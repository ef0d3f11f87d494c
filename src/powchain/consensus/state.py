"""Account state, the StateView protocol and the undo-recording overlay. Pure.

The state of the chain at a tip is a map from 32-byte public key to `AccountState`
(spendable `balance`, `immature` coinbase credit, `nonce`), plus the coinbase of each block of
the active chain (needed to mature it COINBASE_MATURITY blocks later). `StateView` is the read
side; storage implements it over SQLite, tests over a dict. `StateOverlay` records writes and
the previous value of every account it touches, so a block connect yields its undo data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..core.encoding import ByteReader, compact_size, u64

__all__ = ["AccountState", "EMPTY_ACCOUNT", "StateView", "StateOverlay", "BlockUndo"]


@dataclass(frozen=True, slots=True)
class AccountState:
    """One account. `balance`, `immature`: base units; `nonce`: confirmed transactions sent."""

    balance: int = 0
    nonce: int = 0
    immature: int = 0

    @property
    def is_empty(self) -> bool:
        return self.balance == 0 and self.nonce == 0 and self.immature == 0


EMPTY_ACCOUNT = AccountState()


class StateView(Protocol):
    """Read access to the state at the current tip."""

    def get_account(self, pubkey: bytes) -> AccountState:
        """The account of a 32-byte key (EMPTY_ACCOUNT when never seen)."""
        ...

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        """(recipient, amount) of the coinbase at `height` of the active chain, if any."""
        ...


@dataclass(frozen=True, slots=True)
class BlockUndo:
    """What a connect changed: each touched account's previous state, in first-touch order.

    Serialized as CompactSize(count) then per account: pubkey:32 | balance:u64 | nonce:u64 |
    immature:u64.
    """

    previous: tuple[tuple[bytes, AccountState], ...]

    def serialize(self) -> bytes:
        parts = [compact_size(len(self.previous))]
        for key, acc in self.previous:
            parts.append(key + u64(acc.balance) + u64(acc.nonce) + u64(acc.immature))
        return b"".join(parts)

    @classmethod
    def parse(cls, raw: bytes) -> BlockUndo:
        reader = ByteReader(raw)
        count = reader.read_compact_size(10_000_000)
        items = []
        for _ in range(count):
            key = reader.read(32)
            items.append(
                (key, AccountState(reader.read_u64(), reader.read_u64(), reader.read_u64()))
            )
        reader.expect_end()
        return cls(tuple(items))


class StateOverlay:
    """Writes on top of a `StateView`, recording each key's value before its first write."""

    def __init__(self, base: StateView) -> None:
        self._base = base
        self._writes: dict[bytes, AccountState] = {}
        self._before: dict[bytes, AccountState] = {}
        self._reads: dict[bytes, AccountState] = {}  # base values already read (one read each)

    def get_account(self, pubkey: bytes) -> AccountState:
        acc = self._writes.get(pubkey)
        if acc is not None:
            return acc
        acc = self._reads.get(pubkey)
        if acc is None:
            acc = self._reads[pubkey] = self._base.get_account(pubkey)
        return acc

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        return self._base.get_coinbase(height)

    def set_account(self, pubkey: bytes, acc: AccountState) -> None:
        if pubkey not in self._before:
            self._before[pubkey] = self.get_account(pubkey)
        self._writes[pubkey] = acc

    def changes(self) -> Iterator[tuple[bytes, AccountState]]:
        """Every written account with its new state (in first-write order)."""
        return iter(self._writes.items())

    def undo(self) -> BlockUndo:
        """The previous state of every written account: applying it reverts the writes."""
        return BlockUndo(tuple(self._before.items()))
