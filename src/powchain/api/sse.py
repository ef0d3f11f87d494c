"""Server-sent events (GET /events): `block`, `tx` and `reorg` pushed from the node's EventBus.

Each client gets a bounded asyncio queue fed by a handler subscribed to `node.events`; a client
too slow to keep up is dropped (its queue is full) rather than slowing the node. Runs on the
node's loop; handlers only enqueue.
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

__all__ = ["EventHub", "encode_event"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
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

    def __init__(self, events: Any, params: ChainParams, queue_size: int = QUEUE_SIZE) -> None:
        self._events = events
        self._params = params
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[bytes | None]] = set()
        self._closed = False

    @property
    def client_count(self) -> int:
        return len(self._queues)

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self._closed = True
        for queue in list(self._queues):
            _drop(queue)

    def _handler(self, queue: asyncio.Queue[bytes | None]) -> Callable[[object], None]:
        def on_event(event: object) -> None:
            encoded = encode_event(event, self._params)
            if encoded is None:
                return
            try:
                queue.put_nowait(_frame(*encoded))
            except asyncio.QueueFull:
                log.info("dropping a slow event-stream client")
                _drop(queue)

        return on_event

    async def stream(self, is_disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        """SSE bytes for one client until it disconnects, is dropped, or the hub closes."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        unsubscribe = self._events.subscribe(self._handler(queue))
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
                yield frame
        finally:
            unsubscribe()
            self._queues.discard(queue)


def _drop(queue: asyncio.Queue[bytes | None]) -> None:
    """Empty the queue and leave the end-of-stream marker in it."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
