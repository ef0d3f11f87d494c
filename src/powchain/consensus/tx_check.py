"""Context-free transaction checks (SPEC §3): what a transaction must satisfy on its own.

Pure. Cheap structural checks come first; the Schnorr signature is checked separately by
`check_signature`, last, because a peer can make us run the cheap ones for free.
"""

from __future__ import annotations

from ..core.keys import schnorr_verify
from ..core.params import ChainParams
from ..core.transaction import POST_TAG, TX_VERSION, Transaction
from ..core.units import money_range
from .errors import Kind, Rejected

__all__ = ["check_transaction", "check_signature", "check_coinbase_shape"]


def _fail(reason: str, message: str) -> Rejected:
    return Rejected(Kind.CONSENSUS, reason, message, stateless=True)


def check_transaction(tx: Transaction, params: ChainParams) -> None:
    """Structure of a non-coinbase transaction.

    Raises `Rejected(CONSENSUS, reason)` with reason one of: `bad-version`, `wrong-chain`,
    `bad-amount`, `data-too-large`, `bad-post`, `self-payment` is NOT a rule (allowed).
    """
    if tx.version != TX_VERSION:
        raise _fail("bad-version", f"transaction version {tx.version}, expected {TX_VERSION}")
    if tx.chain_id != params.chain_id:
        raise _fail("wrong-chain", f"chain id {tx.chain_id:#x} is not {params.name}'s")
    if len(tx.sender) != 32 or len(tx.recipient) != 32 or len(tx.signature) != 64:
        raise _fail("bad-encoding", "keys are 32 bytes and the signature 64")
    if not (money_range(tx.amount) and money_range(tx.fee) and money_range(tx.amount + tx.fee)):
        raise _fail("bad-amount", "amount and fee must each, and together, be within 0..MAX_MONEY")
    _check_data(tx.data, params)


def _check_data(data: bytes, params: ChainParams) -> None:
    if len(data) > params.max_tx_data:
        raise _fail("data-too-large", f"data is {len(data)} bytes, limit {params.max_tx_data}")
    if data and data[0] == POST_TAG:
        text = data[1:]
        if len(text) > params.max_post_text:
            raise _fail("bad-post", f"post text is {len(text)} bytes, limit {params.max_post_text}")
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail("bad-post", "post text is not valid UTF-8") from exc


def check_signature(tx: Transaction) -> None:
    """BIP-340 signature of `sender` over `tx.sighash()`.

    Raises `Rejected(CONSENSUS, 'bad-signature')`.
    """
    if not schnorr_verify(tx.sender, tx.sighash(), tx.signature):
        raise _fail("bad-signature", "signature does not verify for the sender's key")


def check_coinbase_shape(tx: Transaction, height: int, params: ChainParams) -> None:
    """A coinbase of block `height`: version 0, chain id, nonce = height, data <= 100 bytes.

    Raises `Rejected(CONSENSUS, ...)`: `bad-cb-missing`, `wrong-chain`, `bad-cb-height`,
    `bad-cb-length`, `bad-cb-amount` (amount outside the money range).
    """
    if not tx.is_coinbase:
        raise _fail("bad-cb-missing", "the first transaction of a block must be its coinbase")
    if tx.chain_id != params.chain_id:
        raise _fail("wrong-chain", f"coinbase chain id {tx.chain_id:#x} is not {params.name}'s")
    if tx.nonce != height:
        raise _fail("bad-cb-height", f"coinbase nonce {tx.nonce} must equal the height {height}")
    if len(tx.data) > params.max_coinbase_data:
        raise _fail("bad-cb-length", f"coinbase data is {len(tx.data)} bytes, limit 100")
    if len(tx.recipient) != 32 or not money_range(tx.amount):
        raise _fail("bad-cb-amount", "coinbase amount out of range")
