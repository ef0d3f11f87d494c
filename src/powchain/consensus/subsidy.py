"""Block subsidy: the new coins a coinbase may claim at a height (SPEC §4). Pure.

INITIAL_SUBSIDY (`params.initial_subsidy`, 50 coins) halves every `params.halving_interval`
blocks, by height and never by calendar time (Core: GetBlockSubsidy). The genesis block pays
nothing: its coinbase is fixed in code and credits no key.
"""

from __future__ import annotations

from ..core.params import ChainParams

__all__ = ["block_subsidy", "MAX_HALVINGS"]

MAX_HALVINGS = 64
"""After this many halvings the subsidy is 0 (a right shift by >= 64 is not relied upon)."""


def block_subsidy(height: int, params: ChainParams) -> int:
    """Subsidy in base units of the block at `height` (>= 0); 0 at height 0.

    Raises ValueError for a negative height (a caller bug, not untrusted data).
    """
    if height < 0:
        raise ValueError("height must be >= 0")
    if height == 0:
        return 0
    halvings = height // params.halving_interval
    if halvings >= MAX_HALVINGS:
        return 0
    return params.initial_subsidy >> halvings
