"""Addresses: bech32m (BIP-350) of a 32-byte x-only key under the network's HRP (SPEC §2)."""

from __future__ import annotations

import pytest
from bech32m.codecs import Encoding, bech32_encode, convertbits
from hypothesis import given
from hypothesis import strategies as st

from powchain.core.keys import AddressError, decode_address, encode_address, xonly_pubkey
from powchain.core.params import DEVNET, REGTEST, TESTNET

PUB = xonly_pubkey(b"\x01" * 32)
BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["rpow", "dpow", "tpow"]))
def test_round_trip(pub: bytes, hrp: str) -> None:
    address = encode_address(hrp, pub)
    assert address.startswith(hrp + "1")
    assert address == address.lower()
    assert decode_address(address, hrp) == pub


def test_fixed_address_vector() -> None:
    address = encode_address(REGTEST.hrp, PUB)
    assert len(address) == len("rpow1") + 52 + 6  # 256 bits -> 52 words, 6 checksum words
    assert decode_address(address, "rpow") == PUB
    assert decode_address(f"  {address}\n", "rpow") == PUB


def test_every_one_character_typo_is_rejected() -> None:
    address = encode_address(TESTNET.hrp, PUB)
    for i in range(len("tpow1"), len(address)):
        for c in BECH32_CHARSET:
            if c == address[i]:
                continue
            typo = address[:i] + c + address[i + 1 :]
            with pytest.raises(AddressError, match="checksum"):
                decode_address(typo, TESTNET.hrp)


def test_another_networks_address_is_rejected_naming_it() -> None:
    address = encode_address(DEVNET.hrp, PUB)
    with pytest.raises(AddressError) as exc:
        decode_address(address, REGTEST.hrp)
    assert "dpow" in str(exc.value)
    assert "rpow" in str(exc.value)


def test_bech32_checksum_is_rejected() -> None:
    words = bytes(convertbits(PUB, 8, 5, True))
    legacy = bech32_encode("rpow", words, Encoding.BECH32)
    with pytest.raises(AddressError, match="bech32 checksum"):
        decode_address(legacy, "rpow")


def test_wrong_length_payload_is_rejected() -> None:
    short = bech32_encode("rpow", bytes(convertbits(PUB[:20], 8, 5, True)), Encoding.BECH32M)
    with pytest.raises(AddressError, match="32-byte"):
        decode_address(short, "rpow")
    with pytest.raises(ValueError):
        encode_address("rpow", PUB[:31])


@pytest.mark.parametrize("junk", ["", "rpow1", "hello", "rpow1" + "q" * 200, "\x00\x01"])
def test_garbage_is_rejected(junk: str) -> None:
    with pytest.raises(AddressError):
        decode_address(junk, "rpow")
