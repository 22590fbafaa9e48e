"""What the security service hands out: key and user descriptions (never a
secret), token pairs, rate-limit decisions and audit entries; and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, computed_field

from engine.errors import EngineError, NotFound
from engine.security.principal import Role


class ApiKeyInfo(BaseModel):
    """An API key as listed: its visible prefix, never its secret or hash."""

    id: str
    prefix: str = Field(description="the visible start of the key, `tdk_<id>`")
    name: str
    role: Role
    accounts: list[str] | None = Field(description="the only accounts it sees; null for all")
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class UserInfo(BaseModel):
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_expires_in: int = Field(description="seconds the refresh token is valid")

    @computed_field(description="the access token again, for clients that read `token`")  # type: ignore[prop-decorator]
    @property
    def token(self) -> str:
        return self.access_token


class AuditEntry(BaseModel):
    id: int
    time: datetime
    actor: str = Field(description="the key's prefix, the user's name, or `local` for the CLI")
    actor_kind: str = Field(description="key, user, local or anonymous")
    role: Role | None
    action: str
    target: str
    outcome: str = Field(description="`ok`, or the error code the action failed with")
    request_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One request's verdict: `reset` is when the window turns (Unix seconds),
    `retry_after` whole seconds from now (0 when allowed), `window` its length."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int
    window: int = 60


class AuthenticationFailed(EngineError):
    code = "UNAUTHORIZED"


class RateLimited(EngineError):
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class KeyNotFound(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"No API key with id {key_id!r}.", key_id=key_id)


class UserNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"No user named {name!r}.", name=name)


class InsecureSecret(EngineError):
    """The signing secret's file is missing protections or unreadable."""

    code = "SERVICE_UNAVAILABLE"
