"""The audit log (admin): every mutation with who did it, to what, when and
how it ended."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request

from engine.security.models import AuditEntry
from engine.security.principal import Principal
from engine.security.service import Security
from engine.server.deps import admin, require_all_accounts
from engine.server.schemas import Page, Paging, error_responses, paging, utc

router = APIRouter(prefix="/audit", tags=["audit"])

# Entries are in time order already (ids grow with time): the order is the only choice.
_paging = paging("time", default="time", order="desc")


@router.get("", response_model=Page[AuditEntry], responses=error_responses(401, 403, 422, 429))
async def audit_log(
    request: Request,
    paging: Paging = Depends(_paging),
    actor: str | None = Query(None, description="a key's prefix (`tdk_<id>`) or a user name"),
    action: str | None = Query(None, description="e.g. `api_key.create`, `auth.login`"),
    since: datetime | None = Query(None, description="entries at or after this time"),
    principal: Principal = Depends(admin),
) -> Page[AuditEntry]:
    """Newest first (`order=asc` for oldest first)."""
    require_all_accounts(principal, "read the audit log")
    security: Security = request.app.state.security
    entries, total = await security.audit_log(
        actor=actor,
        action=action,
        since=utc(since, "since"),
        skip=paging.skip,
        limit=paging.limit,
        oldest_first=not paging.descending,
    )
    return Page[AuditEntry](items=entries, total=total, skip=paging.skip, limit=paging.limit)
