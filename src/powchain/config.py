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

from .consensus.netfile import NetworkFile
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
    "NETWORK_FILE_ENV",
    "load_network_file",
    "write_network_file",
    "create_network",
]

DATADIR_ENV = "POWCHAIN_DATADIR"
MAX_DEVNET_NODES = 32
"""`powchain devnet --nodes` cap: 25 nodes (3 mining, the rest relay-only) run on 2 cores."""
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
    network_file: NetworkFile | None = None,
    **extra: Any,
) -> Any:
    """A `node.node.NodeConfig` from command-line values; ValueError on malformed input.

    `network_file` (a loaded file network) replaces `network`; its seeds join `connect`.
    `extra` passes the remaining NodeConfig fields (ping_interval, idle_timeout, clock_offset).
    """
    from .node.node import NodeConfig  # imported late: `--help` must not need the node

    params = NETWORKS[network] if network_file is None else network_file.params
    params = emulate_hashrate(params)
    if network_file is not None:
        connect = tuple(dict.fromkeys((*connect, *network_file.seeds)))
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


# -- network files (issue 6) -------------------------------------------------------------------

NETWORK_FILE_ENV = "POWCHAIN_NETWORK_FILE"
MAX_NETWORK_FILE = 1_000_000
"""Bytes; a network file is a few kilobytes even with a thousand allocations."""
_HEADER = """\
# powchain network file: the identity of network {name!r}, created {created}.
# Copy it unchanged to every machine and run:  powchain node --network-file {file}
# The genesis block commits to [consensus], [genesis] and network name/chain_id/magic/hrp:
# nodes refuse an edited copy. Ports, seeds and mine_on_demand may be edited per machine.
# Amounts are base units (1 coin = 100,000,000 units); times are seconds.

"""


def load_network_file(path: Path) -> NetworkFile:
    """Read and validate a network file; NetworkFileError naming the file and the problem."""
    import tomllib

    from .consensus.netfile import NetworkFileError, from_document

    try:
        with Path(path).open("rb") as f:
            raw = f.read(MAX_NETWORK_FILE + 1)
    except OSError as exc:
        raise NetworkFileError(f"network file {path}: cannot read it: {exc.strerror}") from exc
    if len(raw) > MAX_NETWORK_FILE:
        raise NetworkFileError(f"network file {path}: larger than {MAX_NETWORK_FILE} bytes")
    try:
        return from_document(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NetworkFileError(f"network file {path}: not valid TOML: {exc}") from exc
    except NetworkFileError as exc:
        raise NetworkFileError(f"network file {path}: {exc.reason}") from exc


def write_network_file(path: Path, network: NetworkFile, overwrite: bool = False) -> None:
    """Write `network` as TOML with an explanatory header; FileExistsError unless `overwrite`."""
    import time

    import tomli_w

    from .consensus.netfile import to_document

    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(network.params.genesis_time))
    header = _HEADER.format(name=network.params.name, created=created, file=Path(path).name)
    text = header + tomli_w.dumps(to_document(network))
    with Path(path).open("w" if overwrite else "x", encoding="utf-8") as f:
        f.write(text)


def emulate_hashrate(params: ChainParams) -> ChainParams:
    """Tests only: with $POWCHAIN_TEST_HASHRATE = F > 1, devnet with a genesis F times easier
    (mined here, ~0.1 s), so this machine meets the DAA as one F times as fast would. Every
    node of the test must see the same F (their genesis must match). Other networks, and F <= 1
    (the miner's nonce-rate limit, `node.miner`), are unchanged."""
    import dataclasses

    from .consensus.pow import bits_to_target, target_to_bits
    from .core.params import DEVNET
    from .node.miner import hashrate_factor

    factor = hashrate_factor()
    if factor <= 1 or params != DEVNET:
        return params
    easier = min(int(bits_to_target(params.genesis_bits) * factor), 2**256 - 1)
    bits = target_to_bits(min(easier, bits_to_target(params.pow_limit_bits)))
    return mine_genesis(dataclasses.replace(params, genesis_bits=bits, genesis_hash_hex=""))


def mine_genesis(params: ChainParams) -> ChainParams:
    """`params` with a genesis nonce meeting its bits (bumping the time when the 32-bit nonce
    space runs out) and the genesis hash filled in. One process: seconds for short blocks."""
    import dataclasses

    from .consensus.pow import bits_to_target
    from .core.params import genesis_block
    from .node.powsearch import NONCE_SPACE, search_nonce

    target = bits_to_target(params.genesis_bits)
    while True:
        header76 = genesis_block(params).header.serialize()[:76]
        nonce = search_nonce(header76, 0, NONCE_SPACE, target)
        if nonce is not None:
            break
        params = dataclasses.replace(params, genesis_time=params.genesis_time + 1)
    mined = dataclasses.replace(params, genesis_nonce=nonce)
    return dataclasses.replace(mined, genesis_hash_hex=genesis_block(mined).header.hash_hex)


def create_network(
    name: str,
    allocations: tuple[tuple[str, int], ...] = (),
    seeds: tuple[str, ...] = (),
    **values: Any,
) -> NetworkFile:
    """A new network: a fresh random chain id and magic, the genesis time now, the genesis
    mined. `allocations`: (address under any prefix, units); `values`: ChainParams
    overrides (see `consensus.netfile.new_params`). Raises NetworkFileError (bad values)."""
    import dataclasses
    import time

    from .consensus.netfile import (
        NetworkFileError,
        check_params,
        from_document,
        new_params,
        parse_seeds,
        to_document,
    )

    builtin = {p.chain_id for p in NETWORKS.values()} | {p.magic for p in NETWORKS.values()}
    chain_id, magic = 0, b""
    while chain_id in builtin or magic in builtin or chain_id == 0:
        chain_id, magic = secrets.randbits(32), secrets.token_bytes(4)
    parse_seeds(list(seeds))  # every check before the mining
    params = new_params(name, chain_id, magic, int(time.time()), **values)
    decoded = []
    for address, units in allocations:
        # any valid address names a key (the same key on every network): a wallet made before
        # the network existed can be funded; the file stores it under the network's prefix
        prefix = address.strip().lower().rpartition("1")[0]
        try:
            decoded.append((decode_address(address, prefix or params.hrp), units))
        except ValueError as exc:
            raise NetworkFileError(f"--allocate {address}: {exc}") from exc
    params = dataclasses.replace(params, genesis_allocations=tuple(decoded))
    check_params(params, mined=False)
    # the same checks a node runs on load, seeds included
    return from_document(to_document(NetworkFile(mine_genesis(params), tuple(seeds))))
