"""Address book and bans (real SQLite file) and the block download bookkeeping of p2p/sync."""

from __future__ import annotations

from pathlib import Path

from powchain.p2p.addrman import (
    MAX_NEW,
    MAX_NEW_PER_SOURCE,
    AddrMan,
    ban_key,
    inbound_ban_key,
)
from powchain.p2p.messages import MAX_LOCATOR, NetAddress
from powchain.p2p.sync import BlockDownload, continuation_locator
from powchain.storage.db import Database


def h(i: int) -> bytes:
    return i.to_bytes(32, "little")


def test_ban_key_names_the_host_except_on_loopback() -> None:
    assert ban_key("203.0.113.7", 5000) == "203.0.113.7"
    assert ban_key("127.0.0.1", 5000) == "127.0.0.1:5000"
    assert ban_key("::1", 5000) == "::1:5000"
    assert ban_key("localhost", 1) == "localhost:1"
    assert ban_key("example.org", 1) == "example.org"


def test_inbound_ban_key_on_loopback_names_the_claim_with_the_nonce() -> None:
    """Issue 11: an inbound peer proves no listen port, so its claim alone never names a ban
    (it could name another local node); its version nonce makes it this node process."""
    assert inbound_ban_key("203.0.113.7", 51000, 5000, 7) == "203.0.113.7"
    assert inbound_ban_key("127.0.0.1", 51000, 5000, 7) == "127.0.0.1:5000#0000000000000007"
    assert inbound_ban_key("127.0.0.1", 51000, 0, None) == "127.0.0.1:51000#pre-version"
    assert inbound_ban_key("127.0.0.1", 51000, 5000, 7) != ban_key("127.0.0.1", 5000)


def test_bans_persist_expire_and_lift(tmp_path: Path) -> None:
    db = Database(tmp_path / "chain.sqlite")
    book = AddrMan(db)
    book.ban("203.0.113.7", now=1_000, seconds=86_400, reason="bad-message: truncated")
    book.ban("127.0.0.1:9", now=1_000, seconds=10, reason="invalid-block: high-hash")
    db.close()
    book = AddrMan(Database(tmp_path / "chain.sqlite"))
    assert book.is_banned("203.0.113.7", 1_000 + 86_399)
    assert not book.is_banned("203.0.113.7", 1_000 + 86_400)  # 24 h and no longer
    assert not book.is_banned("198.51.100.1", 1_000)
    assert [b["address"] for b in book.bans(now=1_005)] == ["127.0.0.1:9", "203.0.113.7"]
    assert [b["address"] for b in book.bans(now=1_011)] == ["203.0.113.7"]  # expired one gone
    assert book.unban("203.0.113.7")
    assert not book.unban("203.0.113.7")
    assert book.bans(now=1_011) == []


def test_addresses_persist_and_keep_the_newest_sighting(tmp_path: Path) -> None:
    db = Database(tmp_path / "chain.sqlite")
    book = AddrMan(db)
    book.add([NetAddress("10.0.0.1", 1, 5), NetAddress("10.0.0.1", 1, 3), NetAddress("x", 0, 9)])
    book.mark_good("10.0.0.2", 2, now=50)
    db.close()
    book = AddrMan(Database(tmp_path / "chain.sqlite"))
    assert sorted(book.sample(), key=lambda a: a.host) == [
        NetAddress("10.0.0.1", 1, 5),
        NetAddress("10.0.0.2", 2, 50),
    ]
    book.mark_failed("10.0.0.1", 1)
    assert book.candidates(1) == [("10.0.0.2", 2)]  # fewest failures first
    book.forget("10.0.0.2", 2)
    assert book.count() == 1


def test_download_assigns_at_most_16_per_peer_and_never_twice() -> None:
    dl = BlockDownload()
    a, b = object(), object()
    missing = [h(i) for i in range(40)]
    first = dl.assign(a, missing, now=0)
    assert first == missing[:16]
    assert dl.assign(a, missing, now=0) == []  # a is full
    assert dl.assign(b, missing, now=0) == missing[16:32]  # b gets the next ones
    assert dl.received(h(0)) is a
    assert dl.assign(a, missing[1:], now=1) == [missing[32]]
    dl.release([h(1), h(20)], a)  # a said notfound; h(20) is b's and stays
    assert h(1) not in dl and h(20) in dl


def test_stalled_requests_expire_and_name_the_peer_once() -> None:
    dl = BlockDownload()
    slow, fast = object(), object()
    dl.assign(slow, [h(1), h(2)], now=0)
    dl.assign(fast, [h(3)], now=5)
    assert dl.expire(now=6, timeout=5) == [slow]
    assert h(1) not in dl and h(3) in dl
    assert dl.assign(fast, [h(1), h(2)], now=6) == [h(1), h(2)]  # re-requested elsewhere
    dl.forget_peer(fast)
    assert len(dl) == 0


def test_continuation_locator_starts_at_the_last_header() -> None:
    ours = [h(i) for i in range(MAX_LOCATOR)]
    loc = continuation_locator(h(500), ours)
    assert loc[0] == h(500) and len(loc) == MAX_LOCATOR
    assert continuation_locator(h(3), [h(3), h(0)]) == (h(3), h(0))


def test_a_flood_of_fresh_addresses_displaces_only_its_own_source(tmp_path: Path) -> None:
    """Issue 11: the book kept the 10,000 newest sightings whoever told us, so one peer's
    flood of fresh addresses erased every other. Now a source's untried addresses are capped
    (MAX_NEW_PER_SOURCE) and the tried ones are kept apart."""
    book = AddrMan(Database(tmp_path / "chain.sqlite"))
    honest = [NetAddress(f"10.1.0.{i}", 8333, 100) for i in range(50)]
    book.add(honest, source="10.1.0.0/16")
    book.mark_good("10.2.0.1", 8333, now=100)
    for batch in range(20):  # 20 addr messages of 1,000 fresh addresses from one source
        flood = [NetAddress(f"203.{batch}.{i // 250}.{i % 250}", 1, 10**6) for i in range(1000)]
        book.add(flood, source="203.0.0.0/16")
    assert book.sources() == {"10.1.0.0/16": 50, "203.0.0.0/16": MAX_NEW_PER_SOURCE}
    assert book.count() == 50 + MAX_NEW_PER_SOURCE + 1
    assert ("10.2.0.1", 8333) in book.candidates(2)  # tried addresses still drawn first


def test_total_new_addresses_bounded_the_fullest_source_losing_first(tmp_path: Path) -> None:
    book = AddrMan(Database(tmp_path / "chain.sqlite"))
    sources = MAX_NEW // MAX_NEW_PER_SOURCE + 4
    for s in range(sources):
        rows = [NetAddress(f"10.{s}.{i // 250}.{i % 250}", 1, i) for i in range(MAX_NEW_PER_SOURCE)]
        book.add(rows, source=f"10.{s}.0.0/16")
    counts = book.sources()
    assert sum(counts.values()) == MAX_NEW
    assert max(counts.values()) - min(counts.values()) <= 1  # no source crowded out


def test_an_address_book_of_before_issue_11_is_upgraded(tmp_path: Path) -> None:
    db = Database(tmp_path / "chain.sqlite")
    db.executescript(
        "CREATE TABLE p2p_addresses (host TEXT NOT NULL, port INTEGER NOT NULL, "
        "last_seen INTEGER NOT NULL, last_success INTEGER NOT NULL DEFAULT 0, "
        "failures INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (host, port))"
    )
    db.execute("INSERT INTO p2p_addresses (host, port, last_seen) VALUES ('10.0.0.9', 9, 1)")
    book = AddrMan(db)
    assert book.sources() == {"": 1}
    book.add([NetAddress("10.0.0.8", 8, 2)], source="10.0.0.0/16")
    assert book.count() == 2
