"""BIP-340 official vectors through `powchain.core.keys` (the one wrapper of coincurve).

Every row: where a secret key is given, `xonly_pubkey` reproduces the public key and signing
with the row's aux_rand reproduces the signature; verification returns the TRUE/FALSE column.
Rows 15-18 sign messages that are not 32 bytes: coincurve's signer accepts only 32-byte
messages (powchain only ever signs 32-byte tagged hashes), so for those rows we pin that it
refuses with ValueError, and check that verification of the official signature still passes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from powchain.core.keys import is_valid_secret, schnorr_sign, schnorr_verify, xonly_pubkey

Row = dict[str, str]


def load_rows(shared: Path) -> list[Row]:
    with (shared / "vectors" / "bip340" / "test-vectors.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rows(shared: Path) -> list[Row]:
    got = load_rows(shared)
    assert [int(r["index"]) for r in got] == list(range(19))
    return got


def test_verification_matches_the_result_column(rows: list[Row]) -> None:
    for row in rows:
        expected = row["verification result"] == "TRUE"
        got = schnorr_verify(
            bytes.fromhex(row["public key"]),
            bytes.fromhex(row["message"]),
            bytes.fromhex(row["signature"]),
        )
        assert got is expected, f"row {row['index']}: {row['comment']}"
    assert sum(r["verification result"] == "FALSE" for r in rows) == 10


def test_signing_reproduces_signatures(rows: list[Row]) -> None:
    signed = 0
    for row in rows:
        if not row["secret key"]:
            continue
        secret = bytes.fromhex(row["secret key"])
        msg = bytes.fromhex(row["message"])
        assert is_valid_secret(secret)
        assert xonly_pubkey(secret) == bytes.fromhex(row["public key"])
        if len(msg) != 32:
            continue
        sig = schnorr_sign(secret, msg, bytes.fromhex(row["aux_rand"]))
        assert sig == bytes.fromhex(row["signature"]), f"row {row['index']}"
        signed += 1
    assert signed == 4  # rows 0-3


def test_non_32_byte_messages_cannot_be_signed_but_verify(rows: list[Row]) -> None:
    odd = [r for r in rows if len(bytes.fromhex(r["message"])) != 32]
    assert [int(r["index"]) for r in odd] == [15, 16, 17, 18]
    for row in odd:
        secret = bytes.fromhex(row["secret key"])
        msg = bytes.fromhex(row["message"])
        with pytest.raises(ValueError):
            schnorr_sign(secret, msg, bytes.fromhex(row["aux_rand"]))
        assert schnorr_verify(
            bytes.fromhex(row["public key"]), msg, bytes.fromhex(row["signature"])
        )


def test_malformed_inputs_verify_false_never_raise(rows: list[Row]) -> None:
    row = rows[1]
    pub, msg, sig = (bytes.fromhex(row[k]) for k in ("public key", "message", "signature"))
    assert schnorr_verify(pub, msg, sig)
    assert not schnorr_verify(pub[:31], msg, sig)
    assert not schnorr_verify(pub, msg, sig[:63])
    assert not schnorr_verify(pub, msg, sig + b"\x00")
    assert not schnorr_verify(bytes(32), msg, sig)
    assert not schnorr_verify(pub, msg[:31] + bytes([msg[31] ^ 1]), sig)


def test_secret_range() -> None:
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    assert not is_valid_secret(bytes(32))
    assert not is_valid_secret(order.to_bytes(32, "big"))
    assert is_valid_secret((order - 1).to_bytes(32, "big"))
    assert not is_valid_secret(b"\x01" * 31)
