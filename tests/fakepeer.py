"""A scriptable fake peer speaking powchain's wire protocol over a WebSocket (tests only).

Use it to drive a node the way a hostile or scripted peer would (Bitcoin Core's P2PInterface):

    peer = await FakePeer.connect(port)
    their_version = await peer.handshake(REGTEST, listen_port=12345)   # or skip it
    await peer.send(messages.GetHeaders((genesis_hash,)))
    headers = await peer.wait_for(messages.Headers)
    await peer.send_raw(b"\\xffgarbage")
    assert await peer.closed(timeout=5)
    await peer.close()

Every received message is decoded and kept in `peer.received`; pings are answered
automatically unless `auto_pong=False`. Frames that do not decode are kept as raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from powchain.core.encoding import ParseError
from powchain.core.params import ChainParams, genesis_block
from powchain.p2p import messages as m

__all__ = ["FakePeer", "make_version"]

T = TypeVar("T")


def make_version(params: ChainParams, **overrides: Any) -> m.Version:
    """A version message of `params`' network; any field can be overridden."""
    fields: dict[str, Any] = {
        "protocol_version": m.PROTOCOL_VERSION,
        "network": params.name,
        "magic": params.magic,
        "chain_id": params.chain_id,
        "genesis": genesis_block(params).hash,
        "best_height": 0,
        "user_agent": "/fakepeer:0.1/",
        "listen_port": 0,
        "nonce": secrets.randbits(64),
    }
    fields.update(overrides)
    return m.Version(**fields)


class FakePeer:
    """One connection to a node; see the module docstring."""

    def __init__(self, ws: ClientConnection, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.received: list[Any] = []
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def connect(
        cls, port: int, host: str = "127.0.0.1", max_queue: int = 16, **kwargs: Any
    ) -> FakePeer:
        """`max_queue`: frames websockets buffers for us before it stops reading the socket
        (with `stop_reading`, a peer that never reads holds at most this many)."""
        ws = await connect(
            f"ws://{host}:{port}/",
            max_size=None,
            compression=None,
            ping_interval=None,
            max_queue=max_queue,
        )
        return cls(ws, **kwargs)

    async def stop_reading(self) -> None:
        """Read nothing more (a peer that asks and never reads); `closed()` then only tells
        that reading stopped."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                try:
                    message: Any = m.decode(frame) if isinstance(frame, bytes) else frame
                except ParseError:
                    message = frame
                self.received.append(message)
                if self.auto_pong and isinstance(message, m.Ping):
                    await self.send(m.Pong(message.nonce))
                self._inbox.put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            if self.ws.close_code is not None:
                self.close_code = self.ws.close_code
                self.close_reason = self.ws.close_reason or ""
            self._inbox.put_nowait(None)

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Any) -> None:
        """Encode and send one message (no size check beyond the codec's)."""
        await self.send_raw(m.u8(message.command) + message.serialize())

    async def send_raw(self, frame: bytes | str) -> None:
        """Send any bytes (or text) as one frame. Silently ignores a closed connection."""
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(frame)

    # -- receiving --------------------------------------------------------------------

    async def recv(self, timeout: float = 10) -> Any:
        """The next message; None when the connection closed. TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)  # keep reporting the close
        return message

    async def wait_for(self, cls: type[T], timeout: float = 10) -> T:
        """Skip messages until one of type `cls` arrives; ConnectionError if closed first."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv(timeout)
                if message is None:
                    raise ConnectionError(f"closed ({self.close_code}: {self.close_reason})")
                if isinstance(message, cls):
                    return message

    async def handshake(
        self, params: ChainParams, timeout: float = 10, **overrides: Any
    ) -> m.Version:
        """Send version, expect the node's version, send verack, expect verack.

        Returns the node's version. Fields of our version can be overridden (e.g. genesis,
        nonce, listen_port). ConnectionError when the node closes instead.
        """
        await self.send(make_version(params, **overrides))
        theirs = await self.wait_for(m.Version, timeout)
        await self.send(m.Verack())
        await self.wait_for(m.Verack, timeout)
        return theirs

    async def closed(self, timeout: float = 10) -> bool:
        """True when the node closed the connection within `timeout` s."""
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close our side (a no-op when the node already closed the connection)."""
        if self.ws.state is not State.CLOSED:
            # AttributeError: websockets may abort a transport that asyncio already released
            # when the node closed at the same instant
            with contextlib.suppress(ConnectionClosed, OSError, AttributeError):
                await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
