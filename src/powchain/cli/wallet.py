"""`powchain wallet`: keys in an encrypted keystore, balance and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..core.units import format_coins

if TYPE_CHECKING:
    pass

from .common import Ctx, ctx_args, handle_errors, wallet_options
from .root import main


@main.group()
def wallet() -> None:
    """Keys in an encrypted keystore; payments and history through a node.

    The passphrase is asked for, or read from $POWCHAIN_WALLET_PASSPHRASE.

    \b
    Examples:
      powchain wallet create --network devnet
      powchain wallet balance --network devnet
      powchain wallet send dpow1... 2.5 --network devnet
    """


@wallet.command()
@click.option("--name", default="default", show_default=True, help="Name of the new key.")
@wallet_options
@handle_errors
def create(name: str, **opts: Any) -> None:
    """Create the wallet file with a new key (or add a key to an existing wallet).

    \b
    Examples:
      powchain wallet create
      powchain wallet create --name savings
    """
    from ..wallet.keystore import Keystore, read_passphrase

    ctx = Ctx(**ctx_args(opts))
    if ctx.wallet_file.exists():
        passphrase = read_passphrase()
        store = Keystore.load(ctx.wallet_file, passphrase)
    else:
        passphrase = read_passphrase(confirm=True)
        store = Keystore()
        ctx.wallet_file.parent.mkdir(parents=True, exist_ok=True)
    key = store.new_key(name)
    store.save(ctx.wallet_file, passphrase)
    click.echo(f"{key.name}\t{key.address(ctx.params.hrp)}")
    click.echo(f"wallet: {ctx.wallet_file}", err=True)


@wallet.command(name="list")
@wallet_options
@handle_errors
def list_keys(**opts: Any) -> None:
    """List the wallet's keys and addresses."""
    from ..wallet.keystore import Keystore, read_passphrase

    ctx = Ctx(**ctx_args(opts))
    for key in Keystore.load(ctx.wallet_file, read_passphrase()).keys:
        click.echo(f"{key.name}\t{key.address(ctx.params.hrp)}")


@wallet.command()
@wallet_options
@handle_errors
def address(**opts: Any) -> None:
    """Print the address of a key (to receive payments)."""
    ctx = Ctx(**ctx_args(opts))
    click.echo(ctx.load_key(opts["key_name"]).address(ctx.params.hrp))


@wallet.command()
@wallet_options
@handle_errors
def balance(**opts: Any) -> None:
    """Show spendable, immature and pending balance (in coins) of a key."""
    ctx = Ctx(**ctx_args(opts))
    addr = ctx.load_key(opts["key_name"]).address(ctx.params.hrp)
    with ctx.client() as client:
        info = client.account(addr)
    click.echo(f"{'address':<15} {addr}")
    for field in ("balance", "immature", "pending_balance"):
        click.echo(f"{field:<15} {format_coins(int(info[field]))}")
    click.echo(f"{'nonce':<15} {info['nonce']} (next {info['next_nonce']})")


@wallet.command()
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@wallet_options
@handle_errors
def history(limit: int, **opts: Any) -> None:
    """List a key's transactions, newest first."""
    ctx = Ctx(**ctx_args(opts))
    addr = ctx.load_key(opts["key_name"]).address(ctx.params.hrp)
    with ctx.client() as client:
        page = client.account_txs(addr, limit=limit)
    for item in page["txs"]:
        sign = "-" if item.get("sender") == addr else "+"
        where = f"height {item['height']}" if item["status"] == "confirmed" else "pending"
        text = f"  post: {item['post']}" if item.get("post") else ""
        amount = format_coins(int(item["amount"]))
        click.echo(f"{item['txid']}  {sign}{amount}  {where}{text}")
