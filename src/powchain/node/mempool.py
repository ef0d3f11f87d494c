"""The mempool: valid transactions waiting for a block, per sender in nonce order.

Owned by the node and touched only on its event loop. Acceptance runs the cheapest checks
first, because a peer can make us run them for free: context-free consensus checks, policy
(standardness, fee rate), duplicate, nonce window and the sender's future cap, replace-by-fee,
balance over the sender's queue (all O(1) or bounded by the 64-nonce queue), then the Schnorr
signature, and only then the one step whose cost grows with the pool: room (eviction), which
walks the sorted eviction index (`mempool_index`, O(log n) per transaction evicted) and never
sorts the pool.

Each sender has a queue keyed by nonce holding nonces confirmed .. confirmed + 63. Gaps are
allowed; a transaction behind a gap (a "future" one) is kept but not mined until the gap fills,
at most MAX_FUTURE_PER_SENDER of them per sender, and it ranks below every executable
transaction for room: it can evict only future transactions paying a lower fee rate, and any
executable one evicts it. Affordability counts the sender's confirmed spendable balance only
(never incoming mempool payments), so any interleaving of senders in a template is valid as
long as each sender's nonces stay in order. Counters (bytes, fees, fee-rate order) are kept up
to date so statistics never sort the pool. Does no I/O and publishes no events: the node does,
from the return values.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ..consensus.errors import Kind, Rejected
from ..consensus.state import AccountState, StateView
from ..consensus.tx_check import check_signature, check_transaction
from ..core.block import Block
from ..core.params import ChainParams
from ..core.transaction import Transaction
from ..policy.fees import check_min_relay_fee, check_replacement
from ..policy.limits import check_future_depth, check_queue_depth, is_expired
from ..policy.standard import check_standard
from .mempool_index import RankIndex, outranks, rate_key

__all__ = ["Mempool"]


@dataclass(frozen=True, slots=True)
class _Entry:
    tx: Transaction
    size: int  # serialized bytes
    entered: int  # Unix seconds when accepted
    seq: int  # arrival order, breaks fee-rate ties (first come first served)

    @property
    def cost(self) -> int:
        return self.tx.amount + self.tx.fee

    @property
    def txid(self) -> bytes:
        return self.tx.txid

    @property
    def fee(self) -> int:
        return self.tx.fee


class Mempool:
    """Transactions by txid, with a nonce-ordered queue per sender (Core: CTxMemPool)."""

    def __init__(self, params: ChainParams, *, max_bytes: int, expiry: int) -> None:
        """`max_bytes`: bound on the serialized size of all transactions; `expiry`: seconds."""
        self._params = params
        self._max_bytes = max_bytes
        self._expiry = expiry
        self._entries: dict[bytes, _Entry] = {}  # in arrival order (dicts keep insertion order)
        self._by_sender: dict[bytes, dict[int, bytes]] = {}  # sender -> nonce -> txid
        self._confirmed: dict[bytes, int] = {}  # sender -> confirmed nonce last seen
        self._run_len: dict[bytes, int] = {}  # sender -> executable entries from confirmed
        self._incoming: dict[bytes, int] = {}  # recipient -> amounts of executable txs to it
        self._index = RankIndex()
        self._bytes = 0
        self._seq = 0

    # ---- read side -------------------------------------------------------------------------

    def get(self, txid: bytes) -> Transaction | None:
        entry = self._entries.get(txid)
        return entry.tx if entry else None

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        """Serialized bytes of every transaction held."""
        return self._bytes

    def txs(self, limit: int | None = None) -> list[Transaction]:
        """Transactions in arrival order, the first `limit` of them (all when None); O(limit)."""
        return [e.tx for e in itertools.islice(self._entries.values(), limit)]

    def pending_for(self, pubkey: bytes) -> tuple[int, int]:
        """(net balance change in units, queued count) for an account.

        Counts only executable transactions (contiguous nonces from the sender's confirmed
        one): outgoing ones subtract amount + fee, incoming ones add amount. The count is the
        length of `pubkey`'s own executable run, so its next nonce = confirmed + count.
        """
        own = self._run(pubkey)
        net = -sum(e.cost for e in own)
        net += self._incoming.get(pubkey, 0)  # a counter: O(1) whatever the pool holds
        return net, len(own)

    def fee_stats(self) -> dict[str, int]:
        """`count`, `bytes`, `total_fees` (units) and `min_fee_rate`, `median_fee_rate`,
        `max_fee_rate` in units per 1,000 bytes (0 when empty; median rounds down). Read from
        counters and the sorted fee-rate index: O(log n), never a sort of the pool."""
        low, median, high = self._index.rate_stats()
        return {
            "count": len(self._entries),
            "bytes": self._bytes,
            "total_fees": self._index.total_fees,
            "min_fee_rate": low,
            "median_fee_rate": median,
            "max_fee_rate": high,
        }

    # ---- acceptance ------------------------------------------------------------------------

    def accept(self, tx: Transaction, view: StateView, now: int) -> list[bytes]:
        """Admit `tx` against the state at the tip, or raise `Rejected`.

        Reasons, in check order: any of `check_transaction` (CONSENSUS, `stateless`);
        `coinbase`, `tx-size`, `nonstandard-data`, `fee-too-low` (POLICY); `duplicate`
        (DUPLICATE); `bad-nonce` (CONSENSUS, below the confirmed nonce); `too-many-pending`
        (POLICY, 64+ ahead); `too-many-future` (POLICY, the sender already holds
        MAX_FUTURE_PER_SENDER behind a gap); `insufficient-fee` (POLICY, a replacement paying
        < +10 %); `insufficient-funds` (CONSENSUS when the balance cannot pay this tx alone,
        POLICY when it cannot pay it after the sender's queued lower nonces); `bad-signature`
        (CONSENSUS, `stateless`); `mempool-full` (POLICY). Every check before the signature
        costs O(1) or O(64); the eviction plan after it costs O(log n) per entry evicted.
        Returns the txids it removed to admit `tx`: the replaced one, those evicted for room,
        and the sender's later nonces a fee bump made unaffordable.
        """
        check_transaction(tx, self._params)
        check_standard(tx)
        check_min_relay_fee(tx)
        if tx.txid in self._entries:
            raise Rejected(Kind.DUPLICATE, "duplicate", "transaction already in the mempool")
        account = view.get_account(tx.sender)
        self._check_nonce(tx, account.nonce)
        replaced = self._at(tx.sender, tx.nonce)
        if replaced is not None:
            check_replacement(replaced.tx, tx)
        mineable = tx.nonce <= self._next_nonce(tx.sender, account.nonce)
        if not mineable and replaced is None:
            check_future_depth(self._future_count(tx.sender, account.nonce))
        self._check_funds(tx, account)
        # everything above is O(1) or bounded by one sender's queue; the signature comes
        # before the one step whose cost grows with the pool
        check_signature(tx)
        size = tx.size
        evict = self._eviction_plan(tx, size, replaced, mineable)
        removed = self._drop_below(tx.sender, account.nonce)
        victims = {self._entries[txid].tx.sender for txid in evict}
        for txid in ([replaced.tx.txid] if replaced else []) + evict:
            self._remove(txid)
            removed.append(txid)
        for sender in victims:  # their runs may have shortened
            self._refresh(sender)
        self._insert(_Entry(tx, size, now, self._next_seq()))
        self._confirmed[tx.sender] = account.nonce
        removed += self._trim_unaffordable(tx.sender, account.balance)
        self._refresh(tx.sender)
        return removed

    def _next_nonce(self, sender: bytes, confirmed: int) -> int:
        """The nonce that would extend `sender`'s executable run from `confirmed`."""
        if self._confirmed.get(sender) != confirmed:  # the tip moved since: count afresh
            queue, nonce = self._by_sender.get(sender, {}), confirmed
            while nonce in queue:
                nonce += 1
            return nonce
        return confirmed + self._run_len.get(sender, 0)

    def _future_count(self, sender: bytes, confirmed: int) -> int:
        """How many of `sender`'s entries sit behind a gap (beyond its next nonce)."""
        nxt = self._next_nonce(sender, confirmed)
        return sum(1 for nonce in self._by_sender.get(sender, ()) if nonce > nxt)

    def _check_nonce(self, tx: Transaction, confirmed: int) -> None:
        if tx.nonce < confirmed:
            raise Rejected(
                Kind.CONSENSUS, "bad-nonce", f"nonce {tx.nonce}, the sender's next is {confirmed}"
            )
        check_queue_depth(tx.nonce, confirmed)

    def _check_funds(self, tx: Transaction, account: AccountState) -> None:
        own = tx.amount + tx.fee
        if own > account.balance:
            raise Rejected(
                Kind.CONSENSUS,
                "insufficient-funds",
                f"sender holds {account.balance} units, needs {own}",
            )
        queued = sum(
            self._entries[txid].cost
            for nonce, txid in self._by_sender.get(tx.sender, {}).items()
            if account.nonce <= nonce < tx.nonce
        )
        if queued + own > account.balance:
            raise Rejected(
                Kind.POLICY,
                "insufficient-funds",
                f"sender holds {account.balance} units, its queue up to this nonce needs"
                f" {queued + own}",
            )

    def _eviction_plan(
        self, tx: Transaction, size: int, replaced: _Entry | None, mineable: bool
    ) -> list[bytes]:
        """Txids to evict so `tx` fits, lowest rank first (future before executable, then fee
        rate), each with its sender's later nonces. Raises `Rejected(POLICY, 'mempool-full')`
        when that would evict a rank >= the new one's (or there is not enough to evict).
        Never evicts the new tx's sender. Walks the sorted index: O(log n) per entry."""
        need = self._bytes - (replaced.size if replaced else 0) + size - self._max_bytes
        if need <= 0:
            return []
        new_rank = (int(mineable), rate_key(tx.fee, size))
        plan: dict[bytes, int] = {}
        freed = 0
        for rank in self._index.lowest():
            txid = rank[3]
            if txid in plan:
                continue
            if not outranks(new_rank, rank):
                break
            entry = self._entries[txid]
            if entry.tx.sender == tx.sender:
                continue
            for later in self._later(entry.tx.sender, entry.tx.nonce):
                if later.tx.txid not in plan:
                    plan[later.tx.txid] = later.size
                    freed += later.size
            if freed >= need:
                return list(plan)
        raise Rejected(
            Kind.POLICY,
            "mempool-full",
            "mempool is full of transactions that rank higher (executable, or a higher fee rate)",
        )

    # ---- removal and upkeep ----------------------------------------------------------------

    def remove_for_block(self, block: Block) -> list[bytes]:
        """Remove a connected block's transactions and every queued tx of the same sender with
        a nonce <= theirs (conflicts, now stale). Returns the removed txids."""
        removed: list[bytes] = []
        for tx in block.txs:
            if tx.is_coinbase:
                continue
            removed += self._drop_below(tx.sender, tx.nonce + 1)
            self._refresh(tx.sender)
        return removed

    def readd(self, txs: Sequence[Transaction], view: StateView, now: int) -> list[bytes]:
        """Re-admit the transactions of disconnected blocks (in block order); those that no
        longer fit are dropped silently, as a reorg may have spent their funds. Returns the
        txids that re-admission removed from the pool (evicted for room, replaced), for the
        caller's removal events."""
        removed: list[bytes] = []
        for tx in txs:
            if tx.is_coinbase or tx.txid in self._entries:
                continue
            try:
                removed += self.accept(tx, view, now)
            except Rejected:
                continue
        readded = {tx.txid for tx in txs}
        return [t for t in removed if t not in readded]

    def revalidate(self, view: StateView) -> list[bytes]:
        """After a tip change: drop each sender's nonces below the confirmed one and, in nonce
        order, everything from the first tx the balance can no longer pay. Returns removed
        txids."""
        removed: list[bytes] = []
        for sender in list(self._by_sender):
            account = view.get_account(sender)
            removed += self._drop_below(sender, account.nonce)
            removed += self._trim_unaffordable(sender, account.balance)
            if sender in self._by_sender:
                self._confirmed[sender] = account.nonce
            self._refresh(sender)
        return removed

    def expire(self, now: int) -> list[bytes]:
        """Remove transactions that waited `expiry` seconds, with their sender's later nonces
        (which could never be mined without them). Returns the removed txids."""
        removed: list[bytes] = []
        old = itertools.takewhile(
            lambda e: is_expired(e.entered, now, self._expiry), self._entries.values()
        )
        for entry in list(old):  # arrival order: stops at the first that has not expired
            if entry.tx.txid in self._entries:
                for later in self._later(entry.tx.sender, entry.tx.nonce):
                    self._remove(later.tx.txid)
                    removed.append(later.tx.txid)
                self._refresh(entry.tx.sender)
        return removed

    # ---- template --------------------------------------------------------------------------

    def select(self, view: StateView, max_bytes: int) -> list[Transaction]:
        """Transactions for a block template, at most `max_bytes` serialized in total.

        Greedy by fee rate over the head of each sender's executable run (contiguous nonces
        from the confirmed one, affordable from the confirmed balance): take the best head,
        then that sender's next nonce competes. A head that does not fit ends its sender.
        """
        runs = {s: self._executable(s, view.get_account(s)) for s in self._by_sender}
        heap = [(-rate_key(r[0].tx.fee, r[0].size), r[0].seq, s, 0) for s, r in runs.items() if r]
        heapq.heapify(heap)
        chosen: list[Transaction] = []
        room = max_bytes
        while heap:
            _, _, sender, i = heapq.heappop(heap)
            entry = runs[sender][i]
            if entry.size > room:
                continue
            chosen.append(entry.tx)
            room -= entry.size
            if i + 1 < len(runs[sender]):
                nxt = runs[sender][i + 1]
                heapq.heappush(heap, (-rate_key(nxt.tx.fee, nxt.size), nxt.seq, sender, i + 1))
        return chosen

    # ---- internals -------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _at(self, sender: bytes, nonce: int) -> _Entry | None:
        txid = self._by_sender.get(sender, {}).get(nonce)
        return self._entries[txid] if txid is not None else None

    def _queue(self, sender: bytes) -> list[_Entry]:
        """The sender's entries in nonce order."""
        queue = self._by_sender.get(sender, {})
        return [self._entries[queue[n]] for n in sorted(queue)]

    def _later(self, sender: bytes, nonce: int) -> list[_Entry]:
        """The sender's entries with a nonce >= `nonce`, in nonce order."""
        return [e for e in self._queue(sender) if e.tx.nonce >= nonce]

    def _run(self, sender: bytes) -> list[_Entry]:
        """Contiguous entries from the confirmed nonce last seen (no balance check)."""
        queue = self._by_sender.get(sender, {})
        nonce = self._confirmed.get(sender, 0)
        run = []
        while nonce in queue:
            run.append(self._entries[queue[nonce]])
            nonce += 1
        return run

    def _executable(self, sender: bytes, account: AccountState) -> list[_Entry]:
        """Contiguous entries from `account.nonce` that the balance pays, in nonce order."""
        queue = self._by_sender.get(sender, {})
        run: list[_Entry] = []
        nonce, spent = account.nonce, 0
        while nonce in queue:
            entry = self._entries[queue[nonce]]
            spent += entry.cost
            if spent > account.balance:
                break
            run.append(entry)
            nonce += 1
        return run

    def _insert(self, entry: _Entry) -> None:
        """Add `entry` as a future one; `_refresh(sender)` then sets its class."""
        tx = entry.tx
        self._entries[tx.txid] = entry
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = tx.txid
        self._index.add(entry)
        self._bytes += entry.size

    def _remove(self, txid: bytes) -> None:
        entry = self._entries.pop(txid, None)
        if entry is None:
            return
        tx = entry.tx
        self._bytes -= entry.size
        if self._index.is_mineable(entry):
            self._count_incoming(tx, -1)
        self._index.discard(entry)
        queue = self._by_sender[tx.sender]
        del queue[tx.nonce]
        if not queue:
            del self._by_sender[tx.sender]
            self._confirmed.pop(tx.sender, None)
            self._run_len.pop(tx.sender, None)

    def _refresh(self, sender: bytes) -> None:
        """Recompute `sender`'s executable run and move its entries between the future and
        the executable class. O(64 log n): the queue holds at most 64 nonces."""
        queue = self._by_sender.get(sender)
        if not queue:
            self._run_len.pop(sender, None)
            return
        confirmed = self._confirmed.get(sender, 0)
        nonce = confirmed
        while nonce in queue:
            nonce += 1
        self._run_len[sender] = nonce - confirmed
        for n, txid in queue.items():
            mineable = confirmed <= n < nonce
            entry = self._entries[txid]
            if self._index.set_mineable(entry, mineable):
                self._count_incoming(entry.tx, 1 if mineable else -1)

    def _count_incoming(self, tx: Transaction, sign: int) -> None:
        """Add (sign 1) or take (-1) `tx.amount` to its recipient's executable incoming sum."""
        total = self._incoming.get(tx.recipient, 0) + sign * tx.amount
        if total:
            self._incoming[tx.recipient] = total
        else:
            self._incoming.pop(tx.recipient, None)

    def _drop_below(self, sender: bytes, nonce: int) -> list[bytes]:
        """Remove the sender's entries with a nonce < `nonce`; return their txids."""
        stale = [e.tx.txid for e in self._queue(sender) if e.tx.nonce < nonce]
        for txid in stale:
            self._remove(txid)
        if sender in self._by_sender:
            self._confirmed[sender] = max(self._confirmed.get(sender, 0), nonce)
        return stale

    def _trim_unaffordable(self, sender: bytes, balance: int) -> list[bytes]:
        """In nonce order, remove the sender's entries from the first one whose cumulative
        cost exceeds `balance`; return their txids."""
        spent = 0
        queue = self._queue(sender)
        for i, entry in enumerate(queue):
            spent += entry.cost
            if spent > balance:
                removed = [e.tx.txid for e in queue[i:]]
                for txid in removed:
                    self._remove(txid)
                return removed
        return []
