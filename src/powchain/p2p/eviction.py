"""Inbound slots: per-address limits and which peer to evict for a newcomer (Core:
AttemptToEvictConnection, SelectNodeToEvict). Pure functions over `Candidate` records.

When every inbound slot is taken, a newcomer gets one only if an unprotected inbound peer can
be evicted. Protected (each rule applied to what the earlier ones left):
- PROTECT_NETGROUPS peers from distinct network groups (an attacker holding many addresses of
  one /16 cannot take every slot);
- PROTECT_PING peers with the lowest minimum ping;
- PROTECT_TX peers that most recently sent us a transaction we accepted, and PROTECT_BLOCKS
  that most recently sent a block we accepted (peers that sent nothing are not protected
  by these two);
- half of the rest, the longest connected.
Then the evicted peer is the youngest of the network group holding the most candidates. An
attacker must out-rank honest peers on latency, useful relay and uptime at once to displace
them. Loopback is one group (`local`): every local process shares 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from .addrman import is_loopback

__all__ = [
    "Candidate",
    "netgroup",
    "select_victim",
    "PROTECT_NETGROUPS",
    "PROTECT_PING",
    "PROTECT_TX",
    "PROTECT_BLOCKS",
]

PROTECT_NETGROUPS = 4
PROTECT_PING = 8
PROTECT_TX = 4
PROTECT_BLOCKS = 4


@dataclass(frozen=True)
class Candidate:
    """One inbound peer. Times are monotonic seconds (0 = never); ping in ms (None: unmeasured)."""

    key: Hashable
    netgroup: str
    connected: float
    min_ping: float | None = None
    last_tx: float = 0.0
    last_block: float = 0.0


def netgroup(host: str) -> str:
    """The network group of an address (Core: GetGroup without ASMap): IPv4 /16, IPv6 /32,
    `local` for loopback, the name itself for anything else."""
    if is_loopback(host):
        return "local"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 16 if address.version == 4 else 32
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network)


def _protect(cands: list[Candidate], order: list[Candidate], count: int) -> list[Candidate]:
    keep = {id(c) for c in order[:count]}
    return [c for c in cands if id(c) not in keep]


def select_victim(candidates: Sequence[Candidate]) -> Hashable | None:
    """The key of the inbound peer to evict for a newcomer, or None (all protected: refuse
    the newcomer)."""
    cands = list(candidates)
    seen: set[str] = set()
    distinct: list[Candidate] = []
    for cand in sorted(cands, key=lambda c: c.connected):
        if cand.netgroup not in seen:
            seen.add(cand.netgroup)
            distinct.append(cand)
    cands = _protect(cands, distinct, PROTECT_NETGROUPS)
    pinged = sorted((c for c in cands if c.min_ping is not None), key=lambda c: c.min_ping or 0)
    cands = _protect(cands, pinged, PROTECT_PING)
    relayed = sorted((c for c in cands if c.last_tx > 0), key=lambda c: -c.last_tx)
    cands = _protect(cands, relayed, PROTECT_TX)
    mined = sorted((c for c in cands if c.last_block > 0), key=lambda c: -c.last_block)
    cands = _protect(cands, mined, PROTECT_BLOCKS)
    cands = _protect(cands, sorted(cands, key=lambda c: c.connected), len(cands) // 2)
    if not cands:
        return None
    groups: dict[str, list[Candidate]] = {}
    for cand in cands:
        groups.setdefault(cand.netgroup, []).append(cand)
    # the largest group; between equal ones, the group whose youngest member is youngest
    largest = max(groups.values(), key=lambda g: (len(g), max(c.connected for c in g)))
    return max(largest, key=lambda c: c.connected).key
