"""Mempool acceptance, ordering, replacement, eviction, expiry and templates, against a small
dict-backed state view and real Schnorr signatures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.state import EMPTY_ACCOUNT, AccountState
from powchain.core.block import Block, BlockHeader
from powchain.core.keys import schnorr_sign, xonly_pubkey
from powchain.core.params import REGTEST
from powchain.core.transaction import Transaction, make_post_data
from powchain.node.mempool import Mempool

NOW = 1_800_000_000
SIZE = 158  # a transfer without data
ALICE, BOB, CAROL = (bytes([i]) * 32 for i in (1, 2, 3))
A, B, C = (xonly_pubkey(s) for s in (ALICE, BOB, CAROL))
SINK = bytes([9]) * 32


class DictView:
    """A StateView over a dict: the confirmed state at a pretend tip."""

    def __init__(self, accounts: dict[bytes, AccountState] | None = None) -> None:
        self.accounts = dict(accounts or {})

    def get_account(self, pubkey: bytes) -> AccountState:
        return self.accounts.get(pubkey, EMPTY_ACCOUNT)

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        return None


def rich_view(balance: int = 1_000_000, nonce: int = 0) -> DictView:
    return DictView({pub: AccountState(balance, nonce) for pub in (A, B, C)})


def make_tx(
    secret: bytes,
    nonce: int,
    fee: int = 1_000,
    amount: int = 10,
    recipient: bytes = SINK,
    data: bytes = b"",
) -> Transaction:
    unsigned = Transaction(
        1, REGTEST.chain_id, nonce, xonly_pubkey(secret), recipient, amount, fee, data, bytes(64)
    )
    return unsigned.with_signature(schnorr_sign(secret, unsigned.sighash()))


def new_pool(max_bytes: int = 1_000_000, expiry: int = 3_600) -> Mempool:
    return Mempool(REGTEST, max_bytes=max_bytes, expiry=expiry)


def rejected(pool: Mempool, tx: Transaction, view: DictView) -> tuple[Kind, str]:
    with pytest.raises(Rejected) as err:
        pool.accept(tx, view, NOW)
    return err.value.kind, err.value.reason


def test_accept_stores_the_transaction() -> None:
    pool, tx = new_pool(), make_tx(ALICE, 0)
    pool.accept(tx, rich_view(), NOW)
    assert tx.txid in pool and pool.get(tx.txid) == tx
    assert (len(pool), pool.total_bytes) == (1, SIZE)
    assert pool.txs() == [tx]


def test_the_same_transaction_twice_is_a_duplicate() -> None:
    pool, tx = new_pool(), make_tx(ALICE, 0)
    pool.accept(tx, rich_view(), NOW)
    assert rejected(pool, tx, rich_view()) == (Kind.DUPLICATE, "duplicate")
    assert len(pool) == 1


def test_fee_below_one_unit_per_byte_is_refused() -> None:
    pool = new_pool()
    pool.accept(make_tx(ALICE, 0, fee=SIZE), rich_view(), NOW)
    assert rejected(pool, make_tx(BOB, 0, fee=SIZE - 1), rich_view()) == (
        Kind.POLICY,
        "fee-too-low",
    )


def test_cheap_checks_run_before_the_signature() -> None:
    pool, view = new_pool(), rich_view()
    forged = make_tx(ALICE, 0, fee=SIZE - 1).with_signature(bytes(64))
    assert rejected(pool, forged, view) == (Kind.POLICY, "fee-too-low")
    forged = make_tx(ALICE, 0).with_signature(bytes(64))
    assert rejected(pool, forged, view) == (Kind.CONSENSUS, "bad-signature")
    assert len(pool) == 0


def test_wrong_chain_and_nonstandard_data_are_refused() -> None:
    pool, view = new_pool(), rich_view()
    other = Transaction(1, 12345, 0, A, SINK, 1, 1_000, b"", bytes(64))
    assert rejected(pool, other, view) == (Kind.CONSENSUS, "wrong-chain")
    assert rejected(pool, make_tx(ALICE, 0, data=b"\x02x"), view) == (
        Kind.POLICY,
        "nonstandard-data",
    )
    pool.accept(make_tx(ALICE, 0, data=make_post_data("hello")), view, NOW)


def test_a_nonce_below_the_confirmed_one_is_bad_nonce() -> None:
    pool = new_pool()
    assert rejected(pool, make_tx(ALICE, 4), rich_view(nonce=5)) == (Kind.CONSENSUS, "bad-nonce")


def test_a_sender_queues_at_most_64_nonces() -> None:
    pool, view = new_pool(), rich_view(nonce=3)
    for nonce in range(3, 3 + 64):
        pool.accept(make_tx(ALICE, nonce), view, NOW)
    assert len(pool) == 64
    assert rejected(pool, make_tx(ALICE, 3 + 64), view) == (Kind.POLICY, "too-many-pending")
    assert pool.pending_for(A) == (-64 * 1_010, 64)


def test_a_gap_is_kept_but_not_mined_until_it_fills() -> None:
    pool, view = new_pool(), rich_view()
    later = make_tx(ALICE, 2)
    pool.accept(later, view, NOW)
    assert later.txid in pool
    assert pool.select(view, 100_000) == []
    assert pool.pending_for(A) == (0, 0)
    first, second = make_tx(ALICE, 0), make_tx(ALICE, 1)
    pool.accept(first, view, NOW)
    pool.accept(second, view, NOW)
    assert pool.select(view, 100_000) == [first, second, later]
    assert pool.pending_for(A) == (-3 * 1_010, 3)


def test_replace_by_fee_needs_ten_percent_more() -> None:
    pool, view = new_pool(), rich_view()
    original = make_tx(ALICE, 0, fee=1_000)
    pool.accept(original, view, NOW)
    assert rejected(pool, make_tx(ALICE, 0, fee=1_050), view) == (Kind.POLICY, "insufficient-fee")
    assert original.txid in pool
    replacement = make_tx(ALICE, 0, fee=1_100)
    assert pool.accept(replacement, view, NOW) == [original.txid]
    assert original.txid not in pool and replacement.txid in pool
    assert (len(pool), pool.total_bytes) == (1, SIZE)


def test_funds_must_cover_the_whole_queue_up_to_the_nonce() -> None:
    pool = new_pool()
    view = DictView({A: AccountState(balance=2_500)})
    pool.accept(make_tx(ALICE, 0, amount=500, fee=500), view, NOW)
    pool.accept(make_tx(ALICE, 1, amount=500, fee=500), view, NOW)
    # alone it is affordable (1,000 <= 2,500), after the queue (2,000 + 1,000) it is not
    assert rejected(pool, make_tx(ALICE, 2, amount=500, fee=500), view) == (
        Kind.POLICY,
        "insufficient-funds",
    )
    # more than the whole balance is a consensus failure whatever the queue
    assert rejected(pool, make_tx(BOB, 0, amount=1, fee=1_000), view) == (
        Kind.CONSENSUS,
        "insufficient-funds",
    )
    assert len(pool) == 2


def test_a_fee_bump_drops_later_nonces_it_makes_unaffordable() -> None:
    pool = new_pool()
    view = DictView({A: AccountState(balance=3_000)})
    first = make_tx(ALICE, 0, amount=1, fee=1_000)  # 0 coins without data: not standard
    pool.accept(first, view, NOW)
    later = make_tx(ALICE, 1, amount=1, fee=1_000)
    pool.accept(later, view, NOW)
    bump = make_tx(ALICE, 0, amount=1, fee=2_500)
    assert pool.accept(bump, view, NOW) == [first.txid, later.txid]
    assert bump.txid in pool and later.txid not in pool


def test_when_full_the_lowest_fee_rate_is_evicted_with_its_later_nonces() -> None:
    pool, view = new_pool(max_bytes=3 * SIZE), rich_view()
    low0, low1 = make_tx(ALICE, 0, fee=200), make_tx(ALICE, 1, fee=5_000)
    mid = make_tx(BOB, 0, fee=300)
    for tx in (low0, low1, mid):
        pool.accept(tx, view, NOW)
    assert pool.total_bytes == 3 * SIZE
    high = make_tx(CAROL, 0, fee=400)
    assert pool.accept(high, view, NOW) == [low0.txid, low1.txid]
    # Alice's nonce 1 depends on her nonce 0: both go to make room
    assert set(t.txid for t in pool.txs()) == {mid.txid, high.txid}
    assert pool.total_bytes == 2 * SIZE


def test_when_full_a_lower_fee_rate_than_the_cheapest_is_refused() -> None:
    pool, view = new_pool(max_bytes=2 * SIZE), rich_view()
    pool.accept(make_tx(ALICE, 0, fee=300), view, NOW)
    pool.accept(make_tx(BOB, 0, fee=400), view, NOW)
    assert rejected(pool, make_tx(CAROL, 0, fee=300), view) == (Kind.POLICY, "mempool-full")
    assert rejected(pool, make_tx(CAROL, 0, fee=299), view) == (Kind.POLICY, "mempool-full")
    assert len(pool) == 2


def test_expiry_removes_old_transactions_and_their_later_nonces() -> None:
    pool, view = new_pool(expiry=3_600), rich_view()
    old0 = make_tx(ALICE, 0)
    pool.accept(old0, view, NOW)
    old1 = make_tx(ALICE, 1)
    pool.accept(old1, view, NOW + 3_000)
    fresh = make_tx(BOB, 0)
    pool.accept(fresh, view, NOW + 3_000)
    assert pool.expire(NOW + 3_599) == []
    assert pool.expire(NOW + 3_600) == [old0.txid, old1.txid]
    assert pool.txs() == [fresh]


def test_select_orders_by_fee_rate_and_respects_each_senders_nonces() -> None:
    pool, view = new_pool(), rich_view()
    a0, a1 = make_tx(ALICE, 0, fee=200), make_tx(ALICE, 1, fee=9_000)
    b0, b1 = make_tx(BOB, 0, fee=500), make_tx(BOB, 1, fee=300)
    c0 = make_tx(CAROL, 0, fee=1_000)
    for tx in (a1, b1, a0, c0, b0):  # arrival order must not matter
        pool.accept(tx, view, NOW)
    assert pool.select(view, 100_000) == [c0, b0, b1, a0, a1]
    assert pool.select(view, 2 * SIZE) == [c0, b0]


def test_select_skips_what_the_current_state_cannot_pay() -> None:
    pool = new_pool()
    pool.accept(make_tx(ALICE, 0, amount=1, fee=1_000), DictView({A: AccountState(5_000)}), NOW)
    pool.accept(make_tx(ALICE, 1, amount=1, fee=1_000), DictView({A: AccountState(5_000)}), NOW)
    poorer = DictView({A: AccountState(1_500)})
    assert [t.nonce for t in pool.select(poorer, 100_000)] == [0]


def test_remove_for_block_takes_mined_and_conflicting_transactions() -> None:
    pool, view = new_pool(), rich_view()
    ours0, ours1, bobs = make_tx(ALICE, 0, fee=1_000), make_tx(ALICE, 1), make_tx(BOB, 0)
    for tx in (ours0, ours1, bobs):
        pool.accept(tx, view, NOW)
    mined_conflict = make_tx(ALICE, 0, fee=777)  # same nonce, another txid
    coinbase = Transaction.coinbase(REGTEST.chain_id, 1, SINK, 50)
    header = BlockHeader(1, bytes(32), bytes(32), NOW, REGTEST.genesis_bits, 0)
    removed = pool.remove_for_block(Block(header, (coinbase, mined_conflict, bobs)))
    assert set(removed) == {ours0.txid, bobs.txid}
    assert pool.txs() == [ours1]
    after = DictView({A: AccountState(1_000_000, nonce=1), B: AccountState(1_000_000, nonce=1)})
    assert pool.select(after, 100_000) == [ours1]


def test_revalidate_drops_stale_nonces_and_unaffordable_queues() -> None:
    pool, view = new_pool(), rich_view()
    a0, a1, b0 = make_tx(ALICE, 0), make_tx(ALICE, 1), make_tx(BOB, 0)
    for tx in (a0, a1, b0):
        pool.accept(tx, view, NOW)
    tip = DictView({A: AccountState(1_000_000, nonce=1), B: AccountState(500, nonce=0)})
    assert set(pool.revalidate(tip)) == {a0.txid, b0.txid}
    assert pool.txs() == [a1]
    assert pool.pending_for(A) == (-1_010, 1)


def test_readd_keeps_what_still_fits_and_ignores_the_rest() -> None:
    pool, view = new_pool(), rich_view()
    good, spent = make_tx(ALICE, 0), make_tx(BOB, 0)
    coinbase = Transaction.coinbase(REGTEST.chain_id, 1, SINK, 50)
    after_disconnect = DictView({A: AccountState(1_000_000), B: AccountState(1_000_000, nonce=1)})
    pool.readd([coinbase, good, spent], after_disconnect, NOW)
    assert pool.txs() == [good]
    assert pool.select(view, 100_000) == [good]


def test_pending_for_counts_incoming_executable_payments() -> None:
    pool, view = new_pool(), rich_view()
    pool.accept(make_tx(ALICE, 0, amount=700, fee=300, recipient=B), view, NOW)
    pool.accept(make_tx(CAROL, 5, amount=999, recipient=B), view, NOW)  # behind a gap
    pool.accept(make_tx(BOB, 0, amount=100, fee=200, recipient=A), view, NOW)
    assert pool.pending_for(B) == (700 - 300, 1)
    assert pool.pending_for(A) == (-1_000 + 100, 1)
    # the incoming sum is a counter kept as gaps fill and transactions leave
    for nonce in range(5):
        pool.accept(make_tx(CAROL, nonce, amount=1, recipient=A), view, NOW)
    assert pool.pending_for(B) == (700 - 300 + 999, 1)
    assert pool.pending_for(A) == (-1_000 + 100 + 5, 1)
    pool.revalidate(DictView({**view.accounts, C: AccountState(1_000_000, nonce=6)}))
    assert pool.pending_for(B) == (700 - 300, 1) and pool.pending_for(A) == (-1_000 + 100, 1)


def test_fee_stats_report_integer_rates_per_kilobyte() -> None:
    pool, view = new_pool(), rich_view()
    assert pool.fee_stats()["count"] == 0
    for secret, fee in ((ALICE, 158), (BOB, 316), (CAROL, 1_580)):
        pool.accept(make_tx(secret, 0, fee=fee), view, NOW)
    assert pool.fee_stats() == {
        "count": 3,
        "bytes": 3 * SIZE,
        "total_fees": 158 + 316 + 1_580,
        "min_fee_rate": 1_000,
        "median_fee_rate": 2_000,
        "max_fee_rate": 10_000,
    }


# -- issue 11, items 7 and 8: cheap checks first, O(log n) eviction, rank by what is mineable --


def senders(n: int) -> list[bytes]:
    return [bytes([0x40 + i]) * 32 for i in range(n)]


def funded(secrets: list[bytes]) -> DictView:
    return DictView({xonly_pubkey(s): AccountState(10**12) for s in secrets})


def test_a_forged_tx_at_a_full_pool_is_refused_before_any_eviction_work(monkeypatch) -> None:
    """Before: the eviction plan (a sort of the whole pool) ran before the signature check:
    at 80,000 entries each forgery cost the loop 257 ms here (1.49 s in the report)."""
    keys = senders(4)
    view = funded(keys + [ALICE])
    pool = new_pool(max_bytes=4 * 10 * SIZE)
    for key in keys:
        for nonce in range(10):
            pool.accept(make_tx(key, nonce, fee=2 * SIZE), view, NOW)
    assert pool.total_bytes == 4 * 10 * SIZE  # full

    def no_plan(*args: object, **kwargs: object) -> list[bytes]:
        raise AssertionError("the eviction plan ran for an unverified transaction")

    forged = make_tx(ALICE, 0, fee=100 * SIZE).with_signature(bytes(64))
    with monkeypatch.context() as patch:
        patch.setattr(Mempool, "_eviction_plan", no_plan)
        err = rejected(pool, forged, view)
    assert err == (Kind.CONSENSUS, "bad-signature") and len(pool) == 40
    honest = make_tx(ALICE, 0, fee=100 * SIZE)  # the happy case: it evicts one entry
    evicted = pool.accept(honest, view, NOW)
    # equal fee rates: the newest goes first (the last sender's last nonce, nothing after it)
    assert evicted == [make_tx(keys[-1], 9, fee=2 * SIZE).txid] and honest.txid in pool


def test_statistics_eviction_and_expiry_never_sort_the_pool(monkeypatch) -> None:
    """Before: `fee_stats` (behind /status, /metrics and the dashboard), eviction and expiry
    sorted every entry per call; now only one sender's queue (<= 64 nonces) is ever sorted."""
    import powchain.node.mempool as module

    def small_sorts_only(items, **kwargs):  # type: ignore[no-untyped-def]
        items = list(items)
        assert len(items) <= 64, f"sorted {len(items)} items"
        return builtins_sorted(items, **kwargs)

    builtins_sorted = sorted
    keys = senders(3)
    view = funded(keys + [ALICE])
    pool = new_pool(max_bytes=3 * 40 * SIZE, expiry=3_600)
    with monkeypatch.context() as patch:
        patch.setattr(module, "sorted", small_sorts_only, raising=False)
        for key in keys:
            for nonce in range(40):
                pool.accept(make_tx(key, nonce, fee=SIZE + nonce), view, NOW)
        stats = pool.fee_stats()
        assert (stats["count"], stats["min_fee_rate"], stats["max_fee_rate"]) == (
            120,
            1_000,
            1_000 * (SIZE + 39) // SIZE,
        )
        assert stats["total_fees"] == 3 * sum(SIZE + n for n in range(40))
        pool.accept(make_tx(ALICE, 0, fee=50 * SIZE), view, NOW)  # evicts one run
        assert len(pool) < 120 and pool.txs(2) == pool.txs()[:2]
        held = len(pool)
        assert len(pool.expire(NOW + 3_600)) == held and len(pool) == 0


def test_future_nonce_transactions_get_no_room_ahead_of_executable_ones() -> None:
    """Before: eight keys behind a nonce gap at 5 units/byte filled the pool; an honest payment
    at 2 units/byte got `mempool-full` and the template was empty until expiry."""
    pinners = senders(4)
    view = funded(pinners + [ALICE, BOB])
    pool = new_pool(max_bytes=8 * SIZE)
    for key in pinners:
        for nonce in (1, 2):  # nonce 0 never sent: never mineable
            pool.accept(make_tx(key, nonce, fee=5 * SIZE), view, NOW)
    assert pool.total_bytes == 8 * SIZE and pool.select(view, 100_000) == []
    honest = make_tx(ALICE, 0, fee=2 * SIZE)
    evicted = pool.accept(honest, view, NOW)
    assert evicted == [make_tx(pinners[-1], 2, fee=5 * SIZE).txid] and honest.txid in pool
    assert pool.select(view, 100_000) == [honest]
    # and the other way round: a future tx cannot push out an executable one
    full = new_pool(max_bytes=2 * SIZE)
    for key in (ALICE, BOB):
        full.accept(make_tx(key, 0, fee=SIZE), view, NOW)
    assert rejected(full, make_tx(CAROL, 1, fee=50 * SIZE), funded([CAROL])) == (
        Kind.POLICY,
        "mempool-full",
    )
    # filling the gap makes the sender's later nonces executable: they rank as such
    gap = new_pool(max_bytes=3 * SIZE)
    gap.accept(make_tx(CAROL, 1, fee=5 * SIZE), funded([CAROL]), NOW)
    gap.accept(make_tx(CAROL, 0, fee=5 * SIZE), funded([CAROL]), NOW)
    gap.accept(make_tx(ALICE, 0, fee=3 * SIZE), view, NOW)
    assert rejected(gap, make_tx(BOB, 1, fee=90 * SIZE), view) == (Kind.POLICY, "mempool-full")


def test_a_sender_holds_a_bounded_number_behind_a_nonce_gap() -> None:
    from powchain.policy.limits import MAX_FUTURE_PER_SENDER

    pool, view = new_pool(), rich_view()
    for nonce in range(2, 2 + MAX_FUTURE_PER_SENDER):
        pool.accept(make_tx(ALICE, nonce), view, NOW)
    beyond = make_tx(ALICE, 2 + MAX_FUTURE_PER_SENDER)
    assert rejected(pool, beyond, view) == (Kind.POLICY, "too-many-future")
    # a replacement behind the gap is not a new one
    pool.accept(make_tx(ALICE, 2, fee=2_000), view, NOW)
    # filling the gap turns them executable: room again
    pool.accept(make_tx(ALICE, 0), view, NOW)
    pool.accept(make_tx(ALICE, 1), view, NOW)
    pool.accept(beyond, view, NOW)
    assert pool.pending_for(A)[1] == 3 + MAX_FUTURE_PER_SENDER


def test_readd_reports_what_it_evicted() -> None:
    """Also reported: re-added reorg transactions that evict others published no removal."""
    pool, view = new_pool(max_bytes=2 * SIZE), rich_view()
    cheap = make_tx(BOB, 0, fee=SIZE)
    pool.accept(cheap, view, NOW)
    pool.accept(make_tx(CAROL, 0, fee=2 * SIZE), view, NOW)
    from_block = make_tx(ALICE, 0, fee=9 * SIZE)
    assert pool.readd([from_block], view, NOW) == [cheap.txid]
    assert from_block.txid in pool and cheap.txid not in pool


def test_a_run_shortened_by_eviction_ranks_its_new_gap_as_future() -> None:
    """After an eviction cut a sender's run, a nonce past the new gap is a future one."""
    pool, view = new_pool(max_bytes=3 * SIZE), rich_view()
    for nonce in range(3):
        pool.accept(make_tx(BOB, nonce, fee=SIZE), view, NOW)
    pool.accept(make_tx(ALICE, 0, fee=9 * SIZE), view, NOW)  # evicts BOB's nonce 2 (newest)
    assert pool.pending_for(B)[1] == 2
    # BOB's nonce 3 is now behind a gap: it may not evict ALICE's executable tx
    assert rejected(pool, make_tx(BOB, 3, fee=50 * SIZE), view) == (Kind.POLICY, "mempool-full")


@given(
    st.lists(st.tuples(st.integers(158, 50_000), st.booleans(), st.integers(0, 300)), max_size=40)
)
@settings(max_examples=60, deadline=None)
def test_rate_statistics_over_both_classes_match_a_sort(items) -> None:  # type: ignore[no-untyped-def]
    """The order statistics of `mempool_index` (min, median, max over the future and the
    executable list) equal those of a sorted list of every fee rate."""
    from types import SimpleNamespace

    from powchain.node.mempool_index import RankIndex
    from powchain.policy.fees import fee_rate_per_kb

    index = RankIndex()
    for seq, (fee, mineable, data) in enumerate(items):
        entry = SimpleNamespace(txid=bytes([seq]) * 32, fee=fee, size=SIZE + data, seq=seq)
        index.add(entry)  # type: ignore[arg-type]
        index.set_mineable(entry, mineable)  # type: ignore[arg-type]
    rates = sorted(fee_rate_per_kb(fee, SIZE + data) for fee, _m, data in items)
    if not rates:
        assert index.rate_stats() == (0, 0, 0)
        return
    mid = len(rates) // 2
    median = rates[mid] if len(rates) % 2 else (rates[mid - 1] + rates[mid]) // 2
    assert index.rate_stats() == (rates[0], median, rates[-1])
