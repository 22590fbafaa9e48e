"""Request dependencies: the engine, the caller (`Principal`), role checks and
account scoping."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any

from fastapi import Request

from engine.engine import Engine
from engine.errors import EngineError, WorkerNotFound
from engine.security.principal import Principal, Role
from engine.server.errors import ApiError


async def get_engine(request: Request) -> Engine:
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
    """The caller. The rate-limit middleware has usually authenticated the
    token already and left the principal in the request's state: reused, so
    a request is authenticated once."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is not None:
        return principal
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
    """A dependency that admits callers with at least `role`. It calls
    `current_principal` itself rather than depending on it: each dependency
    level costs FastAPI a resolution pass on every request."""

    async def check(request: Request) -> Principal:
        principal = await current_principal(request)
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


def account_scope(principal: Principal, account: str | None) -> Collection[str] | None:
    """The accounts a list filtered by `account` may show: that one if the caller
    sees it (else none), or without a filter the caller's own (None: all)."""
    if account is not None:
        return [account] if principal.sees(account) else []
    return principal.accounts


def require_all_accounts(principal: Principal, action: str) -> None:
    """Actions on the whole system are not for a key limited to some accounts."""
    if principal.accounts is not None:
        raise ApiError(
            403, "FORBIDDEN", f"A key limited to some accounts cannot {action}.", action=action
        )


@contextlib.asynccontextmanager
async def audited(
    request: Request, principal: Principal, action: str, target: str, /, **details: Any
) -> AsyncIterator[None]:
    """Write the mutation done inside to the audit log with its outcome: `ok`,
    or the error code it failed with (the error itself still propagates).
    `details` may use any name, `action` included (a risk limit's field)."""
    security = request.app.state.security
    try:
        yield
    except EngineError as error:
        await security.audit(principal, action, target, error.code, **details)
        raise
    except Exception:
        await security.audit(principal, action, target, "INTERNAL_ERROR", **details)
        raise
    await security.audit(principal, action, target, "ok", **details)
