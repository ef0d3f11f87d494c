"""`powchain validator`: a validator network's validators, and votes to change the set
(issue 14)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .common import (
    Ctx,
    address_arg,
    client_options,
    coins_arg,
    ctx_args,
    echo_json,
    fail,
    handle_errors,
    wallet_options,
)
from .root import main
from .send import Plan, _sign_and_send

VOTE_DATA = 34  # bytes of a vote's data: tag, add, key


@main.group()
def validator() -> None:
    """Validator networks: the validators' status, and votes to change the set."""


@validator.command(name="list")
@client_options
@handle_errors
def validator_list(
    network: str, datadir: Path | None, node_url: str | None, network_file: Path | None
) -> None:
    """Each validator's status as the node sees it (GET /api/v1/validators): online, last
    signed height, in turn, why not signing; the threshold, pending votes and evidence.

    \b
    Example:
      powchain validator list --network-file office.toml
    """
    with Ctx(network, datadir, node_url, network_file=network_file).client() as client:
        echo_json(client.validators())


@validator.command()
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.argument("address")
@click.option("--fee", default=None, help="Fee in coins [default: the node's minimum relay fee].")
@click.option("--yes", is_flag=True, help="Send without asking.")
@wallet_options
@handle_errors
def vote(action: str, address: str, fee: str | None, yes: bool, **opts: Any) -> None:
    """Vote, as the validator of a wallet key, to add or remove ADDRESS.

    The change takes effect at the block after the one holding the T-th vote of current
    validators for it (T: the network's threshold). Every validator votes with its own key.

    \b
    Examples:
      powchain validator vote add office1q... --network-file office.toml --wallet v1.json
      powchain validator vote remove office1q... --network-file office.toml --wallet v1.json
    """
    from ..wallet.builder import build_vote, tx_size

    ctx = Ctx(**ctx_args(opts))
    if ctx.params.consensus != "validators":
        fail(f"{ctx.params.name} has no validators to vote on")
    subject = address_arg(address, ctx.params.hrp)
    ctx.fee = None if fee is None else coins_arg(fee, "--fee")
    key = ctx.load_key(opts["key_name"])
    add = action == "add"

    def make(nonce: int, fee_units: int, _value: int) -> Any:
        chain = ctx.params.chain_id
        return build_vote(key.secret, chain, nonce, subject, add, fee_units, os.urandom(32))

    what = f"vote to {action} {address}"
    _sign_and_send(ctx, Plan(key, make, tx_size(VOTE_DATA), what, 0, None, yes))
