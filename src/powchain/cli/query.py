"""Queries of a node: `status`, `block`, `tx`."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.hashing import hex_to_hash
from .common import Ctx, client_options, echo_json, handle_errors
from .root import main


@main.command()
@client_options
@handle_errors
def status(
    network: str, datadir: Path | None, node_url: str | None, network_file: Path | None
) -> None:
    """Show the node's network, tip, difficulty, mempool and peers.

    \b
    Example:
      powchain status --network devnet
    """
    with Ctx(network, datadir, node_url, network_file=network_file).client() as client:
        echo_json(client.status())


@main.command()
@click.argument("block_id")
@click.option("--full", is_flag=True, help="Decode every transaction.")
@client_options
@handle_errors
def block(
    block_id: str,
    full: bool,
    network: str,
    datadir: Path | None,
    node_url: str | None,
    network_file: Path | None,
) -> None:
    """Show a block by height or hash.

    \b
    Examples:
      powchain block 0
      powchain block 00000a1b...  --full
    """
    with Ctx(network, datadir, node_url, network_file=network_file).client() as client:
        echo_json(client.block(block_id, full=full))


@main.command()
@click.argument("txid")
@client_options
@handle_errors
def tx(
    txid: str, network: str, datadir: Path | None, node_url: str | None, network_file: Path | None
) -> None:
    """Show a transaction and whether it is pending or confirmed.

    \b
    Example:
      powchain tx 3f1c...e9
    """
    try:
        hex_to_hash(txid)
    except ValueError as exc:
        raise click.BadParameter("a txid is 64 hex digits", param_hint="TXID") from exc
    with Ctx(network, datadir, node_url, network_file=network_file).client() as client:
        echo_json(client.tx(txid))
