"""A `powchain node` subprocess for the benchmarks: start on a datadir, wait for its API,
read its RSS, push transactions through its REST API, stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

_ROOT = Path(__file__).resolve().parent.parent  # the repository: `bench` is importable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProc:
    """One node process (regtest unless `network` names other arguments, e.g.
    `["--network-file", path]`); `url` is its API base, `log_path` its stdout and stderr;
    `env` joins its environment."""

    def __init__(
        self,
        datadir: Path,
        extra: list[str] | None = None,
        network: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.datadir = datadir
        self.p2p_port, self.api_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        cmd = [sys.executable, "-m", "powchain", "node", *(network or ["--network", "regtest"])]
        cmd += ["--datadir", str(datadir), "--p2p", f"127.0.0.1:{self.p2p_port}"]
        cmd += ["--api", f"127.0.0.1:{self.api_port}", *(extra or [])]
        datadir.mkdir(parents=True, exist_ok=True)
        self.log_path = datadir / "bench-node.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
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

    def cpu_seconds(self) -> float:
        """User + system CPU time of the node process (not its workers) so far, seconds."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


last_load: dict[str, object] = {}
"""The last post_txs run's figures (seconds, cpu_seconds of the load process, statuses)."""


def post_txs(url: str, raws: list[bytes], clients: int = 16) -> tuple[float, list[int]]:
    """POST every raw transaction to `url`/api/v1/txs over `clients` concurrent keep-alive
    HTTP/1.1 connections, from one separate load process; returns (wall seconds from the
    first request to the last answer, status codes in no particular order).

    The load process speaks raw HTTP/1.1 on asyncio streams (about 40 us of CPU per request,
    against about 3 ms for an httpx client) so the figure measures the server, not the client
    sharing its cores. Raises RuntimeError when the load process fails.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    bodies = [b'{"raw": "' + raw.hex().encode() + b'"}' for raw in raws]
    job = json.dumps({"host": host, "port": int(port), "clients": clients})
    payload = job.encode() + b"\n" + b"\n".join(bodies)
    cmd = [sys.executable, "-m", "bench.proc"]
    out = subprocess.run(cmd, input=payload, capture_output=True, cwd=_ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"load process failed: {out.stderr.decode()[-2000:]}")
    result = json.loads(out.stdout)
    last_load.clear()
    last_load.update(result, clients=clients, requests=len(raws))
    return float(result["seconds"]), [int(s) for s in result["statuses"]]


class _Load:
    """`clients` keep-alive connections, each POSTing its share of `bodies` in turn; the clock
    starts once every connection is open."""

    def __init__(self, host: str, port: int, bodies: list[bytes], clients: int) -> None:
        self.host, self.port, self.clients = host, port, clients
        self.shares = [bodies[i::clients] for i in range(clients)]
        self.head = f"POST /api/v1/txs HTTP/1.1\r\nhost: {host}:{port}\r\n".encode()
        self.head += b"content-type: application/json\r\n"
        self.statuses: list[int] = []
        self.opened = 0
        self.all_open = asyncio.Event()
        self.go = asyncio.Event()

    async def run(self) -> dict[str, object]:
        """{"seconds": wall from the first request to the last answer, "statuses": [...],
        "cpu_seconds": this process's CPU over the same span}."""
        tasks = [asyncio.create_task(self._connection(share)) for share in self.shares]
        await asyncio.wait(
            [asyncio.create_task(self.all_open.wait()), *tasks],
            return_when=asyncio.FIRST_COMPLETED,
        )
        start, cpu = time.perf_counter(), time.process_time()
        self.go.set()
        await asyncio.gather(*tasks)
        return {
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu,
            "statuses": self.statuses,
        }

    async def _connection(self, bodies: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1
        if self.opened == self.clients:
            self.all_open.set()
        try:
            await self.go.wait()
            for body in bodies:
                writer.write(self.head + b"content-length: %d\r\n\r\n" % len(body) + body)
                status, length = _parse_head(await reader.readuntil(b"\r\n\r\n"))
                await reader.readexactly(length)
                self.statuses.append(status)
        finally:
            writer.close()


def _parse_head(head: bytes) -> tuple[int, int]:
    """(status, content-length) of an HTTP/1.1 response head; the body must be sized."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    raise RuntimeError(f"response without content-length: {head!r}")


def _load_main() -> None:
    """`python -m bench.proc` < job line + bodies, one a line: the load process of post_txs."""
    job_line, *bodies = sys.stdin.buffer.read().split(b"\n")
    job = json.loads(job_line)
    load = _Load(job["host"], job["port"], bodies, job["clients"])
    result = asyncio.run(load.run())
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    _load_main()
