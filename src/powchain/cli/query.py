"""Queries of a node: `status`, `block`, `tx`; and `mine` (blocks on demand, regtest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core.hashing import hex_to_hash
from .common import (
    Ctx,
    address_arg,
    client_options,
    coins_view,
    ctx_args,
    echo_json,
    fail,
    handle_errors,
)
from .root import main

F = TypeVar("F", bound=Callable[..., Any])


def raw_option(f: F) -> F:
    return click.option(
        "--raw",
        is_flag=True,
        help="Print the node's JSON as it is (amounts as integer base units).",
    )(f)


def _show(data: Any, raw: bool) -> None:
    echo_json(data if raw else coins_view(data))


@main.command()
@client_options
@handle_errors
def status(
    network: str, datadir: Path | None, node_url: str | None, network_file: Path | None
) -> None:
    """Show the node's network, tip, difficulty, mempool, peers and hash rates.

    The JSON goes to stdout; a line comparing the network's estimated hash rate with this
    node's miner goes to stderr.

    \b
    Example:
      powchain status --network devnet
    """
    ctx = Ctx(network, datadir, node_url, network_file=network_file)
    with ctx.client():
        answer = ctx.remote
    echo_json(answer)
    validators = answer.get("validators")
    if isinstance(validators, dict):
        click.echo(_validators_line(validators), err=True)
    else:
        click.echo(_hashrate_line(answer), err=True)


def _validators_line(v: dict[str, Any]) -> str:
    """'validators: 4 of 5 online, final with 3 signatures, round 0; this node signs' (or why
    it does not)."""
    mine = "this node has no validator key"
    if v.get("local"):
        mine = "this node signs" if v.get("signing") else f"not signing: {v.get('why_not_signing')}"
    return (
        f"validators: {v.get('online')} of {v.get('count')} online, final with "
        f"{v.get('threshold')} signatures, round {v.get('round')}; {mine}"
    )


def _hashrate_line(status: dict[str, Any]) -> str:
    """'hash rate: network ~2.94 MH/s (estimated, last 120 blocks), this node's miner 2.9 MH/s'."""
    from ..node.hashrate import format_rate

    network = format_rate(status.get("network_hashrate"))
    mine = status.get("miner_hashrate")
    ours = "not mining" if mine is None else format_rate(mine)
    return f"hash rate: network ~{network} (estimated, last 120 blocks), this node's miner {ours}"


@main.command()
@click.argument("block_id")
@click.option("--full", is_flag=True, help="Decode every transaction.")
@raw_option
@client_options
@handle_errors
def block(block_id: str, full: bool, raw: bool, **opts: Any) -> None:
    """Show a block by height or hash (amounts in coins; --raw for base units).

    \b
    Examples:
      powchain block 0
      powchain block 00000a1b...  --full
    """
    with Ctx(**ctx_args(opts)).client() as client:
        _show(client.block(block_id, full=full), raw)


@main.command()
@click.argument("txid")
@raw_option
@client_options
@handle_errors
def tx(txid: str, raw: bool, **opts: Any) -> None:
    """Show a transaction and whether it is pending or confirmed (amounts in coins; --raw for
    the node's base units).

    \b
    Example:
      powchain tx 3f1c...e9
    """
    try:
        hex_to_hash(txid)
    except ValueError as exc:
        raise click.BadParameter("a txid is 64 hex digits", param_hint="TXID") from exc
    with Ctx(**ctx_args(opts)).client() as client:
        _show(client.tx(txid), raw)


@main.command()
@click.argument("blocks", type=click.IntRange(1, 1000), default=1)
@click.option("--address", default=None, help="Address the blocks pay [the wallet's first key].")
@click.option(
    "--wallet",
    "wallet_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keystore whose address is paid [default: DATADIR/wallet.json].",
)
@client_options
@handle_errors
def mine(blocks: int, address: str | None, **opts: Any) -> None:
    """Mine BLOCKS blocks now, with real proof of work (regtest, devnet and file networks that
    allow mining on demand; Core: generatetoaddress). Needs the admin token.

    \b
    Examples:
      powchain mine 101                          # to your wallet's address
      powchain mine 1 --address rpow1...
    """
    from ..wallet.keystore import Keystore

    ctx = Ctx(**ctx_args(opts))
    if not ctx.params.mine_on_demand:
        fail(f"{ctx.params.name} does not mine on demand (regtest and devnet do)")
    if address is None:
        address = Keystore.first_address(ctx.wallet_file, ctx.params.hrp)
    address_arg(address, ctx.params.hrp, "--address")
    with ctx.client() as client:
        hashes = client.mine(blocks, address)
        height = int(client.status()["height"])
    for block_hash in hashes:
        click.echo(block_hash)
    click.echo(f"mined {len(hashes)} block(s) to {address}; height {height}", err=True)
