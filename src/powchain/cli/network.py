"""`powchain network`: your own network in one file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..consensus.netfile import NetworkFileError
from ..core.keys import encode_address
from ..core.units import format_coins

if TYPE_CHECKING:
    pass

from .common import coins_arg, fail
from .root import main


@main.group()
def network() -> None:
    """Your own network: one file holds its parameters and genesis block.

    \b
    Examples:
      powchain network create classcoin --block-time 30 --allocate ccoin1...=1000
      powchain node --network-file classcoin.toml --mine
    """


def _allocation(text: str) -> tuple[str, int]:
    address, sep, coins = text.rpartition("=")
    if not sep or not address:
        raise click.BadParameter(f"{text!r} is not ADDRESS=COINS", param_hint="--allocate")
    return address, coins_arg(coins, "--allocate")


@network.command(name="create")
@click.argument("name")
@click.option("--block-time", type=int, default=10, show_default=True, help="Seconds.")
@click.option(
    "--half-life",
    type=int,
    default=None,
    help="Difficulty half-life (asert-bounded), seconds [4 blocks, or enough for --future-limit].",
)
@click.option(
    "--future-limit",
    type=int,
    default=None,
    help="Most seconds a block's time may be ahead of a node's clock [6 blocks, at least 60].",
)
@click.option("--subsidy", default="50", show_default=True, help="Coins a block mints at first.")
@click.option("--halving-interval", type=int, default=100_000, show_default=True, help="Blocks.")
@click.option("--coinbase-maturity", type=int, default=20, show_default=True, help="Blocks.")
@click.option("--max-block-size", type=int, default=1_000_000, show_default=True, help="Bytes.")
@click.option("--max-tx-data", type=int, default=4_096, show_default=True, help="Bytes.")
@click.option("--address-prefix", default=None, help="Addresses' bech32m prefix [NAME's letters].")
@click.option("--allocate", multiple=True, metavar="ADDRESS=COINS", help="Genesis balance.")
@click.option("--seed", multiple=True, metavar="HOST:PORT", help="Seed peer in the file.")
@click.option("--p2p-port", type=int, default=48_744, show_default=True, help="Default P2P port.")
@click.option("--api-port", type=int, default=48_745, show_default=True, help="Default API port.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="[./NAME.toml]")
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
def create_network(
    name: str,
    block_time: int,
    half_life: int | None,
    future_limit: int | None,
    subsidy: str,
    halving_interval: int,
    coinbase_maturity: int,
    max_block_size: int,
    max_tx_data: int,
    address_prefix: str | None,
    allocate: tuple[str, ...],
    seed: tuple[str, ...],
    p2p_port: int,
    api_port: int,
    out: Path | None,
    force: bool,
) -> None:
    """Create network NAME: write its file with a fresh chain id and a freshly mined genesis.

    The file is the network's identity: copy it unchanged to every machine and start nodes with
    `powchain node --network-file FILE`. --allocate gives addresses (under the network's
    address prefix) a balance at height 0; repeat it for several.

    \b
    Examples:
      powchain network create lab --block-time 2 --address-prefix lab
      powchain network create classcoin --allocate ccoin1q...=1000 --seed 10.0.0.2:48744
    """
    from ..config import create_network, write_network_file

    path = out or Path(f"{name}.toml")
    if path.exists() and not force:
        fail(f"{path} exists (use --force to overwrite it)")
    values: dict[str, Any] = {
        "target_spacing": block_time,
        "initial_subsidy": coins_arg(subsidy, "--subsidy"),
        "halving_interval": halving_interval,
        "coinbase_maturity": coinbase_maturity,
        "max_block_size": max_block_size,
        "max_tx_data": max_tx_data,
        "max_post_text": min(4_000, max_tx_data - 1),
        "p2p_port": p2p_port,
        "api_port": api_port,
    }
    if address_prefix is not None:
        values["hrp"] = address_prefix
    if half_life is not None:
        values["half_life"] = half_life
    if future_limit is not None:
        values["max_future_block_time"] = future_limit
    allocations = tuple(_allocation(text) for text in allocate)
    click.echo(f"creating {name} (mining its genesis block) ...", err=True)
    try:
        created = create_network(name, allocations, seed, **values)
    except NetworkFileError as exc:
        raise click.ClickException(exc.reason) from exc
    write_network_file(path, created, overwrite=force)
    p = created.params
    total = sum(amount for _, amount in p.genesis_allocations)
    click.echo(f"network {p.name} written to {path}")
    click.echo(f"genesis {p.genesis_hash_hex}")
    click.echo(
        f"chain id {p.chain_id}, magic {p.magic.hex()}, addresses {p.hrp}1..., "
        f"blocks every {p.target_spacing} s, {len(p.genesis_allocations)} allocation(s) of "
        f"{format_coins(total)} coins in total"
    )
    for key, amount in p.genesis_allocations:
        click.echo(f"  allocation {encode_address(p.hrp, key)} {format_coins(amount)} coins")
    click.echo(f"next: copy {path} to every machine, then on each one:")
    click.echo(f"  powchain node --network-file {path.name} --mine --connect OTHER_HOST:{p2p_port}")
