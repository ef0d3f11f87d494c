"""Keys, BIP-340 Schnorr signatures and bech32m addresses: the one wrapper around coincurve.

Pure: key generation takes its 32 random bytes from the caller. Public keys are 32-byte
x-only keys; signatures are 64 bytes (BIP-340). Addresses follow SPEC §2: bech32m (BIP-350
constant) of the 32-byte key in 5-bit words, no witness version, under a network HRP.
"""

from __future__ import annotations

from bech32m.codecs import (  # type: ignore[import-untyped]
    DecodeError,
    Encoding,
    bech32_decode,
    bech32_encode,
    convertbits,
)
from coincurve import PrivateKey
from coincurve.keys import PublicKeyXOnly

__all__ = [
    "AddressError",
    "xonly_pubkey",
    "schnorr_sign",
    "schnorr_verify",
    "encode_address",
    "decode_address",
    "is_valid_secret",
]

_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class AddressError(ValueError):
    """A string that is not a valid address for the expected network; `str()` says why."""


def is_valid_secret(secret: bytes) -> bool:
    """True when secret is 32 bytes and 1 <= int(secret) < n (the curve order)."""
    return len(secret) == 32 and 0 < int.from_bytes(secret, "big") < _ORDER


def xonly_pubkey(secret: bytes) -> bytes:
    """The 32-byte x-only public key of a 32-byte secret key (BIP-340 PubKey)."""
    pub = PrivateKey(secret).public_key.format(compressed=True)
    return pub[1:]


def schnorr_sign(secret: bytes, msg: bytes, aux_rand: bytes = bytes(32)) -> bytes:
    """BIP-340 signature (64 bytes) of msg with a 32-byte secret and 32 bytes of aux randomness."""
    return bytes(PrivateKey(secret).sign_schnorr(msg, aux_rand))


_PUBKEY_CACHE: dict[bytes, PublicKeyXOnly | None] = {}


def _parse_xonly(pubkey: bytes) -> PublicKeyXOnly | None:
    key = _PUBKEY_CACHE.get(pubkey)
    if key is None and pubkey not in _PUBKEY_CACHE:
        try:
            key = PublicKeyXOnly(pubkey)
        except (ValueError, TypeError):
            key = None
        if len(_PUBKEY_CACHE) > 100_000:
            _PUBKEY_CACHE.clear()
        _PUBKEY_CACHE[pubkey] = key
    return key


def schnorr_verify(pubkey: bytes, msg: bytes, sig: bytes) -> bool:
    """BIP-340 verification; False (never an exception) for any malformed key or signature."""
    if len(pubkey) != 32 or len(sig) != 64:
        return False
    key = _parse_xonly(pubkey)
    if key is None:
        return False
    try:
        return bool(key.verify(sig, msg))
    except (ValueError, TypeError):
        return False


def encode_address(hrp: str, pubkey: bytes) -> str:
    """bech32m address of a 32-byte x-only public key under `hrp` (e.g. 'rpow')."""
    if len(pubkey) != 32:
        raise ValueError("an address encodes a 32-byte x-only public key")
    words = convertbits(pubkey, 8, 5, True)
    return str(bech32_encode(hrp, bytes(words), Encoding.BECH32M))


def decode_address(address: str, hrp: str) -> bytes:
    """The 32-byte public key inside `address`; AddressError when it is not one of `hrp`'s."""
    try:
        got_hrp, data, spec = bech32_decode(address.strip())
    except DecodeError as exc:
        raise AddressError("not a valid bech32m address (typo or wrong checksum)") from exc
    if spec != Encoding.BECH32M:
        raise AddressError("address uses the bech32 checksum, not bech32m")
    if got_hrp != hrp:
        raise AddressError(f"address is for network prefix '{got_hrp}', expected '{hrp}'")
    try:
        raw = convertbits(bytes(data), 5, 8, False)
    except (ValueError, DecodeError) as exc:
        raise AddressError("address payload has invalid padding") from exc
    if raw is None or len(raw) != 32:
        raise AddressError("address payload is not a 32-byte public key")
    return bytes(raw)
