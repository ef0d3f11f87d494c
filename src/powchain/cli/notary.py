"""`powchain notarize FILE...`: one transaction commits to every file, then FILE.pcproof each.

The transaction pays 0 coins to the wallet key itself with data `0x02 | root` (root: the
merkle root of the files' SHA-256 digests, `light.notary.DigestTree`). The command waits for
`--confirmations` with a progress line on stderr, fetches the transaction's proof, checks it
against its own header chain synced from the nodes (a node cannot hand it a false proof), and
writes each FILE.pcproof (format in `light.notary` and docs/spec.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..core.hashing import hash_to_hex
from ..core.keys import xonly_pubkey
from ..core.params import genesis_block
from ..core.units import format_coins, parse_coins

__all__ = ["notarize_files", "POLL_SECONDS"]

POLL_SECONDS = 1.0


def _fee(opts: dict[str, Any], size: int) -> int:
    if opts.get("fee") is not None:
        try:
            return parse_coins(opts["fee"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--fee") from exc
    from ..wallet.builder import suggest_fee

    try:
        from ..policy.fees import min_relay_fee
    except ImportError:
        return suggest_fee(size)
    return max(min_relay_fee(size), suggest_fee(size, 2))


def _submit(ctx: Any, opts: dict[str, Any], data: bytes) -> str:
    """Sign and submit the notarizing transaction; its txid (people's hex)."""
    from ..wallet.builder import build_transfer, tx_size
    from ..wallet.client import NodeClient
    from ..wallet.keystore import Keystore, read_passphrase

    wallet_file = opts.get("wallet_file") or ctx.datadir / "wallet.json"
    key = Keystore.load(wallet_file, read_passphrase()).get(opts.get("key_name"))
    with NodeClient(ctx.urls[0]) as client:
        remote = client.status()
        if remote.get("chain_id") != ctx.params.chain_id:
            raise click.ClickException(f"the node at {ctx.urls[0]} runs {remote.get('network')}")
        nonce = int(client.account(key.address(ctx.params.hrp))["next_nonce"])
        fee = _fee(opts, tx_size(len(data)))
        chain_id, pub = ctx.params.chain_id, xonly_pubkey(key.secret)
        tx = build_transfer(key.secret, chain_id, nonce, pub, 0, fee, os.urandom(32), data)
        txid = client.submit_tx(tx.serialize())
    click.echo(f"notarizing transaction {txid} (fee {format_coins(fee)})", err=True)
    return txid


def _wait(ctx: Any, txid: str, confirmations: int, timeout: float) -> dict[str, Any]:
    """Poll the node until `txid` has `confirmations`; its proof JSON. A progress line."""
    from ..wallet.client import ApiError, NodeClient

    deadline = time.monotonic() + timeout
    with NodeClient(ctx.urls[0]) as client:
        while True:
            try:
                info = client.tx(txid)
            except ApiError as exc:
                if exc.status != 404:
                    raise click.ClickException(f"node: {exc.error}: {exc.message}") from exc
                info = {"confirmations": 0}
            got = int(info.get("confirmations") or 0)
            where = f" (block {info['height']:,})" if info.get("height") is not None else ""
            click.echo(
                f"\rwaiting for {confirmations} confirmation(s): {got}/{confirmations}{where}   ",
                err=True,
                nl=False,
            )
            if got >= confirmations:
                click.echo("", err=True)
                return client.tx_proof(txid)
            if time.monotonic() > deadline:
                click.echo("", err=True)
                raise click.ClickException(
                    f"{txid}: no {confirmations} confirmations in {timeout:.0f} s"
                )
            time.sleep(POLL_SECONDS)


def notarize_files(
    ctx: Any, files: tuple[Path, ...], opts: dict[str, Any], digest: Callable[[Path], bytes]
) -> None:
    """The whole command: digests, one transaction, wait, check, write FILE.pcproof."""
    from ..light.notary import DigestTree, PcProof, notary_data, verify_pcproof
    from ..light.proof import ProofError, TxProof
    from ..wallet.client import ApiError
    from ..wallet.keystore import KeystoreError

    digests = [digest(path) for path in files]
    tree = DigestTree.of(digests)
    click.echo(
        f"{len(files)} file(s), {len(tree.leaves)} distinct digest(s), root {tree.root.hex()}",
        err=True,
    )
    try:
        txid = _submit(ctx, opts, notary_data(tree.root))
        body = _wait(ctx, txid, opts["confirmations"], opts["timeout"])
    except ApiError as exc:
        raise click.ClickException(f"node: {exc.error}: {exc.message}") from exc
    except KeystoreError as exc:
        raise click.ClickException(f"wallet: {exc}") from exc
    tx_proof = TxProof.from_json(body)
    report = ctx.sync(quiet=True)
    genesis = genesis_block(ctx.params).hash
    for path, file_digest in zip(files, digests, strict=True):
        index, branch = tree.branch(file_digest)
        pc = PcProof(
            network=ctx.params.name,
            genesis=genesis,
            file_name=path.name,
            file_size=path.stat().st_size,
            file_sha256=file_digest,
            leaf_index=index,
            leaf_count=len(tree.leaves),
            leaf_branch=tuple(branch),
            tx=tx_proof.tx or b"",
            tx_proof=tx_proof,
        )
        try:  # never write a proof our own headers do not confirm
            verify_pcproof(file_digest, pc, ctx.chain(), opts["confirmations"])
        except ProofError as exc:
            raise click.ClickException(f"the node's proof does not check: {exc}") from exc
        out = path.with_name(path.name + ".pcproof")
        out.write_text(pc.dumps(), encoding="utf-8")
        click.echo(str(out))
    click.echo(
        f"notarized in block {tx_proof.height:,} ({hash_to_hex(tx_proof.block_hash)}), "
        f"headers from {len(report.agreeing)} node(s)",
        err=True,
    )
