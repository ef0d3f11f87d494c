"""Fixtures of the browser tests: Debian's Chromium driven by Playwright against real nodes.

The Playwright wheel brings its driver; the browser is the system's `/usr/bin/chromium`
(`make test` installs it when missing), never a downloaded build. `watched_page` gives a page
that records console errors, page errors, failed requests and 4xx/5xx answers; a test fails
on any of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..functional.framework import TestFramework

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module. Not session-wide: Playwright's sync API keeps an event loop
    running in this thread until it stops, which would break later asyncio tests."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What went wrong on a page: console errors, uncaught errors, failed requests, 4xx/5xx."""

    problems: list[str] = field(default_factory=list)

    def on_console(self, msg: Any) -> None:
        if msg.type == "error":
            self.problems.append(f"console error: {msg.text} at {msg.location}")

    def on_page_error(self, err: Any) -> None:
        self.problems.append(f"page error: {err}")

    def on_request_failed(self, request: Any) -> None:
        failure = request.failure or ""
        # ERR_ABORTED on a sub-resource is a cancellation: leaving a page ends its event stream,
        # a refresh or a favicon in flight. A missing asset still fails (as a 4xx answer).
        if "ERR_ABORTED" in failure and request.resource_type != "document":
            return
        self.problems.append(f"request failed: {request.method} {request.url}: {failure}")

    def on_response(self, response: Any) -> None:
        if response.status >= 400:
            request = response.request
            self.problems.append(f"HTTP {response.status}: {request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def watched_page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    """A fresh page and its Watch; the test fails at teardown when the Watch saw problems."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    page.on("requestfailed", watch.on_request_failed)
    page.on("response", watch.on_response)
    page.set_default_timeout(20_000)
    try:
        yield page, watch
        watch.check()
    finally:
        context.close()


@pytest.fixture(scope="module")
def framework_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestFramework]:
    """A TestFramework shared by one module's tests (its nodes start once)."""
    fw = TestFramework(tmp_path_factory.mktemp("browser"))
    try:
        yield fw
    finally:
        fw.shutdown()


@pytest.fixture
def framework(tmp_path: Path) -> Iterator[TestFramework]:
    fw = TestFramework(tmp_path)
    try:
        yield fw
    finally:
        fw.shutdown()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-output/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
