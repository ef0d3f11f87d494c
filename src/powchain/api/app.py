"""The REST API application: `create_app(node) -> FastAPI` (SPEC §7).

Wires the routes, the error shape, the body limit, the event hub, the metrics registry and
the admin token. The token is 32 random bytes as hex, written to `DATADIR/api.cookie` with
mode 0600 each time an app is created (like Bitcoin Core's .cookie); admin calls send it as
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from .. import __version__
from .cookie import COOKIE_NAME, read_cookie, write_cookie
from .docs import DESCRIPTION, mount_docs
from .errors import BodyLimitMiddleware, CatchAllMiddleware, install_error_handlers
from .explorer import mount_explorer
from .fastpath import NodeApi
from .metrics import CONTENT_TYPE, NodeMetrics
from .proofs import router as proofs_router
from .routes import connected_peers, mempool_stats, router
from .sse import EventHub

__all__ = ["create_app", "write_cookie", "read_cookie", "COOKIE_NAME"]


def create_app(node: Any, token: str | None = None) -> FastAPI:
    """The API of `node` (the Node facade of docs/architecture.md): FastAPI, with a lean path
    for `POST /api/v1/txs` in front (see `fastpath`).

    `token`: the admin token; by default a fresh one is written to the node's datadir.
    """
    app = NodeApi(
        title="powchain node API",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by `mount_docs` from the node itself, not from a CDN
        redoc_url=None,
    )
    app.state.node = node
    app.state.token = token if token is not None else write_cookie(Path(node.config.datadir))
    app.state.events = EventHub(node.events, node.params)
    app.state.metrics = NodeMetrics(node, mempool_stats, connected_peers)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(proofs_router)  # issue 15: proofs and headers for light clients
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(CatchAllMiddleware)

    mount_docs(app)  # Swagger UI at /docs, its files from the swagger-ui-bundle-v2 package
    mount_explorer(app)  # the block explorer's pages at /, assets at /static

    @app.get("/metrics", include_in_schema=False)
    async def root_metrics() -> Any:
        from fastapi import Response

        return Response(app.state.metrics.render(), media_type=CONTENT_TYPE)

    return app


def close_app(app: FastAPI) -> None:
    """End event streams and detach from the node's events (before the server stops)."""
    app.state.events.close()
    app.state.metrics.close()
