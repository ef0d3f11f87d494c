"""A `powchain node` subprocess for the benchmarks: start on a datadir, wait for its API,
read its RSS, push transactions through its REST API, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProc:
    """One regtest node process; `url` is its API base."""

    def __init__(self, datadir: Path, extra: list[str] | None = None) -> None:
        self.datadir = datadir
        self.p2p_port, self.api_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        cmd = [sys.executable, "-m", "powchain", "node", "--network", "regtest"]
        cmd += ["--datadir", str(datadir), "--p2p", f"127.0.0.1:{self.p2p_port}"]
        cmd += ["--api", f"127.0.0.1:{self.api_port}", *(extra or [])]
        datadir.mkdir(parents=True, exist_ok=True)
        self._log = (datadir / "bench-node.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited; see {self.datadir / 'bench-node.log'}")
            try:
                if httpx.get(self.url + "/api/v1/status", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("node API did not come up")

    def status(self) -> dict[str, object]:
        return dict(httpx.get(self.url + "/api/v1/status", timeout=10).json())

    def height(self) -> int:
        return int(httpx.get(self.url + "/api/v1/status", timeout=10).json()["height"])

    def connect(self, other: NodeProc) -> None:
        """Admin POST /peers: dial `other`'s P2P port."""
        token = (self.datadir / "api.cookie").read_text().strip()
        resp = httpx.post(
            self.url + "/api/v1/peers",
            json={"address": f"127.0.0.1:{other.p2p_port}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        resp.raise_for_status()

    def wait_height(self, height: int, timeout: float, poll: float = 0.05) -> float:
        """Seconds until the API reports `height` (RuntimeError after `timeout`)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            try:
                if self.height() >= height:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(poll)
        raise RuntimeError(f"height {height} not reached in {timeout} s")

    def rss_mb(self) -> float:
        """Resident set size of the node process (not its workers), MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


async def _post_all(url: str, bodies: list[bytes], clients: int) -> list[int]:
    statuses: list[int] = []
    headers = {"content-type": "application/json"}

    async def one_client(part: list[bytes]) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:  # keep-alive
            for body in part:
                resp = await client.post("/api/v1/txs", content=body, headers=headers)
                statuses.append(resp.status_code)

    await asyncio.gather(*(one_client(bodies[i::clients]) for i in range(clients)))
    return statuses


def post_txs(url: str, raws: list[bytes], clients: int = 16) -> tuple[float, list[int]]:
    """POST every raw transaction with `clients` concurrent keep-alive clients; returns
    (wall seconds, status codes)."""
    bodies = [b'{"raw": "' + raw.hex().encode() + b'"}' for raw in raws]
    start = time.perf_counter()
    statuses = asyncio.run(_post_all(url, bodies, clients))
    return time.perf_counter() - start, statuses
