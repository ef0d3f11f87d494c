"""feature_proofs: proofs anyone can check, end to end with real `powchain` processes (issue 15).

- `powchain proof TXID > tx.proof` and `powchain verify tx.proof --node A --node B` print the
  confirmation sentence; an edited proof fails with a one-line reason; two nodes on different
  chains are named as disagreeing (exit 2).
- `powchain notarize` puts 100 files in one transaction, waits for confirmations (mined here
  while it waits) and writes 100 FILE.pcproof; with the node stopped, `powchain notarize
  --verify` checks all 100 from the stored headers only; a 1-byte change fails with the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .framework import NodeProcess, TestFramework, run_cli, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(300)]

PASSPHRASE = {"POWCHAIN_WALLET_PASSPHRASE": "correct horse battery staple"}
N_FILES = 100


def common(node: NodeProcess, datadir: Path) -> list[str]:
    return ["--network", "regtest", "--datadir", str(datadir), "--node", node.api_url]


def test_proof_and_verify_against_two_nodes(framework: TestFramework) -> None:
    log = framework.log
    miner, alice = framework.wallet("miner"), framework.wallet("alice")
    a = framework.add_node()
    b = framework.add_node()
    a.mine(11, alice.address)
    txid = alice.send(a, miner.address, 1_000)
    a.mine(3, miner.address)
    b.mine(2, miner.address)  # b follows its own, shorter chain: it will disagree
    light_dir = framework.tmp_path / "light"

    log.info("`powchain proof` writes the proof; `powchain verify` checks it against node a")
    made = run_cli(["proof", txid, *common(a, light_dir)])
    assert made.returncode == 0, made.stderr
    proof_file = framework.tmp_path / "tx.proof"
    proof_file.write_text(made.stdout)
    doc = json.loads(made.stdout)
    assert doc["format"] == "powchain-txproof" and doc["txid"] == txid
    done = run_cli(["verify", str(proof_file), *common(a, light_dir)])
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"confirmed in block 12 at \d{4}-\d\d-\d\d \d\d:\d\d UTC, 3 confirmations, "
        r"checked against 1 node's headers\n",
        done.stdout,
    ), done.stdout

    log.info("A getheaders-only light peer over the P2P protocol gets the same answer")
    p2p_dir = framework.tmp_path / "light-p2p"
    by_peer = run_cli(
        [
            "verify",
            str(proof_file),
            "--network",
            "regtest",
            "--datadir",
            str(p2p_dir),
            "--peer",
            a.p2p_address,
        ]
    )
    assert by_peer.returncode == 0, by_peer.stderr
    assert by_peer.stdout.endswith("3 confirmations, checked against 1 node's headers\n")

    log.info("An edited proof gets a one-line reason")
    for field, value in (("index", doc["index"] ^ 1), ("header", "00" + doc["header"][2:])):
        edited = framework.tmp_path / f"edited-{field}.proof"
        edited.write_text(json.dumps({**doc, field: value}))
        bad = run_cli(["verify", str(edited), *common(a, light_dir)])
        assert bad.returncode == 1
        (line,) = bad.stderr.strip().splitlines()
        assert line.startswith("Error: proof rejected: "), line

    log.info("With node b on another chain, verify names it and exits 2")
    both = run_cli(["verify", str(proof_file), *common(a, light_dir), "--node", b.api_url])
    assert both.returncode == 2, both.stdout + both.stderr
    assert "checked against 1 node's headers" in both.stdout
    assert f"warning: {b.api_url}: disagrees" in both.stderr


def test_notarize_100_files_and_verify_offline(framework: TestFramework) -> None:
    log = framework.log
    node = framework.add_node()
    datadir = framework.tmp_path / "client"
    wallet = str(framework.tmp_path / "wallet.json")
    args = [*common(node, datadir), "--wallet", wallet]
    created = run_cli(["wallet", "create", *args], env=PASSPHRASE)
    assert created.returncode == 0, created.stderr
    address = created.stdout.split()[1]
    node.mine(11, address)

    files = []
    for i in range(N_FILES):
        path = framework.tmp_path / "docs" / f"record-{i:03}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"record {i}: shipment {i * 7} checked\n")
        files.append(path)

    log.info("`powchain notarize` 100 files in one transaction, waiting for 2 confirmations")
    proc = framework.spawn(
        [*_powchain(), "notarize", *map(str, files), *args, "--confirmations", "2"],
        "notarize.log",
        env=PASSPHRASE,
    )
    wait_until(lambda: node.mempool()["count"] == 1 or proc.poll() is not None, 120, 0.5, "the tx")
    assert proc.poll() is None, (framework.tmp_path / "notarize.log").read_text()
    (txid,) = node.mempool_txids()
    assert node.tx(txid)["data"].startswith("02") and len(node.tx(txid)["data"]) == 66
    node.mine(2, address)
    wait_until(lambda: proc.poll() is not None, 120, 0.5, "notarize to finish")
    output = (framework.tmp_path / "notarize.log").read_text()
    assert proc.returncode == 0, output
    assert "waiting for 2 confirmation(s): 2/2" in output
    assert all(Path(f"{f}.pcproof").exists() for f in files)
    pc = json.loads(Path(f"{files[5]}.pcproof").read_text())
    assert pc["format"] == "powchain-pcproof" and pc["version"] == 1
    assert pc["leaf_count"] == N_FILES and pc["tx_proof"]["txid"] == txid

    log.info("Stop the node; verify all 100 from the stored headers only")
    node.stop()
    done = run_cli(["notarize", "--verify", *map(str, files), *common(node, datadir)])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == N_FILES
    assert all(
        re.fullmatch(r".*record-\d{3}\.txt existed by .* UTC \(block 12, 2 confirmations\)", x)
        for x in lines
    ), lines[:3]
    assert "offline" in done.stderr

    log.info("A 1-byte change fails with the reason")
    raw = bytearray(files[42].read_bytes())
    raw[0] ^= 0x01
    files[42].write_bytes(bytes(raw))
    bad = run_cli(["notarize", "--verify", str(files[42]), *common(node, datadir)])
    assert bad.returncode == 1
    assert "record-042.txt FAILED: file-changed" in bad.stderr


def _powchain() -> list[str]:
    import sys

    return [sys.executable, "-m", "powchain"]
