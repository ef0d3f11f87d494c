"""Events the node publishes after it changes state, and the bus that delivers them.

Validation publishes, networking subscribes (STYLE 3): `peerman` relays on `TxAccepted` and
`TipChanged`, the API streams them to browsers. Handlers are plain callables run synchronously
on the node's loop, in subscription order; a failing handler is logged and never propagates
into validation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..core.block import Block
from ..core.transaction import Transaction

__all__ = [
    "Event",
    "TxAccepted",
    "TxRemoved",
    "HeaderAccepted",
    "BlockConnected",
    "BlockDisconnected",
    "TipChanged",
    "EventBus",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TxAccepted:
    """A transaction entered the mempool."""

    tx: Transaction


@dataclass(frozen=True, slots=True)
class TxRemoved:
    """A transaction left the mempool. `reason`: 'block', 'conflict', 'expired' or 'evicted'."""

    txid: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class HeaderAccepted:
    """A new valid header entered the block index (its body may not be known yet)."""

    hash: bytes
    height: int


@dataclass(frozen=True, slots=True)
class BlockConnected:
    """`block` joined the active chain at `height`."""

    block: Block
    height: int


@dataclass(frozen=True, slots=True)
class BlockDisconnected:
    """`block` left the active chain from `height` (during a reorg)."""

    block: Block
    height: int


@dataclass(frozen=True, slots=True)
class TipChanged:
    """The active tip moved. `reorg_depth`: blocks disconnected on the way (0 = extension)."""

    hash: bytes
    height: int
    reorg_depth: int


Event = TxAccepted | TxRemoved | HeaderAccepted | BlockConnected | BlockDisconnected | TipChanged
Handler = Callable[[Event], object]


class EventBus:
    """Synchronous publish/subscribe for node events."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` for every published event; returns the unsubscribe function."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver `event` to every handler; a handler's exception is logged, not raised."""
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
