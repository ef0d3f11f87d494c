"""The Stratum v1 server of a node (`powchain node --stratum HOST:PORT`).

One asyncio task per connection on the node's loop. A connection subscribes (its own 4-byte
extranonce1, extranonce2 of 8 bytes), authorizes with a payout address as the username
(`ADDRESS` or `ADDRESS.worker`; ckpool-solo and public-pool do the same), then gets
`mining.set_difficulty` and `mining.notify`. Jobs come from the node's template (`jobs`):
a fresh one on every new tip (clean_jobs true, within one loop turn of `TipChanged`), when the
mempool changed (within 100 ms, at most one a second) and at least every `rebroadcast` seconds.
A share meeting the network target is a block and goes to `node.process_block`, the one
inbound path, which relays it.

Bounds (`StratumSettings`): connections, line length (a longer line is answered and the
connection closed), messages per second per connection (a token bucket: reading pauses),
the handshake and idle timeouts, malformed lines (each answered; the connection is closed at
`max_malformed`), the bytes queued to a connection that does not read, workers per
connection, shares remembered per job.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import secrets
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..consensus.errors import Rejected
from ..consensus.pow import bits_to_target
from ..core.hashing import hash_to_hex
from ..core.keys import AddressError, decode_address, encode_address
from ..node.events import Event, TipChanged, TxAccepted
from .connection import Connection
from .jobs import EXTRANONCE2_SIZE, Job, make_job
from .protocol import (
    NOT_SUBSCRIBED,
    OTHER,
    STALE,
    UNAUTHORIZED,
    Request,
    StratumError,
    difficulty_to_target,
    encode_notification,
    encode_response,
    parse_request,
    target_to_difficulty,
)
from .share import ShareResult, check_share, parse_submission
from .vardiff import HASHES_PER_DIFF1, difficulty_bounds

if TYPE_CHECKING:
    from ..node.node import Node

__all__ = ["StratumSettings", "StratumServer"]

log = logging.getLogger(__name__)

VERSION_ROLLING_REFUSAL = "version rolling refused: powchain blocks must have version 1"


@dataclass
class StratumSettings:
    """Settings of the server; times in seconds, sizes in bytes, difficulty in share units."""

    host: str = "127.0.0.1"
    port: int = 3333
    max_connections: int = 1_024
    max_line: int = 16_384
    handshake_timeout: float = 60.0  # subscribe and authorize within this
    idle_timeout: float = 600.0  # an authorized connection silent this long is closed
    messages_per_second: float = 50.0
    burst: int = 200
    max_malformed: int = 3
    max_write_buffer: int = 1 << 20
    max_workers: int = 16  # authorized usernames per connection
    rebroadcast: float = 55.0  # a fresh job at least this often (cpuminer gives up at 120 s)
    tx_refresh: float = 1.0  # at most one job per this many seconds for mempool changes
    min_difficulty: float = 0.001  # the vardiff floor
    initial_difficulty: float | None = None  # None: the floor
    share_interval: float = 10.0  # vardiff's target seconds per share
    max_jobs: int = 32  # jobs of the current tip kept for submits


class StratumServer:
    """The server of one node: `await start()`, `await stop()`, `stats()`; `port` once
    listening (port 0 picks a free one). Sets `node.stratum` to itself while running."""

    def __init__(self, node: Node, settings: StratumSettings) -> None:
        self.node = node
        self.settings = settings
        self.connections: set[Connection] = set()
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.current: Job | None = None
        self._job_seq = secrets.randbits(16) << 16
        self._en1_next = secrets.randbits(32)
        self._en1_used: set[bytes] = set()
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Any = None
        self._refresh_handle: asyncio.Handle | None = None
        self._refresh_clean = False
        self.difficulty_range = (settings.min_difficulty, settings.min_difficulty)
        self.port = settings.port
        self.accepted = 0
        self.share_hashes = 0.0  # expected hashes behind the accepted shares (difficulty * 2**32)
        self.rejected: Counter[str] = Counter()
        self.blocks_found: deque[dict[str, Any]] = deque(maxlen=20)
        self.block_count = 0
        self.blocks_rejected = 0
        self.refused_connections = 0
        self.malformed_lines = 0
        self.jobs_sent = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Build the first job and listen. OSError when the address is taken."""
        self._new_job(clean=True, broadcast=False)
        self._server = await asyncio.start_server(
            self._handle, self.settings.host, self.settings.port, limit=self.settings.max_line
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._unsubscribe = self.node.events.subscribe(self._on_event)
        self._tasks.append(asyncio.create_task(self._timer(), name="stratum-timer"))
        self.node.stratum = self
        log.info("Stratum listening on %s", self.url)

    async def stop(self) -> None:
        if self.node.stratum is self:
            self.node.stratum = None
        if callable(self._unsubscribe):
            self._unsubscribe()
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    @property
    def url(self) -> str:
        return f"stratum+tcp://{self.settings.host}:{self.port}"

    # -- jobs --------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TipChanged):
            self._schedule_refresh(0.0, clean=True)
        elif isinstance(event, TxAccepted) and self.current is not None:
            wait = self.current.created + self.settings.tx_refresh - time.monotonic()
            self._schedule_refresh(max(0.0, wait), clean=False)

    def _schedule_refresh(self, delay: float, clean: bool) -> None:
        self._refresh_clean = self._refresh_clean or clean
        if self._refresh_handle is not None and not clean:
            return  # one is pending; it will carry this change too
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
        loop = asyncio.get_running_loop()
        self._refresh_handle = loop.call_later(delay, self._run_refresh)

    def _run_refresh(self) -> None:
        clean, self._refresh_clean, self._refresh_handle = self._refresh_clean, False, None
        self._new_job(clean=clean or self._tip_moved())

    def _tip_moved(self) -> bool:
        return self.current is None or self.current.prev_block != self.node.tip.hash

    def _new_job(self, clean: bool, broadcast: bool = True) -> Job:
        """Build a job on the tip; `clean` forgets the earlier ones (a new tip)."""
        self._job_seq += 1
        job = make_job(self.node, f"{self._job_seq & 0xFFFFFFFF:08x}", time.monotonic())
        if clean:
            self.jobs.clear()
        self.jobs[job.job_id] = job
        while len(self.jobs) > self.settings.max_jobs:
            self.jobs.popitem(last=False)
        self.current = job
        network = target_to_difficulty(bits_to_target(job.bits))
        bounds = difficulty_bounds(network, self.settings.min_difficulty)
        if bounds != self.difficulty_range:
            self.difficulty_range = bounds
            for conn in self.connections:
                conn.vardiff.set_bounds(*bounds)
        if broadcast:
            for conn in list(self.connections):
                if conn.authorized and conn.subscribed:
                    self._send_job(conn, job, clean)
        return job

    def _send_job(self, conn: Connection, job: Job, clean: bool) -> None:
        """set_difficulty when it changed, then notify (the order miners apply them in)."""
        assert conn.recipient is not None  # callers check conn.authorized
        difficulty = conn.vardiff.difficulty
        if difficulty != conn.sent_difficulty:
            conn.send(encode_notification("mining.set_difficulty", [difficulty]))
            conn.sent_difficulty = difficulty
        earlier = conn.job_difficulty.pop(job.job_id, difficulty)
        conn.job_difficulty[job.job_id] = min(earlier, difficulty)
        while len(conn.job_difficulty) > self.settings.max_jobs:
            conn.job_difficulty.popitem(last=False)
        conn.send(encode_notification("mining.notify", job.notify_params(conn.recipient, clean)))
        self.jobs_sent += 1

    async def _timer(self) -> None:
        """The rebroadcast (a fresh job every `rebroadcast` s) and vardiff without shares."""
        while True:
            await asyncio.sleep(min(1.0, self.settings.rebroadcast / 4))
            now = time.monotonic()
            current = self.current
            if current is not None and now - current.created >= self.settings.rebroadcast:
                self._new_job(clean=self._tip_moved())
            for conn in list(self.connections):
                if conn.authorized and conn.vardiff.retarget(now) is not None:
                    self._resend(conn)

    def _resend(self, conn: Connection) -> None:
        """After a difficulty change: set_difficulty and the current job again."""
        if self.current is not None and conn.subscribed and conn.authorized:
            self._send_job(conn, self.current, clean=False)

    # -- connections -------------------------------------------------------------------------

    def _extranonce1(self) -> bytes:
        """A 4-byte extranonce1 no open connection has (a counter from a random start)."""
        while True:
            self._en1_next = (self._en1_next + 1) & 0xFFFFFFFF
            en1 = self._en1_next.to_bytes(4, "big")
            if en1 not in self._en1_used:
                self._en1_used.add(en1)
                return en1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.connections) >= self.settings.max_connections:
            self.refused_connections += 1
            writer.transport.abort()
            return
        conn = Connection(self, writer, self._extranonce1())
        self.connections.add(conn)
        try:
            await self._serve(conn, reader)
        finally:
            self.connections.discard(conn)
            self._en1_used.discard(conn.extranonce1)
            conn.close()

    async def _serve(self, conn: Connection, reader: asyncio.StreamReader) -> None:
        settings = self.settings
        handshake_deadline = conn.connected + settings.handshake_timeout
        while not conn.closed:
            # until authorized the whole handshake has one deadline (no slow drip of lines)
            timeout = (
                settings.idle_timeout
                if conn.authorized
                else max(0.0, handshake_deadline - time.monotonic())
            )
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
            except TimeoutError:
                log.debug("stratum %s: idle; closing", conn.peer)
                return
            except asyncio.LimitOverrunError:
                conn.send(encode_response(None, None, StratumError(OTHER, "line too long")))
                await self._drain(conn)
                return
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            await conn.throttle()
            self._dispatch(conn, line.strip())

    async def _drain(self, conn: Connection) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.drain(), 1.0)

    def _dispatch(self, conn: Connection, line: bytes) -> None:
        if not line:
            return
        try:
            request = parse_request(line)
        except StratumError as exc:
            conn.malformed += 1
            self.malformed_lines += 1
            conn.send(encode_response(None, None, exc))
            if conn.malformed >= self.settings.max_malformed:
                log.info("stratum %s: %d malformed lines; closing", conn.peer, conn.malformed)
                conn.close()
            return
        handler = _HANDLERS.get(request.method)
        try:
            if handler is None:
                raise StratumError(OTHER, f"unknown method {request.method[:64]!r}")
            result, after = handler(self, conn, request)
        except StratumError as exc:
            conn.send(encode_response(request.id, None, exc))
            return
        conn.send(encode_response(request.id, result, None))
        if after is not None:
            after()

    # -- methods: each returns (result, what to do after the answer is queued) ----------------

    def _subscribe(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        if req.params and isinstance(req.params[0], str):
            conn.agent = req.params[0][:64]
        conn.subscribed = True
        sid = conn.extranonce1.hex()
        result = [
            [["mining.set_difficulty", sid], ["mining.notify", sid]],
            conn.extranonce1.hex(),
            EXTRANONCE2_SIZE,
        ]
        return result, (self._first_job(conn) if conn.authorized else None)

    def _first_job(self, conn: Connection) -> Any:
        def send() -> None:
            if self.current is not None:
                self._send_job(conn, self.current, clean=True)

        return send

    def _authorize(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        if not req.params or not isinstance(req.params[0], str) or len(req.params[0]) > 128:
            raise StratumError(UNAUTHORIZED, "the username must be your payout address")
        username = req.params[0].strip()
        address = username.split(".", 1)[0]
        try:
            key = decode_address(address, self.node.params.hrp)
        except (AddressError, ValueError) as exc:
            raise StratumError(
                UNAUTHORIZED,
                f"username {address[:90]!r} is not a {self.node.params.name} address: {exc}",
            ) from exc
        if username not in conn.workers and len(conn.workers) >= self.settings.max_workers:
            raise StratumError(UNAUTHORIZED, "too many workers on one connection")
        conn.workers[username] = key
        first = conn.recipient is None
        if first:
            conn.recipient = key
        return True, (self._first_job(conn) if first and conn.subscribed else None)

    def _configure(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        extensions = req.params[0] if req.params and isinstance(req.params[0], list) else []
        options = req.params[1] if len(req.params) > 1 and isinstance(req.params[1], dict) else {}
        result: dict[str, Any] = {}
        for ext in extensions[:16]:
            if not isinstance(ext, str):
                continue
            if ext == "version-rolling":
                result["version-rolling"] = VERSION_ROLLING_REFUSAL
            elif ext == "minimum-difficulty":
                value: Any = options.get("minimum-difficulty.value")
                ok = _finite_positive(value)
                if ok:
                    low, high = self.difficulty_range
                    conn.vardiff.set_bounds(min(max(low, float(value)), high), high)
                result["minimum-difficulty"] = ok
            else:
                result[ext[:64]] = False
        return result, None

    def _extranonce_subscribe(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        return True, None  # the extranonce never changes, so nothing will be sent

    def _suggest_difficulty(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        if not req.params or not _finite_positive(req.params[0]):
            raise StratumError(OTHER, "suggest_difficulty takes a positive number")
        conn.vardiff.suggest(float(req.params[0]), time.monotonic())
        return True, lambda: self._resend(conn)

    def _submit(self, conn: Connection, req: Request) -> tuple[Any, Any]:
        try:
            result = self._check_submit(conn, req)
        except StratumError as exc:
            conn.rejected[exc.reason] += 1
            self.rejected[exc.reason] += 1
            raise
        now = time.monotonic()
        difficulty = conn.job_difficulty[req.params[1]]
        conn.accepted += 1
        self.accepted += 1
        self.share_hashes += difficulty * HASHES_PER_DIFF1
        conn.last_share = now
        conn.hashrate.add(now, difficulty)
        conn.vardiff.record_share(now)
        after = None
        if conn.vardiff.retarget(now) is not None:
            after = lambda: self._resend(conn)  # noqa: E731
        if result.block is not None:
            self._found_block(conn, result)
        return True, after

    def _check_submit(self, conn: Connection, req: Request) -> ShareResult:
        if not conn.subscribed:
            raise StratumError(NOT_SUBSCRIBED, "not subscribed")
        if not req.params or req.params[0] not in conn.workers:
            raise StratumError(UNAUTHORIZED, "unauthorized worker")
        sub = parse_submission(req.params)
        job = self.jobs.get(sub.job_id)
        difficulty = conn.job_difficulty.get(sub.job_id)
        if job is None or difficulty is None or job.prev_block != self.node.tip.hash:
            raise StratumError(STALE, "job not found (stale)")
        future = self.node.params.max_future_block_time  # less a margin for the trip
        max_time = self.node.now() + future - min(60, future // 4)
        recipient = conn.workers[sub.worker]
        target = difficulty_to_target(difficulty)
        return check_share(job, sub, conn.extranonce1, recipient, target, max_time)

    def _found_block(self, conn: Connection, result: ShareResult) -> None:
        block = result.block
        assert block is not None
        try:
            outcome = self.node.process_block(block)
            if inspect.isawaitable(outcome):
                task = asyncio.ensure_future(outcome)
                task.add_done_callback(lambda t: t.exception())
        except Rejected as exc:
            self.blocks_rejected += 1
            log.warning("stratum block %s rejected: %r", hash_to_hex(block.hash), exc)
            return
        conn.blocks += 1
        self.block_count += 1
        self.blocks_found.append(
            {
                "hash": hash_to_hex(block.hash),
                "height": block.txs[0].nonce,
                "address": encode_address(self.node.params.hrp, block.txs[0].recipient),
                "worker": conn.peer,
                "time": block.header.time,
            }
        )
        log.info("stratum: block %s found by %s", hash_to_hex(block.hash), conn.peer)

    # -- what the API shows ------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """GET /api/v1/stratum: the URL, each connection with its workers and estimated hash
        rate (hashes/s), shares accepted and rejected by reason, blocks found."""
        now = time.monotonic()
        params = self.node.params
        workers = [c.info(now, params) for c in self.connections if c.authorized]
        job = self.current
        return {
            "enabled": True,
            "url": self.url,
            "connections": len(self.connections),
            "refused_connections": self.refused_connections,
            "malformed_lines": self.malformed_lines,
            "workers": workers,
            "hashrate": sum(w["hashrate"] for w in workers),
            "shares": {"accepted": self.accepted, "rejected": dict(self.rejected)},
            "share_hashes": self.share_hashes,
            "blocks_found": self.block_count,
            "blocks_rejected": self.blocks_rejected,
            "recent_blocks": list(reversed(self.blocks_found)),
            "difficulty": {"min": self.difficulty_range[0], "max": self.difficulty_range[1]},
            "job": None
            if job is None
            else {
                "id": job.job_id,
                "height": job.height,
                "age_seconds": round(now - job.created, 1),
            },
            "jobs_sent": self.jobs_sent,
        }


def _job_info(job: Job, now: float) -> dict[str, Any]:
    return {"id": job.job_id, "height": job.height, "age_seconds": round(now - job.created, 1)}


def _finite_positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


_HANDLERS: dict[str, Any] = {
    "mining.subscribe": StratumServer._subscribe,
    "mining.authorize": StratumServer._authorize,
    "mining.submit": StratumServer._submit,
    "mining.configure": StratumServer._configure,
    "mining.extranonce.subscribe": StratumServer._extranonce_subscribe,
    "mining.suggest_difficulty": StratumServer._suggest_difficulty,
}
