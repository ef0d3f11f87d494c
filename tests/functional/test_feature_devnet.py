"""feature_devnet: `powchain devnet --nodes 3 --traffic` on real devnet parameters (SPEC §5, §8).

Runs the devnet for 90 s: three mining nodes with real proof of work (asert-bounded, 10 s
spacing) and traffic wallets, then waits (bounded) until payments and posts have confirmed. At
the end the nodes are within one block of the same tip.

Nothing here depends on how fast this machine hashes (issue 10: a 5-20 s window failed on a
machine 3x faster than the one it was tuned on). The test reads how many nonces the three
miners tried (`powchain_miner_hashes` in /metrics) and checks properties of that rate: (1) the
difficulty rule moved toward the target: at the tip's difficulty the miners' rate gives an
expected spacing within 2**1.5 of 10 s, or at least closer than the genesis's was; (2) the
chainwork the chain gained is plausible for those nonces (each nonce adds work(bits) with
probability 1 / work(bits), so the gain is at most as spread as a Poisson count in units of the
hardest block's work; both tails above 1e-4): miners that waste work, or blocks that get lost,
fail it; (3) the network hash rate /status
estimates is within 2x of the rate the miners measured. `POWCHAIN_TEST_HASHRATE` (0.25 or 4)
runs it as a slower or faster machine would (docs/architecture.md).
"""

from __future__ import annotations

import math
import re
import signal
import sys
import time

import httpx
import pytest

from powchain.consensus.pow import block_work
from powchain.core.params import DEVNET

from .framework import TestFramework, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(420)]

RUN_SECONDS = 90
TRAFFIC_TIMEOUT = 150
API_LINE = re.compile(r"node(\d+): explorer/API (http://127\.0\.0\.1:\d+)/")
HASHES_LINE = re.compile(r"^powchain_miner_hashes_total (\S+)$", re.M)
SHARE_HASHES_LINE = re.compile(r"^powchain_stratum_share_hashes_total (\S+)$", re.M)
MINER_LINE = re.compile(r"miner (dpow1\w+)")
TAIL = 1e-4


def get(url: str, path: str, **params: object) -> dict:
    r = httpx.get(f"{url}/api/v1{path}", params=params, timeout=10)
    r.raise_for_status()
    return dict(r.json())


def mining_sample(urls: list[str]) -> tuple[float, int, int]:
    """(monotonic seconds, nonces tried by all the devnet's miners, lowest tip height).

    The devnet mines with `powchain miner` processes through node0's Stratum port: their work
    is the expected hashes behind the accepted shares (powchain_stratum_share_hashes), plus any
    in-node miner's exact count (powchain_miner_hashes)."""
    hashes = 0
    for url in urls:
        text = httpx.get(f"{url}/api/v1/metrics", timeout=10).text
        for pattern in (HASHES_LINE, SHARE_HASHES_LINE):
            found = pattern.search(text)
            assert found is not None, f"{pattern.pattern} is in /metrics"
            hashes += int(float(found.group(1)))
    return time.monotonic(), hashes, min(get(u, "/status")["height"] for u in urls)


def poisson_tails(k: int, mu: float) -> tuple[float, float]:
    """(P(X <= k), P(X >= k)) for X ~ Poisson(mu)."""
    terms = [math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1)) for i in range(k + 1)]
    return sum(terms), 1.0 - sum(terms[:-1])


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
    first = mining_sample(urls)
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

    log.info("Every block came from a `powchain miner` through node0's Stratum port")
    addresses = set(MINER_LINE.findall(output.read_text(errors="replace")))
    assert len(addresses) == 3
    for height in range(1, low + 1):
        coinbase = get(urls[0], f"/blocks/{height}", txs="full")["txs"][0]
        assert coinbase["data_text"].endswith("/powchain stratum/"), coinbase
        assert coinbase["recipient"] in addresses
    stratum = get(urls[0], "/stratum")
    assert len(stratum["workers"]) == 3 and stratum["blocks_found"] >= low

    log.info("The difficulty moved toward 10 s blocks at the miners' measured nonce rate")
    last = mining_sample(urls)
    seconds, hashes, blocks = (b - a for a, b in zip(first, last, strict=True))
    assert hashes > 0 and blocks > 0, "the miners tried nonces and found blocks"
    gained = range(first[2] + 1, last[2] + 1)
    rate = hashes / seconds
    work = block_work(int(get(urls[0], f"/blocks/{low}")["bits"], 16))
    genesis_work = block_work(int(get(urls[0], "/blocks/0")["bits"], 16))
    tip_off = abs(math.log2(work / rate / DEVNET.target_spacing))
    genesis_off = abs(math.log2(genesis_work / rate / DEVNET.target_spacing))
    times = [get(urls[0], f"/blocks/{h}")["time"] for h in (1, low)]
    log.info(
        "%.2f M nonces/s over %.0f s, %.1f M nonces a block: expected spacing %.1f s "
        "(genesis %.1f s); %d blocks found, %.1f at the tip's work; chain average %.1f s over %d",
        rate / 1e6, seconds, work / 1e6, work / rate, genesis_work / rate,
        blocks, hashes / work, (times[1] - times[0]) / (low - 1), low - 1,
    )  # fmt: skip
    assert tip_off <= max(1.5, genesis_off), f"2**{tip_off:.2f} off 10 s, genesis {genesis_off:.2f}"
    works = [block_work(int(get(urls[0], f"/blocks/{h}")["bits"], 16)) for h in gained]
    units, expected = round(sum(works) / max(works)), hashes / max(works)
    below, above = poisson_tails(units, expected)
    assert min(below, above) > TAIL, f"{units} blocks' work gained for {expected:.1f} expected"
    estimate = get(urls[0], "/status")["network_hashrate"]
    assert estimate is not None and 0.5 <= estimate / rate <= 2, (estimate, rate)

    log.info("Ctrl-C stops the devnet and all its nodes cleanly")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0, output.read_text()[-3000:]
    for url in urls:
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/api/v1/status", timeout=2)
