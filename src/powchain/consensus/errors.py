"""Typed rejections: every rule failure is `Rejected(kind, reason)`.

`reason` is a stable string (SPEC §7, e.g. 'bad-signature', 'bad-nonce'); `kind` tells the
caller what to do: CONSENSUS bans a peer and answers 400, POLICY is ignored and answers 422,
MISSING_PARENT asks for headers, TIME_FUTURE is retried later (never remembered as invalid),
DUPLICATE is ignored. `stateless` marks a rejection that holds whatever the chain state is
(context-free rules, signatures): the peer that relayed the object is at fault and is banned,
where a state-dependent one (`bad-nonce`, `insufficient-funds`) may be an honest race.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Kind", "Rejected"]


class Kind(Enum):
    CONSENSUS = "consensus"
    POLICY = "policy"
    MISSING_PARENT = "missing-parent"
    TIME_FUTURE = "time-future"
    DUPLICATE = "duplicate"


class Rejected(Exception):
    """A rule said no. `kind`: what the caller does; `reason`: stable string; `message`: prose."""

    def __init__(
        self, kind: Kind, reason: str, message: str = "", *, stateless: bool = False
    ) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.kind = kind
        self.reason = reason
        self.message = message or reason
        self.stateless = stateless

    def __repr__(self) -> str:
        return f"Rejected({self.kind.name}, {self.reason!r}, {self.message!r})"
