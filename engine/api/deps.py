"""Request dependencies: the engine, the caller (`Principal`), role checks and
account scoping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from engine.api.errors import ApiError
from engine.engine import Engine
from engine.errors import WorkerNotFound
from engine.security.principal import Principal, Role


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def bearer_token(request: Request) -> str | None:
    """`Authorization: Bearer <token>` or `X-API-Key: <key>`; never a query parameter."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key else None


async def current_principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "Authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await request.app.state.security.authenticate(token)
    if principal is None:
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "The token is invalid, expired or revoked.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers with at least `role`."""

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.role.allows(role):
            raise ApiError(
                403,
                "FORBIDDEN",
                f"This needs the {role.value} role; your token has {principal.role.value}.",
            )
        return principal

    return check


viewer = require(Role.VIEWER)
trader = require(Role.TRADER)
admin = require(Role.ADMIN)


def check_account(principal: Principal, account_id: str) -> None:
    """Outside a scoped key's accounts, an account does not exist."""
    if not principal.sees(account_id):
        raise WorkerNotFound(account_id)
