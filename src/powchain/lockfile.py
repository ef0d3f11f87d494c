"""One process per data directory: `DATADIR/.lock` (Bitcoin Core's `.lock`).

`powchain node` and `powchain devnet` take an exclusive `flock(2)` on the file before they
touch anything else in the directory (the chain database, `api.cookie`, `node.log`), and
write their PID into it. The kernel releases the lock when the process ends, however it ends,
so a stale file never blocks a restart. A second process on the same directory gets
`DatadirLocked`, whose message is one line naming the PID that holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_NAME", "DatadirLocked", "DatadirLock", "lock_datadir"]

LOCK_NAME = ".lock"
MAX_LOCK_TEXT = 200
"""Bytes read from a lock file (a PID and a word)."""


class DatadirLocked(Exception):
    """Another process holds the directory's lock. `pid`: its PID (None when unreadable)."""

    def __init__(self, datadir: Path, pid: int | None, what: str) -> None:
        holder = f"PID {pid}" if pid is not None else "another process"
        super().__init__(
            f"{datadir} is in use by {holder} ({what}); stop that process first, or use "
            "another --datadir"
        )
        self.datadir = datadir
        self.pid = pid


class DatadirLock:
    """A held lock; `release()` (or process exit) lets go of it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _holder(fd: int) -> tuple[int | None, str]:
    """(PID, what) from the lock file's text `PID WHAT`."""
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, MAX_LOCK_TEXT).decode("ascii", "replace").split()
    pid = int(text[0]) if text and text[0].isdigit() else None
    return pid, " ".join(text[1:]) or "a powchain process"


def lock_datadir(datadir: Path, what: str) -> DatadirLock:
    """Lock `datadir` (created when missing) for this process; `what` names the holder in the
    file (`powchain node`, `powchain devnet`). Raises DatadirLocked when another process
    holds it, OSError when the directory cannot be written."""
    datadir.mkdir(parents=True, exist_ok=True)
    path = datadir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid, holder = _holder(fd)
        os.close(fd)
        raise DatadirLocked(datadir, pid, holder) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {what}\n".encode())
    return DatadirLock(path, fd)
