"""Authentication and credentials: login and token refresh, the caller's own
identity, API keys and users (SPEC 6, group `auth`).

Secrets only ever travel inward, except a new API key, returned once by the
request that creates it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from engine.security.models import (
    ApiKeyInfo,
    AuthenticationFailed,
    RateLimited,
    TokenPair,
    UserInfo,
)
from engine.security.principal import Principal, Role
from engine.security.service import Security
from engine.server.deps import admin, audited, current_principal, require_all_accounts
from engine.server.errors import ApiError
from engine.server.schemas import Page, Paging, error_responses, paging
from engine.server.schemas import Request as Body

router = APIRouter(tags=["auth"])

_AUTH_ERRORS = error_responses(401, 422, 429)
_ADMIN_ERRORS = error_responses(401, 403, 422, 429)


class Login(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Refresh(Body):
    refresh_token: str = Field(min_length=1, max_length=4096)


class Me(BaseModel):
    kind: str = Field(description="key, user or local")
    name: str
    role: Role
    accounts: list[str] | None = Field(description="the only accounts it sees; null for all")
    key_id: str | None


class ApiKeyCreate(Body):
    role: Role
    name: str = Field(default="", max_length=64)
    accounts: list[str] | None = Field(
        default=None, min_length=1, description="limit the key to these accounts"
    )


class ApiKeyCreated(ApiKeyInfo):
    key: str = Field(description="the full key; shown this once, stored only as a hash")


class UserCreate(Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Role


class UserUpdate(Body):
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    role: Role | None = None


def _security(request: Request) -> Security:
    security: Security = request.app.state.security
    return security


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _refused(error: AuthenticationFailed | RateLimited) -> ApiError:
    if isinstance(error, RateLimited):
        return ApiError(
            429,
            "RATE_LIMITED",
            error.message,
            headers={"Retry-After": str(error.retry_after)},
            retry_after=error.retry_after,
        )
    return ApiError(401, "UNAUTHORIZED", error.message, headers={"WWW-Authenticate": "Bearer"})


@router.post("/auth/login", response_model=TokenPair, responses=_AUTH_ERRORS)
async def login(body: Login, request: Request) -> TokenPair:
    """A short-lived access token and a refresh token for a user name and
    password. Repeated failures, per user name or per client address, are
    refused with 429 for the rest of the window."""
    security = _security(request)
    try:
        pair = await security.login(body.username, body.password, _client(request))
    except (AuthenticationFailed, RateLimited) as error:
        await security.audit(None, "auth.login", f"user:{body.username}", error.code)
        raise _refused(error) from None
    user = Principal(kind="user", name=body.username, role=security.user(body.username).role)
    await security.audit(user, "auth.login", f"user:{body.username}", "ok")
    return pair


@router.post("/auth/refresh", response_model=TokenPair, responses=_AUTH_ERRORS)
async def refresh(body: Refresh, request: Request) -> TokenPair:
    """A new token pair for a refresh token, which is then used up. Presenting
    a used refresh token again revokes every session of that login."""
    security = _security(request)
    try:
        pair = await security.refresh(body.refresh_token)
    except AuthenticationFailed as error:
        await security.audit(None, "auth.refresh", "session", error.code, reason=error.message)
        raise _refused(error) from None
    await security.audit(None, "auth.refresh", "session", "ok")
    return pair


@router.get("/auth/me", response_model=Me, responses=error_responses(401, 429))
async def me(principal: Principal = Depends(current_principal)) -> Me:
    """Who the token belongs to, its role and account scope."""
    accounts = None if principal.accounts is None else sorted(principal.accounts)
    return Me(
        kind=principal.kind,
        name=principal.name,
        role=principal.role,
        accounts=accounts,
        key_id=principal.key_id,
    )


_key_paging = paging("id", "name", "role", "created_at", default="created_at")
_user_paging = paging("name", "role", "created_at", default="name")


@router.get("/api-keys", response_model=Page[ApiKeyInfo], responses=_ADMIN_ERRORS)
async def list_keys(
    request: Request,
    paging: Paging = Depends(_key_paging),
    principal: Principal = Depends(admin),
) -> Page[ApiKeyInfo]:
    """Every key by its visible prefix, revoked ones included."""
    require_all_accounts(principal, "manage API keys")
    return paging.page(await _security(request).list_keys())


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=_ADMIN_ERRORS,
)
async def create_key(
    body: ApiKeyCreate, request: Request, principal: Principal = Depends(admin)
) -> ApiKeyCreated:
    """A new key. The response holds the full key; it cannot be shown again."""
    require_all_accounts(principal, "manage API keys")
    security = _security(request)
    info, key = await security.create_key(role=body.role, name=body.name, accounts=body.accounts)
    await security.audit(
        principal,
        "api_key.create",
        f"api_key:{info.id}",
        "ok",
        role=info.role,
        accounts=info.accounts,
    )
    return ApiKeyCreated(**info.model_dump(), key=key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyInfo, responses=error_responses(404, 409))
async def revoke_key(
    key_id: str, request: Request, principal: Principal = Depends(admin)
) -> ApiKeyInfo:
    """Revoke a key; it stops working at once."""
    require_all_accounts(principal, "manage API keys")
    async with audited(request, principal, "api_key.revoke", f"api_key:{key_id}"):
        return await _security(request).revoke_key(key_id)


@router.get("/users", response_model=Page[UserInfo], responses=_ADMIN_ERRORS)
async def list_users(
    request: Request,
    paging: Paging = Depends(_user_paging),
    principal: Principal = Depends(admin),
) -> Page[UserInfo]:
    require_all_accounts(principal, "manage users")
    return paging.page(await _security(request).list_users())


@router.post(
    "/users",
    response_model=UserInfo,
    status_code=status.HTTP_201_CREATED,
    responses={**_ADMIN_ERRORS, **error_responses(409)},
)
async def add_user(
    body: UserCreate, request: Request, principal: Principal = Depends(admin)
) -> UserInfo:
    require_all_accounts(principal, "manage users")
    async with audited(request, principal, "user.add", f"user:{body.name}", role=body.role):
        return await _security(request).add_user(body.name, body.password, body.role)


@router.put("/users/{name}", response_model=UserInfo, responses=error_responses(404, 422))
async def update_user(
    name: str, body: UserUpdate, request: Request, principal: Principal = Depends(admin)
) -> UserInfo:
    """Change a user's role and/or password; a new password ends their sessions."""
    require_all_accounts(principal, "manage users")
    security = _security(request)
    changed = sorted(body.model_dump(exclude_none=True))
    async with audited(request, principal, "user.update", f"user:{name}", changed=changed):
        info = security.user(name)
        if body.role is not None:
            info = await security.set_role(name, body.role)
        if body.password is not None:
            info = await security.set_password(name, body.password)
    return info


@router.delete("/users/{name}", response_model=UserInfo, responses=error_responses(404))
async def remove_user(
    name: str, request: Request, principal: Principal = Depends(admin)
) -> UserInfo:
    """Remove a user; their sessions end at once."""
    require_all_accounts(principal, "manage users")
    async with audited(request, principal, "user.remove", f"user:{name}"):
        return await _security(request).remove_user(name)
