"""The node-side wallet of the explorer: one key kept by the node for the post and payment forms.

The key lives in `DATADIR/explorer-wallet.json`, an encrypted `wallet.keystore` file (scrypt +
AES-GCM) opened with the passphrase typed into the form, per request: the secret is never kept
in memory between requests. The public address is also written to
`DATADIR/explorer-wallet.address` so pages can show it without the passphrase. Every use needs
the admin token (checked by the caller). The wallet is off when the API listens on a
non-loopback address, unless the node was started with `--explorer-wallet`.

This module signs and submits through the Node facade; it does no HTTP.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.keys import xonly_pubkey
from ..core.params import DEVNET_FAUCET_SECRET
from ..core.transaction import Transaction
from ..policy.fees import min_relay_fee
from ..wallet.builder import build_post, build_transfer, suggest_fee, tx_size

if TYPE_CHECKING:  # the keystore (and its `cryptography` import, ~6 MB) loads on first use
    from ..wallet.keystore import WalletKey

__all__ = ["NodeWallet", "WalletDisabled", "is_loopback", "WALLET_FILE", "ADDRESS_FILE"]

WALLET_FILE = "explorer-wallet.json"
ADDRESS_FILE = "explorer-wallet.address"
KEY_NAME = "explorer"
FAUCET_AMOUNT = 100 * 100_000_000  # units: 100 coins per devnet faucet click


class WalletDisabled(Exception):
    """The node-side wallet is off on this node; `str()` says why."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; False for any other name or address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_fee(data_len: int) -> int:
    """Fee in units for a transfer with `data_len` bytes of data: twice the fallback rate, at
    least the node's minimum relay fee (as `powchain wallet send` does)."""
    size = tx_size(data_len)
    return max(min_relay_fee(size), suggest_fee(size, 2))


@dataclass
class NodeWallet:
    """The explorer's wallet of one node (see the module docstring)."""

    node: Any  # the Node facade
    enabled: bool
    disabled_reason: str = ""

    @classmethod
    def for_node(cls, node: Any) -> NodeWallet:
        """Enabled on a loopback API host, or anywhere with `config.explorer_wallet`."""
        config = node.config
        if getattr(config, "explorer_wallet", False) or is_loopback(config.api_host):
            return cls(node, True)
        reason = (
            f"the API listens on {config.api_host}, not a loopback address: start the node "
            "with --explorer-wallet to use the node-side wallet anyway"
        )
        return cls(node, False, reason)

    @property
    def path(self) -> Path:
        return Path(self.node.config.datadir) / WALLET_FILE

    @property
    def address(self) -> str | None:
        """The wallet's address, None before its first use."""
        try:
            return (Path(self.node.config.datadir) / ADDRESS_FILE).read_text().strip() or None
        except OSError:
            return None

    def unlock(self, passphrase: str) -> WalletKey:
        """The wallet's key, creating the wallet with this passphrase on first use.

        Raises WalletDisabled, KeystoreError (WrongPassphrase included).
        """
        from ..wallet.keystore import Keystore, KeystoreError

        if not self.enabled:
            raise WalletDisabled(self.disabled_reason)
        if len(passphrase) < 8:
            raise KeystoreError("the passphrase must have at least 8 characters")
        if self.path.exists():
            return Keystore.load(self.path, passphrase).get(KEY_NAME)
        store = Keystore()
        key = store.new_key(KEY_NAME)
        store.save(self.path, passphrase)
        (Path(self.node.config.datadir) / ADDRESS_FILE).write_text(
            key.address(self.node.params.hrp) + "\n"
        )
        return key

    def post(self, passphrase: str, text: str) -> bytes:
        """Sign and submit a post of `text`; the txid. Raises as `unlock`, ValueError, Rejected."""
        key = self.unlock(passphrase)
        data_len = 1 + len(text.encode("utf-8"))
        tx = build_post(
            key.secret,
            self.node.params.chain_id,
            self._next_nonce(key),
            text,
            default_fee(data_len),
            os.urandom(32),
        )
        return self._submit(tx)

    def pay(self, passphrase: str, recipient: bytes, amount: int) -> bytes:
        """Sign and submit a payment of `amount` units to the 32-byte key `recipient`; txid."""
        key = self.unlock(passphrase)
        return self._submit(self._transfer(key.secret, recipient, amount))

    def faucet(self, passphrase: str) -> bytes:
        """Devnet only: pay FAUCET_AMOUNT from the published faucet key to this wallet (created
        on first use); txid. Raises as `unlock`, Rejected."""
        key = self.unlock(passphrase)
        return self._submit(self._transfer(DEVNET_FAUCET_SECRET, key.pubkey, FAUCET_AMOUNT))

    def _transfer(self, secret: bytes, recipient: bytes, amount: int) -> Transaction:
        nonce = self.node.account_info(xonly_pubkey(secret)).next_nonce
        chain_id = self.node.params.chain_id
        fee = default_fee(0)
        return build_transfer(secret, chain_id, nonce, recipient, amount, fee, os.urandom(32))

    def _next_nonce(self, key: WalletKey) -> int:
        return int(self.node.account_info(key.pubkey).next_nonce)

    def _submit(self, tx: Transaction) -> bytes:
        return bytes(self.node.submit_transaction(tx))
