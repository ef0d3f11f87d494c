"""The block explorer: server-rendered pages at the root of the node's API address, a little
JavaScript for live updates from /api/v1/events, and the node-side wallet's forms. Every asset
is served by the node itself (no CDN). `mount_explorer(app)` attaches it to the API app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ..nodewallet import NodeWallet
from .pages import router

__all__ = ["mount_explorer"]

STATIC = Path(__file__).parent / "static"


def mount_explorer(app: FastAPI) -> None:
    """Pages at `/`, assets at `/static`, the node-side wallet in `app.state.node_wallet`."""
    app.state.node_wallet = NodeWallet.for_node(app.state.node)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")
