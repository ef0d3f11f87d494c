"""`powchain verify` and `powchain notarize --verify` offline: headers already in the light
client's SQLite file, no node answering (a closed port), the sentences and one-line reasons."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

from click.testing import CliRunner

from powchain.cli import main
from powchain.core.block import BlockHeader
from powchain.core.hashing import hash_to_hex, merkle_branch, merkle_root
from powchain.core.params import REGTEST, genesis_block
from powchain.core.transaction import Transaction
from powchain.light.headerchain import HeaderChain
from powchain.light.notary import DigestTree, PcProof, notary_data
from powchain.light.proof import TxProof
from powchain.light.store import HeaderStore

from .test_light import extend, genesis

DOCS = [b"first document\n", b"second document\n", b"third\n"]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def setup(tmp_path: Path) -> tuple[Path, TxProof, DigestTree, bytes]:
    """A stored header chain whose block 3 holds a notarizing tx of DOCS (and a coinbase)."""
    tree = DigestTree.of([hashlib.sha256(d).digest() for d in DOCS])
    tx = Transaction(1, REGTEST.chain_id, 0, b"\x01" * 32, b"\x01" * 32, 0, 1_000,
                     notary_data(tree.root), b"\x02" * 64)  # fmt: skip
    coinbase = Transaction.coinbase(REGTEST.chain_id, 3, b"\x03" * 32, 50)
    txids = [coinbase.txid, tx.txid]
    headers = extend(REGTEST, genesis(), 5, roots={3: merkle_root(txids)})
    headers_file = tmp_path / "headers.sqlite"
    chain = HeaderChain(REGTEST, HeaderStore(headers_file))
    chain.offer(0, headers[1:])
    chain.store.close()  # type: ignore[union-attr]
    block: BlockHeader = headers[3]
    proof = TxProof(
        tx.txid, block.hash, 3, 1, tuple(merkle_branch(txids, 1)), block, tx.serialize()
    )
    return headers_file, proof, tree, tx.serialize()


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_verify_offline_and_an_edited_proof(tmp_path: Path) -> None:
    headers_file, proof, _tree, _tx = setup(tmp_path)
    doc = {"format": "powchain-txproof", "version": 1, "network": "regtest",
           "genesis": hash_to_hex(genesis_block(REGTEST).hash), **proof.to_json()}  # fmt: skip
    path = tmp_path / "tx.proof"
    path.write_text(json.dumps(doc))
    common = ["--headers", str(headers_file), "--node", closed_port_url()]
    got = run("verify", str(path), *common)
    assert got.exit_code == 0, got.output  # type: ignore[attr-defined]
    assert got.stdout.startswith("confirmed in block 3 at ")  # type: ignore[attr-defined]
    assert "3 confirmations, checked against stored headers only" in got.stdout  # type: ignore[attr-defined]
    assert "unreachable" in got.stderr  # type: ignore[attr-defined]
    path.write_text(json.dumps({**doc, "index": 0}))
    bad = run("verify", str(path), *common)
    assert bad.exit_code == 1  # type: ignore[attr-defined]
    (line,) = bad.stderr.strip().splitlines()[-1:]  # type: ignore[attr-defined]
    assert line.startswith("Error: proof rejected: merkle-mismatch: "), line
    tight = run("verify", str(path.with_name("x")), *common)
    assert tight.exit_code == 2  # type: ignore[attr-defined]  # click: no such file


def test_notarize_verify_offline_and_a_changed_byte(tmp_path: Path) -> None:
    headers_file, proof, tree, raw_tx = setup(tmp_path)
    files = []
    for i, data in enumerate(DOCS):
        path = tmp_path / f"doc{i}.txt"
        path.write_bytes(data)
        digest = hashlib.sha256(data).digest()
        index, branch = tree.branch(digest)
        pc = PcProof("regtest", genesis_block(REGTEST).hash, path.name, len(data), digest, index,
                     len(tree.leaves), tuple(branch), raw_tx, proof)  # fmt: skip
        Path(f"{path}.pcproof").write_text(pc.dumps())
        files.append(str(path))
    common = ["--headers", str(headers_file), "--node", closed_port_url()]
    got = run("notarize", "--verify", *files, *common)
    assert got.exit_code == 0, got.output  # type: ignore[attr-defined]
    lines = got.stdout.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 3 and all(
        " existed by " in x and "(block 3, 3 confirmations)" in x for x in lines
    )
    Path(files[1]).write_bytes(b"second document!\n")
    bad = run("notarize", "--verify", files[1], *common)
    assert bad.exit_code == 1  # type: ignore[attr-defined]
    assert "doc1.txt FAILED: file-changed: " in bad.stderr  # type: ignore[attr-defined]
    Path(f"{files[2]}.pcproof").write_text('{"format": "powchain-pcproof", "version": 2}')
    old = run("notarize", "--verify", files[2], *common)
    assert "FAILED: unknown-version" in old.stderr  # type: ignore[attr-defined]
