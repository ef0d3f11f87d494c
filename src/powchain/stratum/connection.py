"""One miner connection of the Stratum server: its handshake state, vardiff, the difficulty
each job was sent with, its token bucket and its counters (GET /api/v1/stratum)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING, Any

from ..core.keys import encode_address
from .vardiff import HashRate, Vardiff

if TYPE_CHECKING:
    from .server import StratumServer

__all__ = ["Connection"]

log = logging.getLogger(__name__)


class Connection:
    """One miner connection's state."""

    def __init__(self, server: StratumServer, writer: asyncio.StreamWriter, en1: bytes) -> None:
        self.server = server
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.extranonce1 = en1
        self.subscribed = False
        self.agent = ""
        self.workers: dict[str, bytes] = {}  # username -> payout key
        self.recipient: bytes | None = None  # the first authorized username's key
        now = time.monotonic()
        self.connected = now
        low, high = server.difficulty_range
        initial = server.settings.initial_difficulty or low
        self.vardiff = Vardiff(initial, low, high, server.settings.share_interval, now)
        self.sent_difficulty: float | None = None
        self.job_difficulty: OrderedDict[str, float] = OrderedDict()
        self.malformed = 0
        self.closed = False
        self.tokens = float(server.settings.burst)
        self.refilled = now
        self.hashrate = HashRate()
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self.blocks = 0
        self.last_share: float | None = None

    @property
    def authorized(self) -> bool:
        return self.recipient is not None

    def send(self, line: bytes) -> None:
        """Queue one line; close a connection whose unread output exceeds the bound."""
        if self.closed:
            return
        transport = self.writer.transport
        if transport.is_closing():
            self.close()
            return
        self.writer.write(line)
        if transport.get_write_buffer_size() > self.server.settings.max_write_buffer:
            log.info("stratum %s: not reading its answers; closing", self.peer)
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()

    async def throttle(self) -> None:
        """Token bucket: one token a message, `messages_per_second` refill, `burst` deep."""
        settings = self.server.settings
        now = time.monotonic()
        self.tokens = min(
            settings.burst, self.tokens + (now - self.refilled) * settings.messages_per_second
        )
        self.refilled = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / settings.messages_per_second)
            self.tokens, self.refilled = 1.0, time.monotonic()
        self.tokens -= 1

    def info(self, now: float, params: Any) -> dict[str, Any]:
        """This connection in GET /api/v1/stratum."""
        return {
            "workers": sorted(self.workers),
            "address": None
            if self.recipient is None
            else encode_address(params.hrp, self.recipient),
            "peer": self.peer,
            "agent": self.agent,
            "difficulty": self.vardiff.difficulty,
            "hashrate": self.hashrate.estimate(now),
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "blocks": self.blocks,
            "connected_seconds": round(now - self.connected, 1),
            "last_share_seconds_ago": None
            if self.last_share is None
            else round(now - self.last_share, 1),
        }
