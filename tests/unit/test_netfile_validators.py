"""Validator network files (issue 14): the engine, keys and threshold are committed."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from powchain.consensus.netfile import (
    NetworkFile,
    NetworkFileError,
    from_document,
    new_params,
    to_document,
)
from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.params import genesis_block

KEYS = tuple(xonly_pubkey(hashlib.sha256(b"v%d" % i).digest()) for i in range(5))


def make(**values: Any) -> NetworkFile:
    params = new_params(
        "lab", 12345, b"\x01\x02\x03\x04", 1_800_000_000, consensus="validators",
        validators=KEYS, **{"target_spacing": 2, **values},
    )  # fmt: skip
    import dataclasses

    params = dataclasses.replace(params, genesis_hash_hex=genesis_block(params).header.hash_hex)
    return NetworkFile(params)


def test_round_trip_keeps_engine_keys_and_default_threshold() -> None:
    nf = make()
    doc = to_document(nf)
    assert doc["consensus"]["engine"] == "validators"
    assert doc["consensus"]["threshold"] == 3
    assert doc["consensus"]["validators"] == [encode_address("lab", k) for k in sorted(KEYS)]
    back = from_document(doc)
    assert back.params == nf.params
    assert back.params.mine_on_demand is False


def test_genesis_commits_to_the_validators_and_threshold() -> None:
    doc = to_document(make())
    doc["consensus"]["threshold"] = 4
    with pytest.raises(NetworkFileError, match="genesis block commits"):
        from_document(doc)
    doc = to_document(make())
    doc["consensus"]["validators"] = doc["consensus"]["validators"][:4]
    with pytest.raises(NetworkFileError, match="genesis block commits"):
        from_document(doc)


def test_threshold_at_or_below_half_is_refused_above_allowed() -> None:
    with pytest.raises(NetworkFileError, match="not more than half"):
        make(validator_threshold=2)
    with pytest.raises(NetworkFileError, match="exceeds"):
        make(validator_threshold=6)
    assert make(validator_threshold=5).params.validator_threshold == 5


def test_block_time_zero_is_allowed_for_validators_only() -> None:
    assert make(target_spacing=0).params.target_spacing == 0
    with pytest.raises(NetworkFileError, match="target_spacing"):
        new_params("lab", 12345, b"\x01\x02\x03\x04", 1_800_000_000, target_spacing=0)


def test_pow_files_keep_their_commitment() -> None:
    pow_params = new_params("lab", 12345, b"\x01\x02\x03\x04", 1_800_000_000)
    doc = to_document(NetworkFile(pow_params))
    assert doc["consensus"]["engine"] == "pow" and "validators" not in doc["consensus"]
    del doc["consensus"]["engine"]  # an issue-6 file: no engine key at all
    assert pow_params.consensus == "pow"
