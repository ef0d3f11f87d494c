"""The check of one `mining.submit`: rebuild the coinbase, the merkle root and the header,
then sha256d(header) <= the share target. Cheap checks first: field shapes and the ntime
window before any hashing, the duplicate lookup before the block is built.

Pure apart from the job's duplicate set (no I/O, no clock: `now` is a parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..consensus.pow import bits_to_target
from ..core.block import Block, BlockHeader
from ..core.encoding import i32, u32
from ..core.hashing import sha256d
from ..core.transaction import Transaction
from .jobs import EXTRANONCE2_SIZE, Job, fold_branch
from .protocol import DUPLICATE, LOW_DIFFICULTY, OTHER, STALE, StratumError, parse_hex, parse_u32

__all__ = ["Submission", "ShareResult", "parse_submission", "check_share"]


@dataclass(frozen=True, slots=True)
class Submission:
    """The fields of `mining.submit` [worker, job_id, extranonce2, ntime, nonce,
    version_bits?]: extranonce2 bytes, ntime / nonce / version_bits as integers."""

    worker: str
    job_id: str
    extranonce2: bytes
    ntime: int
    nonce: int
    version_bits: int | None


@dataclass(frozen=True, slots=True)
class ShareResult:
    """An accepted share: its header hash (internal order), the difficulty it reached, and
    the block when it also meets the network target."""

    hash: bytes
    difficulty_met: float
    block: Block | None


def parse_submission(params: list[object]) -> Submission:
    """The fields of a submit's params; StratumError(OTHER) on a bad shape."""
    if not 5 <= len(params) <= 6:
        raise StratumError(OTHER, "mining.submit takes 5 or 6 params")
    worker, job_id = params[0], params[1]
    if not isinstance(worker, str) or not isinstance(job_id, str) or len(job_id) > 32:
        raise StratumError(OTHER, "worker name and job id must be strings")
    extranonce2 = parse_hex(params[2], EXTRANONCE2_SIZE, "extranonce2")
    ntime = parse_u32(params[3], "ntime")
    nonce = parse_u32(params[4], "nonce")
    version_bits = parse_u32(params[5], "version_bits") if len(params) == 6 else None
    return Submission(worker, job_id, extranonce2, ntime, nonce, version_bits)


def check_share(
    job: Job,
    sub: Submission,
    extranonce1: bytes,
    recipient: bytes,
    share_target: int,
    max_time: int,
) -> ShareResult:
    """Check `sub` against `job` for the connection with `extranonce1` paying `recipient`.

    `share_target`: the target of the difficulty the job was sent with; `max_time`: the
    latest ntime accepted (now + the future-time limit, less a margin). Raises StratumError:
    OTHER (ntime out of the window, version bits without version rolling), STALE (the job is
    full), DUPLICATE (the same header was accepted before on this job), LOW_DIFFICULTY.
    Records an accepted share's hash in the job.
    """
    if sub.version_bits not in (None, 0):
        raise StratumError(OTHER, "version rolling is not enabled (block version must be 1)")
    if not job.min_time <= sub.ntime <= max_time:
        raise StratumError(OTHER, f"ntime {sub.ntime} outside [{job.min_time}, {max_time}]")
    if job.full:
        raise StratumError(STALE, "job has too many shares; take the new job")
    coinb1, coinb2 = job.coinbase_parts(recipient)
    coinbase = coinb1 + extranonce1 + sub.extranonce2 + coinb2
    root = fold_branch(sha256d(coinbase), job.branch)
    header = i32(job.version) + job.prev_block + root + u32(sub.ntime) + u32(job.bits)
    header += u32(sub.nonce)
    digest = sha256d(header)
    if digest in job.shares:
        raise StratumError(DUPLICATE, "duplicate share")
    value = int.from_bytes(digest, "little")
    if value > share_target:
        raise StratumError(LOW_DIFFICULTY, "low difficulty share")
    job.shares.add(digest)
    met = (0xFFFF << 208) / max(value, 1)
    block = None
    if value <= bits_to_target(job.bits):
        block = Block(BlockHeader.parse(header), (Transaction.from_bytes(coinbase), *job.txs))
    return ShareResult(digest, met, block)
