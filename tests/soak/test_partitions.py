"""Scenario 1: nodes mining with traffic under random partitions and heals.

Figure: seconds from each heal until every node has the same tip (target <= 10 s), and the
history invariants (tests/soak/history.py). The short version (make test) runs 3 regtest nodes
for ~20 s with blocks mined on demand on random nodes; the soak version 5 devnet nodes mining
real proof of work for 120 s.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import pytest

from powchain.core.params import DEVNET_FAUCET_SECRET, NETWORKS
from tests.functional.framework import ApiError, Wallet

from .harness import Cluster
from .history import History
from .report import record

log = logging.getLogger("soak")
HEAL_TARGET = 10.0


def send_some(cluster: Cluster, history: History, wallet: Wallet, rng: random.Random) -> None:
    """One payment from `wallet`, signed with a random node's next nonce, sent to that node."""
    node = rng.choice(cluster.nodes)
    try:
        nonce = int(node.account(wallet.address)["next_nonce"])
    except (ApiError, OSError):
        return
    to = Wallet.new(wallet.params, f"payee{rng.randrange(5)}").address
    tx = wallet.transfer(to, rng.randrange(1, 1000), nonce)
    history.submit(node, tx.serialize().hex(), wallet.pubkey, nonce)


def random_groups(n: int, rng: random.Random) -> list[set[int]]:
    members = list(range(n))
    rng.shuffle(members)
    cut = rng.randrange(1, n)
    return [set(members[:cut]), set(members[cut:])]


def run_partitions(
    cluster: Cluster,
    wallet: Wallet,
    duration: float,
    rng: random.Random,
    mine_on_demand: bool,
) -> tuple[list[float], History]:
    """Alternate partitions and heals for `duration` s with traffic; heal-to-same-tip times."""
    history = History()
    heal_times: list[float] = []
    miner = Wallet.new(wallet.params, "soak-miner").address
    end = time.monotonic() + duration
    while time.monotonic() < end:
        groups = random_groups(len(cluster.nodes), rng)
        cluster.partition(*groups)
        phase_end = time.monotonic() + rng.uniform(3, 8)
        while time.monotonic() < phase_end:
            send_some(cluster, history, wallet, rng)
            if mine_on_demand:
                for group in groups:
                    cluster.nodes[rng.choice(sorted(group))].mine(1, miner)
            time.sleep(rng.uniform(0.1, 0.6))  # load pacing of the generator, not a wait
        cluster.heal()
        if mine_on_demand:  # equal work on both sides is a tie: one more block decides
            cluster.nodes[rng.randrange(len(cluster.nodes))].mine(1, miner)
        heal_times.append(cluster.wait_same_tip(120))
        log.info("Same tip %.1f s after the heal", heal_times[-1])
        history.observe_confirmations(cluster.nodes[0])
    return heal_times, history


def finish(cluster: Cluster, history: History, network: str, mine_on_demand: bool) -> dict:
    """Stop mining (restart without --mine), agree on the tip, check the history."""
    if not mine_on_demand:
        for node in cluster.nodes:
            node.restart(mining=False)
    cluster.wait_same_tip(120)
    history.observe_confirmations(cluster.nodes[0])
    return history.check_final(cluster.nodes, NETWORKS[network])


def test_partitions_short(tmp_path: Path) -> None:
    rng = random.Random(5)
    params = NETWORKS["regtest"]
    wallet = Wallet.new(params, "soak-sender")
    with Cluster(tmp_path, 3) as cluster:
        log.info("Fund a sender: 12 blocks to it, everyone agrees")
        cluster.nodes[0].mine(params.coinbase_maturity + 2, wallet.address)
        cluster.wait_same_tip(60)
        heal_times, history = run_partitions(cluster, wallet, 20, rng, True)
        figures = finish(cluster, history, "regtest", True)
    worst = max(heal_times)
    record(
        "1 partitions (short)",
        f"{len(heal_times)} heals, worst {worst:.1f} s to one tip; {cluster.note}; "
        + history_figures(figures),
        f"<= {HEAL_TARGET:.0f} s",
        worst <= HEAL_TARGET,
    )
    assert figures["accepted"] > 0


def history_figures(f: dict[str, int]) -> str:
    """The history checker's figures as a sentence (supply in coins of 10^8 units)."""
    return (
        f"height {f['height']}, {f['txs_on_chain']} of {f['submitted']} submitted txs on chain "
        f"({f['accepted']} accepted), {f['deep_confirmed']} seen 6 deep and kept, supply "
        f"{f['supply'] / 10**8:,.0f} coins (genesis + subsidies: {f['subsidies'] / 10**8:,.0f})"
    )


@pytest.mark.soak
def test_partitions_devnet_five_nodes(tmp_path: Path) -> None:
    rng = random.Random(7)
    params = NETWORKS["devnet"]
    faucet = Wallet(DEVNET_FAUCET_SECRET, params)
    extra = {i: ["--miner-address", Wallet.new(params, f"miner{i}").address] for i in range(5)}
    with Cluster(tmp_path, 5, "devnet", mine=True, extra_args=extra) as cluster:
        heal_times, history = run_partitions(cluster, faucet, 120, rng, False)
        figures = finish(cluster, history, "devnet", False)
    worst = max(heal_times)
    median = sorted(heal_times)[len(heal_times) // 2]
    record(
        "1 partitions",
        f"5 devnet nodes, 120 s, {len(heal_times)} heals: median {median:.1f} s, worst "
        f"{worst:.1f} s to one tip; {cluster.note}; " + history_figures(figures),
        f"<= {HEAL_TARGET:.0f} s",
        worst <= HEAL_TARGET,
    )
