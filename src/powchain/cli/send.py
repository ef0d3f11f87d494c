"""Signing and sending: `wallet send`, `post`, `faucet`.

Every send prints what it will do, fee included, before it submits (and asks on a terminal,
unless --yes). The nonce counts the wallet's own unconfirmed transactions (`wallet.pending`),
so quick sends never collide; a transaction is replaced only when asked (`--replace TXID`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core.params import DEVNET, DEVNET_FAUCET_SECRET
from ..core.units import format_coins
from ..wallet.builder import build_post, build_transfer, suggest_fee, tx_size

if TYPE_CHECKING:
    from ..wallet.client import NodeClient
    from ..wallet.keystore import WalletKey

from .common import (
    Ctx,
    address_arg,
    client_options,
    coins_arg,
    ctx_args,
    fail,
    handle_errors,
    wallet_options,
)
from .root import main
from .wallet import wallet

NONCE_RETRIES = 5
"""Fresh nonces tried when another sender's transaction (same key elsewhere) took ours."""


def _default_fee(size: int) -> int:
    from ..policy.fees import min_relay_fee

    return max(min_relay_fee(size), suggest_fee(size, 2))


@dataclass
class Plan:
    """What a send will do: `amount` (units; None = everything spendable minus the fee),
    `what` (for the line shown before sending), `make(nonce, fee, amount)` signs it."""

    key: WalletKey
    make: Callable[[int, int, int], Any]
    size: int
    what: str
    amount: int | None = 0
    replace: str | None = None  # txid of our pending transaction to replace
    yes: bool = False
    pending_file: Path | None = None


def _replaced(client: NodeClient, txid: str, address: str) -> tuple[int, int]:
    """(nonce, fee) of our pending transaction `txid`, which --replace supersedes."""
    from ..policy.fees import min_replacement_fee

    old = client.tx(txid)
    if old.get("status") != "pending":
        fail(f"{txid} is {old.get('status')}, not pending: only a pending one can be replaced")
    if old.get("sender") != address:
        fail(f"{txid} was not sent by {address}")
    return int(old["nonce"]), min_replacement_fee(int(old["fee"]))


def _sign_and_send(ctx: Ctx, plan: Plan) -> None:
    from ..wallet.client import ApiError
    from ..wallet.pending import PendingStore, Sent, now, pending_path

    address = plan.key.address(ctx.params.hrp)
    store = PendingStore(plan.pending_file or pending_path(ctx.wallet_file))
    with ctx.client() as client:
        account = client.account(address)
        confirmed, node_next = int(account["nonce"]), int(account["next_nonce"])
        fee = ctx.fee if ctx.fee is not None else _default_fee(plan.size)
        if plan.replace is not None:
            nonce, least = _replaced(client, plan.replace, address)
            fee = max(fee, least) if ctx.fee is None else fee
        else:
            nonce = store.next_nonce(address, confirmed, node_next)
        amount = plan.amount
        if amount is None:  # --all: what the mempool leaves spendable, less the fee
            amount = int(account["pending_balance"]) - fee
            if amount <= 0:
                fail(
                    f"nothing to send: {format_coins(int(account['pending_balance']))} coins "
                    f"spendable does not cover the fee of {format_coins(fee)} coins"
                )
        _announce(plan, amount, fee, nonce)
        for attempt in range(NONCE_RETRIES):
            signed = plan.make(nonce, fee, amount)
            try:
                txid = client.submit_tx(signed.serialize())
                break
            except ApiError as exc:
                taken = exc.error == "insufficient-fee" and "replacing nonce" in exc.message
                if plan.replace is not None or not taken or attempt == NONCE_RETRIES - 1:
                    raise
                nonce += 1  # another holder of this key used the nonce: take the next one
                click.echo(
                    f"nonce {nonce - 1} is taken by another transaction; using {nonce}", err=True
                )
    store.add(address, Sent(txid, nonce, amount, fee, now()))
    click.echo(txid)


def _announce(plan: Plan, amount: int, fee: int, nonce: int) -> None:
    """The line shown before sending; on a terminal, ask unless --yes."""
    spent = f"{format_coins(amount)} coins " if amount else ""
    line = (
        f"{plan.what}: {spent}+ fee {format_coins(fee)} coins = {format_coins(amount + fee)} "
        f"coins, nonce {nonce}"
    )
    if plan.replace is not None:
        line += f", replacing {plan.replace}"
    click.echo(line, err=True)
    if not plan.yes and sys.stdin.isatty() and not click.confirm("Send it?", default=True):
        fail("not sent")


def _amount(text: str | None, everything: bool) -> int | None:
    """Units of AMOUNT (None for --all); a clear line for a negative, zero or missing one."""
    if everything:
        if text is not None:
            fail("give either AMOUNT or --all, not both")
        return None
    if text is None:
        fail("give the AMOUNT in coins (or --all for the whole balance)")
        return None
    if text.strip().startswith("-"):
        raise click.BadParameter(
            f"an amount is a positive number of coins, not {text}", param_hint="AMOUNT"
        )
    units = coins_arg(text, "AMOUNT")
    if units == 0:
        raise click.BadParameter(
            "a payment of 0 coins moves nothing and only burns the fee (a message without a "
            "payment is `powchain post TEXT`)",
            param_hint="AMOUNT",
        )
    return units


def _send_options(f: Any) -> Any:
    f = click.option("--yes", "-y", is_flag=True, help="Do not ask before sending.")(f)
    f = click.option(
        "--replace",
        metavar="TXID",
        default=None,
        help="Replace this pending transaction of yours (same nonce, higher fee).",
    )(f)
    return click.option(
        "--fee", default=None, help="Fee in coins [default: the node's minimum relay fee]."
    )(f)


@wallet.command(context_settings={"ignore_unknown_options": True})
@click.argument("to_address", metavar="ADDRESS")
@click.argument("amount", required=False)
@click.option("--all", "everything", is_flag=True, help="Send the whole balance, less the fee.")
@_send_options
@wallet_options
@handle_errors
def send(
    to_address: str,
    amount: str | None,
    everything: bool,
    fee: str | None,
    replace: str | None,
    yes: bool,
    **opts: Any,
) -> None:
    """Pay AMOUNT coins to ADDRESS (signed here, submitted to the node). Shows the fee and the
    total first.

    \b
    Examples:
      powchain wallet send rpow1qxy... 1.5
      powchain wallet send rpow1qxy... 0.001 --fee 0.00001
      powchain wallet send rpow1qxy... --all           # everything, the fee taken from it
      powchain wallet send rpow1qxy... 2 --replace TXID   # replace a pending payment
    """
    ctx = Ctx(**ctx_args(opts))
    units = _amount(amount, everything)
    recipient = address_arg(to_address, ctx.params.hrp)
    ctx.fee = None if fee is None else coins_arg(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int, value: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, value, fee_units, os.urandom(32))

    plan = Plan(key, make, tx_size(0), f"pay {to_address}", units, replace, yes)
    _sign_and_send(ctx, plan)


@main.command()
@click.argument("text")
@_send_options
@wallet_options
@handle_errors
def post(text: str, fee: str | None, replace: str | None, yes: bool, **opts: Any) -> None:
    """Publish TEXT on the chain as a post signed by a wallet key.

    \b
    Example:
      powchain post "hello, chain" --network devnet
    """
    ctx = Ctx(**ctx_args(opts))
    size = len(text.encode("utf-8"))
    if not text.strip():
        raise click.BadParameter("a post needs some text", param_hint="TEXT")
    if size > ctx.params.max_post_text:
        raise click.BadParameter(f"at most {ctx.params.max_post_text} bytes", param_hint="TEXT")
    ctx.fee = None if fee is None else coins_arg(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int, _value: int) -> Any:
        chain = ctx.params.chain_id
        return build_post(key.secret, chain, nonce, text, fee_units, os.urandom(32))

    _sign_and_send(ctx, Plan(key, make, tx_size(1 + size), "post", 0, replace, yes))


@main.command(context_settings={"ignore_unknown_options": True})
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
    units = _amount(amount, False)
    recipient = address_arg(to_address, ctx.params.hrp)
    from ..wallet.keystore import WalletKey

    key = WalletKey("devnet-faucet", DEVNET_FAUCET_SECRET)

    def make(nonce: int, fee_units: int, value: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, value, fee_units, os.urandom(32))

    pending = ctx.datadir / "faucet.pending.json"
    plan = Plan(key, make, tx_size(0), f"faucet pays {to_address}", units, None, True, pending)
    _sign_and_send(ctx, plan)
