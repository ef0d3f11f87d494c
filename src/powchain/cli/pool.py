"""`powchain miner`: a standalone Stratum v1 client on the C nonce kernel (issue 13)."""

from __future__ import annotations

import click

from .common import fail
from .root import main


@main.command()
@click.option(
    "--pool",
    required=True,
    metavar="stratum+tcp://HOST:PORT",
    help="Stratum v1 server: a node's --stratum address or any SHA-256 pool.",
)
@click.option("--user", required=True, help="Username: your payout address on powchain.")
@click.option("--password", default="x", show_default=True, help="Password (pools ignore it).")
@click.option(
    "--processes",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes searching nonces (one per core you give it).",
)
@click.option("--progress-every", type=click.FloatRange(0.1), default=10.0, hidden=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
)
def miner(
    pool: str, user: str, password: str, processes: int, progress_every: float, log_level: str
) -> None:
    """Mine on a Stratum v1 pool with the C nonce kernel, until Ctrl-C.

    Prints a progress line (hash rate, shares accepted/rejected, blocks found) every 10 s.

    \b
    Examples:
      powchain miner --pool stratum+tcp://127.0.0.1:3333 --user dpow1...
      powchain miner --pool stratum+tcp://pool.example:3333 --user ADDRESS --processes 4
    """
    import asyncio
    import contextlib

    from ..node.powsearch import backend
    from ..noderun import setup_logging
    from ..stratum.client import MinerClient, parse_pool_url, run_miner

    try:
        host, port = parse_pool_url(pool)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pool") from exc
    setup_logging(log_level)
    client = MinerClient(host, port, user, password, processes)
    click.echo(f"mining on {host}:{port} as {user} with {processes} process(es), {backend()}")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop quietly
        asyncio.run(run_miner(client, progress_every, lambda line: click.echo(line)))
    if client.last_error.startswith("authorize refused"):
        fail(client.last_error)
