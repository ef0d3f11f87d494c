"""interface_stratum_abuse: a real `powchain node --stratum` process under abuse keeps
answering pings, API calls and miners.

node0 serves Stratum and pings its peer node1 every second. From this test: 1,000 idle
connections, a 10 MB line, 10,000 malformed lines (the server closes a connection at its third)
and 10,000 pipelined stale and low-difficulty submits from 20 connections. Meanwhile a thread
times GET /api/v1/status every 0.1 s. Afterwards node1 is still connected with a fresh ping, a
block mined on node1 reaches node0, and a fresh miner's share (a block on regtest) is accepted.
The node's RSS growth (VmRSS of its process) and the slowest API answer are logged and written
to test-output/stratum-abuse-process.json; nothing asserts on time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.stratum_client import StratumTestClient, read_until_closed

from .framework import TestFramework, connect_nodes, free_port, sync_blocks, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(600)]

OUT = Path(__file__).resolve().parents[2] / "test-output"
FLOOR = 0.00001


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ApiProbe(threading.Thread):
    """GET /api/v1/status every 0.1 s; the slowest answer (seconds) and any failure."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.slowest, self.failures, self.stop = url, 0.0, 0, threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.wait(0.1):
                began = time.monotonic()
                try:
                    http.get(f"{self.url}/api/v1/status").raise_for_status()
                except httpx.HTTPError:
                    self.failures += 1
                self.slowest = max(self.slowest, time.monotonic() - began)


def test_interface_stratum_abuse(framework: TestFramework) -> None:
    log = framework.log
    port = free_port()
    args = ["--stratum", f"127.0.0.1:{port}", "--stratum-min-difficulty", str(FLOOR)]
    node0 = framework.add_node(extra_args=[*args, "--ping-interval", "1"])
    node1 = framework.add_node()
    connect_nodes(node1, node0)
    assert node0.process is not None
    pid = node0.process.pid
    miner = framework.wallet("abuse-miner").address
    probe = ApiProbe(node0.api_url)
    probe.start()
    figures: dict[str, object] = {"rss_start_kib": rss_kib(pid)}

    log.info("1,000 idle connections")
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(1000)]
    wait_until(lambda: node0.get("/stratum")["connections"] >= 1000, 120, 0.5, "1,000 open")
    figures["rss_1000_idle_kib"] = rss_kib(pid)
    for sock in socks:
        sock.close()
    wait_until(lambda: node0.get("/stratum")["connections"] == 0, 120, 0.5, "all closed")

    log.info("A 10 MB line")
    sock = socket.create_connection(("127.0.0.1", port))
    sent, chunk = 0, b"x" * 65536
    try:
        while sent < 10_000_000:
            sent += sock.send(chunk)
    except OSError:
        pass
    read_until_closed(sock)  # answered "line too long", or reset while we were still sending

    log.info("10,000 malformed lines")
    answered = 0
    while answered < 10_000:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"{oops\n" * 3)
        answered += read_until_closed(sock).count(b"malformed JSON")

    log.info("10,000 stale and low-difficulty submits from 20 connections")
    clients = []
    for _ in range(20):
        c = StratumTestClient("127.0.0.1", port)
        c.subscribe()
        c.call("mining.authorize", [miner, "x"])
        job = c.wait_job()
        en2, nonce = c.find_miss(job, FLOOR)  # above the share target: low difficulty
        lines = [
            json.dumps({"id": 1000 + k, "method": "mining.submit", "params": [
                miner, job.job_id if k % 2 else f"{k:08x}", en2.hex(), job.ntime_hex,
                f"{nonce:08x}"]})
            for k in range(500)
        ]  # fmt: skip
        c.send_raw(("\n".join(lines) + "\n").encode())
        clients.append(c)
    codes: dict[int, int] = {}
    for c in clients:
        got = 0
        while got < 500:
            message = c.read_message(120)
            assert message is not None
            if isinstance(message.get("id"), int) and message["id"] >= 1000:
                got += 1
                codes[message["error"][0]] = codes.get(message["error"][0], 0) + 1
        c.close()
    assert codes == {21: 5000, 23: 5000}
    figures["rss_end_kib"] = rss_kib(pid)

    log.info("node0 still pings node1, syncs its block, and accepts a fresh miner's share")
    wait_until(lambda: node0.get("/stratum")["connections"] == 0, 60, 0.5, "floods closed")
    before = time.monotonic()
    wait_until(lambda: any(p.get("ping_ms") is not None for p in node0.peers()), 30, 0.5, "a ping")
    node1.mine(1, miner)
    sync_blocks([node0, node1], 60)
    client = StratumTestClient("127.0.0.1", port)
    client.subscribe()
    client.call("mining.authorize", [miner, "x"])
    job = client.wait_job()
    en2, nonce, _ = client.find_share(job, client.difficulty or FLOOR)
    assert client.submit(miner, job, en2, nonce)["result"] is True
    wait_until(lambda: node0.height == 2, 60, 0.2, "the share's block")
    probe.stop.set()
    probe.join(10)
    assert probe.failures == 0
    figures["slowest_api_ms"] = round(probe.slowest * 1000, 1)
    figures["ping_check_s"] = round(time.monotonic() - before, 1)
    figures["rss_growth_kib"] = figures["rss_end_kib"] - figures["rss_start_kib"]  # type: ignore[operator]
    log.info("figures: %s", figures)
    OUT.mkdir(exist_ok=True)
    (OUT / "stratum-abuse-process.json").write_text(json.dumps(figures, indent=1))
