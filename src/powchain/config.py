"""Settings of the command line: data directories, addresses and the node's configuration.

Resolution order for the data directory: `--datadir`, then the environment variable
POWCHAIN_DATADIR, then `~/.powchain/<network>`. Addresses are `HOST:PORT`; a bare `PORT` or
`:PORT` keeps the default host. No logic here beyond turning flags into values.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from .core.keys import decode_address, encode_address, xonly_pubkey
from .core.params import NETWORKS, ChainParams

__all__ = [
    "DATADIR_ENV",
    "default_datadir",
    "resolve_datadir",
    "parse_hostport",
    "default_api_url",
    "load_or_create_miner_key",
    "build_node_config",
]

DATADIR_ENV = "POWCHAIN_DATADIR"
MINER_KEY_FILE = "miner.key"


def default_datadir(network: str) -> Path:
    """POWCHAIN_DATADIR when set, else ~/.powchain/<network>."""
    env = os.environ.get(DATADIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".powchain" / network


def resolve_datadir(datadir: str | Path | None, network: str) -> Path:
    return Path(datadir).expanduser() if datadir else default_datadir(network)


def parse_hostport(text: str, default_host: str, default_port: int) -> tuple[str, int]:
    """('host', port) from 'host:port', ':port', 'port' or 'host'; ValueError when malformed."""
    text = text.strip()
    if not text:
        return default_host, default_port
    if text.isdigit():
        host, port_text = default_host, text
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host.strip("[]") or default_host
    else:
        host, port_text = text, str(default_port)
    if not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise ValueError(f"not a HOST:PORT address: {text!r}")
    return host, int(port_text)


def default_api_url(params: ChainParams) -> str:
    """The REST API of the local node of a network."""
    return f"http://127.0.0.1:{params.api_port}"


def load_or_create_miner_key(datadir: Path) -> bytes:
    """The 32-byte public key of DATADIR/miner.key, created (mode 0600) when missing.

    Used by `powchain node --mine` without `--miner-address`, so rewards stay claimable.
    """
    path = datadir / MINER_KEY_FILE
    if not path.exists():
        datadir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(32).hex())
    return xonly_pubkey(bytes.fromhex(path.read_text().strip()))


def build_node_config(
    network: str,
    datadir: Path,
    p2p: str | None,
    api: str | None,
    connect: tuple[str, ...],
    mine: bool,
    miner_address: str | None,
    mining_processes: int,
    **extra: Any,
) -> Any:
    """A `node.node.NodeConfig` from command-line values; ValueError on malformed input.

    `extra` passes the remaining NodeConfig fields (ping_interval, idle_timeout, clock_offset).
    """
    from .node.node import NodeConfig  # imported late: `--help` must not need the node

    params = NETWORKS[network]
    p2p_host, p2p_port = parse_hostport(p2p or "", "0.0.0.0", params.p2p_port)
    api_host, api_port = parse_hostport(api or "", "127.0.0.1", params.api_port)
    recipient = None
    if miner_address:
        recipient = decode_address(miner_address, params.hrp)
    elif mine:
        recipient = load_or_create_miner_key(datadir)
    for peer in connect:
        parse_hostport(peer, "127.0.0.1", params.p2p_port)
    return NodeConfig(
        params=params,
        datadir=datadir,
        p2p_host=p2p_host,
        p2p_port=p2p_port,
        api_host=api_host,
        api_port=api_port,
        connect=list(connect),
        listen=True,
        mine=mine,
        miner_address=recipient,
        mining_processes=mining_processes,
        **extra,
    )


def miner_address_text(config: Any) -> str | None:
    """The miner's address as people write it (for the start-up banner)."""
    if config.miner_address is None:
        return None
    return encode_address(config.params.hrp, config.miner_address)
