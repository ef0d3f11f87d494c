"""Variable share difficulty per connection, and the hash rate estimate from shares.

Vardiff aims at one accepted share per `target_interval` seconds (ckpool and NOMP do the
same): after `RETARGET_SHARES` shares, or `RETARGET_SECONDS` without enough of them, the
difficulty is scaled by (target interval / observed interval), at most 4x up or down a step,
and kept within [minimum, maximum]. Pure: callers pass the monotonic time.
"""

from __future__ import annotations

from collections import deque

__all__ = ["Vardiff", "HashRate", "difficulty_bounds", "MIN_REPRESENTABLE", "HASHES_PER_DIFF1"]

MIN_REPRESENTABLE = 1e-9
"""Below ~2.4e-10 cpuminer's target computation overflows; no share difficulty goes below
this."""
HASHES_PER_DIFF1 = 2**32
"""Expected hashes per share of difficulty 1 (2**256 / (0xffff * 2**208) ~ 2**32)."""
RETARGET_SHARES = 6
RETARGET_SECONDS = 30.0
MAX_STEP = 4.0


def difficulty_bounds(network_difficulty: float, floor: float) -> tuple[float, float]:
    """(minimum, maximum) share difficulty on a network whose blocks need
    `network_difficulty` (in share units): never below `floor` (nor MIN_REPRESENTABLE), and
    never above the network's, except where the network's is below the floor (regtest): then
    the floor is both bounds and every share is a block."""
    low = max(floor, MIN_REPRESENTABLE)
    return low, max(low, network_difficulty)


class Vardiff:
    """The share difficulty of one connection."""

    def __init__(
        self, initial: float, minimum: float, maximum: float, target_interval: float, now: float
    ) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.target_interval = target_interval
        self.difficulty = self._clamp(initial)
        self._since = now
        self._count = 0

    def _clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)

    def set_bounds(self, minimum: float, maximum: float) -> None:
        """New bounds (the network difficulty moved); the difficulty is clamped into them."""
        self.minimum, self.maximum = minimum, maximum
        self.difficulty = self._clamp(self.difficulty)

    def suggest(self, value: float, now: float) -> None:
        """The miner's `mining.suggest_difficulty` (clamped); restarts the measurement."""
        self.difficulty = self._clamp(value)
        self._since, self._count = now, 0

    def record_share(self, now: float) -> None:
        """One accepted share at `now`."""
        self._count += 1

    def retarget(self, now: float) -> float | None:
        """The new difficulty when it is time to change it (else None)."""
        elapsed = now - self._since
        if self._count < RETARGET_SHARES and elapsed < RETARGET_SECONDS:
            return None
        if self._count == 0:
            factor = 1 / MAX_STEP if elapsed >= 2 * RETARGET_SECONDS else 1.0
        else:
            observed = max(elapsed, 1e-3) / self._count
            factor = min(max(self.target_interval / observed, 1 / MAX_STEP), MAX_STEP)
        self._since, self._count = now, 0
        new = self._clamp(self.difficulty * factor)
        if abs(new - self.difficulty) <= 0.1 * self.difficulty:
            return None
        self.difficulty = new
        return new


class HashRate:
    """Hashes per second estimated from the difficulty of accepted shares over the last
    `window` seconds (at most `max_samples` shares kept)."""

    def __init__(self, window: float = 300.0, max_samples: int = 1024) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self._started: float | None = None

    def add(self, now: float, difficulty: float) -> None:
        if self._started is None:
            self._started = now
        self._samples.append((now, difficulty))

    def estimate(self, now: float) -> float:
        """Hashes per second (0.0 before any share)."""
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()
        if not self._samples or self._started is None:
            return 0.0
        span = min(self.window, now - self._started)
        if len(self._samples) == self._samples.maxlen:
            span = min(span, now - self._samples[0][0])
        work = sum(d for _, d in self._samples) * HASHES_PER_DIFF1
        return work / max(span, 1.0)
