"""The validator signing record (issue 14): one block per height, on disk before it is used."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from powchain.consensus.signatures import signing_hash
from powchain.core.keys import schnorr_verify
from powchain.node.signrecord import RECORD_FILE, SignRecord, SignRefused

SECRET = hashlib.sha256(b"record test").digest()
A, B = b"\xaa" * 32, b"\xbb" * 32


def test_signs_once_per_height_and_survives_a_reload(tmp_path: Path) -> None:
    record = SignRecord(tmp_path, SECRET)
    sig = record.sign(5, A, b"block-a")
    assert schnorr_verify(record.key, signing_hash(A), sig)
    assert json.loads((tmp_path / RECORD_FILE).read_text())["height"] == 5
    again = SignRecord(tmp_path, SECRET)  # a restart (or kill -9 and restart)
    assert again.sign(5, A, b"block-a") == sig  # the same block: the recorded signature
    with pytest.raises(SignRefused) as info:
        again.sign(5, B, b"block-b")
    assert info.value.reason == "locked"
    with pytest.raises(SignRefused) as info:
        again.sign(4, B, b"block-b")
    assert info.value.reason == "height-regression"
    assert again.locked(5) is not None and again.locked(5).block == b"block-a"  # type: ignore[union-attr]
    assert again.sign(6, B, b"block-b") != sig


def test_a_record_of_another_key_is_refused(tmp_path: Path) -> None:
    SignRecord(tmp_path, SECRET).sign(1, A, b"x")
    with pytest.raises(RuntimeError, match="another validator key"):
        SignRecord(tmp_path, hashlib.sha256(b"other").digest())
