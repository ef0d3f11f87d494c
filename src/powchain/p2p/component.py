"""The seam of the peer manager: one `Component` per responsibility, each owning its message
handlers and its per-peer state.

`PeerManager` (p2p/peerman.py) builds the components, asks each for `handlers()` and puts
them in one registry (`PeerManager.register`: one handler per message type, a second
registration of a type is a programming error). A new message (say a light-client request or a
validator proposal) is a `messages.py` class plus a handler in the component it belongs to, or
a new component listed in `PeerManager.__init__`; `tests/unit/test_p2p_registry.py` checks
that every command of `messages.py` has exactly one handler.

A handler is `handler(peer, message) -> None | Awaitable[None]` run on the loop; it raises
`Misbehaving(reason)` to ban the peer, returns to ignore the message, or pushes a bounded answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .peer import Peer
    from .peerman import PeerManager

__all__ = ["Component", "Handler", "maybe_await"]

Handler = Callable[["Peer", Any], "None | Awaitable[None]"]


class Component:
    """One responsibility of the peer manager. Subclasses override what they need."""

    def __init__(self, pm: PeerManager) -> None:
        self.pm = pm
        self.node = pm.node
        self.params = pm.params

    def handlers(self) -> dict[type, Handler]:
        """The message types this component answers, with their handlers."""
        return {}

    def on_ready(self, peer: Peer) -> None:
        """`peer` finished its handshake (called after `Connections` greeted it)."""

    def forget(self, peer: Peer) -> None:
        """`peer` disconnected: drop what this component keeps about it."""

    def tick(self, now: float) -> None:
        """Housekeeping, every `PeerManager.tick` s (`now`: time.monotonic())."""


async def maybe_await(value: Any) -> Any:
    """Node methods are plain calls; accept coroutines too so the facade may become async."""
    if inspect.isawaitable(value):
        return await value
    return value
