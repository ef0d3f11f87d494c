"""One peer connection over a WebSocket: framing, handshake, send queue, liveness state.

A `Peer` decodes every binary frame with `messages.decode`, turns protocol faults into
`Misbehaving(reason)` (the manager bans) and unwelcome but honest peers into `Refused(reason)`
(the manager disconnects without a ban). It knows nothing about the chain: what a message
means is the manager's components' business (p2p/peerman.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .addrman import ban_key, inbound_ban_key
from .messages import (
    MAX_MESSAGE_SIZE,
    AnyMessage,
    Command,
    ParseError,
    Verack,
    Version,
    decode,
    encode,
)

__all__ = [
    "Peer",
    "Misbehaving",
    "Refused",
    "PeerGone",
    "WS_MAX_SIZE",
    "CLOSE_TOO_BIG",
    "KnownSet",
    "WS_MAX_QUEUE",
]

WS_MAX_SIZE = MAX_MESSAGE_SIZE + 1024
"""websockets' frame limit: larger frames close the connection with 1009 before we read them."""
WS_MAX_QUEUE = 2
"""Frames websockets buffers for us beyond the one being handled before it stops reading the
socket (its default, 16, let one busy peer park 64 MiB of frames in our memory; 1 would stall
the close handshake behind a single unread frame)."""
KNOWN_TXS = 20_000
"""txids remembered per peer as known to it (~3.5 MB at most, hashes included)."""
KNOWN_BLOCKS = 4_096
"""Block hashes remembered per peer as known to it (~0.7 MB at most)."""
CLOSE_TOO_BIG = 1009
MAX_SEND_BYTES = MAX_MESSAGE_SIZE + 1024 * 1024
"""Bytes queued for one peer (each frame charged its length + FRAME_OVERHEAD) beyond which it
is disconnected (`send-queue-full`): room for one largest message plus the small ones around
it. Large answers (`getdata`, `mempool`) wait for `drained` before queueing more, so only a
peer that does not read reaches it."""
FRAME_OVERHEAD = 64
"""Bytes charged per queued frame for the Python objects holding it (a flood of tiny frames is
bounded in bytes too)."""
SEND_LOW_WATER = 256 * 1024
"""`drained()` is true when at most this many bytes are queued."""
CLOSE_TIMEOUT = 5.0
"""Seconds the close handshake may take before the TCP connection is aborted."""
SEND_TIMEOUT = 60.0
"""Seconds a peer may take to read what we queued before `wait_drained` disconnects it."""


class Misbehaving(Exception):
    """The peer broke the protocol or sent invalid data: disconnect and ban."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(Exception):
    """We do not want this peer (other network, ourselves, banned, full): disconnect, no ban."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerGone(Exception):
    """The connection closed."""


class KnownSet:
    """A bounded set of hashes the peer is known to have (oldest forgotten first)."""

    def __init__(self, limit: int = 50_000) -> None:
        self._items: OrderedDict[bytes, None] = OrderedDict()
        self._limit = limit

    def add(self, item: bytes) -> None:
        self._items[item] = None
        self._items.move_to_end(item)
        if len(self._items) > self._limit:
            self._items.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._items


class Peer:
    """A connected peer. `direction` is 'inbound' or 'outbound'; times from `time.monotonic`."""

    def __init__(self, ws: Any, host: str, port: int, direction: str, connected_since: int) -> None:
        self.ws = ws
        self.host = host
        self.port = port  # remote port of the connection (the listen port for outbound)
        self.direction = direction
        self.connected_since = connected_since
        self.version: Version | None = None
        self.ready = False  # handshake complete
        self.best_height = 0
        self.last_recv = time.monotonic()
        self.ping_nonce: int | None = None
        self.ping_sent = 0.0
        self.ping_ms: float | None = None
        self.known_txs = KnownSet(KNOWN_TXS)
        self.known_blocks = KnownSet(KNOWN_BLOCKS)
        self.blocks_received = 0
        self.txs_received = 0
        self.connected_at = time.monotonic()
        self.min_ping_ms: float | None = None
        self.last_block_at = 0.0  # monotonic time of the last new block it sent us (0: none)
        self.last_tx_at = 0.0  # same for a transaction our mempool accepted
        self.last_decode: tuple[int, float] = (0, 0.0)
        """(bytes, seconds) of the last frame `recv` decoded: a block's parse cost."""
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.queued_bytes = 0
        """Bytes waiting in our send queue (frames + FRAME_OVERHEAD each), <= MAX_SEND_BYTES."""
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self.frame_limits: dict[int, int] = {}
        """command byte -> largest frame the network allows (set by the manager from its
        params: a block frame over max_block_size is refused before it is parsed)."""
        self.drop_reason: str | None = None
        """Why we dropped the peer for not reading (`send-queue-full`, `send-timeout`)."""
        self._close_task: asyncio.Task[None] | None = None

    # -- identity -------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def listen_port(self) -> int:
        """The port the peer accepts connections on (0 if unknown or not listening)."""
        if self.direction == "outbound":
            return self.port
        return self.version.listen_port if self.version else 0

    @property
    def ban_key(self) -> str:
        """What a ban of this peer names (p2p/addrman.py): the host; on loopback the address
        we dialed, or for an inbound peer its claimed listen port with its version nonce."""
        if self.direction == "outbound":
            return ban_key(self.host, self.port)
        nonce = self.version.nonce if self.version else None
        return inbound_ban_key(self.host, self.port, self.listen_port, nonce)

    @property
    def user_agent(self) -> str:
        return self.version.user_agent if self.version else ""

    # -- receiving --------------------------------------------------------------------

    async def recv(self) -> AnyMessage:
        """The next message. Raises Misbehaving (garbage, text, oversized) or PeerGone."""
        try:
            frame = await self.ws.recv()
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == CLOSE_TOO_BIG:
                raise Misbehaving("oversized-message") from exc
            raise PeerGone(str(exc)) from exc
        self.last_recv = time.monotonic()
        if isinstance(frame, str):
            raise Misbehaving("text-frame")
        limit = self.frame_limits.get(frame[0]) if frame else None
        if limit is not None and len(frame) > limit:  # cheap before the parse it would cost
            raise Misbehaving(f"oversized-{Command(frame[0]).name.lower()}: {len(frame)} bytes")
        started = time.perf_counter()
        try:
            message = decode(frame)
        except ParseError as exc:
            raise Misbehaving(f"bad-message: {exc}") from exc
        self.last_decode = (len(frame), time.perf_counter() - started)
        return message

    async def handshake(
        self, ours: Version, check: Callable[[Version], None], timeout: float
    ) -> Version:
        """Send our version, expect theirs and a verack, nothing else, within `timeout` s.

        `check(their_version)` raises Refused to turn the peer away. Returns their version.
        """
        await self.ws.send(encode(ours))
        async with asyncio.timeout(timeout):
            got_verack = False
            while self.version is None or not got_verack:
                message = await self.recv()
                if isinstance(message, Version) and self.version is None:
                    check(message)
                    self.version = message
                    self.best_height = message.best_height
                    await self.ws.send(encode(Verack()))
                elif isinstance(message, Verack) and self.version is not None and not got_verack:
                    got_verack = True
                else:
                    raise Misbehaving(f"unexpected-{type(message).__name__.lower()}-in-handshake")
        self.ready = True
        return self.version

    # -- sending ----------------------------------------------------------------------

    def push(self, message: AnyMessage) -> None:
        """Queue a message for the writer task (non-blocking; safe from event handlers)."""
        self.push_frame(encode(message))

    def push_frame(self, frame: bytes) -> None:
        """Queue an already encoded frame (`command:u8 | payload`, e.g. from
        `messages.encode_block_raw`) for the writer task, as `push` does."""
        if self._closed:
            return
        cost = len(frame) + FRAME_OVERHEAD
        if self.queued_bytes + cost > MAX_SEND_BYTES:
            # it does not read what it asked for: drop it (the reader then sees the close)
            self.drop_reason = "send-queue-full"
            self._close_task = asyncio.get_running_loop().create_task(
                self.aclose(1008, "send-queue-full")
            )
            return
        self.queued_bytes += cost
        if self.queued_bytes > SEND_LOW_WATER:
            self._drained.clear()
        self._queue.put_nowait(frame)

    def drained(self) -> bool:
        """True when at most SEND_LOW_WATER bytes wait in the send queue."""
        return self.queued_bytes <= SEND_LOW_WATER

    async def wait_drained(self, timeout: float = SEND_TIMEOUT) -> bool:
        """Wait until `drained()`; False (and the connection closes, `send-timeout`) when the
        peer read nothing for `timeout` s, or when it is closing. A handler serving a large
        answer awaits this before queueing each piece, so the peer's own reads pace it and
        no other message of that peer is handled meanwhile (Core: vRecvGetData, fPauseSend)."""
        while not self._drained.is_set():
            if self._closed:
                return False
            before = self.queued_bytes
            try:
                async with asyncio.timeout(timeout):
                    await self._drained.wait()
            except TimeoutError:
                if self.queued_bytes >= before:  # no progress at all in `timeout` s
                    self.drop_reason = "send-timeout"
                    await self.aclose(1008, "send-timeout")
                    return False
        return not self._closed

    async def writer(self) -> None:
        """Send queued frames until closed."""
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            try:
                await self.ws.send(frame)
            except ConnectionClosed:
                return
            finally:
                self.queued_bytes -= len(frame) + FRAME_OVERHEAD
                if self.queued_bytes <= SEND_LOW_WATER:
                    self._drained.set()

    @property
    def closing(self) -> bool:
        """True once close() was called."""
        return self._closed

    def close(self) -> None:
        """Stop the writer; the manager's reader task closes the socket."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)
            self._drained.set()  # wake a handler waiting to serve more

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with a close code and reason (idempotent, never raises).

        Within CLOSE_TIMEOUT s: websockets' close handshake waits for the socket to drain,
        which a peer that reads nothing never lets happen, so then the TCP connection is
        aborted (before, such a peer could not be disconnected at all)."""
        self.close()
        if self.ws.state is State.CLOSED:
            return
        # AttributeError: websockets may abort a transport asyncio already released when the
        # peer closed at the same instant
        with contextlib.suppress(ConnectionClosed, OSError, AttributeError):
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self.ws.close(code, reason[:120])
            except TimeoutError:
                transport = getattr(self.ws, "transport", None)
                if transport is not None:
                    transport.abort()

    def info(self) -> dict[str, object]:
        """The `peer_info()` row of this peer."""
        return {
            "address": self.address,
            "direction": self.direction,
            "connected": True,
            "height": self.best_height,
            "ping_ms": None if self.ping_ms is None else round(self.ping_ms, 3),
            "user_agent": self.user_agent,
            "connected_since": self.connected_since,
            "network": self.version.network if self.version else "",
            "listen_port": self.listen_port,
            "blocks_received": self.blocks_received,
            "txs_received": self.txs_received,
        }
