"""The Stratum server under abuse (the node keeps answering): 1,000 idle connections, a 10 MB
line, 10,000 malformed lines, a flood of stale and duplicate shares from 20 connections.

After each phase a well-behaved miner still gets a share accepted and the REST API answers.
The figures (process RSS growth, the longest stall of the node's loop, measured by a 10 ms
heartbeat task on it) are printed and written to test-output/stratum-abuse.json; nothing
asserts on time. RSS is the whole process: the server and this test's clients."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx

from powchain.api.app import close_app, create_app
from tests.stratum_client import StratumTestClient, read_until_closed

from .chainbuilder import MINER
from .stratum_fixture import FLOOR, Served, served

OUT = Path(__file__).resolve().parents[2] / "test-output"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Heartbeat:
    """The longest delay of a 10 ms sleep on the node's loop since the last `take()`."""

    def __init__(self, s: Served) -> None:
        self.worst = 0.0
        self.task = s.run(self._start())

    async def _start(self) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - before - 0.01)

    def take(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


def still_serving(s: Served, counter: int) -> None:
    """A fresh miner gets a share accepted, and GET /api/v1/stratum answers."""
    client = StratumTestClient("127.0.0.1", s.port)
    client.subscribe()
    assert client.call("mining.authorize", [s.address(MINER.pub), "x"])["result"] is True
    job = client.wait_job()
    en2, nonce, _ = client.find_share(job, client.difficulty or FLOOR, counter)
    assert client.submit(s.address(MINER.pub), job, en2, nonce)["result"] is True
    client.close()

    async def api() -> int:
        app = create_app(s.node, token="t")
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return (await http.get("/api/v1/stratum")).status_code
        finally:
            close_app(app)

    assert s.run(api()) == 200


def idle_connections(s: Served, count: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(count)]
    deadline = time.monotonic() + 120
    while s.call(lambda: len(s.server.connections)) < count:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    still_serving(s, 1)  # the 1,001st connection is served
    for sock in socks:
        sock.close()
    while s.call(lambda: len(s.server.connections)) > 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def huge_line(s: Served, size: int) -> None:
    sock = socket.create_connection(("127.0.0.1", s.port))
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent < size:
            sent += sock.send(chunk)
    except OSError:
        pass  # closed by the server once the line passed the bound
    data = read_until_closed(sock)
    assert b"line too long" in data or data == b""  # answered, or reset while we sent


def malformed_lines(s: Served, total: int) -> int:
    answered = connections = 0
    while answered < total:
        sock = socket.create_connection(("127.0.0.1", s.port))
        connections += 1
        sock.sendall(b"{not json\n" * 3)
        answered += read_until_closed(sock).count(b"malformed JSON")
    return connections


def share_flood(s: Served, connections: int, per_connection: int) -> dict[str, int]:
    clients = []
    for i in range(connections):
        c = StratumTestClient("127.0.0.1", s.port)
        c.subscribe()
        c.call("mining.authorize", [s.address(MINER.pub), "x"])
        job = c.wait_job()
        # a share that is not also a block: a new tip would make the job stale
        en2, nonce, _ = c.find_share(job, c.difficulty or FLOOR, 100 + i, not_block=True)
        assert c.submit(s.address(MINER.pub), job, en2, nonce)["result"] is True
        lines = []
        for k in range(per_connection):
            job_id = job.job_id if k % 2 else f"{k:08x}"  # a duplicate, then a stale job
            params = [s.address(MINER.pub), job_id, en2.hex(), job.ntime_hex, f"{nonce:08x}"]
            lines.append(json.dumps({"id": 1000 + k, "method": "mining.submit", "params": params}))
        c.send_raw(("\n".join(lines) + "\n").encode())
        clients.append(c)
    codes: dict[str, int] = {}
    for c in clients:
        got = 0
        while got < per_connection:
            message = c.read_message(120)
            assert message is not None
            if message.get("id", 0) and message["id"] >= 1000:
                got += 1
                code = str(message["error"][0]) if message["error"] else "ok"
                codes[code] = codes.get(code, 0) + 1
        c.close()
    return codes


def test_the_server_keeps_serving_under_abuse(tmp_path: Path) -> None:
    with served(tmp_path, handshake_timeout=600) as s:
        beat = Heartbeat(s)
        figures: dict[str, object] = {}
        base = rss_kib()
        phases = [
            ("idle_1000", lambda: idle_connections(s, 1000)),
            ("line_10MB", lambda: huge_line(s, 10_000_000)),
            ("malformed_10000", lambda: malformed_lines(s, 10_000)),
            ("flood_20x500", lambda: share_flood(s, 20, 500)),
        ]
        for counter, (name, phase) in enumerate(phases, start=2):
            before = rss_kib()
            result = phase()
            still_serving(s, counter)
            figures[name] = {
                "rss_growth_kib": rss_kib() - before,
                "worst_loop_stall_ms": round(beat.take() * 1000, 1),
                "result": result,
            }
        s.call(beat.task.cancel)  # before the loop closes
        figures["rss_growth_total_kib"] = rss_kib() - base
        stats = s.call(s.server.stats)
        figures["rejected"] = stats["shares"]["rejected"]
        figures["malformed_lines"] = stats["malformed_lines"]
        print("\nstratum abuse:", json.dumps(figures, indent=1))
        OUT.mkdir(exist_ok=True)
        (OUT / "stratum-abuse.json").write_text(json.dumps(figures, indent=1))
        flood = figures["flood_20x500"]["result"]  # type: ignore[index]
        assert flood == {"22": 20 * 250, "21": 20 * 250}
        assert stats["malformed_lines"] >= 10_000
        assert s.call(lambda: len(s.server.connections)) == 0
