"""`/docs` in Chromium with no network (issue 12): Swagger UI renders from the node alone.

Every request the page makes to anything but the node is aborted and recorded, as on a
machine without network access; the page must still render the API's title and operations,
and must not have tried to reach anything else. Before issue 12 the page loaded Swagger UI
from a CDN and stayed blank offline.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from ..functional.framework import NodeProcess, TestFramework
from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.functional]


@pytest.fixture(scope="module")
def node(framework_module: TestFramework) -> NodeProcess:
    return framework_module.add_node()


def test_docs_render_offline(node: NodeProcess, watched_page: Any) -> None:
    page, _ = watched_page
    outside: list[str] = []

    def offline(route: Any) -> None:
        if route.request.url.startswith(node.api_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", offline)
    page.goto(node.api_url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("powchain node API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/status")).to_be_visible()
    expect(page.locator(".swagger-ui .info")).to_contain_text("docs/spec.md")
    assert "SPEC.md" not in page.locator(".swagger-ui .info").inner_text()
    screenshot(page, "api-docs-offline")
    assert outside == [], f"/docs reached outside the node: {outside}"


def test_tutorial_endpoints_get_a_404_that_points_to_the_docs(
    node: NodeProcess, watched_page: Any
) -> None:
    """`/chain`, `/mine`, `/new_transaction`, `/register_with` of the classic tutorials."""
    for method, path, ours in [
        ("POST", "/new_transaction", "POST /api/v1/txs"),
        ("GET", "/register_with", "POST /api/v1/peers"),
        ("POST", "/nodes/register", "POST /api/v1/peers"),
        ("GET", "/mine", "POST /api/v1/mine"),
        ("POST", "/chain", "GET /api/v1/blocks"),
    ]:
        r = node.http.request(method, path)
        assert r.status_code in (404, 405), (path, r.text)
        message = r.json()["message"]
        assert (
            f"no endpoint {method} {path}: the API is under /api/v1, documented at /docs" in message
        )
        assert ours in message
    r = node.http.get("/api/v1/nope")
    assert r.status_code == 404 and "/docs" in r.json()["message"]
    assert node.http.get("/chain").status_code == 200  # the explorer's chain view
