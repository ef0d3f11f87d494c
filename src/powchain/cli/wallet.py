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


def key_address(ctx: Ctx, name: str | None) -> str:
    """The address of key `name` (default: the first) without the passphrase (it is public,
    kept beside the keys); an older wallet file asks for it once and then keeps it too."""
    from ..wallet.keystore import Keystore, KeystoreError

    try:
        return Keystore.first_address(ctx.wallet_file, ctx.params.hrp, name)
    except KeystoreError as exc:
        if not ctx.wallet_file.exists() or "keeps no public addresses" not in str(exc):
            raise
    return ctx.load_key(name).address(ctx.params.hrp)


@wallet.command()
@wallet_options
@handle_errors
def address(**opts: Any) -> None:
    """Print the address of a key (to receive payments); no passphrase needed."""
    ctx = Ctx(**ctx_args(opts))
    click.echo(key_address(ctx, opts["key_name"]))


@wallet.command()
@wallet_options
@handle_errors
def balance(**opts: Any) -> None:
    """Show spendable, immature and pending balance (in coins) of a key."""
    ctx = Ctx(**ctx_args(opts))
    addr = key_address(ctx, opts["key_name"])
    with ctx.client() as client:
        info = client.account(addr)
    click.echo(f"{'address':<15} {addr}")
    for field in ("balance", "immature", "pending_balance"):
        click.echo(f"{field:<15} {format_coins(int(info[field]))}")
    click.echo(f"{'nonce':<15} {info['nonce']} (next {info['next_nonce']})")


KINDS = {"in": "received", "out": "sent", "self": "self"}
HISTORY_HEADER = (
    f"{'height':>7}  {'txid':<16}  {'kind':<8}  {'amount':>18}  {'fee':>12}  "
    f"{'change':>19}  {'balance':>18}"
)


def history_line(item: dict[str, Any]) -> str:
    """One row of `wallet history`: coins with 8 decimals, the running balance last."""
    kind = "coinbase" if item.get("coinbase") else KINDS.get(str(item.get("direction")), "?")
    delta = int(item["delta"])
    fee = int(item["fee"]) if kind in ("sent", "self") else 0
    sign = "+" if delta >= 0 else "-"
    text = f"  post: {item['post']}" if item.get("post") else ""
    return (
        f"{item['height']:>7}  {item['txid'][:16]:<16}  {kind:<8}  "
        f"{format_coins(int(item['amount'])):>18}  {format_coins(fee):>12}  "
        f"{sign + format_coins(abs(delta)):>19}  {format_coins(int(item['balance_after'])):>18}"
        f"{text}"
    )


@wallet.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@wallet_options
@handle_errors
def history(limit: int, **opts: Any) -> None:
    """List a key's confirmed transactions, newest first: one row each, with the amount, the
    fee this key paid, the change to its balance and the balance after it (spendable plus
    immature coinbase). The changes of all rows add up to the balance."""
    ctx = Ctx(**ctx_args(opts))
    addr = key_address(ctx, opts["key_name"])
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    with ctx.client() as client:
        while len(items) < limit:
            page = client.account_txs(addr, cursor=cursor, limit=min(100, limit - len(items)))
            items += page["txs"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        info = client.account(addr)
    if not items:
        click.echo("no confirmed transactions")
        return
    click.echo(HISTORY_HEADER)
    for item in items:
        click.echo(history_line(item))
    total = int(info["balance"]) + int(info["immature"])
    more = " (older rows not shown: raise --limit)" if cursor else ""
    click.echo(
        f"balance {format_coins(total)} coins = spendable {format_coins(int(info['balance']))}"
        f" + immature {format_coins(int(info['immature']))}{more}"
    )
