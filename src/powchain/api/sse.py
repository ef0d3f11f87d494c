"""Server-sent events (GET /events): `block`, `tx` and `reorg` pushed from the node's EventBus.

Each client gets a bounded asyncio queue fed by a handler subscribed to `node.events`; a client
too slow to keep up is dropped (its queue holds QUEUE_SIZE frames or QUEUE_BYTES bytes) rather
than slowing the node. At most MAX_CLIENTS streams are open at once: `GET /events` answers 503
`too-many-streams` beyond (and a stream that loses the race at its start ends at once), so the
hub holds at most MAX_CLIENTS x QUEUE_BYTES. Runs on the node's loop; handlers only enqueue.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..core.hashing import hash_to_hex
from ..core.params import ChainParams
from .schemas import tx_json

__all__ = ["EventHub", "encode_event", "MAX_CLIENTS", "QUEUE_BYTES"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
QUEUE_BYTES = 1024 * 1024
"""Bytes of frames one client may have waiting before it is dropped as too slow."""
MAX_CLIENTS = 32
"""Event streams open at once (browsers open one per explorer tab)."""
KEEPALIVE_SECONDS = 15.0


def encode_event(event: object, params: ChainParams) -> tuple[str, dict[str, Any]] | None:
    """(name, data) of a node event worth streaming, None for the others.

    `block`: BlockConnected; `tx`: TxAccepted; `reorg`: TipChanged with reorg_depth > 0.
    Matched by class name so this module needs no import of node internals.
    """
    kind = type(event).__name__
    if kind == "BlockConnected":
        block = event.block  # type: ignore[attr-defined]
        return "block", {
            "hash": hash_to_hex(block.hash),
            "height": event.height,  # type: ignore[attr-defined]
            "time": block.header.time,
            "txs": len(block.txs),
            "size": block.size,
        }
    if kind == "TxAccepted":
        return "tx", tx_json(event.tx, params)  # type: ignore[attr-defined]
    if kind == "TipChanged" and getattr(event, "reorg_depth", 0) > 0:
        return "reorg", {
            "tip": hash_to_hex(event.hash),  # type: ignore[attr-defined]
            "height": event.height,  # type: ignore[attr-defined]
            "depth": event.reorg_depth,  # type: ignore[attr-defined]
        }
    return None


def _frame(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class EventHub:
    """Fans node events out to SSE clients through per-client bounded queues."""

    def __init__(
        self,
        events: Any,
        params: ChainParams,
        queue_size: int = QUEUE_SIZE,
        *,
        max_clients: int = MAX_CLIENTS,
        queue_bytes: int = QUEUE_BYTES,
    ) -> None:
        self._events = events
        self._params = params
        self._queue_size = queue_size
        self.max_clients = max_clients
        self._queue_bytes = queue_bytes
        self._queues: dict[asyncio.Queue[bytes | None], list[int]] = {}  # -> [bytes waiting]
        self._closed = False

    @property
    def client_count(self) -> int:
        return len(self._queues)

    @property
    def full(self) -> bool:
        """True when another stream would exceed `max_clients`."""
        return len(self._queues) >= self.max_clients

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self._closed = True
        for queue in list(self._queues):
            _drop(queue)

    def _handler(
        self, queue: asyncio.Queue[bytes | None], waiting: list[int]
    ) -> Callable[[object], None]:
        def on_event(event: object) -> None:
            encoded = encode_event(event, self._params)
            if encoded is None:
                return
            frame = _frame(*encoded)
            try:
                if waiting[0] + len(frame) > self._queue_bytes:
                    raise asyncio.QueueFull
                queue.put_nowait(frame)
                waiting[0] += len(frame)
            except asyncio.QueueFull:
                log.info("dropping a slow event-stream client")
                _drop(queue)
                waiting[0] = 0

        return on_event

    async def stream(self, is_disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        """SSE bytes for one client until it disconnects, is dropped, or the hub closes."""
        if self.full:  # lost the race with another stream since the route's check
            yield b"retry: 30000\n: too-many-streams\n\n"
            return
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self._queue_size)
        waiting = [0]
        self._queues[queue] = waiting
        unsubscribe = self._events.subscribe(self._handler(queue, waiting))
        try:
            yield b": connected\n\n"
            while not self._closed:
                try:
                    frame = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await is_disconnected():
                        return
                    frame = b": keepalive\n\n"
                if frame is None:
                    return
                waiting[0] = max(0, waiting[0] - len(frame))
                yield frame
        finally:
            unsubscribe()
            self._queues.pop(queue, None)


def _drop(queue: asyncio.Queue[bytes | None]) -> None:
    """Empty the queue and leave the end-of-stream marker in it."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
