"""The authenticated caller of an API request or WebSocket connection."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    TRADER = "trader"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        return self.rank >= required.rank


_RANKS = {Role.VIEWER: 0, Role.TRADER: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class Principal:
    """`accounts` is None for every account, else the only ones it may see;
    anything outside that scope is reported as not found, never forbidden."""

    kind: str  # "key", "user" or "local"
    name: str
    role: Role
    accounts: frozenset[str] | None = None
    key_id: str | None = None

    def sees(self, account_id: str | None) -> bool:
        return self.accounts is None or account_id is None or account_id in self.accounts

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.key_id or self.name}"
