"""Shared pieces of the command line: options, the client context, errors, units."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from ..api.cookie import read_cookie
from ..config import NETWORK_FILE_ENV, default_api_url, resolve_datadir
from ..consensus.netfile import NetworkFile, NetworkFileError
from ..core.keys import AddressError, decode_address
from ..core.params import NETWORKS, ChainParams
from ..core.units import format_coins, parse_coins

if TYPE_CHECKING:
    from ..wallet.client import NodeClient
    from ..wallet.keystore import WalletKey

F = TypeVar("F", bound=Callable[..., Any])


def network_option(f: F) -> F:
    return click.option(
        "--network",
        type=click.Choice(sorted(NETWORKS)),
        default="regtest",
        show_default=True,
        envvar="POWCHAIN_NETWORK",
        help="Which chain (also picks default ports, datadir and address prefix).",
    )(f)


def network_file_option(f: F) -> F:
    return click.option(
        "--network-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        envvar=NETWORK_FILE_ENV,
        help="Your own network's file (see `powchain network create`); replaces --network.",
    )(f)


def resolve_network(network: str, network_file: Path | None) -> tuple[ChainParams, Any]:
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
    from ..config import load_network_file

    try:
        loaded: NetworkFile = load_network_file(network_file)
    except NetworkFileError as exc:
        raise click.ClickException(exc.reason) from exc
    return loaded.params, loaded


def datadir_option(f: F) -> F:
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
    return network_option(network_file_option(datadir_option(f)))


def key_options(f: F) -> F:
    """--wallet FILE and --key NAME: the keystore and the key in it that signs."""
    f = click.option("--key", "key_name", default=None, help="Key name [default: the first].")(f)
    return click.option(
        "--wallet",
        "wallet_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Keystore file [default: DATADIR/wallet.json].",
    )(f)


def wallet_options(f: F) -> F:
    """client_options plus --wallet FILE and --key NAME."""
    return client_options(key_options(f))


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
        self.params: ChainParams = resolve_network(network, network_file)[0]
        self.datadir = resolve_datadir(datadir, self.params.name)
        self.url = node_url or default_api_url(self.params)
        self.default_url = node_url is None
        self.wallet_file = wallet_file or self.datadir / "wallet.json"
        self.fee: int | None = None  # units; None = the default fee for the size
        self.remote: dict[str, Any] = {}  # the node's GET /status, read by client()

    def client(self) -> NodeClient:
        """A client of the node, after checking that it is one and on our network: one line
        (and exit 1) for no node there, a P2P port given as --node, another network."""
        from ..wallet.client import ApiError, NodeClient

        client = NodeClient(self.url, token=read_cookie(self.datadir))
        try:
            self.remote = client.status()
        except ApiError as exc:
            client.close()
            fail(self._unreachable(exc))
        if self.remote.get("chain_id") != self.params.chain_id:
            client.close()
            fail(
                f"the node at {self.url} is on {self.remote.get('network')}, not "
                f"{self.params.name}: give --network {self.remote.get('network')} (or the "
                f"--network-file of its network), or --node of a {self.params.name} node"
            )
        return client

    def _unreachable(self, exc: Any) -> str:
        if exc.status == 426:  # a P2P port: our P2P server says where the API is
            said = exc.message.strip().rstrip(".")
            return f"{self.url} is not a REST API: {said}"
        if exc.status == 0 and self.default_url:
            return (
                f"no node answers at {self.url}, the default API address of "
                f"{self.params.name}: start one (`powchain node --network {self.params.name}`), "
                "or say which node with --network NAME or --node URL"
            )
        if exc.status == 0:
            return f"no node answers at {self.url} (is it running? is the port its API port?)"
        return f"{self.url} does not answer as a powchain node (HTTP {exc.status}: {exc.error})"

    def load_key(self, name: str | None) -> WalletKey:
        from ..wallet.keystore import Keystore, read_passphrase

        store = Keystore.load(self.wallet_file, read_passphrase())
        return store.get(name)


def ctx_args(opts: dict[str, Any]) -> dict[str, Any]:
    """Ctx's arguments from a command's client or wallet options."""
    names = ("network", "datadir", "node_url", "wallet_file", "network_file")
    return {name: opts.get(name) for name in names}


def fail(message: str) -> None:
    raise click.ClickException(message)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))


def handle_errors(f: F) -> F:
    """Turn ApiError / KeystoreError into a one-line error and exit code 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..wallet.client import ApiError
        from ..wallet.keystore import KeystoreError

        try:
            return f(*args, **kwargs)
        except ApiError as exc:
            fail(f"node: {exc.error}: {humanize(exc.message)}")
        except KeystoreError as exc:
            fail(f"wallet: {exc}")
        return None

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper  # type: ignore[return-value]


def coins_arg(value: str, what: str) -> int:
    try:
        return parse_coins(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from exc


def address_arg(value: str, hrp: str, what: str = "ADDRESS") -> bytes:
    """The 32-byte x-only key of a bech32m address of this network, or a usage error naming
    `what` (the argument or option)."""
    try:
        return decode_address(value, hrp)
    except AddressError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from exc


MONEY_KEYS = frozenset(
    {"amount", "fee", "balance", "immature", "pending_balance", "total_fees", "delta"}
    | {"balance_after", "subsidy"}
)
"""Fields of API answers that hold base units; people read them as coins."""
_UNITS = re.compile(r"\b(\d+) units\b")
_BARE = re.compile(r"\b(needs|got|at least) (\d+)(?![.\d])(?! (?:bytes|coins|blocks))")


def humanize(message: str) -> str:
    """A node's message with every amount in coins: `sender holds 2349999342 units, needs
    100000000000316` -> `sender holds 23.49999342 coins, needs 1000000.00000316 coins`."""
    message = _UNITS.sub(lambda m: f"{format_coins(int(m.group(1)))} coins", message)
    return _BARE.sub(lambda m: f"{m.group(1)} {format_coins(int(m.group(2)))} coins", message)


def coins_view(data: Any) -> Any:
    """An API answer for people: every money field (MONEY_KEYS) as a coin string with 8
    decimals (`"amount": "250.00000000"`); everything else unchanged."""
    if isinstance(data, dict):
        return {
            k: format_coins(v)
            if k in MONEY_KEYS and isinstance(v, int) and not isinstance(v, bool)
            else coins_view(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [coins_view(v) for v in data]
    return data
