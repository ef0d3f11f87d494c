"""Proofs checked in the browser (issue 15): the tx page's "verify this proof yourself" and the
drop-a-file page, in Chromium against a real regtest node, each next to a tampered case.

The tampered proof is served by intercepting the page's own request (Playwright `route`), so
the page's JavaScript, not the node, must notice the forgery.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from powchain.core.params import REGTEST, genesis_block
from powchain.light.notary import PcProof, notary_data
from powchain.light.proof import TxProof

from ..functional.framework import NodeProcess, TestFramework
from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.functional]

DOCUMENT = b"bill of lading 2026-12-01: 40 crates, sealed\n"


@pytest.fixture(scope="module")
def node(framework_module: TestFramework) -> NodeProcess:
    node = framework_module.add_node()
    alice = framework_module.wallet("alice")
    node.mine(11, alice.address)
    return node


@pytest.fixture(scope="module")
def notarized(node: NodeProcess, framework_module: TestFramework) -> dict[str, Any]:
    """A one-file notarization (root = the file's SHA-256), confirmed, and its .pcproof."""
    alice = framework_module.wallet("alice")
    digest = hashlib.sha256(DOCUMENT).digest()
    txid = alice.send(node, alice.address, 0, data=notary_data(digest))
    node.mine(2, alice.address)
    body = httpx.get(f"{node.api_url}/api/v1/txs/{txid}/proof").json()
    tx_proof = TxProof.from_json(body)
    pc = PcProof(
        network="regtest",
        genesis=genesis_block(REGTEST).hash,
        file_name="lading.txt",
        file_size=len(DOCUMENT),
        file_sha256=digest,
        leaf_index=0,
        leaf_count=1,
        leaf_branch=(),
        tx=tx_proof.tx or b"",
        tx_proof=tx_proof,
    )
    return {"txid": txid, "proof": body, "pcproof": pc.dumps()}


def test_tx_page_verifies_its_proof(
    node: NodeProcess, notarized: dict[str, Any], watched_page: Any
) -> None:
    page, _watch = watched_page
    page.goto(f"{node.api_url}/tx/{notarized['txid']}")
    page.click("#verify-proof")
    result = page.locator("#proof-result")
    expect(result).to_have_attribute("data-result", "ok")
    expect(result).to_contain_text("confirmed in block 12 at ")
    expect(result).to_contain_text("2 confirmations")
    screenshot(page, "tx-proof-verified")


@pytest.mark.parametrize("tamper", ["branch", "index", "header", "txid"])
def test_tx_page_refuses_a_tampered_proof(
    node: NodeProcess, notarized: dict[str, Any], watched_page: Any, tamper: str
) -> None:
    page, _watch = watched_page
    forged = dict(notarized["proof"])
    if tamper == "index":
        forged["index"] = forged["index"] ^ 1
    else:
        value = forged[tamper] if tamper != "branch" else forged["branch"][0]
        flipped = ("1" if value[0] == "0" else "0") + value[1:]
        if tamper == "branch":
            forged["branch"] = [flipped, *forged["branch"][1:]]
        else:
            forged[tamper] = flipped

    def serve_forged(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(forged))

    page.route("**/api/v1/txs/*/proof", serve_forged)
    page.goto(f"{node.api_url}/tx/{notarized['txid']}")
    page.click("#verify-proof")
    result = page.locator("#proof-result")
    expect(result).to_have_attribute("data-result", "failed")
    expect(result).to_contain_text("proof rejected: ")
    if tamper == "header":
        screenshot(page, "tx-proof-tampered")


def _drop_page(page: Any, node: NodeProcess, tmp: Path, document: bytes, pcproof: str) -> Any:
    doc_path, proof_path = tmp / "lading.txt", tmp / "lading.txt.pcproof"
    doc_path.write_bytes(document)
    proof_path.write_text(pcproof)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.method + " " + r.url))
    page.goto(f"{node.api_url}/verify")
    page.set_input_files("#pc-file", str(doc_path))
    page.set_input_files("#pc-proof", str(proof_path))
    page.click("#pcproof-form button[type=submit]")
    return requests


def test_drop_a_file_page_checks_locally(
    node: NodeProcess, notarized: dict[str, Any], watched_page: Any, tmp_path: Path
) -> None:
    page, _watch = watched_page
    requests = _drop_page(page, node, tmp_path, DOCUMENT, notarized["pcproof"])
    result = page.locator("#pcproof-result")
    expect(result).to_have_attribute("data-result", "ok")
    expect(result).to_contain_text("lading.txt existed by ")
    expect(result).to_contain_text("(block 12, 2 confirmations)")
    assert not [r for r in requests if r.startswith("POST")]  # the file never left
    api_calls = {r.split("/api/v1/")[1].split("?")[0] for r in requests if "/api/v1/" in r}
    assert api_calls <= {"headers", "status", "events"}, api_calls  # headers only, no upload
    screenshot(page, "pcproof-verified")


def test_drop_a_file_page_refuses_a_changed_byte_and_a_tampered_proof(
    node: NodeProcess, notarized: dict[str, Any], watched_page: Any, tmp_path: Path
) -> None:
    page, _watch = watched_page
    changed = bytes([DOCUMENT[0] ^ 1]) + DOCUMENT[1:]
    _drop_page(page, node, tmp_path, changed, notarized["pcproof"])
    result = page.locator("#pcproof-result")
    expect(result).to_have_attribute("data-result", "failed")
    expect(result).to_contain_text("file-changed")
    doc = json.loads(notarized["pcproof"])
    doc["tx_proof"]["index"] = doc["tx_proof"]["index"] ^ 1
    _drop_page(page, node, tmp_path, DOCUMENT, json.dumps(doc))
    expect(result).to_have_attribute("data-result", "failed")
    expect(result).to_contain_text("proof rejected: ")
