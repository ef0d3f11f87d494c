"""The API's own documentation, served offline: Swagger UI at `/docs` with its JavaScript and
CSS from the installed `swagger-ui-bundle-v2` distribution (a package of the Swagger UI
release files, not a copy kept in this repository), at `/docs/assets/`. FastAPI's default
page loads them from a CDN, which left `/docs` blank without network access.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DESCRIPTION", "ASSETS", "mount_docs"]

ASSETS = "/docs/assets"
DESCRIPTION = (
    "REST API of a powchain node. The contract is the project's `docs/spec.md` (section 7 for "
    "this API; every change since the first version is listed there). Hashes and txids are "
    "byte-reversed hex; amounts are integer base units (1 coin = 100,000,000 units)."
)


def mount_docs(app: FastAPI) -> None:
    """GET /docs (Swagger UI of /openapi.json) and its assets under /docs/assets."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: docs",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
