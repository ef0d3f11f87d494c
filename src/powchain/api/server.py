"""Run the API with uvicorn on the node's own event loop (no thread, no second loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .app import close_app

__all__ = ["ApiServer"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the node's loop owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _CoalescingTransport:
    """An asyncio transport whose writes of one loop iteration go out as one send.

    uvicorn writes a response's head and its body separately, two send(2) calls per answer;
    on loopback each costs about as much as a mempool lookup (py-spy of the node under B6:
    26 % of its time in the two `transport.write` lines). Joining them halves the syscalls;
    a write waits at most until the end of the current loop iteration.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:  # the rest of the transport API, unchanged
        return getattr(self._transport, name)


class _HttpProtocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools when installed, else h11) over a
    `_CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEADDR (a restart within TIME-WAIT gets
    the same port back); OSError when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class ApiServer:
    """`await start()` binds host:port and serves in a task; `await stop()` shuts down."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app = app
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # its arguments were formatted per request even when not logged
            proxy_headers=False,  # the API never reads the client address
            lifespan="off",
            http=_HttpProtocol,
            timeout_graceful_shutdown=3,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._server.config.port

    async def start(self) -> None:
        """Serve in a background task; returns once the socket listens. Raises OSError
        (EADDRINUSE for a taken port) when it cannot bind: the socket is bound here, with
        SO_REUSEADDR, because uvicorn's own bind failure is a `sys.exit`."""
        config = self._server.config
        sock = bind_socket(config.host, config.port)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="api-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError("the API server stopped during startup")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """End event streams, then let uvicorn finish open requests and close."""
        close_app(self.app)
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await self._task
            self._task = None
