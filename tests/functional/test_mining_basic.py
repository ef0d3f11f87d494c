"""mining_basic: coinbase maturity and the subsidy halving on regtest (SPEC §3, §4, §5).

One node mines 160 blocks through POST /mine. A coinbase is immature (shown under `immature`,
not spendable: a spend is refused with `insufficient-funds`) until block h + 10, spendable
after; the subsidy is 50 coins up to height 149 and 25 coins from height 150 (halving interval
150). Every balance is checked to the unit.
"""

from __future__ import annotations

import pytest

from powchain.core.units import COIN

from .framework import ApiError, TestFramework

pytestmark = [pytest.mark.functional, pytest.mark.timeout(150)]

MATURITY = 10
FEE = 10_000


def test_mining_basic(framework: TestFramework) -> None:
    log = framework.log
    node = framework.add_node()
    spender, miner, payee = (framework.wallet(s) for s in ("spender", "miner", "payee"))

    log.info("Mine block 1 to the spender: its 50-coin coinbase is immature")
    node.mine(1, spender.address)
    account = node.account(spender.address)
    assert (account["balance"], account["immature"], account["nonce"]) == (0, 50 * COIN, 0)

    log.info("Mine blocks 2..9 to the miner: the spender's coinbase is still immature")
    node.mine(8, miner.address)
    assert node.height == 9
    assert node.account(spender.address)["immature"] == 50 * COIN
    spend = spender.transfer(payee.address, COIN, nonce=0, fee=FEE)

    log.info("A spend of the immature coinbase is refused with insufficient-funds")
    with pytest.raises(ApiError) as refused:
        node.submit(spend.serialize().hex())
    assert 400 <= refused.value.status < 500
    assert refused.value.error == "insufficient-funds", refused.value.body
    assert node.mempool()["count"] == 0

    log.info("Mine blocks 10 and 11: from block 1 + %d on the coinbase is spendable", MATURITY)
    node.mine(2, miner.address)
    account = node.account(spender.address)
    assert (account["balance"], account["immature"]) == (50 * COIN, 0)

    log.info("The same spend is accepted now and confirms in block 12")
    txid = node.submit(spend.serialize().hex())
    assert txid == spend.txid[::-1].hex()
    (block12,) = node.mine(1, miner.address)
    confirmed = node.tx(txid)
    assert (confirmed["status"], confirmed["height"], confirmed["block"]) == (
        "confirmed",
        12,
        block12,
    )
    coinbase12 = node.block(12, full=True)["txs"][0]
    assert coinbase12["amount"] == 50 * COIN + FEE, "the miner collects subsidy plus fees"

    account = node.account(spender.address)
    assert (account["balance"], account["nonce"], account["immature"]) == (49 * COIN - FEE, 1, 0)
    assert node.account(payee.address)["balance"] == COIN

    log.info("Mine blocks 13..160")
    node.mine(148, miner.address)
    assert node.height == 160

    log.info("The subsidy halves at height 150: 50 coins in block 149, 25 in block 150")
    coinbase149 = node.block(149, full=True)["txs"][0]
    coinbase150 = node.block(150, full=True)["txs"][0]
    assert coinbase149["amount"] == 50 * COIN
    assert coinbase150["amount"] == 25 * COIN
    assert coinbase150["recipient"] == miner.address

    log.info("The miner's coinbases of blocks 151..160 are immature, the rest spendable")
    account = node.account(miner.address)
    # blocks 2..149 pay 50 coins (+ the fee in block 12), block 150 pays 25: all mature at 160.
    assert account["balance"] == 148 * 50 * COIN + 25 * COIN + FEE
    assert account["immature"] == 10 * 25 * COIN
