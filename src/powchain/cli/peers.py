"""`powchain peers`: connected peers and bans (Core: getpeerinfo, listbanned, setban)."""

from __future__ import annotations

from typing import Any

import click

from .common import Ctx, client_options, ctx_args, fail, handle_errors
from .root import main


@main.group()
def peers() -> None:
    """A node's peers and the bans it keeps (24 h each, persisted in its database).

    \b
    Examples:
      powchain peers list --network devnet
      powchain peers bans --network devnet
      powchain peers unban 127.0.0.1:28746 --network devnet
      powchain peers unban --all --network devnet
    """


@peers.command(name="list")
@client_options
@handle_errors
def list_peers(**opts: Any) -> None:
    """Connected peers, then recently refused connections with the reason."""
    with Ctx(**ctx_args(opts)).client() as client:
        rows = client.peers()
    if not rows:
        click.echo("no peers")
    for peer in rows:
        if peer.get("connected", True):
            click.echo(
                f"{peer.get('address')}  {peer.get('direction')}  height "
                f"{peer.get('best_height', '?')}  {peer.get('user_agent', '')}"
            )
        else:
            click.echo(f"{peer.get('address')}  refused: {peer.get('reason')}")


@peers.command()
@client_options
@handle_errors
def bans(**opts: Any) -> None:
    """Banned peers: address, until when (UTC) and why."""
    import time

    with Ctx(**ctx_args(opts)).client() as client:
        rows = client.bans()
    if not rows:
        click.echo("no bans")
    for ban in rows:
        until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(ban["until"])))
        click.echo(f"{ban['address']}  until {until}  {ban['reason']}")


@peers.command()
@click.argument("address", required=False)
@click.option("--all", "everything", is_flag=True, help="Lift every ban.")
@client_options
@handle_errors
def unban(address: str | None, everything: bool, **opts: Any) -> None:
    """Lift the ban of ADDRESS (as `powchain peers bans` lists it), or every ban with --all.

    Needs the admin token (DATADIR/api.cookie). `powchain node --clear-bans` does the same
    for every ban when a node starts.
    """
    if (address is None) == (not everything):
        fail("give either ADDRESS or --all")
    with Ctx(**ctx_args(opts)).client() as client:
        lifted = client.unban(None if everything else address)
    click.echo(f"unbanned {len(lifted)}: {' '.join(lifted)}" if lifted else "no bans")
