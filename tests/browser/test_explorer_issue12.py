"""The explorer after issue 12, in Chromium against a real regtest node: the admin token is
asked once per browser session, and the address page reconciles (one row per transaction, the
balance after each, a self-post once with its fee)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from powchain.core.units import format_coins

from ..functional.framework import NodeProcess, TestFramework
from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.functional]


@pytest.fixture(scope="module")
def node(framework_module: TestFramework) -> NodeProcess:
    return framework_module.add_node()


def test_the_token_is_asked_once_per_session(node: NodeProcess, watched_page: Any) -> None:
    page, _ = watched_page
    token = node.read_token()
    page.goto(node.api_url + "/posts")
    page.fill("#post-text", "hello")
    page.fill("#post-token", token)
    page.fill("#post-pass", "correct horse battery")  # refused (no coins); the token was sent
    page.click("#post-form button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    page.goto(node.api_url + "/posts")
    for field in ("#post-token", "#pay-token"):
        expect(page.locator(field)).to_have_value(token)
    other = page.context.browser.new_context()  # another session asks again
    try:
        fresh = other.new_page()
        fresh.goto(node.api_url + "/posts")
        expect(fresh.locator("#post-token")).to_have_value("")
    finally:
        other.close()


def test_address_page_reconciles(
    node: NodeProcess, framework_module: TestFramework, watched_page: Any
) -> None:
    page, _ = watched_page
    alice = framework_module.wallet("alice-issue12")
    node.mine(11, alice.address)
    posted = node.submit(alice.post("a self-post, once", 0, 5_000).serialize().hex())
    node.mine(1, framework_module.wallet("sink-issue12").address)
    account = node.account(alice.address)
    page.goto(node.api_url + f"/address/{alice.address}")
    rows = page.locator("#history tbody tr")
    expect(rows).to_have_count(12)
    post_rows = page.locator(f"#history tbody tr:has(a[href='/tx/{posted}'])")
    expect(post_rows).to_have_count(1)
    expect(post_rows.locator(".delta")).to_have_text("-" + format_coins(5_000))
    total = account["balance"] + account["immature"]
    expect(rows.first.locator(".balance-after")).to_have_text(format_coins(total))
    screenshot(page, "address-history")
