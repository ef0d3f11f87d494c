"""Named crash points for fault-injection tests (Bitcoin Core's feature_dbcrash, by name).

`crash_point(name)` is a no-op unless the environment variable `POWCHAIN_CRASH_AT` names this
point, as `name` (the first hit) or `name:N` (the N-th hit, counted from 1 in this process).
Then the process ends at once with `os._exit(CRASH_EXIT_CODE)`: no `finally`, no atexit, no
SQLite close, as close to a power cut as a process can get by itself. Several points may be
listed, comma-separated. The variable is read once per process; production never sets it.

Points (see `node/chainstate.py`): `connect-before-tx`, `connect-in-tx`, `connect-after-tx`,
`disconnect-before-tx`, `disconnect-in-tx`, `disconnect-after-tx`.
"""

from __future__ import annotations

import os

__all__ = ["crash_point", "CRASH_EXIT_CODE", "ENV_VAR", "POINTS"]

ENV_VAR = "POWCHAIN_CRASH_AT"
CRASH_EXIT_CODE = 87
POINTS = (
    "connect-before-tx",
    "connect-in-tx",
    "connect-after-tx",
    "disconnect-before-tx",
    "disconnect-in-tx",
    "disconnect-after-tx",
)


def _parse(text: str) -> dict[str, int]:
    """'a,b:3' -> {'a': 1, 'b': 3}; a malformed count means 1."""
    wanted: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition(":")
        wanted[name] = int(count) if count.isdigit() and int(count) > 0 else 1
    return wanted


_WANTED = _parse(os.environ.get(ENV_VAR, ""))
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """End the process here if `POWCHAIN_CRASH_AT` asks for this point (and hit count)."""
    if not _WANTED or name not in _WANTED:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == _WANTED[name]:
        os.write(2, f"crash point {name} hit {_hits[name]}: exiting\n".encode())
        os._exit(CRASH_EXIT_CODE)
