"""`powchain miner`: a standalone Stratum v1 miner using the node's C nonce kernel.

It works against powchain's own server or any Stratum v1 SHA-256 pool: subscribe, authorize
(`--user`, your payout address), then for every `mining.notify` build the coinbase
(coinb1 | extranonce1 | extranonce2 | coinb2), fold the merkle branch, and search nonces at
the share target of the last `mining.set_difficulty`, in `processes` worker processes. Each
worker takes its own extranonce2 (the worker index in its top byte, a counter below), so no
two search the same header. A new job replaces the current one at the next chunk boundary
(~0.5 s of work). Disconnects are retried with a growing delay (1 to 30 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..consensus.errors import Rejected
from ..consensus.pow import bits_to_target
from ..core.hashing import sha256d
from ..node.miner import hashrate_factor
from ..node.powsearch import NONCE_SPACE, backend, search_nonce
from .protocol import difficulty_to_target, word_swap

__all__ = ["MinerClient", "MinerJob", "parse_pool_url", "chunk_size"]

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20
"""Bytes; a pool's notify with a long merkle branch is a few kilobytes."""


def parse_pool_url(url: str) -> tuple[str, int]:
    """(host, port) from `stratum+tcp://HOST:PORT` (or `HOST:PORT`); ValueError otherwise."""
    text = url if "://" in url else f"stratum+tcp://{url}"
    parts = urlsplit(text)
    if parts.scheme not in ("stratum+tcp", "stratum", "tcp") or not parts.hostname:
        raise ValueError(f"not a stratum+tcp://HOST:PORT URL: {url!r}")
    if parts.port is None:
        raise ValueError(f"the pool URL needs a port: {url!r}")
    return parts.hostname, parts.port


def chunk_size() -> int:
    """Nonces per worker call, about 0.1-0.5 s of work for the backend in use (a new job
    waits at most that long; the fewer calls, the less overhead)."""
    name = backend()
    if name in ("c-avx512", "c-sha-ni", "c-avx2"):
        return 1 << 24
    return 1 << 22 if name.startswith("c-") else 1 << 14


@dataclass(frozen=True)
class MinerJob:
    """One `mining.notify` with the share difficulty in effect when it arrived."""

    job_id: str
    prevhash: bytes  # internal order (un-swapped)
    coinb1: bytes
    coinb2: bytes
    branch: tuple[bytes, ...]
    version: int
    bits: int
    ntime: int
    clean: bool
    difficulty: float

    @classmethod
    def from_notify(cls, params: list[Any], difficulty: float) -> MinerJob:
        """ValueError when a field is malformed."""
        if len(params) < 9:
            raise ValueError("mining.notify has 9 params")
        try:
            return cls._parse(params, difficulty)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed mining.notify: {exc}") from exc

    @classmethod
    def _parse(cls, params: list[Any], difficulty: float) -> MinerJob:
        return cls(
            job_id=str(params[0]),
            prevhash=word_swap(bytes.fromhex(params[1])),
            coinb1=bytes.fromhex(params[2]),
            coinb2=bytes.fromhex(params[3]),
            branch=tuple(bytes.fromhex(h) for h in params[4]),
            version=int(params[5], 16),
            bits=int(params[6], 16),
            ntime=int(params[7], 16),
            clean=bool(params[8]),
            difficulty=difficulty,
        )

    def header76(self, extranonce1: bytes, extranonce2: bytes) -> bytes:
        """The first 76 header bytes for this extranonce pair."""
        root = sha256d(self.coinb1 + extranonce1 + extranonce2 + self.coinb2)
        for sibling in self.branch:
            root = sha256d(root + sibling)
        return (
            self.version.to_bytes(4, "little")
            + self.prevhash
            + root
            + self.ntime.to_bytes(4, "little")
            + self.bits.to_bytes(4, "little")
        )

    @property
    def network_target(self) -> int:
        """The block target of `bits` (0 when the pool sent an invalid encoding)."""
        try:
            return bits_to_target(self.bits)
        except Rejected:
            return 0


class MinerClient:
    """Mines on one pool with `processes` workers until `stop()`; counters for the progress
    line: `hashes` (nonces tried), `accepted`, `rejected`, `blocks`."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str = "x",
        processes: int = 1,
        search: Callable[[bytes, int, int, int], int | None] = search_nonce,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.processes = max(1, processes)
        self._search = search
        self.hashes = 0
        self.accepted = 0
        self.rejected = 0
        self.blocks = 0
        self.last_error = ""
        self.difficulty = 1.0
        self.job: MinerJob | None = None
        self.connected = False
        self._extranonce1 = b""
        self._extranonce2_size = 4
        self._job_changed = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._next_id = 1
        self._pending: dict[int, tuple[str, bool]] = {}  # id -> (what, is_block)
        self._stopping = False
        self._counters = [0] * self.processes
        self._throttle = min(hashrate_factor(), 1.0)

    async def run(self) -> None:
        """Connect, mine, reconnect after a disconnect; returns when `stop()` is called."""
        pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        workers = [asyncio.create_task(self._worker(i, pool)) for i in range(self.processes)]
        delay = 1.0
        try:
            while not self._stopping:
                try:
                    await self._session()
                    delay = 1.0
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("pool %s:%d: %s", self.host, self.port, self.last_error)
                self.connected, self.job = False, None
                if not self._stopping:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def stop(self) -> None:
        self._stopping = True
        self._job_changed.set()
        if self._writer is not None:
            self._writer.close()

    async def _session(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_LINE)
        self._writer = writer
        try:
            self._send("mining.subscribe", ["powchain-miner/1"], "subscribe")
            self._send("mining.authorize", [self.user, self.password], "authorize")
            while not self._stopping:
                line = await reader.readuntil(b"\n")
                self._on_line(line)
        finally:
            self._writer = None
            writer.close()

    def _send(self, method: str, params: list[Any], what: str, block: bool = False) -> None:
        if self._writer is None:
            return
        rid, self._next_id = self._next_id, self._next_id + 1
        self._pending[rid] = (what, block)
        line = json.dumps({"id": rid, "method": method, "params": params}) + "\n"
        self._writer.write(line.encode())

    def _on_line(self, line: bytes) -> None:
        msg = json.loads(line)
        if not isinstance(msg, dict):
            raise ValueError("the pool sent a line that is not a JSON object")
        method = msg.get("method")
        if method == "mining.notify":
            self.job = MinerJob.from_notify(msg.get("params") or [], self.difficulty)
            self._job_changed.set()
        elif method == "mining.set_difficulty":
            try:
                value = float((msg.get("params") or [1])[0])
            except (TypeError, ValueError) as exc:
                raise ValueError("malformed mining.set_difficulty") from exc
            if not value > 0 or value == float("inf"):
                raise ValueError(f"share difficulty {value} is not a positive number")
            self.difficulty = value
        elif method is None and isinstance(msg.get("id"), int):
            self._on_response(msg)

    def _on_response(self, msg: dict[str, Any]) -> None:
        what, is_block = self._pending.pop(msg["id"], ("?", False))
        ok, error = msg.get("result"), msg.get("error")
        if what == "subscribe":
            if error or not isinstance(ok, list) or len(ok) < 3:
                raise ValueError(f"subscribe refused: {error}")
            self._extranonce1, self._extranonce2_size = bytes.fromhex(ok[1]), int(ok[2])
            if not 2 <= self._extranonce2_size <= 16:
                raise ValueError(f"extranonce2_size {self._extranonce2_size} is not supported")
            self.connected = True
        elif what == "authorize":
            if ok is not True:
                self.last_error = f"authorize refused: {error}"
                log.error("%s", self.last_error)
                self.stop()
        elif what == "share":
            if ok is True:
                self.accepted += 1
                self.blocks += is_block
            else:
                self.rejected += 1
                self.last_error = f"share rejected: {error}"
                log.info("%s", self.last_error)

    def _extranonce2(self, worker: int) -> bytes:
        """The next extranonce2 of `worker`: its index in the top byte, a counter below."""
        self._counters[worker] += 1
        size = self._extranonce2_size
        value = (worker << (8 * size - 8)) | (self._counters[worker] % (1 << (8 * size - 8)))
        return value.to_bytes(size, "big")

    async def _worker(self, index: int, pool: ProcessPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        chunk = chunk_size()
        while not self._stopping:
            self._job_changed.clear()  # before the check: a job set after it still wakes us
            job = self.job
            if job is None or not self.connected:
                await self._job_changed.wait()
                continue
            en2 = self._extranonce2(index)
            header76 = job.header76(self._extranonce1, en2)
            target = difficulty_to_target(job.difficulty)
            lo = 0
            while lo < NONCE_SPACE and self.job is job and not self._stopping:
                hi = min(lo + chunk, NONCE_SPACE)
                began = time.monotonic()
                found = await loop.run_in_executor(pool, self._search, header76, lo, hi, target)
                if self._throttle < 1:  # the test-only nonce-rate limit ($POWCHAIN_TEST_HASHRATE)
                    await asyncio.sleep((time.monotonic() - began) * (1 / self._throttle - 1))
                self.hashes += (hi - lo) if found is None else (found - lo + 1)
                if found is None:
                    lo = hi
                    continue
                lo = found + 1
                if self.job is job:
                    self._submit(job, en2, header76, found)

    def _submit(self, job: MinerJob, en2: bytes, header76: bytes, nonce: int) -> None:
        digest = sha256d(header76 + nonce.to_bytes(4, "little"))
        is_block = int.from_bytes(digest, "little") <= job.network_target
        params = [self.user, job.job_id, en2.hex(), f"{job.ntime:08x}", f"{nonce:08x}"]
        self._send("mining.submit", params, "share", is_block)

    def progress(self, rate: float) -> str:
        """The progress line: hash rate, shares, blocks, difficulty, connection."""
        state = "mining" if self.connected and self.job is not None else "connecting"
        return (
            f"{_rate(rate)}  shares {self.accepted} accepted / {self.rejected} rejected  "
            f"blocks {self.blocks}  difficulty {self.difficulty:.6g}  {state} "
            f"{self.host}:{self.port}"
        )


def _rate(hashes_per_second: float) -> str:
    for unit, scale in (("GH/s", 1e9), ("MH/s", 1e6), ("kH/s", 1e3)):
        if hashes_per_second >= scale:
            return f"{hashes_per_second / scale:6.2f} {unit}"
    return f"{hashes_per_second:6.0f} H/s"


async def run_miner(client: MinerClient, every: float, echo: Callable[[str], None]) -> None:
    """Run `client`, calling `echo(progress line)` every `every` seconds; SIGTERM and
    SIGINT stop it cleanly (the worker processes included)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, client.stop)
    task = asyncio.create_task(client.run())
    last_time, last_hashes = time.monotonic(), 0
    try:
        while not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), every)
            now = time.monotonic()
            rate = (client.hashes - last_hashes) / max(now - last_time, 1e-9)
            last_time, last_hashes = now, client.hashes
            echo(client.progress(rate))
    finally:
        client.stop()
        await asyncio.gather(task, return_exceptions=True)
