"""feature_devnet: `powchain devnet --nodes 3 --traffic` on real devnet parameters (SPEC §5, §8).

Runs the devnet for 90 s: three mining nodes with real proof of work (ASERT, 10 s spacing) and
traffic wallets, then waits (bounded) until payments and posts have confirmed: the first spend
needs a coinbase 10 blocks deep, ~110 s at the 10 s target. At the end the nodes are within one
block of the same tip and the chain's block times average 5 to 20 s apart.
"""

from __future__ import annotations

import re
import signal
import sys
import time

import httpx
import pytest

from powchain.core.params import DEVNET

from .framework import TestFramework, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(420)]

RUN_SECONDS = 90
TRAFFIC_TIMEOUT = 150
API_LINE = re.compile(r"node(\d+): explorer/API (http://127\.0\.0\.1:\d+)/")


def get(url: str, path: str, **params: object) -> dict:
    r = httpx.get(f"{url}/api/v1{path}", params=params, timeout=10)
    r.raise_for_status()
    return dict(r.json())


def traffic_confirmed(url: str, miners: set[str]) -> bool:
    """A confirmed post exists and an account other than the miners' holds a balance.

    `miners` collects the coinbase recipients seen so far (the chain only grows here).
    """
    if not get(url, "/posts")["posts"]:
        return False
    recipients: set[str] = set()
    for height in range(1, get(url, "/status")["height"] + 1):
        txs = get(url, f"/blocks/{height}", txs="full")["txs"]
        miners.add(txs[0]["recipient"])
        recipients |= {tx["recipient"] for tx in txs[1:] if tx["amount"] > 0}
    others = recipients - miners
    assert all(a.startswith(DEVNET.hrp + "1") for a in others)
    return any(get(url, f"/accounts/{a}")["balance"] > 0 for a in others)


def test_feature_devnet(framework: TestFramework) -> None:
    log = framework.log
    datadir = framework.tmp_path / "devnet"
    output = framework.tmp_path / "devnet.log"
    command = [sys.executable, "-m", "powchain", "devnet", "--nodes", "3", "--traffic"]

    log.info("Start `powchain devnet --nodes 3 --traffic`")
    proc = framework.spawn([*command, "--datadir", str(datadir)], "devnet.log")

    def api_urls() -> list[str] | None:
        assert proc.poll() is None, f"devnet exited: {output.read_text()}"
        urls = dict(API_LINE.findall(output.read_text(errors="replace")))
        return [urls[k] for k in sorted(urls)] if len(urls) == 3 else None

    urls = wait_until(api_urls, 90, 0.5, "the devnet to print three API addresses")
    wait_until(lambda: all(get(u, "/status")["network"] == "devnet" for u in urls), 60)

    log.info("Let it run for %d s (real proof of work, wallets sending)", RUN_SECONDS)
    started = time.monotonic()
    wait_until(lambda: time.monotonic() - started >= RUN_SECONDS, RUN_SECONDS + 10, 1.0)
    assert proc.poll() is None, "the devnet is still running"

    log.info("Payments and posts confirm (first spends wait for coinbase maturity: 10 blocks)")
    miners: set[str] = set()
    wait_until(lambda: traffic_confirmed(urls[0], miners), TRAFFIC_TIMEOUT, 2.0, "traffic")

    log.info("All three nodes are within one block of the same tip")
    statuses = [get(u, "/status") for u in urls]
    heights = [s["height"] for s in statuses]
    assert max(heights) - min(heights) <= 1, heights
    low = min(heights)
    assert len({get(u, f"/blocks/{low}")["hash"] for u in urls}) == 1, "one chain"

    log.info("Blocks arrive on average 5 to 20 s apart (from the chain's block times)")
    first = get(urls[0], "/blocks/1")["time"]
    last = get(urls[0], f"/blocks/{low}")["time"]
    average = (last - first) / (low - 1)
    assert 5 <= average <= 20, f"average spacing {average:.1f} s over {low - 1} blocks"

    log.info("Ctrl-C stops the devnet and all its nodes cleanly")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, output.read_text()[-3000:]
    for url in urls:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/api/v1/status", timeout=2)
