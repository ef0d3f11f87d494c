"""The peer manager: listens, dials, handshakes, answers and relays (SPEC §6).

It talks to the chain only through the node facade (`process_headers`, `process_block`,
`submit_transaction`, `headers_after`, `missing_blocks`, ...) and relays only what the node
announced through its events (`TxAccepted`, `TipChanged`): nothing unvalidated leaves here.
Per-message behaviour is the explicit `_handlers` table. Misbehaviour bans (see
`addrman.ban_key` for what a ban names); refusals (other network, ourselves, full) disconnect
and are listed in `peer_info()` with their reason.

Lifecycle: `pm = PeerManager(node); await pm.start(); ...; await pm.stop()`. `start` sets
`node.network = pm`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.http11 import Request, Response

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.pow import block_work
from powchain.core.block import BlockHeader
from powchain.core.hashing import hash_to_hex
from powchain.core.params import genesis_block
from powchain.node.chainstate import IndexEntry
from powchain.node.events import TipChanged, TxAccepted

from . import messages as m
from .addrman import AddrMan, ban_key, is_loopback
from .peer import WS_MAX_SIZE, KnownSet, Misbehaving, Peer, PeerGone, Refused
from .presync import Presync, Progress
from .sync import DOWNLOAD_WINDOW, BlockDownload, continuation_locator

__all__ = ["PeerManager", "USER_AGENT", "parse_hostport"]

log = logging.getLogger("powchain.p2p")

USER_AGENT = "/powchain:0.1.0/"
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0
MAX_REFUSED_SHOWN = 50
REQUEST_INTERVAL = 2.0
"""Seconds between sweeps that hand missing block bodies to peers with free slots."""
LOW_WORK_FORK_DEPTH = 144
"""A complete header branch (fewer than MAX_HEADERS headers) that forks more than this many
blocks below our tip and ends with less work than our tip is ignored, not indexed (anti-DoS:
regtest- or genesis-era proof of work is cheap, so such headers could fill memory and disk)."""
FUTURE_RETRY = 10.0
"""Seconds before asking a peer again for headers we refused only for being in the future."""


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """'host:port' or 'host' -> (host, port). ValueError on a bad port."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    value = int(port)
    if not 0 < value < 65536:
        raise ValueError(f"bad port in {text!r}")
    return host.strip("[]"), value


@dataclass
class _Backoff:
    """Reconnection schedule of one outbound target (monotonic seconds)."""

    delay: float = BACKOFF_START
    next_try: float = 0.0

    def failed(self, now: float) -> None:
        self.next_try = now + self.delay
        self.delay = min(self.delay * 2, BACKOFF_MAX)

    def succeeded(self, now: float) -> None:
        self.delay = BACKOFF_START
        self.next_try = now + BACKOFF_START


class PeerManager:
    """All peer connections of one node.

    `tick`: housekeeping period (s); `block_timeout` (default: config.block_timeout, 30 s): a
    getdata for a block older than this counts as a stall (the peer is dropped and the block
    asked of another peer).
    """

    def __init__(self, node: Any, *, tick: float = 1.0, block_timeout: float | None = None) -> None:
        self.node = node
        self.params = node.params
        self.tick = tick
        if block_timeout is None:
            block_timeout = float(self._cfg("block_timeout", 30.0))
        self.block_timeout = block_timeout
        self.peers: list[Peer] = []
        self.listen_port = 0
        self.download = BlockDownload()
        self.addrman: AddrMan | None = None
        self._refused: deque[dict[str, object]] = deque(maxlen=MAX_REFUSED_SHOWN)
        self._nonce = secrets.randbits(64)
        self._genesis = genesis_block(node.params).hash
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._targets: dict[tuple[str, int], _Backoff] = {}
        self._persistent: set[tuple[str, int]] = set()
        self._dialing: set[tuple[str, int]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._lacks: dict[int, set[bytes]] = {}
        # txids rejected since the last tip change: not downloaded again (Core: recentRejects)
        self._rejected_txs = KnownSet(20_000)
        self._last_request = 0.0
        self._future_retry: set[int] = set()  # id(peer) with a headers retry scheduled
        self._presync: dict[int, Presync] = {}  # id(peer) -> its low-work chain, followed
        self._redownload: dict[int, int] = {}  # id(peer) -> headers it may still have indexed
        self._handlers: dict[type, Callable[[Peer, Any], Any]] = {
            m.Version: self._on_late_handshake,
            m.Verack: self._on_late_handshake,
            m.Ping: self._on_ping,
            m.Pong: self._on_pong,
            m.GetAddr: self._on_getaddr,
            m.Addr: self._on_addr,
            m.Inv: self._on_inv,
            m.GetData: self._on_getdata,
            m.NotFound: self._on_notfound,
            m.GetHeaders: self._on_getheaders,
            m.Headers: self._on_headers,
            m.BlockMsg: self._on_block,
            m.TxMsg: self._on_tx,
            m.MempoolMsg: self._on_mempool,
        }

    # -- configuration --------------------------------------------------------------

    def _cfg(self, name: str, default: Any) -> Any:
        return getattr(self.node.config, name, default)

    def _now(self) -> int:
        return int(self.node.now())

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the address book (node.db must be open), listen unless config.listen is
        False, dial configured peers, subscribe to node events."""
        self.addrman = AddrMan(self.node.db)
        if self._cfg("listen", True):
            self._server = await serve(
                self._on_inbound,
                self._cfg("p2p_host", "127.0.0.1"),
                self._cfg("p2p_port", self.params.p2p_port),
                max_size=WS_MAX_SIZE,
                compression=None,
                ping_interval=None,
                process_request=self._plain_http,
            )
            self.listen_port = self._server.sockets[0].getsockname()[1]
            log.info("p2p listening on port %d", self.listen_port)
        for text in self._cfg("connect", []) or []:
            target = parse_hostport(text, self.params.p2p_port)
            self._persistent.add(target)
            self._targets[target] = _Backoff()
        self._unsubscribe = self.node.events.subscribe(self._on_event)
        self._spawn(self._maintain())
        self.node.network = self

    async def stop(self) -> None:
        """Disconnect every peer, stop listening and close the address book."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in list(self._tasks):
            task.cancel()
        for peer in list(self.peers):
            await peer.aclose(1001, "shutting down")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.addrman = None  # the node owns (and closes) its database
        if getattr(self.node, "network", None) is self:
            self.node.network = None

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- public API (node.network) ---------------------------------------------------

    def peer_info(self) -> list[dict[str, object]]:
        """Connected peers (`connected: True`), then recently refused ones with `reason`."""
        return [p.info() for p in self.peers if p.ready] + list(self._refused)

    def connected_count(self) -> int:
        return sum(1 for p in self.peers if p.ready)

    def ban_list(self) -> list[dict[str, object]]:
        """Active bans: `address` (ban key), `banned_at`, `until`, `reason`."""
        return [] if self.addrman is None else self.addrman.bans(self._now())

    def unban(self, address: str) -> bool:
        return self.addrman is not None and self.addrman.unban(address)

    async def connect(self, host: str, port: int) -> dict[str, object]:
        """Dial host:port now and keep it connected (reconnecting with backoff).

        Returns the peer's `peer_info` row once the handshake completes; raises
        ConnectionError with the reason when the connection or handshake fails.
        """
        target = (host, port)
        self._persistent.add(target)
        backoff = self._targets.setdefault(target, _Backoff())
        for peer in self.peers:
            if peer.ready and peer.direction == "outbound" and (peer.host, peer.port) == target:
                return peer.info()
        ready: asyncio.Future[Peer] = asyncio.get_running_loop().create_future()
        backoff.next_try = time.monotonic() + 3600  # the maintenance loop must not race us
        self._spawn(self._dial(target, ready))
        peer = await ready
        return peer.info()

    # -- connections ------------------------------------------------------------------

    async def _on_inbound(self, ws: ServerConnection) -> None:
        host, port = ws.remote_address[:2]
        peer = Peer(ws, host, port, "inbound", self._now())
        inbound = sum(1 for p in self.peers if p.direction == "inbound")
        if inbound >= self._cfg("max_inbound", 32):
            self._record_refused(peer, "inbound-slots-full")
            await peer.aclose(1013, "inbound slots full")
            return
        assert self.addrman is not None
        if not is_loopback(host) and self.addrman.is_banned(host, self._now()):
            self._record_refused(peer, "banned")
            await peer.aclose(1008, "banned")
            return
        await self._run(peer, None)

    def _plain_http(self, connection: ServerConnection, request: Request) -> Response | None:
        """A request that is not a WebSocket upgrade (curl, a browser, `powchain --node` given
        this port) gets 426 with one line saying what this port is and where the API is."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        host = str(self._cfg("api_host", "127.0.0.1"))
        if host in ("0.0.0.0", "::", ""):
            host = request.headers.get("Host", "127.0.0.1").rpartition(":")[0] or "127.0.0.1"
        api = f"http://{host}:{self._cfg('api_port', self.params.api_port)}"
        text = f"this is the P2P port of a powchain node ({self.params.name}); its API is {api}\n"
        return connection.respond(HTTPStatus.UPGRADE_REQUIRED, text)

    async def _dial(self, target: tuple[str, int], ready: asyncio.Future[Peer] | None) -> None:
        host, port = target
        self._dialing.add(target)
        backoff = self._targets.setdefault(target, _Backoff())
        try:
            peer = await self._open(host, port)
        except InvalidStatus as exc:  # an HTTP server that is not a peer (e.g. a REST API)
            status = exc.response.status_code
            reason = (
                f"not-a-p2p-port: {host}:{port} answered HTTP {status}, not a WebSocket "
                "handshake (is it a node's REST API? `powchain status` shows its p2p_port)"
            )
            self._dial_failed(target, backoff, reason, ready)
            return
        except (OSError, TimeoutError, WebSocketException, Refused) as exc:
            reason = getattr(exc, "reason", None) or f"connect-failed: {exc!r}"
            self._dial_failed(target, backoff, reason, ready)
            return
        finally:
            self._dialing.discard(target)
        self._dialing.add(target)
        try:
            await self._run(peer, ready)
        finally:
            self._dialing.discard(target)
            if peer.ready:
                backoff.succeeded(time.monotonic())
            else:
                backoff.failed(time.monotonic())

    def _dial_failed(
        self,
        target: tuple[str, int],
        backoff: _Backoff,
        reason: str,
        ready: asyncio.Future[Peer] | None,
    ) -> None:
        host, port = target
        log.info("cannot connect to %s:%d: %s", host, port, reason)
        backoff.failed(time.monotonic())
        if self.addrman is not None:
            self.addrman.mark_failed(host, port)
        if ready is not None and not ready.done():
            ready.set_exception(ConnectionError(reason))

    async def _open(self, host: str, port: int) -> Peer:
        assert self.addrman is not None
        if self.addrman.is_banned(ban_key(host, port), self._now()):
            raise Refused("banned")
        ws = await ws_connect(
            f"ws://{host}:{port}/",
            max_size=WS_MAX_SIZE,
            compression=None,
            ping_interval=None,
            open_timeout=self._cfg("handshake_timeout", 60),
        )
        return Peer(ws, host, port, "outbound", self._now())

    async def _run(self, peer: Peer, ready: asyncio.Future[Peer] | None) -> None:
        """Handshake, then read and handle messages until the connection ends."""
        self.peers.append(peer)
        writer = self._spawn(peer.writer())
        close_code, reason = 1000, "closed"
        try:
            await peer.handshake(self._version(), peer_check(self, peer), self._handshake_timeout())
            self._on_ready(peer)
            if ready is not None and not ready.done():
                ready.set_result(peer)
            while True:
                message = await peer.recv()
                await self._dispatch(peer, message)
        except Misbehaving as exc:
            close_code, reason = 1008, exc.reason
            self._punish(peer, exc.reason)
        except Refused as exc:
            close_code, reason = 1008, exc.reason
            self._record_refused(peer, exc.reason)
            if exc.reason == "self-connection" and peer.direction == "outbound":
                self._forget_self(peer.host, peer.port)
        except TimeoutError:
            reason = "handshake-timeout"
            self._record_refused(peer, reason)
        except PeerGone:
            reason = "peer-closed"
        finally:
            self._forget(peer)
            writer.cancel()
            await peer.aclose(close_code, reason)
            if ready is not None and not ready.done():
                ready.set_exception(ConnectionError(reason))
            log.info("disconnected %s %s: %s", peer.direction, peer.address, reason)

    def _forget_self(self, host: str, port: int) -> None:
        """host:port is ourselves: never dial it again (even if configured)."""
        if self.addrman is not None:
            self.addrman.forget(host, port)
        self._persistent.discard((host, port))
        self._targets.pop((host, port), None)

    def _handshake_timeout(self) -> float:
        return float(self._cfg("handshake_timeout", 60))

    def _forget(self, peer: Peer) -> None:
        if peer in self.peers:
            self.peers.remove(peer)
        self._lacks.pop(id(peer), None)
        self._presync.pop(id(peer), None)
        self._redownload.pop(id(peer), None)
        self.download.forget_peer(peer)
        if peer.ready:
            self._request_blocks()

    def _version(self) -> m.Version:
        tip = self.node.tip
        return m.Version(
            protocol_version=m.PROTOCOL_VERSION,
            network=self.params.name,
            magic=self.params.magic,
            chain_id=self.params.chain_id,
            genesis=self._genesis,
            best_height=tip.height if tip is not None else 0,
            user_agent=USER_AGENT,
            listen_port=self.listen_port,
            nonce=self._nonce,
        )

    def check_version(self, peer: Peer, version: m.Version) -> None:
        """Refuse ourselves, other networks and (on loopback) banned listen addresses."""
        if version.nonce == self._nonce:
            raise Refused("self-connection")
        params = self.params
        if (
            version.genesis != self._genesis
            or version.chain_id != params.chain_id
            or version.magic != params.magic
        ):
            raise Refused(
                f"wrong-network: peer is on network {version.network!r} "
                f"(magic {version.magic.hex()}, genesis {hash_to_hex(version.genesis)}), "
                f"we are on {params.name!r} "
                f"(magic {params.magic.hex()}, genesis {hash_to_hex(self._genesis)})"
            )
        if version.protocol_version < m.PROTOCOL_VERSION:
            raise Refused(f"obsolete-protocol-version {version.protocol_version}")
        assert self.addrman is not None
        key = ban_key(peer.host, version.listen_port or peer.port)
        if peer.direction == "inbound" and self.addrman.is_banned(key, self._now()):
            raise Refused("banned")

    def _on_ready(self, peer: Peer) -> None:
        assert self.addrman is not None
        log.info("connected %s %s (%s)", peer.direction, peer.address, peer.user_agent)
        now = self._now()
        if peer.direction == "outbound":
            self.addrman.mark_good(peer.host, peer.port, now)
            peer.push(m.GetAddr())
        elif peer.listen_port:
            self.addrman.add([m.NetAddress(peer.host, peer.listen_port, now)])
        peer.ping_sent = time.monotonic()
        self._send_getheaders(peer, tuple(self.node.block_locator()))

    def _send_getheaders(self, peer: Peer, locator: tuple[bytes, ...]) -> None:
        peer.push(m.GetHeaders(locator[: m.MAX_LOCATOR]))

    def _punish(self, peer: Peer, reason: str) -> None:
        """Ban the peer for config.ban_seconds (24 h by default) and record why.

        Devnet peers on loopback are only disconnected (see `never_ban`): they are our own
        local nodes, and a ban of one (persisted for 24 h) outlives whatever a restart or a
        mix-up of datadirs made it send."""
        if never_ban(self.params.name, peer.host):
            log.warning("disconnected devnet peer %s (not banned): %s", peer.address, reason)
            self._record_refused(peer, f"disconnected: {reason}")
            return
        seconds = int(self._cfg("ban_seconds", 86_400))
        assert self.addrman is not None
        self.addrman.ban(peer.ban_key, self._now(), seconds, reason)
        log.warning("banned %s (%s) for %d s: %s", peer.address, peer.ban_key, seconds, reason)
        self._record_refused(peer, f"banned: {reason}")

    def _record_refused(self, peer: Peer, reason: str) -> None:
        log.info("refused %s %s: %s", peer.direction, peer.address, reason)
        self._refused.append(
            {
                "address": peer.address,
                "direction": peer.direction,
                "connected": False,
                "reason": reason,
                "user_agent": peer.user_agent,
                "at": self._now(),
            }
        )

    # -- message handlers --------------------------------------------------------------

    async def _dispatch(self, peer: Peer, message: Any) -> None:
        result = self._handlers[type(message)](peer, message)
        if inspect.isawaitable(result):
            await result

    def _on_late_handshake(self, peer: Peer, message: Any) -> None:
        raise Misbehaving(f"duplicate-{type(message).__name__.lower()}")

    def _on_ping(self, peer: Peer, message: m.Ping) -> None:
        peer.push(m.Pong(message.nonce))

    def _on_pong(self, peer: Peer, message: m.Pong) -> None:
        if peer.ping_nonce is not None and message.nonce == peer.ping_nonce:
            peer.ping_ms = (time.monotonic() - peer.ping_sent) * 1000
            peer.ping_nonce = None

    def _on_getaddr(self, peer: Peer, message: m.GetAddr) -> None:
        assert self.addrman is not None
        peer.push(m.Addr(tuple(self.addrman.sample())))

    def _on_addr(self, peer: Peer, message: m.Addr) -> None:
        assert self.addrman is not None
        now = self._now()
        # a peer cannot date an address in our future
        self.addrman.add(
            [m.NetAddress(a.host, a.port, min(a.last_seen, now)) for a in message.addresses]
        )

    def _on_inv(self, peer: Peer, message: m.Inv) -> None:
        wanted: list[m.InvItem] = []
        announces_block = False
        for item in message.items:
            if item.type == m.InvType.TX:
                peer.known_txs.add(item.hash)
                if item.hash not in self._rejected_txs and self.node.mempool.get(item.hash) is None:
                    wanted.append(item)
            else:
                peer.known_blocks.add(item.hash)
                announces_block = announces_block or self.node.entry(item.hash) is None
        if wanted:
            peer.push(m.GetData(tuple(wanted)))
        if announces_block:
            self._send_getheaders(peer, tuple(self.node.block_locator()))

    async def _on_getdata(self, peer: Peer, message: m.GetData) -> None:
        missing: list[m.InvItem] = []
        for item in message.items:
            if item.type == m.InvType.BLOCK:
                # the stored bytes as they are: no parse and re-serialize of a 1 MB body
                raw = await _maybe_await(self.node.get_block_raw(item.hash))
                if raw is None:
                    missing.append(item)
                else:
                    peer.push_frame(m.encode_block_raw(raw))
                    self._peer_has(peer, item.hash)
            else:
                tx = self.node.mempool.get(item.hash)
                if tx is None:
                    missing.append(item)
                else:
                    peer.push(m.TxMsg(tx))
        if missing:
            peer.push(m.NotFound(tuple(missing)))

    def _on_notfound(self, peer: Peer, message: m.NotFound) -> None:
        blocks = [i.hash for i in message.items if i.type == m.InvType.BLOCK]
        if blocks:
            self.download.release(blocks, peer)
            self._lacks.setdefault(id(peer), set()).update(blocks)
            self._request_blocks()

    def _peer_has(self, peer: Peer, block_hash: bytes) -> None:
        """The peer has (or is being sent) this block: its height counts as the peer's
        (Core: synced_blocks). A peer we announce to never announces back, and kept the
        height of its handshake in the peers table otherwise."""
        entry = self.node.entry(block_hash)
        if entry is not None:
            peer.best_height = max(peer.best_height, entry.height)

    def _on_getheaders(self, peer: Peer, message: m.GetHeaders) -> None:
        if message.locator:  # the first locator hash is the peer's tip
            self._peer_has(peer, message.locator[0])
        headers = self.node.headers_after(list(message.locator), message.stop, m.MAX_HEADERS)
        peer.push(m.Headers(tuple(headers)[: m.MAX_HEADERS]))

    async def _on_headers(self, peer: Peer, message: m.Headers) -> None:
        headers = message.headers
        if not headers:
            return
        for header in headers:
            peer.known_blocks.add(header.hash)
        if self._presync_headers(peer, headers, full=len(headers) == m.MAX_HEADERS):
            return
        try:
            await _maybe_await(self.node.process_headers(list(headers)))
        except Rejected as exc:
            self._on_rejected(peer, exc, "header")
            return
        last = self.node.entry(headers[-1].hash)
        if last is not None:
            peer.best_height = max(peer.best_height, last.height)
        if len(headers) == m.MAX_HEADERS:
            locator = continuation_locator(headers[-1].hash, self.node.block_locator())
            self._send_getheaders(peer, locator)
        self._request_blocks(first=peer)

    async def _on_block(self, peer: Peer, message: m.BlockMsg) -> None:
        block = message.block
        peer.blocks_received += 1
        self.download.received(block.hash)
        peer.known_blocks.add(block.hash)
        if self._low_work_fork((block.header,)) is not None:
            log.info("ignored a low-work side-chain block from %s", peer.address)
            return
        size, parse_seconds = peer.last_decode
        started = time.perf_counter()
        try:
            await _maybe_await(self.node.process_block(block))
        except Rejected as exc:
            self._on_rejected(peer, exc, "block")
        else:
            log.info(
                "block %s (%d bytes, %d txs) from %s: parsed in %.1f ms, accepted in %.1f ms",
                block.header.hash_hex,
                size - 1,  # the frame's command byte
                len(block.txs),
                peer.address,
                parse_seconds * 1000,
                (time.perf_counter() - started) * 1000,
            )
        self._request_blocks(first=peer, refill=True)

    def _presync_headers(self, peer: Peer, headers: Sequence[BlockHeader], full: bool) -> bool:
        """Handle `headers` of a low-work branch without indexing them; False when they are
        for `process_headers`. A complete low-work branch (fewer than MAX_HEADERS) is ignored;
        a full message starts or continues a presync (p2p/presync.py) that asks the peer for
        more until its chain proves our tip's work or ends; a proven chain is asked for again
        from the fork and indexed. Raises Misbehaving for a presync header that does not link
        or lacks its claimed work."""
        key = id(peer)
        presync = self._presync.get(key)
        if presync is not None and presync.follows(headers):
            return self._presync_step(peer, presync, headers, full)
        self._presync.pop(key, None)
        budget = self._redownload.get(key, 0)
        if budget > 0:  # this peer proved the work: index (full header validation applies)
            self._redownload[key] = budget - len(headers)
            return False
        fork = self._low_work_fork(headers)
        if fork is None:
            return False
        if not full:
            log.info("ignored %d low-work side-chain headers from %s", len(headers), peer.address)
            return True
        parent, new = fork
        tip_work = self.node.tip.chainwork
        presync = Presync.start(parent.hash, parent.height, parent.chainwork, tip_work)
        self._presync[key] = presync
        return self._presync_step(peer, presync, new, full)

    def _presync_step(
        self, peer: Peer, presync: Presync, headers: Sequence[BlockHeader], full: bool
    ) -> bool:
        key = id(peer)
        try:
            progress = presync.feed(headers, self.params, full)
        except Rejected as exc:
            self._presync.pop(key, None)
            self._on_rejected(peer, exc, "header")
            return True
        if progress is Progress.MORE:
            locator = continuation_locator(presync.last_hash, self.node.block_locator())
            self._send_getheaders(peer, locator)
        elif progress is Progress.LOW_WORK:
            del self._presync[key]
            log.info(
                "ignored a low-work side chain of %d headers from %s", presync.count, peer.address
            )
        else:
            del self._presync[key]
            self._redownload[key] = presync.count + m.MAX_HEADERS
            log.info("%s proved %d headers of work; downloading them", peer.address, presync.count)
            locator = continuation_locator(presync.fork_hash, self.node.block_locator())
            self._send_getheaders(peer, locator)
        return True

    def _low_work_fork(
        self, headers: Sequence[BlockHeader]
    ) -> tuple[IndexEntry, list[BlockHeader]] | None:
        """(indexed parent, headers we do not know yet) when those extend a branch that
        forks more than LOW_WORK_FORK_DEPTH blocks below our tip and end with less work than
        our tip; else None. Such a branch is not indexed (Core bounds it with header presync
        and minimum chain work). The work counted is what the bits claim; a header claiming
        more than it proves is rejected (and banned) by validation or by the presync."""
        new = [h for h in headers if self.node.entry(h.hash) is None]
        if not new:
            return None
        parent = self.node.entry(new[0].prev_block)
        if parent is None:
            return None  # validation answers MISSING_PARENT
        tip = self.node.tip
        if parent.chainwork + sum(block_work(h.bits) for h in new) >= tip.chainwork:
            return None
        fork = parent
        while fork is not None and not self.node.in_active_chain(fork):
            fork = fork.prev
        deep = fork is not None and tip.height - fork.height > LOW_WORK_FORK_DEPTH
        return (parent, new) if deep else None

    def _on_rejected(self, peer: Peer, exc: Rejected, what: str) -> None:
        """Map a rejection kind to an action: ban, ask for the parent, or ignore."""
        if exc.kind is Kind.CONSENSUS:
            raise Misbehaving(f"invalid-{what}: {exc.reason}")
        if exc.kind is Kind.MISSING_PARENT:
            self._send_getheaders(peer, tuple(self.node.block_locator()))
        elif exc.kind is Kind.TIME_FUTURE:
            self._retry_future(peer)
        else:
            log.debug("%s from %s not accepted: %r", what, peer.address, exc)

    def _retry_future(self, peer: Peer) -> None:
        """Ask `peer` for headers again in FUTURE_RETRY s: a block refused only for its future
        time is not remembered (SPEC §4) and becomes valid as our clock advances, but its peer
        may never announce it again (the tip of a skewed miner)."""
        if id(peer) in self._future_retry:
            return
        self._future_retry.add(id(peer))

        def fire() -> None:
            self._future_retry.discard(id(peer))
            if peer in self.peers and peer.ready and not peer.closing:
                self._send_getheaders(peer, tuple(self.node.block_locator()))

        asyncio.get_running_loop().call_later(FUTURE_RETRY, fire)

    async def _on_tx(self, peer: Peer, message: m.TxMsg) -> None:
        tx = message.tx
        peer.txs_received += 1
        peer.known_txs.add(tx.txid)
        if self.node.mempool.get(tx.txid) is not None:
            return
        try:
            await _maybe_await(self.node.submit_transaction(tx))
        except Rejected as exc:
            # not a ban: a valid tx can fail against our state (nonce race, reorg)
            self._rejected_txs.add(tx.txid)
            log.debug("tx %s from %s not accepted: %r", hash_to_hex(tx.txid), peer.address, exc)

    def _on_mempool(self, peer: Peer, message: m.MempoolMsg) -> None:
        txids = [tx.txid for tx in self.node.mempool.txs()]
        for start in range(0, len(txids), m.MAX_INV_ITEMS):
            chunk = txids[start : start + m.MAX_INV_ITEMS]
            for txid in chunk:
                peer.known_txs.add(txid)
            peer.push(m.Inv(tuple(m.InvItem(m.InvType.TX, t) for t in chunk)))

    # -- block download ----------------------------------------------------------------

    def _request_blocks(self, first: Peer | None = None, *, refill: bool = False) -> None:
        """Spread getdata for missing bodies (window beyond the tip) over ready peers.

        `refill` (after each block during a download): only when a peer ahead of our tip has
        at most half its request slots in use, so requests go out in batches of at least
        half a window instead of one walk of the header chain per block received (that
        walk is O(headers ahead of the tip): per block it made a 5,000-block sync cost 1.4x
        per block what a 1,000-block sync did).
        """
        if refill and not self._has_free_half():
            return
        tip = self.node.tip
        tip_height = tip.height if tip is not None else 0
        missing: list[tuple[bytes, int]] = []
        for block_hash in self.node.missing_blocks(DOWNLOAD_WINDOW):
            entry = self.node.entry(block_hash)
            if entry is not None and entry.height <= tip_height + DOWNLOAD_WINDOW:
                missing.append((block_hash, entry.height))
        if not missing:
            return
        peers = [p for p in self.peers if p.ready]
        if first is not None and first in peers:
            peers.remove(first)
            peers.insert(0, first)
        now = time.monotonic()
        for peer in peers:
            lacks = self._lacks.get(id(peer), set())
            offer = [h for h, height in missing if height <= peer.best_height and h not in lacks]
            chosen = self.download.assign(peer, offer, now)
            if chosen:
                peer.push(m.GetData(tuple(m.InvItem(m.InvType.BLOCK, h) for h in chosen)))

    def _has_free_half(self) -> bool:
        """True when a ready peer ahead of our tip has at most half its slots in flight."""
        tip = self.node.tip
        height = tip.height if tip is not None else 0
        half = self.download.per_peer // 2
        return any(
            self.download.count(p) <= half for p in self.peers if p.ready and p.best_height > height
        )

    # -- relay (from node events only) ---------------------------------------------------

    def _on_event(self, event: object) -> None:
        if isinstance(event, TxAccepted):
            self._relay_tx(event.tx.txid)
        elif isinstance(event, TipChanged):
            self._rejected_txs = KnownSet(20_000)  # the new tip may make them valid
            self._announce_block(event.hash)
            self._request_blocks(refill=True)

    def _relay_tx(self, txid: bytes) -> None:
        item = m.InvItem(m.InvType.TX, txid)
        for peer in self.peers:
            if peer.ready and txid not in peer.known_txs:
                peer.known_txs.add(txid)
                peer.push(m.Inv((item,)))

    def _announce_block(self, block_hash: bytes) -> None:
        entry = self.node.entry(block_hash)
        if entry is None:
            return
        for peer in self.peers:
            if peer.ready and block_hash not in peer.known_blocks:
                peer.known_blocks.add(block_hash)
                peer.push(m.Headers((entry.header,)))

    # -- housekeeping ------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Every `tick`: pings, idle and stall timeouts, outbound dialing."""
        while True:
            now = time.monotonic()
            self._check_liveness(now)
            self._check_stalls(now)
            self._dial_targets(now)
            if now - self._last_request >= REQUEST_INTERVAL:
                # insurance: events drive downloads, this catches what they missed
                self._last_request = now
                self._request_blocks()
            await asyncio.sleep(self.tick)

    def _check_liveness(self, now: float) -> None:
        idle = float(self._cfg("idle_timeout", 1200))
        interval = float(self._cfg("ping_interval", 120))
        for peer in list(self.peers):
            if not peer.ready or peer.closing:
                continue
            if now - peer.last_recv > idle:
                log.info("peer %s idle for %.0f s", peer.address, now - peer.last_recv)
                self._spawn(peer.aclose(1000, "idle-timeout"))
            elif peer.ping_nonce is None and now - peer.ping_sent >= interval:
                peer.ping_nonce = secrets.randbits(64)
                peer.ping_sent = now
                peer.push(m.Ping(peer.ping_nonce))

    def _check_stalls(self, now: float) -> None:
        stalled = self.download.expire(now, self.block_timeout)
        for peer in stalled:
            if isinstance(peer, Peer) and not peer.closing:
                log.info("peer %s stalled block download; disconnecting", peer.address)
                self._spawn(peer.aclose(1000, "stalled"))
        if stalled:
            self._request_blocks()

    def _dial_targets(self, now: float) -> None:
        if self.addrman is None:
            return
        outbound = {(p.host, p.port) for p in self.peers if p.direction == "outbound"}
        slots = int(self._cfg("max_outbound", 8)) - len(outbound | self._dialing)
        # a peer already connected to us inbound is not dialed again
        busy = outbound | self._dialing | {(p.host, p.listen_port) for p in self.peers}
        for target in sorted(self._persistent):
            backoff = self._targets[target]
            if target not in busy and backoff.next_try <= now:
                self._spawn(self._dial(target, None))
                slots -= 1
        if self._cfg("connect", []) or slots <= 0:
            return
        for target in self.addrman.candidates(slots * 2):
            if slots <= 0:
                break
            if target in busy or self._is_self(target):
                continue
            backoff = self._targets.setdefault(target, _Backoff())
            if backoff.next_try <= now:
                self._spawn(self._dial(target, None))
                slots -= 1

    def _is_self(self, target: tuple[str, int]) -> bool:
        return is_loopback(target[0]) and target[1] == self.listen_port


NEVER_BAN_NETWORKS = frozenset({"devnet"})
"""Networks whose loopback peers are disconnected for misbehaviour, never banned."""


def never_ban(network: str, host: str) -> bool:
    """True for a loopback peer of a local devnet (`powchain devnet` runs every node there)."""
    return network in NEVER_BAN_NETWORKS and is_loopback(host)


def peer_check(manager: PeerManager, peer: Peer) -> Callable[[m.Version], None]:
    """The handshake's version check bound to one peer."""
    return lambda version: manager.check_version(peer, version)


async def _maybe_await(value: Any) -> Any:
    """Node methods are plain calls; accept coroutines too so the facade may become async."""
    if inspect.isawaitable(value):
        return await value
    return value
