"""A transaction against the state (SPEC §3): the nonce rule and the balance rule. Pure.

The nonce rule is the double-spend and replay rule: a transaction is valid only if its nonce
equals the sender's count of earlier confirmed transactions.
"""

from __future__ import annotations

from ..core.transaction import Transaction
from ..core.units import MAX_MONEY
from .errors import Kind, Rejected
from .state import AccountState, StateOverlay

__all__ = ["apply_transaction", "credit"]


def apply_transaction(tx: Transaction, view: StateOverlay) -> None:
    """Debit sender (amount + fee, nonce + 1) and credit recipient (amount) in `view`.

    Raises `Rejected(CONSENSUS, 'bad-nonce')` when the nonce is not the sender's current one,
    `Rejected(CONSENSUS, 'insufficient-funds')` when the spendable balance is short.
    The fee is not credited here: it goes to the coinbase.
    """
    sender = view.get_account(tx.sender)
    if tx.nonce != sender.nonce:
        raise Rejected(
            Kind.CONSENSUS, "bad-nonce", f"nonce {tx.nonce}, the sender's next is {sender.nonce}"
        )
    cost = tx.amount + tx.fee
    if sender.balance < cost:
        raise Rejected(
            Kind.CONSENSUS,
            "insufficient-funds",
            f"sender holds {sender.balance} units, needs {cost}",
        )
    view.set_account(
        tx.sender, AccountState(sender.balance - cost, sender.nonce + 1, sender.immature)
    )
    credit(view, tx.recipient, tx.amount)


def credit(view: StateOverlay, pubkey: bytes, amount: int, *, immature: bool = False) -> None:
    """Add `amount` units to an account's balance (or its immature credit).

    Raises `Rejected(CONSENSUS, 'bad-amount')` if the result would exceed MAX_MONEY.
    """
    if amount == 0:
        return
    acc = view.get_account(pubkey)
    if immature:
        new = AccountState(acc.balance, acc.nonce, acc.immature + amount)
        total = new.immature
    else:
        new = AccountState(acc.balance + amount, acc.nonce, acc.immature)
        total = new.balance
    if total > MAX_MONEY:
        raise Rejected(Kind.CONSENSUS, "bad-amount", "an account would exceed MAX_MONEY")
    view.set_account(pubkey, new)
