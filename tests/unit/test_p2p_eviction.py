"""Inbound eviction (p2p/eviction.py, Core's AttemptToEvictConnection): who is protected, and
that the victim is the youngest of the largest network group."""

from __future__ import annotations

from powchain.p2p.eviction import PROTECT_NETGROUPS, Candidate, netgroup, select_victim


def test_netgroups() -> None:
    assert netgroup("203.0.113.7") == netgroup("203.0.200.1") == "203.0.0.0/16"
    assert netgroup("198.51.100.1") != netgroup("203.0.113.7")
    assert netgroup("2001:db8:1::1") == netgroup("2001:db8:ffff::2") == "2001:db8::/32"
    assert netgroup("::ffff:203.0.113.7") == "203.0.0.0/16"
    assert netgroup("127.0.0.1") == netgroup("::1") == "local"


def test_a_flood_from_one_group_evicts_its_own_youngest_not_the_honest_peers() -> None:
    honest = [Candidate(f"honest{i}", f"10.{i}.0.0/16", connected=float(i)) for i in range(8)]
    flood = [Candidate(f"sybil{i}", "203.0.0.0/16", connected=100.0 + i) for i in range(24)]
    assert select_victim(honest + flood) == "sybil23"


def test_useful_peers_are_protected() -> None:
    group = "203.0.0.0/16"
    plain = [Candidate(f"p{i}", group, connected=float(i)) for i in range(10)]
    fast = Candidate("fast", group, connected=50.0, min_ping=1.0)
    relayer = Candidate("relayer", group, connected=51.0, last_tx=40.0)
    miner = Candidate("miner", group, connected=52.0, last_block=40.0)
    victim = select_victim([*plain, fast, relayer, miner])
    assert victim == "p9"  # the youngest unprotected; half the rest kept by uptime


def test_everyone_protected_means_the_newcomer_is_refused() -> None:
    few = [Candidate(f"p{i}", f"10.{i}.0.0/16", connected=float(i)) for i in range(3)]
    assert len(few) <= PROTECT_NETGROUPS
    assert select_victim(few) is None
