"""Wallet: keystore round trip and failures, builder signatures, pure helpers."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from powchain.consensus.tx_check import check_signature, check_transaction
from powchain.core.keys import schnorr_verify, xonly_pubkey
from powchain.core.params import REGTEST
from powchain.core.transaction import Transaction, post_text
from powchain.wallet import keystore
from powchain.wallet.builder import build_post, build_transfer, tx_size
from powchain.wallet.keystore import (
    PASSPHRASE_ENV,
    Keystore,
    KeystoreError,
    WrongPassphrase,
    read_passphrase,
)

FAST_N = 2**4  # tests only: the real default is 2**17
SECRET = bytes.fromhex("0f" * 32)
RECIPIENT = xonly_pubkey(bytes.fromhex("1e" * 32))
REAL_FLOORS = (keystore.DEFAULT_SCRYPT_N, keystore.MIN_SCRYPT_N, keystore.MAX_SCRYPT_N)


@pytest.fixture(autouse=True)
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run scrypt at FAST_N: the floors are scaled down (same code paths, fast)."""
    monkeypatch.setattr(keystore, "DEFAULT_SCRYPT_N", FAST_N)
    monkeypatch.setattr(keystore, "MIN_SCRYPT_N", FAST_N // 4)


def test_scrypt_cost_has_a_floor_for_new_files_and_bounds_for_old_ones(tmp_path: Path) -> None:
    """Also reported (issue 11): new keystores used N = 2**15 (OWASP asks 2**17) and decrypt
    accepted any N >= 2 a file named."""
    assert REAL_FLOORS == (2**17, 2**15, 2**20)
    path = tmp_path / "wallet.json"
    store = Keystore(scrypt_n=FAST_N // 4)  # what an earlier, weaker default wrote
    store.add("main", SECRET)
    doc = store.encrypt("pass phrase", bytes(16), bytes(12))
    assert doc["kdf"]["n"] == FAST_N  # anything written now is at least the new default
    store.save(path, "pass phrase")
    assert json.loads(path.read_text())["kdf"]["n"] == FAST_N
    assert Keystore.load(path, "pass phrase").get().secret == SECRET  # the happy case
    for weak_or_huge in (2, FAST_N // 8, 2 * keystore.MAX_SCRYPT_N, 3 * FAST_N):
        doc = json.loads(path.read_text())
        doc["kdf"]["n"] = weak_or_huge
        with pytest.raises(KeystoreError, match="outside"):
            Keystore.decrypt(doc, "pass phrase")


def test_keystore_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    store = Keystore(scrypt_n=FAST_N)
    store.add("main", SECRET)
    created = store.new_key("second")
    store.save(path, "correct horse")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["kdf"]["name"] == "scrypt"
    assert SECRET.hex() not in path.read_text()
    loaded = Keystore.load(path, "correct horse")
    assert [k.name for k in loaded.keys] == ["main", "second"]
    assert loaded.get().secret == SECRET
    assert loaded.get("second").secret == created.secret
    assert loaded.get("main").address("rpow").startswith("rpow1")


def test_wrong_passphrase_and_tampering(tmp_path: Path) -> None:
    path = tmp_path / "wallet.json"
    store = Keystore(scrypt_n=FAST_N)
    store.add("main", SECRET)
    store.save(path, "right")
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        Keystore.load(path, "wrong")
    doc = json.loads(path.read_text())
    doc["kdf"]["n"] = FAST_N * 2  # a header edit fails like a wrong passphrase
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        Keystore.load(path, "right")


@pytest.mark.parametrize("content", ["", "[]", "{}", '{"version": 9, "kdf": {}}', "not json"])
def test_malformed_keystore_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "wallet.json"
    path.write_text(content)
    with pytest.raises(KeystoreError):
        Keystore.load(path, "x")


def test_missing_file_and_key_errors(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="no wallet"):
        Keystore.load(tmp_path / "none.json", "x")
    store = Keystore(scrypt_n=FAST_N)
    with pytest.raises(KeystoreError, match="no keys"):
        store.get()
    store.add("a", SECRET)
    with pytest.raises(KeystoreError, match="already exists"):
        store.add("a", bytes.fromhex("01" * 32))
    with pytest.raises(KeystoreError, match="not a valid"):
        store.add("b", bytes(32))
    with pytest.raises(KeystoreError, match="no key named"):
        store.get("zzz")


def test_passphrase_from_env_or_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, "from-env")
    assert read_passphrase(prompt=lambda _: "typed") == "from-env"
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert read_passphrase(prompt=lambda _: "typed") == "typed"
    answers = iter(["one", "two"])
    with pytest.raises(KeystoreError, match="do not match"):
        read_passphrase(confirm=True, prompt=lambda _: next(answers))


def test_transfer_signature_verifies() -> None:
    tx = build_transfer(SECRET, REGTEST.chain_id, 7, RECIPIENT, 123, 456, bytes(32))
    assert tx.sender == xonly_pubkey(SECRET) and tx.nonce == 7
    assert (tx.amount, tx.fee, tx.recipient) == (123, 456, RECIPIENT)
    assert schnorr_verify(tx.sender, tx.sighash(), tx.signature)
    check_transaction(tx, REGTEST)
    check_signature(tx)
    assert Transaction.from_bytes(tx.serialize()) == tx
    assert tx.size == tx_size(0)


def test_post_is_signed_and_decodes() -> None:
    tx = build_post(SECRET, REGTEST.chain_id, 0, "héllo", 500, bytes.fromhex("aa" * 32))
    assert post_text(tx.data) == "héllo" and tx.amount == 0
    assert tx.recipient == tx.sender
    assert schnorr_verify(tx.sender, tx.sighash(), tx.signature)
    assert tx.size == tx_size(len(tx.data))


def test_builder_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        build_transfer(SECRET, REGTEST.chain_id, 0, RECIPIENT[:31], 1, 1, bytes(32))
    with pytest.raises(ValueError):
        build_transfer(SECRET, REGTEST.chain_id, 0, RECIPIENT, -1, 1, bytes(32))
    with pytest.raises(ValueError):
        build_transfer(SECRET, REGTEST.chain_id, 0, RECIPIENT, 21_000_001 * 10**8, 0, bytes(32))
