"""`powchain node` at run time: Node + PeerManager + API server on one asyncio loop.

Logs to stderr with timestamps, prints the API and P2P addresses once listening, and stops
cleanly (API, then peers, then node) on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
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


def run_node(config: Any, log_level: str = "info") -> int:
    """Run until a signal; the process exit code (0 after a clean stop, 1 when it cannot start)."""
    setup_logging(log_level)
    try:
        asyncio.run(_serve(config))
    except (OSError, StartupError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


async def _serve(config: Any) -> None:
    from .api.app import create_app
    from .api.server import ApiServer
    from .config import miner_address_text
    from .node.node import Node
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
        peers = PeerManager(node)
        await peers.start()
        stratum = await _start_stratum(node, config)
        server = ApiServer(create_app(node), config.api_host, config.api_port)
        await server.start()
        log.info("network %s, datadir %s", config.params.name, config.datadir)
        log.info("API listening on http://%s:%d/api/v1", config.api_host, server.port)
        log.info("P2P listening on ws://%s:%d/", config.p2p_host, config.p2p_port)
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
