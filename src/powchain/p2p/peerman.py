"""The peer manager: the composition root of the peer protocol (SPEC §6).

It owns what every part shares (the node, the connected `peers`, the address book, the task
set) and the one registry that maps each message type to its handler. The behaviour lives in
one component per responsibility (p2p/component.py explains the seam):

| component | module | handles |
|---|---|---|
| `connections` | connections.py | dial, handshake, bans, liveness; version, verack, pong, addr |
| `headersync` | headersync.py | headers, the low-work fork guard and presync |
| `blockfetch` | blockfetch.py | block, notfound; getdata for missing bodies, stalls |
| `relay` | relay.py | inv, tx; announcements from node events |
| `serving` | serving.py | ping, getaddr, getheaders, getdata, mempool |

It talks to the chain only through the node facade (`process_headers`, `process_block`,
`submit_transaction`, `headers_after`, `missing_blocks`, ...) and relays only what the node
announced through its events (`TxAccepted`, `TipChanged`): nothing unvalidated leaves here.
Misbehaviour bans (see `addrman.ban_key` for what a ban names); refusals (other network,
ourselves, full) disconnect and are listed in `peer_info()` with their reason.

Lifecycle: `pm = PeerManager(node); await pm.start(); ...; await pm.stop()`. `start` sets
`node.network = pm`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from powchain.consensus.errors import Rejected
from powchain.core.params import genesis_block

from .addrman import AddrMan
from .blockfetch import REQUEST_INTERVAL, BlockFetch
from .component import Component, Handler
from .connections import USER_AGENT, Backoff, Connections, parse_hostport, plain_http_answer
from .headersync import FUTURE_RETRY, LOW_WORK_FORK_DEPTH, HeaderSync
from .peer import SEND_TIMEOUT, WS_MAX_QUEUE, WS_MAX_SIZE, Peer
from .relay import Relay
from .serving import Serving

__all__ = [
    "PeerManager",
    "USER_AGENT",
    "parse_hostport",
    "LOW_WORK_FORK_DEPTH",
    "FUTURE_RETRY",
    "REQUEST_INTERVAL",
]

log = logging.getLogger("powchain.p2p")


class PeerManager:
    """All peer connections of one node.

    `tick`: housekeeping period (s); `block_timeout` (default: config.block_timeout, 30 s): a
    getdata for a block older than this counts as a stall (the peer is dropped and the block
    asked of another peer); `send_timeout` (default: config.send_timeout, 60 s): a peer that
    reads nothing of a large answer for this long is disconnected (`send-timeout`).
    """

    def __init__(
        self,
        node: Any,
        *,
        tick: float = 1.0,
        block_timeout: float | None = None,
        send_timeout: float | None = None,
    ) -> None:
        self.node = node
        self.params = node.params
        self.tick = tick
        if block_timeout is None:
            block_timeout = float(self.cfg("block_timeout", 30.0))
        self.send_timeout = (
            float(self.cfg("send_timeout", SEND_TIMEOUT)) if send_timeout is None else send_timeout
        )
        self.peers: list[Peer] = []
        self.listen_port = 0
        self.addrman: AddrMan | None = None
        self.genesis = genesis_block(node.params).hash
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self.connections = Connections(self)
        self.headersync = HeaderSync(self)
        self.blockfetch = BlockFetch(self, block_timeout)
        self.relay = Relay(self)
        self.serving = Serving(self)
        self.components: list[Component] = [
            self.connections,
            self.headersync,
            self.blockfetch,
            self.relay,
            self.serving,
        ]
        self.handlers: dict[type, Handler] = {}
        for component in self.components:
            for message_type, handler in component.handlers().items():
                self.register(message_type, handler)

    # -- the registry -----------------------------------------------------------------

    def register(self, message_type: type, handler: Handler) -> None:
        """Route every received `message_type` to `handler(peer, message)`. One handler per
        type: registering a type twice raises ValueError (two owners of one message)."""
        if message_type in self.handlers:
            raise ValueError(f"{message_type.__name__} already has a handler")
        self.handlers[message_type] = handler

    async def dispatch(self, peer: Peer, message: Any) -> None:
        """Run the handler of `message`'s type. A `Rejected` that escapes a handler gets the
        one mapping of rejections to actions (`HeaderSync.on_rejected`: CONSENSUS bans), so
        no rule's error can end a connection task with a traceback (issue 11, item 6)."""
        try:
            result = self.handlers[type(message)](peer, message)
            if inspect.isawaitable(result):
                await result
        except Rejected as exc:
            self.headersync.on_rejected(peer, exc, type(message).__name__.lower())

    # -- shared helpers ----------------------------------------------------------------

    def cfg(self, name: str, default: Any) -> Any:
        return getattr(self.node.config, name, default)

    def now(self) -> int:
        return int(self.node.now())

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def forget_peer(self, peer: Peer) -> None:
        """`peer` disconnected: every component forgets it; its block requests go elsewhere."""
        if peer in self.peers:
            self.peers.remove(peer)
        for component in self.components:
            component.forget(peer)
        if peer.ready:
            self.blockfetch.request_blocks()

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the address book (node.db must be open), listen unless config.listen is
        False, dial configured peers, subscribe to node events."""
        self.addrman = AddrMan(self.node.db)
        if self.cfg("listen", True):
            self._server = await serve(
                self.connections.on_inbound,
                self.cfg("p2p_host", "127.0.0.1"),
                self.cfg("p2p_port", self.params.p2p_port),
                max_size=WS_MAX_SIZE,
                max_queue=WS_MAX_QUEUE,
                compression=None,
                ping_interval=None,
                process_request=self._plain_http,
            )
            self.listen_port = self._server.sockets[0].getsockname()[1]
            log.info("p2p listening on port %d", self.listen_port)
        self.connections.add_configured(self.cfg("connect", []) or [])
        self._unsubscribe = self.node.events.subscribe(self.relay.on_event)
        self.spawn(self._maintain())
        self.node.network = self

    async def stop(self) -> None:
        """Disconnect every peer, stop listening and close the address book."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()
        for peer in list(self.peers):
            await peer.aclose(1001, "shutting down")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.addrman = None  # the node owns (and closes) its database
        if getattr(self.node, "network", None) is self:
            self.node.network = None

    def _plain_http(self, connection: ServerConnection, request: Request) -> Response | None:
        api_host = str(self.cfg("api_host", "127.0.0.1"))
        api_port = int(self.cfg("api_port", self.params.api_port))
        return plain_http_answer(connection, request, self.params.name, api_host, api_port)

    async def _maintain(self) -> None:
        """Every `tick`: each component's housekeeping (pings, timeouts, dialing, requests)."""
        while True:
            now = time.monotonic()
            for component in self.components:
                component.tick(now)
            await asyncio.sleep(self.tick)

    # -- public API (node.network) ---------------------------------------------------

    def peer_info(self) -> list[dict[str, object]]:
        """Connected peers (`connected: True`), then recently refused ones with `reason`."""
        return [p.info() for p in self.peers if p.ready] + list(self.connections.refused)

    def connected_count(self) -> int:
        return sum(1 for p in self.peers if p.ready)

    def ban_list(self) -> list[dict[str, object]]:
        """Active bans: `address` (ban key), `banned_at`, `until`, `reason`."""
        return [] if self.addrman is None else self.addrman.bans(self.now())

    def unban(self, address: str) -> bool:
        return self.addrman is not None and self.addrman.unban(address)

    async def connect(self, host: str, port: int) -> dict[str, object]:
        """Dial host:port now and keep it connected (reconnecting with backoff).

        Returns the peer's `peer_info` row once the handshake completes; raises
        ConnectionError with the reason when the connection or handshake fails.
        """
        conns = self.connections
        target = (host, port)
        conns.persistent.add(target)
        backoff = conns.targets.setdefault(target, Backoff())
        for peer in self.peers:
            if peer.ready and peer.direction == "outbound" and (peer.host, peer.port) == target:
                return peer.info()
        ready: asyncio.Future[Peer] = asyncio.get_running_loop().create_future()
        backoff.next_try = time.monotonic() + 3600  # the maintenance loop must not race us
        self.spawn(conns.dial(target, ready))
        peer = await ready
        return peer.info()
