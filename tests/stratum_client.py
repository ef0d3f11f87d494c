"""An independent Stratum v1 client for the tests, written from the protocol description
(the mining.* messages as ckpool, NOMP and cpuminer use them, BIP-310 for mining.configure).

It imports nothing of powchain: it speaks JSON lines over a plain socket, builds the coinbase
as coinb1 | extranonce1 | extranonce2 | coinb2, folds the merkle branch, assembles the 80-byte
header (u32 fields little-endian, prevhash un-word-swapped) and searches nonces with hashlib.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

DIFF1 = 0xFFFF * 2**208


def dsha(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    sock.settimeout(60)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except OSError:
        pass
    sock.close()
    return data


def share_target(difficulty: float) -> int:
    return int(DIFF1 / difficulty)


def compact_target(nbits: int) -> int:
    exponent, mantissa = nbits >> 24, nbits & 0x007FFFFF
    return mantissa * 256 ** (exponent - 3)


def unswap_words(data: bytes) -> bytes:
    out = b""
    for i in range(0, len(data), 4):
        out += data[i : i + 4][::-1]
    return out


@dataclass
class Notify:
    job_id: str
    prevhash_hex: str
    coinb1: bytes
    coinb2: bytes
    branch: list[bytes]
    version_hex: str
    nbits_hex: str
    ntime_hex: str
    clean: bool

    @classmethod
    def parse(cls, params: list[Any]) -> Notify:
        return cls(
            params[0],
            params[1],
            bytes.fromhex(params[2]),
            bytes.fromhex(params[3]),
            [bytes.fromhex(h) for h in params[4]],
            params[5],
            params[6],
            params[7],
            params[8],
        )

    @property
    def prev_block(self) -> bytes:
        """The header's prev_block bytes (internal order)."""
        return unswap_words(bytes.fromhex(self.prevhash_hex))

    def coinbase(self, extranonce1: bytes, extranonce2: bytes) -> bytes:
        return self.coinb1 + extranonce1 + extranonce2 + self.coinb2

    def header(
        self, extranonce1: bytes, extranonce2: bytes, nonce: int, ntime: int | None = None
    ) -> bytes:
        root = dsha(self.coinbase(extranonce1, extranonce2))
        for sibling in self.branch:
            root = dsha(root + sibling)
        t = int(self.ntime_hex, 16) if ntime is None else ntime
        return (
            int(self.version_hex, 16).to_bytes(4, "little")
            + self.prev_block
            + root
            + t.to_bytes(4, "little")
            + int(self.nbits_hex, 16).to_bytes(4, "little")
            + nonce.to_bytes(4, "little")
        )


class StratumTestClient:
    """One connection: `call(method, params)` returns the response; notifications queue up."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.notes: deque[dict[str, Any]] = deque()
        self.next_id = 1
        self.difficulty: float | None = None
        self.extranonce1 = b""
        self.extranonce2_size = 0
        self.jobs: list[Notify] = []
        self.order: list[str] = []  # methods of notifications in arrival order

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_message(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next JSON line; None when the server closed the connection."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line from the server")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        if message.get("method"):
            self._note(message)
        return message

    def _note(self, message: dict[str, Any]) -> None:
        self.order.append(message["method"])
        if message["method"] == "mining.set_difficulty":
            self.difficulty = float(message["params"][0])
        elif message["method"] == "mining.notify":
            self.jobs.append(Notify.parse(message["params"]))
        self.notes.append(message)

    def call(self, method: str, params: list[Any]) -> dict[str, Any]:
        rid = self.next_id
        self.next_id += 1
        line = json.dumps({"id": rid, "method": method, "params": params}) + "\n"
        self.sock.sendall(line.encode())
        while True:
            message = self.read_message()
            if message is None:
                raise ConnectionError("closed by the server")
            if message.get("id") == rid and "method" not in message:
                return message

    def closed_by_server(self, timeout: float = 30.0) -> bool:
        """Read until the server closes (True) or `timeout` passes (False)."""
        try:
            while True:
                if self.read_message(timeout) is None:
                    return True
        except TimeoutError:
            return False
        except OSError:
            return True

    def wait_job(self, timeout: float = 60.0, after: int = 0) -> Notify:
        """The first job with index >= `after` (waiting for notifications)."""
        deadline = time.monotonic() + timeout
        while len(self.jobs) <= after:
            if self.read_message(max(0.01, deadline - time.monotonic())) is None:
                raise ConnectionError("closed by the server")
        return self.jobs[after]

    def subscribe(self) -> dict[str, Any]:
        answer = self.call("mining.subscribe", ["test-client/1.0"])
        result = answer["result"]
        self.extranonce1 = bytes.fromhex(result[1])
        self.extranonce2_size = int(result[2])
        return answer

    def extranonce2(self, counter: int) -> bytes:
        return counter.to_bytes(self.extranonce2_size, "big")

    def find_share(
        self, job: Notify, difficulty: float, counter: int = 0, not_block: bool = False
    ) -> tuple[bytes, int, bytes]:
        """(extranonce2, nonce, header hash) of a share meeting `difficulty`; with
        `not_block`, one that does not also meet the job's block target (nbits)."""
        target = share_target(difficulty)
        block = compact_target(int(job.nbits_hex, 16)) if not_block else -1
        en2 = self.extranonce2(counter)
        head = self.header_prefix(job, en2)
        for nonce in range(2**32):
            digest = dsha(head + nonce.to_bytes(4, "little"))
            if block < int.from_bytes(digest, "little") <= target:
                return en2, nonce, digest
        raise AssertionError("nonce space exhausted")

    def find_miss(self, job: Notify, difficulty: float, counter: int = 0) -> tuple[bytes, int]:
        """An (extranonce2, nonce) whose hash does NOT meet `difficulty`."""
        target = share_target(difficulty)
        en2 = self.extranonce2(counter)
        head = self.header_prefix(job, en2)
        for nonce in range(2**32):
            digest = dsha(head + nonce.to_bytes(4, "little"))
            if int.from_bytes(digest, "little") > target:
                return en2, nonce
        raise AssertionError("every nonce met the target")

    def header_prefix(self, job: Notify, en2: bytes) -> bytes:
        return job.header(self.extranonce1, en2, 0)[:76]

    def submit(
        self, user: str, job: Notify, en2: bytes, nonce: int, ntime: str | None = None, *extra: str
    ) -> dict[str, Any]:
        params = [user, job.job_id, en2.hex(), ntime or job.ntime_hex, f"{nonce:08x}", *extra]
        return self.call("mining.submit", params)
