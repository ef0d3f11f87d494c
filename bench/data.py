"""Chains shared by the benchmarks of one run, built once on first use.

`small`: `senders` funded signers, then `blocks` blocks in which each pays a new account.
`big`: the same after `existing` more funded accounts (B10, B9). Each maker's datadir stays
on disk for the run so node processes can start from a copy of it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .chain import Signer, payment_chain


@dataclass
class Chain:
    raw: list[bytes]  # every block after genesis, in order
    first_payment: int  # index in `raw` of the first payment block
    datadir: Path  # the maker's node datadir, at the tip of `raw`
    senders: list[Signer]

    def copy_datadir(self, dest: Path) -> Path:
        shutil.copytree(self.datadir, dest)
        return dest


@dataclass
class Data:
    root: Path
    smoke: bool
    b9_mempool: int = 20_000  # B9: transactions in the loaded mempool (smoke: 2 per sender)
    _cache: dict[str, Chain] = field(default_factory=dict)

    @property
    def senders(self) -> int:
        return 100 if self.smoke else 5_000

    @property
    def blocks(self) -> int:
        return 2 if self.smoke else 3

    @property
    def existing(self) -> int:
        return 2_000 if self.smoke else 100_000

    def _chain(self, name: str, existing: int) -> Chain:
        if name not in self._cache:
            datadir = self.root / f"maker-{name}"
            raw, first = payment_chain(datadir, self.senders, self.blocks, existing)
            signers = [Signer(f"s{i}") for i in range(self.senders)]
            self._cache[name] = Chain(raw, first, datadir, signers)
        return self._cache[name]

    @property
    def sync(self) -> Chain:
        """B5: `sync_blocks` blocks of `sync_payments` payments each."""
        name = "sync"
        if name not in self._cache:
            datadir = self.root / f"maker-{name}"
            raw, first = payment_chain(datadir, self.sync_payments, self.sync_blocks, 0)
            self._cache[name] = Chain(raw, first, datadir, [])
        return self._cache[name]

    @property
    def sync_blocks(self) -> int:
        return 3 if self.smoke else 100

    @property
    def sync_payments(self) -> int:
        return 50 if self.smoke else 1_000

    @property
    def growth(self) -> Chain:
        """B10b: `growth_blocks[-1]` blocks of `growth_payments` payments each; the sizes
        measured are prefixes of it (`funded_dir` of its datadir is the state before them)."""
        name = "growth"
        if name not in self._cache:
            datadir = self.root / f"maker-{name}"
            raw, first = payment_chain(datadir, self.growth_payments, self.growth_blocks[-1], 0)
            self._cache[name] = Chain(raw, first, datadir, [])
        return self._cache[name]

    @property
    def growth_blocks(self) -> tuple[int, int]:
        """B10b: the smaller and the larger number of blocks synced."""
        return (20, 100) if self.smoke else (1_000, 5_000)

    @property
    def growth_payments(self) -> int:
        return 2 if self.smoke else 10

    @property
    def small(self) -> Chain:
        return self._chain("small", 0)

    @property
    def big(self) -> Chain:
        return self._chain("big", self.existing)
