"""The block explorer in a real browser (Chromium via Playwright) against real regtest nodes.

One node serves most tests (module scope); the reorg test starts two of its own. Every page
visit goes through `watched_page`, which fails the test on a console error, a failed request
or an unexpected 4xx/5xx answer.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from ..functional.framework import (
    NodeProcess,
    TestFramework,
    Wallet,
    connect_nodes,
    free_port,
    sync_blocks,
    wait_until,
)
from ..stratum_client import StratumTestClient
from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.functional]

log = logging.getLogger("functional")

PASSPHRASE = "correct horse battery"
POST_TEXT = "hello from the browser test ✓"


@pytest.fixture(scope="module")
def node(framework_module: TestFramework) -> NodeProcess:
    """A regtest node with a few blocks mined to a test wallet."""
    node = framework_module.add_node()
    node.mine(3, framework_module.wallet("miner").address)
    return node


def url(node: NodeProcess, path: str) -> str:
    return node.api_url + path


def test_dashboard_shows_a_block_live(node: NodeProcess, watched_page: Any) -> None:
    page, _watch = watched_page
    page.goto(url(node, "/"))
    expect(page).to_have_title(re.compile("Dashboard"))
    expect(page.locator("#live-status")).to_have_text("live updates: on")
    height = node.height
    expect(page.locator("#tip-height")).to_have_text(str(height))
    log.info("Mine a block through the API while the dashboard is open")
    new_hash = node.mine(1, Wallet.new(node.params, "other").address)[0]
    expect(page.locator("#tip-height")).to_have_text(str(height + 1))
    expect(page.locator(f"#latest-blocks a[href='/block/{new_hash}']").first).to_be_visible()
    page.reload()  # the hash-rate estimate (issue 10/12: with a unit prefix, from chainwork)
    expect(page.locator("#hash-rate")).to_have_text(re.compile(r"^(-|[\d.]+ [kMGTPE]?H/s)$"))
    screenshot(page, "dashboard")


def test_post_on_the_wall_confirms(node: NodeProcess, watched_page: Any) -> None:
    page, _watch = watched_page
    token = node.read_token()
    page.goto(url(node, "/posts"))
    expect(page).to_have_title(re.compile("Post wall"))

    log.info("A wrong admin token is refused")
    page.fill("#post-text", POST_TEXT)
    page.fill("#post-token", "not-the-token")
    page.fill("#post-pass", PASSPHRASE)
    page.click("#post-form button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text("wrong admin token")

    log.info("The first use creates the wallet; it has no coins yet, so the post is rejected")
    page.fill("#post-text", POST_TEXT)
    page.fill("#post-token", token)
    page.fill("#post-pass", PASSPHRASE)
    page.click("#post-form button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text("insufficient-funds")
    address = (node.datadir / "explorer-wallet.address").read_text().strip()
    assert address.startswith("rpow1")

    log.info("Fund the node-side wallet: a coinbase and 10 blocks to mature it")
    node.mine(11, address)
    page.goto(url(node, "/posts"))
    page.fill("#post-text", POST_TEXT)
    page.fill("#post-token", token)
    page.fill("#post-pass", PASSPHRASE)
    page.click("#post-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/tx/[0-9a-f]{64}$"))
    expect(page.locator("#pending")).to_have_text("pending")
    expect(page.locator("#post-text")).to_have_text(POST_TEXT)
    txid = page.url.rsplit("/", 1)[1]
    assert node.tx(txid)["post"] == POST_TEXT

    log.info("Mine a block: the open transaction page turns confirmed by itself")
    block_hash = node.mine(1, address)[0]
    expect(page.locator("#confirmations")).to_have_text("1")
    expect(page.locator("#block-link")).to_have_attribute("href", f"/block/{block_hash}")
    expect(page.locator("#sender")).to_contain_text(address[:14])

    page.goto(url(node, "/posts"))
    expect(page.locator("#posts .post-text").first).to_have_text(POST_TEXT)
    screenshot(page, "post-wall")


def _search(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")


def test_search_lands_on_the_right_page(node: NodeProcess, watched_page: Any) -> None:
    page, _watch = watched_page
    block = node.block(2)
    coinbase_txid = block["txids"][0]
    address = node.tx(coinbase_txid)["recipient"]
    page.goto(url(node, "/"))

    _search(page, "2")
    expect(page).to_have_url(url(node, "/block/2"))
    expect(page.locator("h1")).to_have_text("Block 2")

    _search(page, block["hash"])
    expect(page).to_have_url(url(node, f"/block/{block['hash']}"))
    expect(page.locator("h1")).to_have_text("Block 2")

    _search(page, coinbase_txid)
    expect(page).to_have_url(url(node, f"/tx/{coinbase_txid}"))
    expect(page.locator("p.hash")).to_have_text(coinbase_txid)

    _search(page, address)
    expect(page).to_have_url(url(node, f"/address/{address}"))
    expect(page.locator("#address")).to_have_text(address)

    log.info("Anything else: nothing matched (an unknown hash, a height above the tip, junk)")
    for query in ["00" * 32, str(node.height + 50), "hello?"]:
        _search(page, query)
        expect(page.locator("#no-match")).to_contain_text("Nothing matched")
        expect(page.locator("#no-match")).to_contain_text(query)


def test_block_tx_address_by_clicking(node: NodeProcess, watched_page: Any) -> None:
    page, _watch = watched_page
    block = node.block(1)
    txid = block["txids"][0]
    recipient = node.tx(txid)["recipient"]
    page.goto(url(node, "/blocks"))
    page.click(f"a[href='/block/{block['hash']}'] >> nth=0")
    expect(page.locator("h1")).to_have_text("Block 1")
    page.click(f"a[href='/tx/{txid}']")
    expect(page).to_have_url(url(node, f"/tx/{txid}"))
    page.click("#recipient a")
    expect(page).to_have_url(url(node, f"/address/{recipient}"))
    expect(page.locator("#history")).to_contain_text(txid[:10])
    log.info("And back up: the address's transaction, then its block")
    page.click(f"#history a[href='/tx/{txid}']")
    page.click("#block-link")
    expect(page.locator("h1")).to_have_text("Block 1")


PAGES = [
    ("/", "Dashboard", "dashboard"),
    ("/chain", "Chain view", "chain-single"),
    ("/blocks", "Blocks", "blocks"),
    ("/block/1", "Block 1", "block"),
    ("/mempool", "Mempool", "mempool"),
    ("/peers", "Peers", "peers"),
    ("/miners", "Miners", "miners-off"),
    ("/posts", "Post wall", "post-wall-page"),
    ("/search?q=nothing-here", "Search", "search"),
]


def test_every_page_loads_clean_with_a_title(node: NodeProcess, watched_page: Any) -> None:
    page, watch = watched_page
    coinbase = node.block(1)["txids"][0]
    pages = PAGES + [
        (f"/tx/{coinbase}", "Transaction", "tx"),
        (f"/address/{node.tx(coinbase)['recipient']}", "Address", "address"),
    ]
    for path, title, name in pages:
        page.goto(url(node, path))
        page.wait_for_load_state("load")
        expect(page).to_have_title(re.compile(re.escape(title) + ".*powchain regtest explorer"))
        expect(page.locator("#live-status")).to_have_text("live updates: on")
        screenshot(page, name)
        watch.check()


def test_miners_page_shows_a_stratum_worker_and_its_block(
    framework: TestFramework, watched_page: Any
) -> None:
    page, watch = watched_page
    port = free_port()
    node = framework.add_node(
        extra_args=["--stratum", f"127.0.0.1:{port}", "--stratum-min-difficulty", "0.00001"]
    )
    miner = Wallet.new(node.params, "stratum-browser")
    log.info("An independent Stratum client authorizes and submits a share (a block on regtest)")
    client = StratumTestClient("127.0.0.1", port)
    client.subscribe()
    assert client.call("mining.authorize", [f"{miner.address}.rig", "x"])["result"] is True
    job = client.wait_job()
    en2, nonce, _ = client.find_share(job, client.difficulty or 0.00001)
    assert client.submit(f"{miner.address}.rig", job, en2, nonce)["result"] is True
    wait_until(lambda: node.height == 1, 60, 0.2, "the share's block")
    page.goto(url(node, "/miners"))
    expect(page).to_have_title(re.compile("Miners"))
    expect(page.locator("#stratum-url")).to_have_text(f"stratum+tcp://127.0.0.1:{port}")
    expect(page.locator("#blocks-found")).to_have_text("1")
    expect(page.locator("#workers")).to_contain_text(f"{miner.address}.rig")
    screenshot(page, "miners")
    page.click("#recent-blocks a.mono >> nth=0")
    expect(page.locator("h1")).to_have_text("Block 1")
    log.info("The coinbase page shows its data as hex and printable text")
    page.goto(url(node, f"/tx/{node.block(1)['txids'][0]}"))
    expect(page.locator("#data-text")).to_contain_text("/powchain stratum/")
    expect(page.locator("#data-hex")).to_contain_text(client.extranonce1.hex() + en2.hex())
    client.close()
    watch.check()


def _tab_stops(page: Any, count: int) -> list[str]:
    """What keyboard focus lands on over `count` Tab presses (href, id or tag)."""
    stops = []
    for _ in range(count):
        page.keyboard.press("Tab")
        stops.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.getAttribute('href') || e.id || e.tagName; }"
            )
        )
    return stops


def test_keyboard_alone(node: NodeProcess, watched_page: Any) -> None:
    page, _watch = watched_page
    page.goto(url(node, "/"))
    stops = _tab_stops(page, 12)
    for wanted in ["#main", "/", "/chain", "/blocks", "/mempool", "/peers", "/posts", "q"]:
        assert wanted in stops, f"Tab never reached {wanted}: {stops}"
    log.info("Tab to the search box, type a height, submit with Enter")
    while page.evaluate("() => document.activeElement.id") != "q":
        page.keyboard.press("Tab")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    expect(page).to_have_url(url(node, "/block/1"))
    log.info("The post form is reachable and labelled")
    page.goto(url(node, "/posts"))
    for field_id in ["post-text", "post-token", "post-pass", "pay-to", "pay-amount"]:
        assert page.locator(f"label[for='{field_id}']").count() == 1
    page.focus("#post-text")
    assert page.evaluate("() => document.activeElement.id") == "post-text"


def test_reorg_marks_the_losing_block_stale(framework: TestFramework, watched_page: Any) -> None:
    page, _watch = watched_page
    a, b = framework.add_nodes(2)
    log.info("Split network: node0 mines 1 block, node1 mines 2 (to other keys: other blocks)")
    a.mine(1, framework.wallet("reorg-a").address)
    losing = a.tip
    b.mine(2, framework.wallet("reorg-b").address)
    page.goto(url(a, "/chain"))
    expect(page.locator(f"g[data-hash='{losing}']")).to_have_attribute("data-state", "active")
    expect(page.locator("#live-status")).to_have_text("live updates: on")
    log.info("Connect them: node0 reorgs to node1's heavier chain while the page is open")
    connect_nodes(a, b)
    winner = sync_blocks([a, b])
    wait_until(lambda: a.tip == winner, 30, 0.2, "node0 on the winning tip")
    expect(page.locator(f"g[data-hash='{losing}']")).to_have_attribute("data-state", "stale")
    expect(page.locator(f"g[data-hash='{winner}']")).to_have_attribute("data-state", "active")
    screenshot(page, "chain-view")
    page.click(f"g[data-hash='{losing}'] a")
    expect(page.locator("#block-state")).to_contain_text("Not in the active chain")
