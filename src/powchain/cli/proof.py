"""`powchain proof`, `powchain verify` and `powchain notarize` (issue 15): proofs anyone can check.

These commands trust no node for the answer: they keep their own headers-only chain
(`powchain.light`, in DATADIR/light/headers.sqlite), sync it from every `--node` given (each
header checked: links, proof of work, the network's difficulty rule, most work), and check the
proof against it. Nodes that disagree are named, never silently outvoted; with no node
reachable the stored headers are used and the answer says so. Importing this module adds the
commands to the `powchain` group (`cli/__init__.py` imports it).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import default_api_url, resolve_datadir
from ..core.hashing import hash_to_hex
from .common import (
    datadir_option,
    key_options,
    network_file_option,
    network_option,
    resolve_network,
)
from .root import main

__all__ = ["register", "proof", "verify", "notarize"]

F = TypeVar("F", bound=Callable[..., Any])
MAX_PROOF_FILE = 1024 * 1024
TXPROOF_KEYS = ("txid", "block", "height", "index", "branch", "header", "tx")


def _options(multiple_nodes: bool) -> Callable[[F], F]:
    def wrap(f: F) -> F:
        f = click.option(
            "--node",
            "nodes",
            multiple=multiple_nodes,
            default=None,
            metavar="URL",
            help="REST API of a node to take headers from"
            + (" (repeat for several)" if multiple_nodes else "")
            + " [default: the local node of --network].",
        )(f)
        if multiple_nodes:
            f = click.option(
                "--peer",
                "peers",
                multiple=True,
                metavar="HOST:PORT",
                help="A node's P2P address to take headers from over the peer protocol "
                "(getheaders only; repeat for several).",
            )(f)
        f = click.option(
            "--headers",
            "headers_file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="The light client's header file [default: DATADIR/light/headers.sqlite].",
        )(f)
        return network_option(network_file_option(datadir_option(f)))

    return wrap


class LightCtx:
    """Network, datadir, node URLs and the header chain of one command."""

    def __init__(self, opts: dict[str, Any]) -> None:
        self.params = resolve_network(opts["network"], opts.get("network_file"))[0]
        self.datadir = resolve_datadir(opts.get("datadir"), self.params.name)
        nodes = opts.get("nodes")
        if isinstance(nodes, str):
            nodes = (nodes,)
        self.peers = list(opts.get("peers") or ())
        self.urls = list(nodes or ()) or ([] if self.peers else [default_api_url(self.params)])
        self.headers_file = opts.get("headers_file") or self.datadir / "light" / "headers.sqlite"
        self._chain: Any = None

    def chain(self) -> Any:
        if self._chain is None:
            from ..light.headerchain import HeaderChain
            from ..light.store import HeaderStore

            try:
                self._chain = HeaderChain(self.params, HeaderStore(self.headers_file))
            except ValueError as exc:
                raise click.ClickException(str(exc)) from exc
        return self._chain

    def sync(self, quiet: bool = False) -> Any:
        """Sync the header chain from every node; print disagreements; the SyncReport."""
        from ..light.sync import HttpSource, follow
        from ..light.wspeer import WsSource

        sources: list[Any] = [HttpSource(url) for url in self.urls]
        sources += [WsSource(address, self.params) for address in self.peers]
        try:
            report = follow(self.chain(), sources)
        finally:
            for source in sources:
                source.close()
        for state in report.disagreements:
            if state.status != "unreachable" or not quiet:
                click.echo(f"warning: {state.describe()}", err=True)
        return report


def _against(report: Any) -> str:
    agreeing = len(report.agreeing)
    if agreeing == 0:
        return "checked against stored headers only (no node answered: offline)"
    whose = "node's" if agreeing == 1 else "nodes'"
    return f"checked against {agreeing} {whose} headers"


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _exit_for(report: Any) -> None:
    """Exit 2 when some reachable node disagrees: the answer stands on the most-work chain,
    but a person must look (never resolved silently)."""
    if any(s.status in ("disagrees", "invalid") for s in report.sources):
        click.echo("error: the nodes disagree (see the warnings above)", err=True)
        sys.exit(2)


def _read_bounded(path: Path, limit: int) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise click.ClickException(f"{path}: larger than {limit} bytes, not a proof")
    return data


def _fail_proof(exc: Exception) -> None:
    raise click.ClickException(f"proof rejected: {exc}")


# -- powchain proof / verify ------------------------------------------------------------------


@click.command()
@click.argument("txid")
@click.option("--merkleblock", is_flag=True, help="Print Core's gettxoutproof hex instead.")
@_options(multiple_nodes=False)
def proof(txid: str, merkleblock: bool, **opts: Any) -> None:
    """Print the inclusion proof of confirmed transaction TXID (JSON, see docs/spec.md).

    \b
    Examples:
      powchain proof 3f2a... > tx.proof
      powchain verify tx.proof --node http://127.0.0.1:18745
    """
    from ..wallet.client import ApiError, NodeClient

    ctx = LightCtx(opts)
    try:
        with NodeClient(ctx.urls[0]) as client:
            body = client.tx_proof(txid, merkleblock)
    except ApiError as exc:
        raise click.ClickException(f"node: {exc.error}: {exc.message}") from exc
    if merkleblock:
        click.echo(body["merkleblock"])
        return
    from ..core.params import genesis_block

    doc = {"format": "powchain-txproof", "version": 1, "network": ctx.params.name}
    doc["genesis"] = hash_to_hex(genesis_block(ctx.params).hash)
    doc.update({k: body[k] for k in TXPROOF_KEYS if k in body})
    click.echo(json.dumps(doc, indent=2))


@click.command()
@click.argument(
    "proof_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--confirmations", type=click.IntRange(1), default=1, show_default=True)
@_options(multiple_nodes=True)
def verify(proof_file: Path, confirmations: int, **opts: Any) -> None:
    """Check a proof from `powchain proof` against headers from one or more nodes.

    Prints "confirmed in block H at T, N confirmations, checked against K nodes' headers";
    a forged or edited proof fails with a one-line reason (exit 1); nodes that disagree make
    the exit code 2.

    \b
    Example:
      powchain verify tx.proof --node http://a:18745 --node http://b:18745
    """
    from ..light.proof import ProofError, TxProof, verify_tx_proof

    ctx = LightCtx(opts)
    try:
        doc = json.loads(_read_bounded(proof_file, MAX_PROOF_FILE))
    except ValueError as exc:
        raise click.ClickException(f"{proof_file}: not a JSON proof ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != "powchain-txproof":
        raise click.ClickException(f"{proof_file}: not a powchain-txproof document")
    if doc.get("version") != 1:
        raise click.ClickException(f"{proof_file}: proof version {doc.get('version')!r} unknown")
    report = ctx.sync()
    chain = ctx.chain()
    if doc.get("genesis") != hash_to_hex(chain.genesis_hash):
        _fail_proof(ProofError("wrong-network", f"the proof is for {doc.get('network')!r}"))
    try:
        got = verify_tx_proof(TxProof.from_json(doc), chain, confirmations)
    except ProofError as exc:
        _fail_proof(exc)
        return
    click.echo(
        f"confirmed in block {got.height:,} at {_when(got.time)}, "
        f"{got.confirmations:,} confirmation{'s' if got.confirmations != 1 else ''}, "
        f"{_against(report)}"
    )
    _exit_for(report)


# -- powchain notarize --------------------------------------------------------------------------


def _digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()


@click.command()
@click.argument(
    "files",
    metavar="FILE...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--verify", "check", is_flag=True, help="Check FILE against FILE.pcproof instead.")
@click.option("--confirmations", type=click.IntRange(1), default=1, show_default=True)
@click.option("--fee", default=None, help="Fee in coins [default: the minimum relay fee].")
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=3600.0,
    show_default=True,
    help="Seconds to wait for the confirmations.",
)
@key_options
@_options(multiple_nodes=True)
def notarize(files: tuple[Path, ...], check: bool, **opts: Any) -> None:
    """Put the SHA-256 of each FILE on chain in one transaction; write FILE.pcproof.

    With --verify, check each FILE against its FILE.pcproof and headers instead: "FILE
    existed by DATE (block H, N confirmations)"; a changed byte fails with the reason.

    \b
    Examples:
      powchain notarize contract.pdf photo.jpg --confirmations 6
      powchain notarize --verify contract.pdf --node http://127.0.0.1:18745
    """
    ctx = LightCtx(opts)
    if check:
        _verify_files(ctx, files, opts["confirmations"])
    else:
        from .notary import notarize_files

        notarize_files(ctx, files, opts, _digest)


def _verify_files(ctx: LightCtx, files: tuple[Path, ...], confirmations: int) -> None:
    from ..light.notary import MAX_PCPROOF_BYTES, PcProof, verify_pcproof
    from ..light.proof import ProofError

    report = ctx.sync(quiet=True)
    failed = 0
    for path in files:
        proof_path = path.with_name(path.name + ".pcproof")
        try:
            if not proof_path.exists():
                raise ProofError("no-proof", f"{proof_path} is missing")
            pc = PcProof.loads(_read_bounded(proof_path, MAX_PCPROOF_BYTES))
            got = verify_pcproof(_digest(path), pc, ctx.chain(), confirmations)
        except ProofError as exc:
            failed += 1
            click.echo(f"{path} FAILED: {exc}", err=True)
            continue
        click.echo(
            f"{path} existed by {_when(got.time)} (block {got.height:,}, "
            f"{got.confirmations:,} confirmation{'s' if got.confirmations != 1 else ''})"
        )
    click.echo(_against(report), err=True)
    if failed:
        sys.exit(1)
    _exit_for(report)


def register(main: click.Group) -> None:
    """Add proof, verify and notarize to the `powchain` command group."""
    for command in (proof, verify, notarize):
        main.add_command(command)


register(main)
