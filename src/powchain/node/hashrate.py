"""The network's hash rate, estimated from chainwork over recent blocks (Core: getnetworkhashps).

Expected hashes of the last `window` blocks (the chainwork they added) divided by the seconds
between the earliest and latest timestamp among them and the block before them. The genesis
block never starts a window: its time is fixed in code, long before block 1, and would make
the estimate tiny (issue 12: the dashboard showed 40 H/s for a 2.9 MH/s miner). Timestamps are
miners' claims, so this is an estimate: over 120 blocks its relative error from the Poisson
spread alone is ~9 %.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["WINDOW", "network_hashrate", "format_rate"]

WINDOW = 120
"""Blocks the estimate spans at most (Core's getnetworkhashps default)."""


class _Entry(Protocol):
    @property
    def height(self) -> int: ...
    @property
    def time(self) -> int: ...
    @property
    def chainwork(self) -> int: ...
    @property
    def prev(self) -> _Entry | None: ...


def network_hashrate(tip: _Entry, window: int = WINDOW) -> float | None:
    """Hashes per second over the last min(window, tip.height - 1) blocks up to `tip` (an
    index entry: height, time, chainwork, prev); None with fewer than two blocks after genesis
    or when their timestamps span no time."""
    start = tip
    times = [tip.time]
    while tip.height - start.height < window:
        prev = start.prev
        if prev is None or prev.height < 1:
            break
        start = prev
        times.append(start.time)
    span = max(times) - min(times)
    if start is tip or span <= 0:
        return None
    return (tip.chainwork - start.chainwork) / span


def format_rate(value: float | None, unit: str = "H/s") -> str:
    """'2.94 MH/s' style with SI prefixes (k, M, G, ...); '-' for None."""
    if value is None:
        return "-"
    for prefix in ("", "k", "M", "G", "T", "P", "E"):
        if abs(value) < 1000:
            return f"{value:.3g} {prefix}{unit}"
        value /= 1000
    return f"{value:.3g} Z{unit}"
