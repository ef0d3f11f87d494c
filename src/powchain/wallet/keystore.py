"""Encrypted wallet keystore: named secret keys in one JSON file (SPEC §8).

The file holds `version`, the scrypt parameters and salt, a 12-byte AES-GCM nonce and the
ciphertext of a JSON document `{"keys": [{"name", "secret"}...]}`. The key is
scrypt(passphrase, salt); the header fields are bound to the ciphertext as associated data,
so a tampered header fails like a wrong passphrase. The file is written with mode 0600.
The passphrase comes from `POWCHAIN_WALLET_PASSPHRASE` or a prompt, never from an argument.
This module does file I/O and nothing else: no network, no node.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..core.keys import encode_address, is_valid_secret, xonly_pubkey

__all__ = [
    "KEYSTORE_VERSION",
    "PASSPHRASE_ENV",
    "KeystoreError",
    "WrongPassphrase",
    "WalletKey",
    "Keystore",
    "read_passphrase",
]

KEYSTORE_VERSION = 1
PASSPHRASE_ENV = "POWCHAIN_WALLET_PASSPHRASE"
DEFAULT_SCRYPT_N = 2**17
"""scrypt cost of new keystores: OWASP's minimum for r=8, p=1 (128 MiB, ~0.3 s per unlock)."""
MIN_SCRYPT_N = 2**15
"""Weakest cost a keystore file may name: the default of earlier versions, so their wallets
still open (and are re-encrypted at DEFAULT_SCRYPT_N when next saved); below it is refused."""
MAX_SCRYPT_N = 2**20
"""Strongest cost a file may name (1 GiB with r=8): a file cannot make us allocate more."""
_SCRYPT_R = 8
_SCRYPT_P = 1


class KeystoreError(Exception):
    """A keystore file that cannot be used (missing, malformed, name clash); `str()` says why."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open this keystore (or the file was tampered with)."""


@dataclass(frozen=True, slots=True)
class WalletKey:
    """A named key: `secret` 32 bytes, `pubkey` its 32-byte x-only public key."""

    name: str
    secret: bytes = field(repr=False)

    @property
    def pubkey(self) -> bytes:
        return xonly_pubkey(self.secret)

    def address(self, hrp: str) -> str:
        """bech32m address under a network's prefix."""
        return encode_address(hrp, self.pubkey)


def _derive(passphrase: str, salt: bytes, n: int) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=n, r=_SCRYPT_R, p=_SCRYPT_P)
    return kdf.derive(passphrase.encode("utf-8"))


def _aad(version: int, n: int, salt: bytes, public: object = None) -> bytes:
    """Associated data: the header fields, and the public key list when the file has one
    (files written before it had none; they still open)."""
    base = f"powchain-keystore/{version}/{n}/{salt.hex()}"
    if public is None:
        return base.encode()
    return (base + "/" + json.dumps(public, sort_keys=True, separators=(",", ":"))).encode()


@dataclass(slots=True)
class Keystore:
    """The decrypted contents of a keystore: named keys in creation order."""

    keys: list[WalletKey] = field(default_factory=list)
    scrypt_n: int = DEFAULT_SCRYPT_N

    def get(self, name: str | None = None) -> WalletKey:
        """The key called `name`, or the first key when `name` is None; KeystoreError if none."""
        if not self.keys:
            raise KeystoreError("the wallet has no keys")
        if name is None:
            return self.keys[0]
        for key in self.keys:
            if key.name == name:
                return key
        raise KeystoreError(f"no key named {name!r}")

    def add(self, name: str, secret: bytes) -> WalletKey:
        """Add a key; KeystoreError on a name clash or an invalid secret."""
        if any(k.name == name for k in self.keys):
            raise KeystoreError(f"a key named {name!r} already exists")
        if not is_valid_secret(secret):
            raise KeystoreError("not a valid secp256k1 secret key")
        key = WalletKey(name, secret)
        self.keys.append(key)
        return key

    def new_key(self, name: str, rand: Callable[[int], bytes] = os.urandom) -> WalletKey:
        """Generate and add a key from `rand` (32 bytes; retried in the 2**-128 invalid case)."""
        secret = rand(32)
        while not is_valid_secret(secret):
            secret = rand(32)
        return self.add(name, secret)

    def encrypt(self, passphrase: str, salt: bytes, nonce: bytes) -> dict[str, object]:
        """The file document for this keystore (salt 16 bytes, nonce 12 bytes, from the caller)."""
        plain = json.dumps(
            {"keys": [{"name": k.name, "secret": k.secret.hex()} for k in self.keys]}
        )
        self.scrypt_n = max(self.scrypt_n, DEFAULT_SCRYPT_N)  # old files upgrade
        key = _derive(passphrase, salt, self.scrypt_n)
        public = [{"name": k.name, "pubkey": k.pubkey.hex()} for k in self.keys]
        aad = _aad(KEYSTORE_VERSION, self.scrypt_n, salt, public)
        ciphertext = AESGCM(key).encrypt(nonce, plain.encode(), aad)
        return {
            "version": KEYSTORE_VERSION,
            "kdf": {"name": "scrypt", "n": self.scrypt_n, "r": _SCRYPT_R, "p": _SCRYPT_P},
            "salt": salt.hex(),
            "cipher": "aes-256-gcm",
            "nonce": nonce.hex(),
            "ciphertext": ciphertext.hex(),
            # the addresses are public: `wallet address` reads them without the passphrase;
            # bound to the ciphertext, so every passphrase use checks them
            "public": public,
        }

    @classmethod
    def decrypt(cls, doc: dict[str, object], passphrase: str) -> Keystore:
        """Open a file document; WrongPassphrase or KeystoreError (malformed) on failure."""
        try:
            version = doc["version"]
            kdf = doc["kdf"]
            kdf_ok = isinstance(kdf, dict) and kdf.get("name") == "scrypt"
            if version != KEYSTORE_VERSION or not kdf_ok:
                raise KeystoreError(f"unsupported keystore version or kdf: {version!r}")
            n = int(kdf["n"])  # type: ignore[index]
            salt = bytes.fromhex(str(doc["salt"]))
            nonce = bytes.fromhex(str(doc["nonce"]))
            ciphertext = bytes.fromhex(str(doc["ciphertext"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeystoreError(f"malformed keystore file: {exc}") from exc
        if n < MIN_SCRYPT_N or n > MAX_SCRYPT_N or n & (n - 1):
            raise KeystoreError(
                f"keystore scrypt N = {n} is outside {MIN_SCRYPT_N}..{MAX_SCRYPT_N}"
                " (a power of two): not a wallet this version writes"
            )
        try:
            plain = AESGCM(_derive(passphrase, salt, n)).decrypt(
                nonce, ciphertext, _aad(KEYSTORE_VERSION, n, salt, doc.get("public"))
            )
        except InvalidTag as exc:
            raise WrongPassphrase("wrong passphrase (or the keystore file was modified)") from exc
        store = cls(scrypt_n=n)
        for item in json.loads(plain)["keys"]:
            store.add(str(item["name"]), bytes.fromhex(item["secret"]))
        return store

    def save(self, path: Path, passphrase: str) -> None:
        """Encrypt and write atomically with mode 0600."""
        doc = self.encrypt(passphrase, os.urandom(16), os.urandom(12))
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    @staticmethod
    def public_keys(path: Path) -> list[tuple[str, bytes]]:
        """(name, 32-byte public key) of each key, read without the passphrase. KeystoreError
        when the file is missing or was written before public keys were kept in it."""
        doc = _read_doc(path)
        public = doc.get("public")
        if not isinstance(public, list):
            raise KeystoreError(
                f"{path} keeps no public addresses yet (written by an older version): any "
                "command that asks for the passphrase adds them"
            )
        try:
            return [(str(e["name"]), bytes.fromhex(str(e["pubkey"]))) for e in public]
        except (KeyError, TypeError, ValueError) as exc:
            raise KeystoreError(f"malformed keystore file {path}: {exc}") from exc

    @classmethod
    def first_address(cls, path: Path, hrp: str, name: str | None = None) -> str:
        """The address of key `name` (default: the first), without the passphrase."""
        for key_name, pub in cls.public_keys(path):
            if name is None or key_name == name:
                return encode_address(hrp, pub)
        raise KeystoreError("the wallet has no keys" if name is None else f"no key named {name!r}")

    @classmethod
    def load(cls, path: Path, passphrase: str) -> Keystore:
        """Read and decrypt; KeystoreError when missing or malformed, WrongPassphrase. A file
        without the public key list (an older version's) gets it, written back."""
        doc = _read_doc(path)
        store = cls.decrypt(doc, passphrase)
        if "public" not in doc:
            store.save(path, passphrase)
        return store


def _read_doc(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise KeystoreError(
            f"no wallet at {path} (create one with `powchain wallet create`)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read wallet {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise KeystoreError(f"malformed keystore file {path}")
    return doc


def read_passphrase(confirm: bool = False, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The passphrase from POWCHAIN_WALLET_PASSPHRASE, else from a prompt (asked twice if new)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env is not None:
        return env
    first = prompt("Wallet passphrase: ")
    if confirm and prompt("Repeat passphrase: ") != first:
        raise KeystoreError("the passphrases do not match")
    return first
