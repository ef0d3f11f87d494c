"""Address book and bans (real SQLite file) and the block download bookkeeping of p2p/sync."""

from __future__ import annotations

from pathlib import Path

from powchain.p2p.addrman import AddrMan, ban_key, inbound_ban_key
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
