"""The `powchain` command line (SPEC §8): run a node or a devnet, use a wallet, query a node.

Client commands talk to a node through its REST API (`wallet.client.NodeClient`); amounts on
the command line are coins (`1.5`) converted exactly to base units; keys never leave the
encrypted keystore except to sign locally.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from .api.cookie import read_cookie
from .config import NETWORK_FILE_ENV, default_api_url, resolve_datadir
from .consensus.netfile import NetworkFile, NetworkFileError
from .core.hashing import hex_to_hash
from .core.keys import AddressError, decode_address, encode_address
from .core.params import DEVNET, DEVNET_FAUCET_SECRET, NETWORKS, ChainParams
from .core.units import format_coins, parse_coins
from .wallet.builder import build_post, build_transfer, suggest_fee, tx_size

if TYPE_CHECKING:  # httpx and cryptography load in the commands that use them, not in `node`
    from .wallet.client import NodeClient
    from .wallet.keystore import WalletKey

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _network_option(f: F) -> F:
    return click.option(
        "--network",
        type=click.Choice(sorted(NETWORKS)),
        default="regtest",
        show_default=True,
        envvar="POWCHAIN_NETWORK",
        help="Which chain (also picks default ports, datadir and address prefix).",
    )(f)


def _network_file_option(f: F) -> F:
    return click.option(
        "--network-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=NETWORK_FILE_ENV,
        help="Your own network's file (see `powchain network create`); replaces --network.",
    )(f)


def _resolve_network(network: str, network_file: Path | None) -> tuple[ChainParams, Any]:
    """(params, NetworkFile or None): --network-file when given, else --network.

    Both on the command line is an error; a --network given on the command line beats a
    network file from the environment ($POWCHAIN_NETWORK_FILE). A file that fails its checks
    stops the command with the file's problem.
    """
    if network_file is None:
        return NETWORKS[network], None
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.get_parameter_source("network") is ParameterSource.COMMANDLINE:
        if ctx.get_parameter_source("network_file") is ParameterSource.COMMANDLINE:
            raise click.UsageError("use either --network or --network-file, not both")
        return NETWORKS[network], None
    from .config import load_network_file

    try:
        loaded: NetworkFile = load_network_file(network_file)
    except NetworkFileError as exc:
        raise click.ClickException(exc.reason) from exc
    return loaded.params, loaded


def _datadir_option(f: F) -> F:
    return click.option(
        "--datadir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory [default: $POWCHAIN_DATADIR or ~/.powchain/NETWORK].",
    )(f)


def client_options(f: F) -> F:
    """--network, --datadir, --node: find the node to talk to and its admin token."""
    f = click.option(
        "--node",
        "node_url",
        default=None,
        metavar="URL",
        help="REST API of the node [default: the local node of --network].",
    )(f)
    return _network_option(_network_file_option(_datadir_option(f)))


def wallet_options(f: F) -> F:
    """client_options plus --wallet FILE and --key NAME."""
    f = click.option("--key", "key_name", default=None, help="Key name [default: the first].")(f)
    f = click.option(
        "--wallet",
        "wallet_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Keystore file [default: DATADIR/wallet.json].",
    )(f)
    return client_options(f)


class Ctx:
    """What a client command needs: params, datadir, a NodeClient, the wallet file."""

    def __init__(
        self,
        network: str,
        datadir: Path | None,
        node_url: str | None,
        wallet_file: Path | None = None,
        network_file: Path | None = None,
    ) -> None:
        self.params: ChainParams = _resolve_network(network, network_file)[0]
        self.datadir = resolve_datadir(datadir, self.params.name)
        self.url = node_url or default_api_url(self.params)
        self.wallet_file = wallet_file or self.datadir / "wallet.json"
        self.fee: int | None = None  # units; None = the default fee for the size

    def client(self) -> NodeClient:
        from .wallet.client import NodeClient

        return NodeClient(self.url, token=read_cookie(self.datadir))

    def load_key(self, name: str | None) -> WalletKey:
        from .wallet.keystore import Keystore, read_passphrase

        store = Keystore.load(self.wallet_file, read_passphrase())
        return store.get(name)


def _ctx_args(opts: dict[str, Any]) -> dict[str, Any]:
    """Ctx's arguments from a command's client or wallet options."""
    names = ("network", "datadir", "node_url", "wallet_file", "network_file")
    return {name: opts.get(name) for name in names}


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def _handle_errors(f: F) -> F:
    """Turn ApiError / KeystoreError into a one-line error and exit code 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .wallet.client import ApiError
        from .wallet.keystore import KeystoreError

        try:
            return f(*args, **kwargs)
        except ApiError as exc:
            _fail(f"node: {exc.error}: {exc.message}")
        except KeystoreError as exc:
            _fail(f"wallet: {exc}")
        return None

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="powchain")
def main() -> None:
    """powchain: a peer-to-peer proof-of-work blockchain.

    \b
    Examples:
      powchain node --network regtest          # a node with blocks on demand
      powchain devnet --nodes 3 --traffic      # a local network of 3 mining nodes
      powchain wallet create                   # a new encrypted wallet
      powchain wallet send rpow1... 1.5        # pay 1.5 coins
      powchain status                          # the local node's tip
    """


# -- node and devnet --------------------------------------------------------------------------


@main.command()
@_network_option
@_network_file_option
@_datadir_option
@click.option("--p2p", default=None, metavar="HOST:PORT", help="P2P listen address.")
@click.option("--api", default=None, metavar="HOST:PORT", help="REST API address (127.0.0.1).")
@click.option("--connect", multiple=True, metavar="HOST:PORT", help="Peer to connect to.")
@click.option("--mine/--no-mine", default=False, help="Mine blocks continuously.")
@click.option("--miner-address", default=None, help="Address paid by mined blocks.")
@click.option("--mining-processes", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option("--ping-interval", type=click.FloatRange(0.1), default=120.0, show_default=True)
@click.option("--idle-timeout", type=click.FloatRange(0.1), default=1200.0, show_default=True)
@click.option("--clock-offset", type=int, default=0, hidden=True)
@click.option("--block-timeout", type=click.FloatRange(0.1), default=30.0, hidden=True)
@click.option(
    "--explorer-wallet",
    is_flag=True,
    help="Allow the explorer's node-side wallet even when --api is not a loopback address.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def node(
    network: str,
    network_file: Path | None,
    datadir: Path | None,
    p2p: str | None,
    api: str | None,
    connect: tuple[str, ...],
    mine: bool,
    miner_address: str | None,
    mining_processes: int,
    ping_interval: float,
    idle_timeout: float,
    clock_offset: int,
    block_timeout: float,
    explorer_wallet: bool,
    log_level: str,
) -> None:
    """Run a full node: P2P, REST API and (with --mine) a miner, until Ctrl-C.

    Without --miner-address, --mine pays a key kept in DATADIR/miner.key.

    \b
    Examples:
      powchain node --network regtest
      powchain node --network devnet --mine --connect 127.0.0.1:28744
      powchain node --network testnet --p2p 0.0.0.0:38744 --api 127.0.0.1:38745
      powchain node --network-file mynet.toml --mine --connect 10.0.0.2:48744
    """
    from .config import build_node_config
    from .noderun import run_node

    params, loaded = _resolve_network(network, network_file)
    directory = resolve_datadir(datadir, params.name)
    try:
        config = build_node_config(
            network,
            directory,
            p2p,
            api,
            connect,
            mine,
            miner_address,
            mining_processes,
            ping_interval=ping_interval,
            idle_timeout=idle_timeout,
            clock_offset=clock_offset,
            block_timeout=block_timeout,
            network_file=loaded,
            explorer_wallet=explorer_wallet,
        )
    except (ValueError, AddressError) as exc:
        raise click.BadParameter(str(exc)) from exc
    sys.exit(run_node(config, log_level))


@main.command()
@click.option("--nodes", type=click.IntRange(1, 16), default=3, show_default=True)
@click.option(
    "--datadir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("devnet-data"),
    show_default=True,
    help="Parent of the nodes' data directories.",
)
@click.option("--traffic/--no-traffic", default=False, help="Wallets send payments and posts.")
@click.option("--base-port", type=click.IntRange(1024, 65000), default=None, help="First port.")
@click.option(
    "--network-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run your own network (a `powchain network create` file) instead of devnet; "
    "data in ./NAME-data unless --datadir.",
)
def devnet(
    nodes: int, datadir: Path, traffic: bool, base_port: int | None, network_file: Path | None
) -> None:
    """A local devnet: N mining `powchain node` processes on 127.0.0.1, until Ctrl-C.

    \b
    Examples:
      powchain devnet                     # 3 nodes, data in ./devnet-data
      powchain devnet --nodes 5 --traffic --datadir /tmp/dn
      powchain devnet --network-file mynet.toml
    """
    from .devnet import run_devnet

    if network_file is not None:
        params, _ = _resolve_network("devnet", network_file)  # refuses a bad file here
        source = click.get_current_context().get_parameter_source("datadir")
        if source is ParameterSource.DEFAULT:
            datadir = Path(f"{params.name}-data")
        sys.exit(run_devnet(nodes, datadir, traffic, base_port, network_file=network_file))
    sys.exit(run_devnet(nodes, datadir, traffic, base_port))


# -- queries ----------------------------------------------------------------------------------


@main.command()
@client_options
@_handle_errors
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
    with Ctx(network, datadir, node_url, network_file=network_file).client() as client:
        answer = client.status()
    _echo_json(answer)
    click.echo(_hashrate_line(answer), err=True)


def _hashrate_line(status: dict[str, Any]) -> str:
    """'hash rate: network ~2.94 MH/s (estimated, last 120 blocks), this node's miner 2.9 MH/s'."""
    from .node.hashrate import format_rate

    network = format_rate(status.get("network_hashrate"))
    mine = status.get("miner_hashrate")
    ours = "not mining" if mine is None else format_rate(mine)
    return f"hash rate: network ~{network} (estimated, last 120 blocks), this node's miner {ours}"


@main.command()
@click.argument("block_id")
@click.option("--full", is_flag=True, help="Decode every transaction.")
@client_options
@_handle_errors
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
        _echo_json(client.block(block_id, full=full))


@main.command()
@click.argument("txid")
@client_options
@_handle_errors
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
        _echo_json(client.tx(txid))


# -- wallet -----------------------------------------------------------------------------------


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
@_handle_errors
def create(name: str, **opts: Any) -> None:
    """Create the wallet file with a new key (or add a key to an existing wallet).

    \b
    Examples:
      powchain wallet create
      powchain wallet create --name savings
    """
    from .wallet.keystore import Keystore, read_passphrase

    ctx = Ctx(**_ctx_args(opts))
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
@_handle_errors
def list_keys(**opts: Any) -> None:
    """List the wallet's keys and addresses."""
    from .wallet.keystore import Keystore, read_passphrase

    ctx = Ctx(**_ctx_args(opts))
    for key in Keystore.load(ctx.wallet_file, read_passphrase()).keys:
        click.echo(f"{key.name}\t{key.address(ctx.params.hrp)}")


@wallet.command()
@wallet_options
@_handle_errors
def address(**opts: Any) -> None:
    """Print the address of a key (to receive payments)."""
    ctx = Ctx(**_ctx_args(opts))
    click.echo(ctx.load_key(opts["key_name"]).address(ctx.params.hrp))


@wallet.command()
@wallet_options
@_handle_errors
def balance(**opts: Any) -> None:
    """Show spendable, immature and pending balance (in coins) of a key."""
    ctx = Ctx(**_ctx_args(opts))
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
@_handle_errors
def history(limit: int, **opts: Any) -> None:
    """List a key's transactions, newest first."""
    ctx = Ctx(**_ctx_args(opts))
    addr = ctx.load_key(opts["key_name"]).address(ctx.params.hrp)
    with ctx.client() as client:
        page = client.account_txs(addr, limit=limit)
    for item in page["txs"]:
        sign = "-" if item.get("sender") == addr else "+"
        where = f"height {item['height']}" if item["status"] == "confirmed" else "pending"
        text = f"  post: {item['post']}" if item.get("post") else ""
        amount = format_coins(int(item["amount"]))
        click.echo(f"{item['txid']}  {sign}{amount}  {where}{text}")


def _coins(value: str, what: str) -> int:
    try:
        return parse_coins(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from exc


def _default_fee(size: int) -> int:
    try:
        from .policy.fees import min_relay_fee
    except ImportError:  # policy not installed in this build: a generous constant rate
        return suggest_fee(size)
    return max(min_relay_fee(size), suggest_fee(size, 2))


def _check_network(client: NodeClient, params: ChainParams) -> None:
    remote = client.status()
    if remote.get("chain_id") != params.chain_id:
        _fail(f"the node at {client.base_url} runs {remote.get('network')}, not {params.name}")


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
@_handle_errors
def send(to_address: str, amount: str, fee: str | None, **opts: Any) -> None:
    """Pay AMOUNT coins to ADDRESS (signed here, submitted to the node).

    \b
    Examples:
      powchain wallet send rpow1qxy... 1.5
      powchain wallet send rpow1qxy... 0.001 --fee 0.00001
    """
    ctx = Ctx(**_ctx_args(opts))
    units = _coins(amount, "AMOUNT")
    try:
        recipient = decode_address(to_address, ctx.params.hrp)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESS") from exc
    ctx.fee = None if fee is None else _coins(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, units, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(0))


@main.command()
@click.argument("text")
@click.option("--fee", default=None, help="Fee in coins [default: the node's minimum relay fee].")
@wallet_options
@_handle_errors
def post(text: str, fee: str | None, **opts: Any) -> None:
    """Publish TEXT on the chain as a post signed by a wallet key.

    \b
    Example:
      powchain post "hello, chain" --network devnet
    """
    ctx = Ctx(**_ctx_args(opts))
    size = len(text.encode("utf-8"))
    if size > ctx.params.max_post_text:
        raise click.BadParameter(f"at most {ctx.params.max_post_text} bytes", param_hint="TEXT")
    ctx.fee = None if fee is None else _coins(fee, "--fee")
    key = ctx.load_key(opts["key_name"])

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_post(key.secret, chain, nonce, text, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(1 + size))


@main.command()
@click.argument("to_address", metavar="ADDRESS")
@click.argument("amount", default="100")
@client_options
@_handle_errors
def faucet(to_address: str, amount: str, **opts: Any) -> None:
    """Pay AMOUNT coins (default 100) to ADDRESS from the devnet faucet.

    The devnet genesis funds a published key (devnet coins are play money), like a development
    chain's prefunded accounts; this command signs with it. Devnet only.

    \b
    Example:
      powchain faucet dpow1qxy... 25 --network devnet
    """
    ctx = Ctx(**_ctx_args(opts))
    if not ctx.params.genesis_allocations or ctx.params.name != DEVNET.name:
        _fail(f"{ctx.params.name} has no faucet: it is a devnet feature (--network devnet)")
    units = _coins(amount, "AMOUNT")
    try:
        recipient = decode_address(to_address, ctx.params.hrp)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESS") from exc
    from .wallet.keystore import WalletKey

    key = WalletKey("devnet-faucet", DEVNET_FAUCET_SECRET)

    def make(nonce: int, fee_units: int) -> Any:
        chain = ctx.params.chain_id
        return build_transfer(key.secret, chain, nonce, recipient, units, fee_units, os.urandom(32))

    _sign_and_send(ctx, key, make, tx_size(0))


# -- your own network ---------------------------------------------------------------------------


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
    return address, _coins(coins, "--allocate")


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
    from .config import create_network, write_network_file

    path = out or Path(f"{name}.toml")
    if path.exists() and not force:
        _fail(f"{path} exists (use --force to overwrite it)")
    values: dict[str, Any] = {
        "target_spacing": block_time,
        "initial_subsidy": _coins(subsidy, "--subsidy"),
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


from .cli_proof import register as _register_proof_commands  # noqa: E402  (issue 15)

_register_proof_commands(main)

if __name__ == "__main__":  # pragma: no cover
    main()
