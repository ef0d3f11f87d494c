"""`powchain node` and `powchain devnet`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from ..config import MAX_DEVNET_NODES, resolve_datadir
from ..core.keys import AddressError

if TYPE_CHECKING:
    pass

from .common import datadir_option, network_file_option, network_option, resolve_network
from .root import main


@main.command()
@network_option
@network_file_option
@datadir_option
@click.option("--p2p", default=None, metavar="HOST:PORT", help="P2P listen address.")
@click.option("--api", default=None, metavar="HOST:PORT", help="REST API address (127.0.0.1).")
@click.option("--connect", multiple=True, metavar="HOST:PORT", help="Peer to connect to.")
@click.option("--mine/--no-mine", default=False, help="Mine blocks continuously.")
@click.option("--miner-address", default=None, help="Address paid by mined blocks.")
@click.option("--mining-processes", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--ping-interval", type=click.FloatRange(0.1), default=120.0, show_default=True)
@click.option("--idle-timeout", type=click.FloatRange(0.1), default=1200.0, show_default=True)
@click.option("--clock-offset", type=int, default=0, hidden=True)
@click.option("--block-timeout", type=click.FloatRange(0.1), default=30.0, hidden=True)
@click.option(
    "--stratum",
    default=None,
    metavar="HOST:PORT",
    help="Serve Stratum v1 mining here (off by default); miners log in with their address.",
)
@click.option(
    "--stratum-min-difficulty",
    type=click.FloatRange(1e-9, min_open=False),
    default=None,
    help="Lowest share difficulty vardiff gives a miner [default: 0.001].",
)
@click.option(
    "--stratum-share-interval",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    help="Seconds per share vardiff aims at.",
)
@click.option("--stratum-rebroadcast", type=click.FloatRange(0.1), default=55.0, hidden=True)
@click.option(
    "--explorer-wallet",
    is_flag=True,
    help="Allow the explorer's node-side wallet even when --api is not a loopback address.",
)
@click.option(
    "--clear-bans",
    is_flag=True,
    help="Lift every persisted peer ban at start (see also `powchain peers unban`).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def node(
    network: str,
    network_file: Path | None,
    datadir: Path | None,
    p2p: str | None,
    api: str | None,
    connect: tuple[str, ...],
    mine: bool,
    miner_address: str | None,
    mining_processes: int,
    ping_interval: float,
    idle_timeout: float,
    clock_offset: int,
    block_timeout: float,
    stratum: str | None,
    stratum_min_difficulty: float | None,
    stratum_share_interval: float,
    stratum_rebroadcast: float,
    explorer_wallet: bool,
    clear_bans: bool,
    log_level: str,
) -> None:
    """Run a full node: P2P, REST API, (with --mine) a miner and (with --stratum) a Stratum
    v1 server for mining hardware, until Ctrl-C.

    Without --miner-address, --mine pays a key kept in DATADIR/miner.key.

    \b
    Examples:
      powchain node --network regtest
      powchain node --network devnet --mine --connect 127.0.0.1:28744
      powchain node --network testnet --p2p 0.0.0.0:38744 --api 127.0.0.1:38745
      powchain node --network-file mynet.toml --mine --connect 10.0.0.2:48744
      powchain node --network devnet --stratum 0.0.0.0:3333
    """
    from ..config import build_node_config, parse_hostport
    from ..noderun import run_node

    params, loaded = resolve_network(network, network_file)
    directory = resolve_datadir(datadir, params.name)
    try:
        config = build_node_config(
            network,
            directory,
            p2p,
            api,
            connect,
            mine,
            miner_address,
            mining_processes,
            ping_interval=ping_interval,
            idle_timeout=idle_timeout,
            clock_offset=clock_offset,
            block_timeout=block_timeout,
            network_file=loaded,
            explorer_wallet=explorer_wallet,
            stratum=stratum,
            stratum_min_difficulty=stratum_min_difficulty,
            stratum_share_interval=stratum_share_interval,
            stratum_rebroadcast=stratum_rebroadcast,
        )
        if stratum is not None:
            parse_hostport(stratum, "127.0.0.1", 3333)
    except (ValueError, AddressError) as exc:
        raise click.BadParameter(str(exc)) from exc
    sys.exit(run_node(config, log_level, clear_bans=clear_bans))


@main.command()
@click.option(
    "--nodes",
    type=click.IntRange(1, MAX_DEVNET_NODES),
    default=3,
    show_default=True,
    help=f"How many nodes (at most {MAX_DEVNET_NODES}).",
)
@click.option(
    "--miners",
    type=click.IntRange(0, MAX_DEVNET_NODES),
    default=None,
    help="How many of them mine [all up to 4 nodes, else 3]; the others only relay.",
)
@click.option(
    "--datadir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("devnet-data"),
    show_default=True,
    help="Parent of the nodes' data directories.",
)
@click.option("--traffic/--no-traffic", default=False, help="Wallets send payments and posts.")
@click.option("--base-port", type=click.IntRange(1024, 65000), default=None, help="First port.")
@click.option(
    "--network-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run your own network (a `powchain network create` file) instead of devnet; "
    "data in ./NAME-data unless --datadir.",
)
def devnet(
    nodes: int,
    miners: int | None,
    datadir: Path,
    traffic: bool,
    base_port: int | None,
    network_file: Path | None,
) -> None:
    """A local devnet: N `powchain node` processes on 127.0.0.1, until Ctrl-C.

    The first --miners nodes mine; the others relay only. One devnet per --datadir: a second
    one there is refused with the PID of the first.

    \b
    Examples:
      powchain devnet                     # 3 mining nodes, data in ./devnet-data
      powchain devnet --nodes 5 --traffic --datadir /tmp/dn
      powchain devnet --nodes 25          # 3 miners and 22 relay-only nodes
      powchain devnet --network-file mynet.toml
    """
    from ..devnet import run_devnet

    if miners is not None and miners > nodes:
        raise click.BadParameter(f"{miners} miners but only {nodes} nodes", param_hint="--miners")
    if network_file is not None:
        params, _ = resolve_network("devnet", network_file)  # refuses a bad file here
        source = click.get_current_context().get_parameter_source("datadir")
        if source is ParameterSource.DEFAULT:
            datadir = Path(f"{params.name}-data")
        sys.exit(run_devnet(nodes, datadir, traffic, base_port, network_file, miners))
    sys.exit(run_devnet(nodes, datadir, traffic, base_port, None, miners))
