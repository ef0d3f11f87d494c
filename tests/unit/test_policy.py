"""Policy rules in isolation: relay fee floor, replace-by-fee bump, queue depth, expiry,
standardness."""

from __future__ import annotations

import pytest

from powchain.consensus.errors import Kind, Rejected
from powchain.core.params import REGTEST
from powchain.core.transaction import TX_VERSION, Transaction, make_post_data
from powchain.policy.fees import (
    check_min_relay_fee,
    check_replacement,
    fee_rate_per_kb,
    lower_fee_rate,
    min_relay_fee,
    min_replacement_fee,
)
from powchain.policy.limits import (
    DEFAULT_MEMPOOL_EXPIRY,
    MAX_PENDING_PER_SENDER,
    check_queue_depth,
    is_expired,
)
from powchain.policy.standard import check_standard

SENDER = bytes([2]) * 32
RECIPIENT = bytes([3]) * 32
PLAIN_SIZE = 158  # a transfer without data: 1+4+8+32+32+8+8+1+64


def tx(fee: int = 1000, nonce: int = 0, data: bytes = b"") -> Transaction:
    return Transaction(1, REGTEST.chain_id, nonce, SENDER, RECIPIENT, 5, fee, data, bytes(64))


def test_plain_transfer_size_is_158_bytes() -> None:
    assert tx().size == PLAIN_SIZE
    assert min_relay_fee(PLAIN_SIZE) == 158


def test_fee_at_the_floor_passes_and_one_unit_below_is_fee_too_low() -> None:
    check_min_relay_fee(tx(fee=158))
    with pytest.raises(Rejected) as err:
        check_min_relay_fee(tx(fee=157))
    assert (err.value.kind, err.value.reason) == (Kind.POLICY, "fee-too-low")


def test_fee_rates_are_exact_integers() -> None:
    assert fee_rate_per_kb(158, 158) == 1000
    assert fee_rate_per_kb(1, 3) == 333
    assert lower_fee_rate(1, 3, 1, 2)
    assert not lower_fee_rate(2, 4, 1, 2)  # equal rates are not lower


def test_replacement_needs_ten_percent_more_fee() -> None:
    assert min_replacement_fee(1000) == 1100
    assert min_replacement_fee(1001) == 1102  # rounded up
    assert min_replacement_fee(0) == 1
    old = tx(fee=1000)
    check_replacement(old, tx(fee=1100))
    with pytest.raises(Rejected) as err:
        check_replacement(old, tx(fee=1050))
    assert (err.value.kind, err.value.reason) == (Kind.POLICY, "insufficient-fee")


def test_replacing_with_the_same_tx_is_a_duplicate() -> None:
    with pytest.raises(Rejected) as err:
        check_replacement(tx(), tx())
    assert (err.value.kind, err.value.reason) == (Kind.DUPLICATE, "duplicate")


def test_queue_depth_allows_64_nonces_from_the_confirmed_one() -> None:
    assert MAX_PENDING_PER_SENDER == 64
    check_queue_depth(10 + 63, 10)
    with pytest.raises(Rejected) as err:
        check_queue_depth(10 + 64, 10)
    assert (err.value.kind, err.value.reason) == (Kind.POLICY, "too-many-pending")


def test_expiry_is_fourteen_days_by_default() -> None:
    assert DEFAULT_MEMPOOL_EXPIRY == 1_209_600
    assert not is_expired(1000, 1000 + DEFAULT_MEMPOOL_EXPIRY - 1, DEFAULT_MEMPOOL_EXPIRY)
    assert is_expired(1000, 1000 + DEFAULT_MEMPOOL_EXPIRY, DEFAULT_MEMPOOL_EXPIRY)


def test_standard_accepts_empty_data_and_posts() -> None:
    check_standard(tx())
    check_standard(tx(data=make_post_data("héllo, world")))


def test_standard_accepts_a_notarization_of_exactly_32_bytes() -> None:
    check_standard(tx(data=b"\x02" + bytes(32)))
    for size in (31, 33):
        with pytest.raises(Rejected) as err:
            check_standard(tx(data=b"\x02" + bytes(size)))
        assert err.value.reason == "nonstandard-data"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\x01\xff\xfe", "nonstandard-data"), (b"\x02reserved", "nonstandard-data")],
)
def test_standard_refuses_malformed_or_reserved_data(data: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        check_standard(tx(data=data))
    assert (err.value.kind, err.value.reason) == (Kind.POLICY, reason)


def test_standard_refuses_a_loose_coinbase() -> None:
    coinbase = Transaction.coinbase(REGTEST.chain_id, 1, RECIPIENT, 50)
    with pytest.raises(Rejected) as err:
        check_standard(coinbase)
    assert (err.value.kind, err.value.reason) == (Kind.POLICY, "coinbase")


# -- issue 12: transactions that only burn their fee ------------------------------------------


def _plain(amount: int, data: bytes) -> Transaction:
    return Transaction(
        TX_VERSION, REGTEST.chain_id, 0, bytes(32), bytes(32), amount, 1, data, bytes(64)
    )


@pytest.mark.parametrize(
    ("amount", "data", "reason"),
    [
        (0, b"", "zero-payment"),
        (0, make_post_data(""), "empty-post"),
        (0, make_post_data(" \n\t"), "empty-post"),
    ],
)
def test_fee_burning_transactions_are_refused(amount: int, data: bytes, reason: str) -> None:
    from powchain.policy.standard import check_standard

    with pytest.raises(Rejected) as caught:
        check_standard(_plain(amount, data))
    assert caught.value.kind is Kind.POLICY and caught.value.reason == reason


@pytest.mark.parametrize(
    ("amount", "data"), [(1, b""), (0, make_post_data("hi")), (5, make_post_data("x"))]
)
def test_payments_and_posts_with_content_pass(amount: int, data: bytes) -> None:
    from powchain.policy.standard import check_standard

    check_standard(_plain(amount, data))
