"""Run the API with uvicorn on the node's own event loop (no thread, no second loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from .app import close_app

__all__ = ["ApiServer"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its signal capture: the node's loop owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """`await start()` binds host:port and serves in a task; `await stop()` shuts down."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.app = app
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
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
        """Serve in a background task; returns once the socket listens (raises if it cannot)."""
        self._task = asyncio.create_task(self._server.serve(), name="api-server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise the bind error
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
