"""`powchain node` at run time: Node + PeerManager + API server on one asyncio loop.

Logs to stderr with timestamps, prints the API and P2P addresses once listening, and stops
cleanly (API, then peers, then node) on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from pathlib import Path
from typing import Any

__all__ = ["run_node", "setup_logging"]

log = logging.getLogger("powchain")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


class StartupError(Exception):
    """The node cannot open its datadir (another network's, corrupt, newer schema)."""


def run_node(config: Any, log_level: str = "info", clear_bans: bool = False) -> int:
    """Run until a signal; the process exit code (0 after a clean stop, 1 when it cannot start).

    The datadir's lock (`lockfile`) is taken first: a second process on the same datadir
    exits with one line naming the PID that holds it, before it touches a file there.
    `clear_bans`: lift every persisted peer ban before the first connection.
    """
    from .lockfile import DatadirLocked, lock_datadir

    setup_logging(log_level)
    try:
        lock = lock_datadir(Path(config.datadir), "powchain node")
    except (DatadirLocked, OSError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    try:
        asyncio.run(_serve(config, clear_bans))
    except (OSError, StartupError) as exc:
        log.error("cannot start: %s", describe_start_error(exc, config))
        return 1
    finally:
        lock.release()
    return 0


def describe_start_error(exc: Exception, config: Any) -> str:
    """One line for a start failure; a taken port names the port and what it is for."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        port = getattr(exc, "powchain_what", None)
        if port is not None:
            return f"{port} is already in use (by another node, or another program)"
    return str(exc)


async def _serve(config: Any, clear_bans: bool = False) -> None:
    from .api.app import create_app
    from .api.server import ApiServer
    from .config import miner_address_text
    from .node.node import Node
    from .p2p.addrman import AddrMan
    from .p2p.peerman import PeerManager

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = Node(config)
    try:
        await node.start()
    except RuntimeError as exc:  # raised by storage and chainstate for a datadir they refuse
        raise StartupError(f"{exc} (datadir {config.datadir})") from exc
    peers: PeerManager | None = None
    server = None
    stratum = None
    try:
        if clear_bans:
            cleared = AddrMan(node.db).clear_bans()
            log.info("cleared %d peer ban(s) (--clear-bans)", cleared)
        peers = PeerManager(node)
        await _listening(peers.start(), f"the P2P port {config.p2p_host}:{config.p2p_port}")
        stratum = await _listening(
            _start_stratum(node, config), f"the Stratum port {config.stratum}"
        )
        server = ApiServer(create_app(node), config.api_host, config.api_port)
        await _listening(server.start(), f"the API port {config.api_host}:{config.api_port}")
        log.info("network %s, datadir %s", config.params.name, config.datadir)
        log.info("API listening on http://%s:%d/api/v1", config.api_host, server.port)
        log.info("P2P listening on ws://%s:%d/", config.p2p_host, config.p2p_port)
        if config.p2p_host in ("0.0.0.0", "::", ""):
            log.info(
                "P2P accepts peers from every network interface (%s); give --p2p 127.0.0.1:%d "
                "to keep this node local",
                config.p2p_host or "all",
                config.p2p_port,
            )
        if config.mine:
            log.info("mining to %s", miner_address_text(config))
        if stratum is not None:
            log.info("Stratum v1 on %s (username: your payout address)", stratum.url)
        await stop.wait()
        log.info("stopping")
    finally:
        if server is not None:
            await server.stop()
        if stratum is not None:
            await stratum.stop()
        if peers is not None:
            await peers.stop()
        await node.stop()
        log.info("stopped")


async def _listening(start: Any, what: str) -> Any:
    """Await a server's start; an OSError carries `what` (the port) for the start-up line."""
    try:
        return await start
    except OSError as exc:
        exc.powchain_what = what  # type: ignore[attr-defined]
        raise


async def _start_stratum(node: Any, config: Any) -> Any:
    """The Stratum v1 server when `config.stratum` ("HOST:PORT") is set, else None."""
    if not config.stratum:
        return None
    from .config import parse_hostport
    from .stratum.server import StratumServer, StratumSettings

    host, port = parse_hostport(config.stratum, "127.0.0.1", 3333)
    settings = StratumSettings(
        host=host,
        port=port,
        share_interval=config.stratum_share_interval,
        rebroadcast=config.stratum_rebroadcast,
    )
    if config.stratum_min_difficulty is not None:
        settings.min_difficulty = config.stratum_min_difficulty
    server = StratumServer(node, settings)
    await server.start()
    return server
