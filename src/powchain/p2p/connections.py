"""Connections: listen, dial with backoff, handshake, the read loop, bans and refusals,
liveness (ping/idle), outbound slots and the address book's `addr` messages (SPEC §6).

Every connection runs `Connections.run`: the handshake, then each message through the
manager's registry (`PeerManager.dispatch`) until it ends. How it ends is decided here and
only here: `Misbehaving` bans (`punish`), `Refused` disconnects and is listed with its reason,
the peer closing is just a disconnect.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.http11 import Request, Response

from powchain.core.hashing import hash_to_hex
from powchain.core.params import ChainParams

from . import messages as m
from .addrman import ban_key, inbound_ban_key, is_loopback
from .component import Component, Handler
from .eviction import Candidate, netgroup, select_victim
from .peer import WS_MAX_QUEUE, WS_MAX_SIZE, Misbehaving, Peer, PeerGone, Refused

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["Connections", "USER_AGENT", "parse_hostport"]

log = logging.getLogger("powchain.p2p")

USER_AGENT = "/powchain:0.1.0/"
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0
MAX_REFUSED_SHOWN = 50
MAX_INBOUND_PER_HOST = 4
"""Inbound connections one address may hold (config.max_inbound_per_host; not on loopback)."""


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
class Backoff:
    """Reconnection schedule of one outbound target (monotonic seconds)."""

    delay: float = BACKOFF_START
    next_try: float = 0.0

    def failed(self, now: float) -> None:
        self.next_try = now + self.delay
        self.delay = min(self.delay * 2, BACKOFF_MAX)

    def succeeded(self, now: float) -> None:
        self.delay = BACKOFF_START
        self.next_try = now + BACKOFF_START


class Connections(Component):
    """Who we are connected to, and how each connection starts and ends."""

    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)
        self.refused: deque[dict[str, object]] = deque(maxlen=MAX_REFUSED_SHOWN)
        self.nonce = secrets.randbits(64)
        self.targets: dict[tuple[str, int], Backoff] = {}
        self.persistent: set[tuple[str, int]] = set()
        self.dialing: set[tuple[str, int]] = set()

    def handlers(self) -> dict[type, Handler]:
        return {
            m.Version: self.on_late_handshake,
            m.Verack: self.on_late_handshake,
            m.Pong: self.on_pong,
            m.Addr: self.on_addr,
        }

    def add_configured(self, texts: list[str]) -> None:
        """`--connect` targets: dialed and kept connected."""
        for text in texts:
            target = parse_hostport(text, self.params.p2p_port)
            self.persistent.add(target)
            self.targets[target] = Backoff()

    # -- starting connections -----------------------------------------------------------

    async def on_inbound(self, ws: ServerConnection) -> None:
        pm = self.pm
        host, port = ws.remote_address[:2]
        peer = Peer(ws, host, port, "inbound", pm.now())
        assert pm.addrman is not None
        if not is_loopback(host) and pm.addrman.is_banned(host, pm.now()):
            self.record_refused(peer, "banned")
            await peer.aclose(1008, "banned")
            return
        refusal = self.inbound_slot(host)
        if refusal is not None:
            self.record_refused(peer, refusal)
            await peer.aclose(1013, refusal)
            return
        await self.run(peer, None)

    def inbound_slot(self, host: str) -> str | None:
        """Make room for an inbound peer from `host`: None when it may connect (an inbound
        peer may have been evicted for it, p2p/eviction.py), else the refusal reason.
        At most `max_inbound_per_host` (4) inbound peers per address, loopback excepted
        (every local process shares 127.0.0.1)."""
        pm = self.pm
        inbound = [p for p in pm.peers if p.direction == "inbound" and not p.closing]
        per_host = int(pm.cfg("max_inbound_per_host", MAX_INBOUND_PER_HOST))
        if not is_loopback(host) and sum(1 for p in inbound if p.host == host) >= per_host:
            return "inbound-per-address-limit"
        if len(inbound) < int(pm.cfg("max_inbound", 32)):
            return None
        victim = select_victim([candidate(p) for p in inbound])
        if not isinstance(victim, Peer):
            return "inbound-slots-full"
        log.info("evicting inbound %s for a newcomer from %s", victim.address, host)
        self.record_refused(victim, "evicted")
        victim.close()  # not counted from now on; the socket closes below
        pm.spawn(victim.aclose(1000, "evicted"))
        return None

    async def dial(self, target: tuple[str, int], ready: asyncio.Future[Peer] | None) -> None:
        host, port = target
        self.dialing.add(target)
        backoff = self.targets.setdefault(target, Backoff())
        try:
            peer = await self._open(host, port)
        except (OSError, TimeoutError, WebSocketException, Refused) as exc:
            reason = getattr(exc, "reason", None) or f"connect-failed: {exc!r}"
            if isinstance(exc, InvalidStatus):  # an HTTP server that is no peer (a REST API?)
                reason = not_a_p2p_port(host, port, exc.response.status_code)
            log.info("cannot connect to %s:%d: %s", host, port, reason)
            backoff.failed(time.monotonic())
            if self.pm.addrman is not None:
                self.pm.addrman.mark_failed(host, port)
            if ready is not None and not ready.done():
                ready.set_exception(ConnectionError(reason))
            return
        finally:
            self.dialing.discard(target)
        self.dialing.add(target)
        try:
            await self.run(peer, ready)
        finally:
            self.dialing.discard(target)
            if peer.ready:
                backoff.succeeded(time.monotonic())
            else:
                backoff.failed(time.monotonic())

    async def _open(self, host: str, port: int) -> Peer:
        pm = self.pm
        assert pm.addrman is not None
        if pm.addrman.is_banned(ban_key(host, port), pm.now()):
            raise Refused("banned")
        ws = await ws_connect(
            f"ws://{host}:{port}/",
            max_size=WS_MAX_SIZE,
            max_queue=WS_MAX_QUEUE,
            compression=None,
            ping_interval=None,
            open_timeout=self.handshake_timeout(),
        )
        return Peer(ws, host, port, "outbound", pm.now())

    # -- one connection's life ------------------------------------------------------------

    async def run(self, peer: Peer, ready: asyncio.Future[Peer] | None) -> None:
        """Handshake, then read and handle messages until the connection ends."""
        pm = self.pm
        peer.frame_limits = frame_limits(self.params)
        pm.peers.append(peer)
        writer = pm.spawn(peer.writer())
        close_code, reason = 1000, "closed"
        try:
            await peer.handshake(self.version(), peer_check(self, peer), self.handshake_timeout())
            self.on_ready(peer)
            if ready is not None and not ready.done():
                ready.set_result(peer)
            while True:
                message = await peer.recv()
                await pm.dispatch(peer, message)
        except Misbehaving as exc:
            close_code, reason = 1008, exc.reason
            self.punish(peer, exc.reason)
        except Refused as exc:
            close_code, reason = 1008, exc.reason
            self.record_refused(peer, exc.reason)
            if exc.reason == "self-connection" and peer.direction == "outbound":
                self.forget_self(peer.host, peer.port)
        except TimeoutError:
            reason = "handshake-timeout"
            self.record_refused(peer, reason)
        except PeerGone:
            reason = peer.drop_reason or "peer-closed"
            if peer.drop_reason is not None:
                self.record_refused(peer, peer.drop_reason)
        except Exception:  # the one broad catch: a bug ends this connection, never the node
            close_code, reason = 1011, "internal-error"
            log.exception("internal error serving %s %s", peer.direction, peer.address)
            self.record_refused(peer, reason)
        finally:
            pm.forget_peer(peer)
            writer.cancel()
            await peer.aclose(close_code, reason)
            if ready is not None and not ready.done():
                ready.set_exception(ConnectionError(reason))
            log.info("disconnected %s %s: %s", peer.direction, peer.address, reason)

    def forget_self(self, host: str, port: int) -> None:
        """host:port is ourselves: never dial it again (even if configured)."""
        if self.pm.addrman is not None:
            self.pm.addrman.forget(host, port)
        self.persistent.discard((host, port))
        self.targets.pop((host, port), None)

    def handshake_timeout(self) -> float:
        return float(self.pm.cfg("handshake_timeout", 60))

    def version(self) -> m.Version:
        tip = self.node.tip
        return m.Version(
            protocol_version=m.PROTOCOL_VERSION,
            network=self.params.name,
            magic=self.params.magic,
            chain_id=self.params.chain_id,
            genesis=self.pm.genesis,
            best_height=tip.height if tip is not None else 0,
            user_agent=USER_AGENT,
            listen_port=self.pm.listen_port,
            nonce=self.nonce,
        )

    def check_version(self, peer: Peer, version: m.Version) -> None:
        """Refuse ourselves, other networks and, on loopback, banned inbound peers (see
        p2p/addrman.py for what a loopback ban names)."""
        if version.nonce == self.nonce:
            raise Refused("self-connection")
        params, genesis = self.params, self.pm.genesis
        if (
            version.genesis != genesis
            or version.chain_id != params.chain_id
            or version.magic != params.magic
        ):
            raise Refused(
                f"wrong-network: peer is on network {version.network!r} "
                f"(magic {version.magic.hex()}, genesis {hash_to_hex(version.genesis)}), "
                f"we are on {params.name!r} "
                f"(magic {params.magic.hex()}, genesis {hash_to_hex(genesis)})"
            )
        if version.protocol_version < m.PROTOCOL_VERSION:
            raise Refused(f"obsolete-protocol-version {version.protocol_version}")
        book, now = self.pm.addrman, self.pm.now()
        assert book is not None
        if peer.direction == "inbound":
            keys = [inbound_ban_key(peer.host, peer.port, version.listen_port, version.nonce)]
            if version.listen_port:  # the listener it claims to be, if we banned that one
                keys.append(ban_key(peer.host, version.listen_port))
            if any(book.is_banned(key, now) for key in keys):
                raise Refused("banned")

    def on_ready(self, peer: Peer) -> None:
        pm = self.pm
        assert pm.addrman is not None
        log.info("connected %s %s (%s)", peer.direction, peer.address, peer.user_agent)
        now = pm.now()
        if peer.direction == "outbound":
            pm.addrman.mark_good(peer.host, peer.port, now)
            peer.push(m.GetAddr())
        elif peer.listen_port:
            pm.addrman.add([m.NetAddress(peer.host, peer.listen_port, now)], address_source(peer))
        peer.ping_sent = time.monotonic()
        pm.headersync.send_getheaders(peer, tuple(self.node.block_locator()))
        for component in pm.components:
            if component is not self:
                component.on_ready(peer)

    def punish(self, peer: Peer, reason: str) -> None:
        """Ban the peer for config.ban_seconds (24 h by default) and record why.

        Devnet peers on loopback are only disconnected (see `never_ban`): they are our own
        local nodes, and a ban of one (persisted for 24 h) outlives whatever a restart or a
        mix-up of datadirs made it send (issue 12)."""
        pm = self.pm
        if never_ban(pm.params.name, peer.host):
            log.warning("disconnected devnet peer %s (not banned): %s", peer.address, reason)
            self.record_refused(peer, f"disconnected: {reason}")
            return
        seconds = int(pm.cfg("ban_seconds", 86_400))
        assert pm.addrman is not None
        pm.addrman.ban(peer.ban_key, pm.now(), seconds, reason)
        log.warning("banned %s (%s) for %d s: %s", peer.address, peer.ban_key, seconds, reason)
        self.record_refused(peer, f"banned: {reason}")

    def record_refused(self, peer: Peer, reason: str) -> None:
        log.info("refused %s %s: %s", peer.direction, peer.address, reason)
        self.refused.append(
            {
                "address": peer.address,
                "direction": peer.direction,
                "connected": False,
                "reason": reason,
                "user_agent": peer.user_agent,
                "at": self.pm.now(),
            }
        )

    # -- message handlers -----------------------------------------------------------------

    def on_late_handshake(self, peer: Peer, message: object) -> None:
        raise Misbehaving(f"duplicate-{type(message).__name__.lower()}")

    def on_pong(self, peer: Peer, message: m.Pong) -> None:
        if peer.ping_nonce is not None and message.nonce == peer.ping_nonce:
            peer.ping_ms = (time.monotonic() - peer.ping_sent) * 1000
            peer.min_ping_ms = min(peer.ping_ms, peer.min_ping_ms or peer.ping_ms)
            peer.ping_nonce = None

    def on_addr(self, peer: Peer, message: m.Addr) -> None:
        """Into the address book's bucket of this peer's source (p2p/addrman.py): a flood
        of fresh addresses displaces only what the same source told us."""
        assert self.pm.addrman is not None
        now = self.pm.now()
        # a peer cannot date an address in our future
        self.pm.addrman.add(
            [m.NetAddress(a.host, a.port, min(a.last_seen, now)) for a in message.addresses],
            address_source(peer),
        )

    # -- housekeeping -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        self.check_liveness(now)
        self.dial_targets(now)

    def check_liveness(self, now: float) -> None:
        idle = float(self.pm.cfg("idle_timeout", 1200))
        interval = float(self.pm.cfg("ping_interval", 120))
        for peer in list(self.pm.peers):
            if not peer.ready or peer.closing:
                continue
            if now - peer.last_recv > idle:
                log.info("peer %s idle for %.0f s", peer.address, now - peer.last_recv)
                self.pm.spawn(peer.aclose(1000, "idle-timeout"))
            elif peer.ping_nonce is None and now - peer.ping_sent >= interval:
                peer.ping_nonce = secrets.randbits(64)
                peer.ping_sent = now
                peer.push(m.Ping(peer.ping_nonce))

    def dial_targets(self, now: float) -> None:
        pm = self.pm
        if pm.addrman is None:
            return
        outbound = {(p.host, p.port) for p in pm.peers if p.direction == "outbound"}
        slots = int(pm.cfg("max_outbound", 8)) - len(outbound | self.dialing)
        # a peer already connected to us inbound is not dialed again
        busy = outbound | self.dialing | {(p.host, p.listen_port) for p in pm.peers}
        for target in sorted(self.persistent):
            backoff = self.targets[target]
            if target not in busy and backoff.next_try <= now:
                pm.spawn(self.dial(target, None))
                slots -= 1
        if pm.cfg("connect", []) or slots <= 0:
            return
        for target in pm.addrman.candidates(slots * 2):
            if slots <= 0:
                break
            if target in busy or self.is_self(target):
                continue
            backoff = self.targets.setdefault(target, Backoff())
            if backoff.next_try <= now:
                pm.spawn(self.dial(target, None))
                slots -= 1

    def is_self(self, target: tuple[str, int]) -> bool:
        return is_loopback(target[0]) and target[1] == self.pm.listen_port


TX_OVERHEAD = 256
"""Bytes of a serialized transaction besides its data (fields, signature), rounded up."""


def frame_limits(params: ChainParams) -> dict[int, int]:
    """The largest `block` and `tx` frames `params` can make valid: larger ones are refused
    (a ban) before the parse, which for a 4 MiB frame of tiny transactions costs ~0.3 s."""
    return {
        m.Command.BLOCK: 1 + params.max_block_size,
        m.Command.TX: 1 + TX_OVERHEAD + params.max_tx_data,
        m.Command.PROPOSAL: 1 + 4 + params.max_block_size,  # round:u32 | block (issue 14)
    }


def address_source(peer: Peer) -> str:
    """The address-book source of what `peer` tells us: its network group, or on loopback
    (one group for every local process) its ban key, which names that node process."""
    return peer.ban_key if is_loopback(peer.host) else netgroup(peer.host)


def candidate(peer: Peer) -> Candidate:
    """What eviction knows of an inbound peer."""
    return Candidate(
        peer,
        netgroup(peer.host),
        peer.connected_at,
        peer.min_ping_ms,
        peer.last_tx_at,
        peer.last_block_at,
    )


def peer_check(connections: Connections, peer: Peer) -> Callable[[m.Version], None]:
    """The handshake's version check bound to one peer."""
    return lambda version: connections.check_version(peer, version)


NEVER_BAN_NETWORKS = frozenset({"devnet"})
"""Networks whose loopback peers are disconnected for misbehaviour, never banned (issue 12)."""


def never_ban(network: str, host: str) -> bool:
    """True for a loopback peer of a local devnet (`powchain devnet` runs every node there)."""
    return network in NEVER_BAN_NETWORKS and is_loopback(host)


def not_a_p2p_port(host: str, port: int, status: int) -> str:
    """The dial failure reason for an HTTP answer instead of a WebSocket handshake."""
    return (
        f"not-a-p2p-port: {host}:{port} answered HTTP {status}, not a WebSocket handshake "
        "(is it a node's REST API? `powchain status` shows its p2p_port)"
    )


def plain_http_answer(
    connection: ServerConnection, request: Request, network: str, api_host: str, api_port: int
) -> Response | None:
    """A request to the P2P port that is not a WebSocket upgrade (curl, a browser,
    `powchain --node` given this port) gets 426 and one line saying where the API is."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    host = api_host
    if host in ("0.0.0.0", "::", ""):
        host = request.headers.get("Host", "127.0.0.1").rpartition(":")[0] or "127.0.0.1"
    text = f"this is the P2P port of a powchain node ({network}); its API is http://{host}:{api_port}\n"
    return connection.respond(HTTPStatus.UPGRADE_REQUIRED, text)
