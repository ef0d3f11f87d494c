"""The wallet's record of its own unconfirmed sends (issue 12): the next nonce counts them,
confirmed ones drop out, a replacement supersedes its nonce, and the record stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

from powchain.wallet.pending import MAX_FILE, MAX_PER_ADDRESS, PendingStore, Sent, pending_path


def sent(nonce: int, txid: str = "") -> Sent:
    return Sent(txid or f"{nonce:064x}", nonce, 100, 10, 0)


def test_next_nonce_counts_our_unconfirmed_sends(tmp_path: Path) -> None:
    path = pending_path(tmp_path / "wallet.json")
    assert path.name == "wallet.pending.json"
    store = PendingStore(path)
    assert store.next_nonce("a", confirmed_nonce=3, node_next=3) == 3
    store.add("a", sent(3))
    # the node has not seen nonce 3 yet (another node, or too quick): we still take 4
    assert PendingStore(path).next_nonce("a", confirmed_nonce=3, node_next=3) == 4
    # the node knows more (another wallet with the same key): its answer wins
    assert PendingStore(path).next_nonce("a", confirmed_nonce=3, node_next=6) == 6
    # confirmed: dropped
    assert PendingStore(path).next_nonce("a", confirmed_nonce=4, node_next=4) == 4
    assert PendingStore(path).unconfirmed("a", 4) == []


def test_a_replacement_supersedes_its_nonce(tmp_path: Path) -> None:
    store = PendingStore(tmp_path / "p.json")
    store.add("a", sent(0, "aa" * 32))
    store.add("a", sent(0, "bb" * 32))
    assert [s.txid for s in PendingStore(tmp_path / "p.json").unconfirmed("a", 0)] == ["bb" * 32]


def test_the_record_is_bounded_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    store = PendingStore(path)
    for nonce in range(MAX_PER_ADDRESS + 50):
        store.add("a", sent(nonce))
    kept = PendingStore(path).unconfirmed("a", 0)
    assert len(kept) == MAX_PER_ADDRESS and kept[-1].nonce == MAX_PER_ADDRESS + 49
    path.write_text("{not json")
    assert PendingStore(path).next_nonce("a", 0, 2) == 2
    path.write_text(json.dumps({"a": [{"txid": "x"}]}))  # wrong shape
    assert PendingStore(path).next_nonce("a", 0, 1) == 1
    path.write_bytes(b" " * (MAX_FILE + 1))
    assert PendingStore(path).next_nonce("a", 0, 1) == 1
