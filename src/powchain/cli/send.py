"""Signing and sending: `wallet send`, `post`, `faucet`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..core.keys import AddressError, decode_address
from ..core.params import DEVNET, DEVNET_FAUCET_SECRET, ChainParams
from ..core.units import format_coins
from ..wallet.builder import build_post, build_transfer, suggest_fee, tx_size

if TYPE_CHECKING:
    from ..wallet.client import NodeClient
    from ..wallet.keystore import WalletKey

from .common import Ctx, client_options, coins_arg, ctx_args, fail, handle_errors, wallet_options
from .root import main
from .wallet import wallet


def _default_fee(size: int) -> int:
    try:
        from ..policy.fees import min_relay_fee
    except ImportError:  # policy not installed in this build: a generous constant rate
        return suggest_fee(size)
    return max(min_relay_fee(size), suggest_fee(size, 2))


def _check_network(client: NodeClient, params: ChainParams) -> None:
    remote = client.status()
    if remote.get("chain_id") != params.chain_id:
        fail(f"the node at {client.base_url} runs {remote.get('network')}, not {params.name}")


def _sign_and_send(ctx: Ctx, key: WalletKey, make: Callable[[int, int], Any], size: int) -> None:
    with ctx.client() as client:
        _check_network(client, ctx.params)
        nonce = int(client.account(key.address(ctx.params.hrp))["next_nonce"])
        fee = ctx.fee if ctx.fee is not None else _default_fee(size)
        signed = make(nonce, fee)
        txid = client.submit_tx(signed.serialize())
    click.echo(txid)
    click.echo(f"fee {format_coins(fee)}, nonce {nonce}", err=True)


@wallet.command()
@click.argument("to_address", metavar="ADDRESS")
@click.argument("amount")
@click.option("--fee", default=None, help="Fee in coins [default: the node's minimum relay fee].")
@wallet_options
@handle_errors
def send(to_address: str, amount: str, fee: str | None, **opts: Any) -> None:
    """Pay AMOUNT coins to ADDRESS (signed here, submitted to the node).

    \b
    Examples:
      powchain wallet send rpow1qxy... 1.5
      powchain wallet send rpow1qxy... 0.001 --fee 0.00001
    """
    ctx = Ctx(**ctx_args(opts))
    units = coins_arg(amount, "AMOUNT")
    try:
        recipient = decode_address(to_address, ctx.params.hrp)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESS") from exc
    ctx.fee = None if fee is None else coins_arg(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, units, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(0))


@main.command()
@click.argument("text")
@click.option("--fee", default=None, help="Fee in coins [default: the node's minimum relay fee].")
@wallet_options
@handle_errors
def post(text: str, fee: str | None, **opts: Any) -> None:
    """Publish TEXT on the chain as a post signed by a wallet key.

    \b
    Example:
      powchain post "hello, chain" --network devnet
    """
    ctx = Ctx(**ctx_args(opts))
    size = len(text.encode("utf-8"))
    if size > ctx.params.max_post_text:
        raise click.BadParameter(f"at most {ctx.params.max_post_text} bytes", param_hint="TEXT")
    ctx.fee = None if fee is None else coins_arg(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_post(key.secret, chain, nonce, text, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(1 + size))


@main.command()
@click.argument("to_address", metavar="ADDRESS")
@click.argument("amount", default="100")
@client_options
@handle_errors
def faucet(to_address: str, amount: str, **opts: Any) -> None:
    """Pay AMOUNT coins (default 100) to ADDRESS from the devnet faucet.

    The devnet genesis funds a published key (devnet coins are play money), like a development
    chain's prefunded accounts; this command signs with it. Devnet only.

    \b
    Example:
      powchain faucet dpow1qxy... 25 --network devnet
    """
    ctx = Ctx(**ctx_args(opts))
    if not ctx.params.genesis_allocations or ctx.params.name != DEVNET.name:
        fail(f"{ctx.params.name} has no faucet: it is a devnet feature (--network devnet)")
    units = coins_arg(amount, "AMOUNT")
    try:
        recipient = decode_address(to_address, ctx.params.hrp)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESS") from exc
    from ..wallet.keystore import WalletKey

    key = WalletKey("devnet-faucet", DEVNET_FAUCET_SECRET)

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, units, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(0))
