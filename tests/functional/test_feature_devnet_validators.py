"""feature_devnet_validators: `powchain devnet --validators 3 --traffic` (issue 14).

Three validator node processes of a network the devnet makes (`DATADIR/validators.toml`), no
mining: blocks come, every block carries at least T = 2 signatures of the three, traffic
(payments and posts from the validators' genesis allocations) confirms, all three agree, and
SIGINT stops them all.
"""

from __future__ import annotations

import re
import signal
import sys

import httpx
import pytest

from .framework import TestFramework, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(420)]
API_LINE = re.compile(r"node(\d+): explorer/API (http://127\.0\.0\.1:\d+)/")


def get(url: str, path: str, **params: object) -> dict:
    r = httpx.get(f"{url}/api/v1{path}", params=params, timeout=10)
    r.raise_for_status()
    return dict(r.json())


def test_feature_devnet_validators(framework: TestFramework) -> None:
    log = framework.log
    datadir = framework.tmp_path / "vdev"
    output = framework.tmp_path / "vdev.log"
    command = [sys.executable, "-m", "powchain", "devnet", "--validators", "3", "--traffic"]
    proc = framework.spawn([*command, "--datadir", str(datadir)], "vdev.log")

    def api_urls() -> list[str] | None:
        assert proc.poll() is None, f"devnet exited: {output.read_text()}"
        urls = dict(API_LINE.findall(output.read_text(errors="replace")))
        return [urls[k] for k in sorted(urls)] if len(urls) == 3 else None

    urls = wait_until(api_urls, 120, 0.5, "the devnet to print three API addresses")
    assert (datadir / "validators.toml").exists()
    assert "validator vnet1" in output.read_text()

    log.info("Blocks come, each final with at least 2 of the 3 signatures")
    wait_until(lambda: min(get(u, "/status")["height"] for u in urls) >= 4, 180, 1.0, "blocks")
    status = get(urls[0], "/status")
    assert status["consensus"] == "validators" and status["validators"]["threshold"] == 2
    for height in range(1, 4):
        assert len(get(urls[0], f"/blocks/{height}")["signers"]) >= 2

    log.info("Traffic confirms: a post and a payment")
    wait_until(lambda: bool(get(urls[0], "/posts")["posts"]), 180, 1.0, "a confirmed post")

    log.info("All three agree")
    low = min(get(u, "/status")["height"] for u in urls)
    assert len({get(u, f"/blocks/{low}")["hash"] for u in urls}) == 1
    rows = get(urls[1], "/validators")["validators"]
    assert sum(1 for r in rows if r["local"]) == 1 and len(rows) == 3

    log.info("Ctrl-C stops the devnet and its nodes")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
