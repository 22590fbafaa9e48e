"""Risk limits: list, create, change and delete them; evaluate every limit now.

Reading is for every role; creating, changing and deleting limits is for
admins: a limit is a control on the traders, so the traders it binds cannot
loosen it. A key limited to some accounts sees the limits of its accounts and
those over all accounts (they bind its accounts too), and may change only its
accounts' own. Limit alerts are under `/risk/alerts` (routers/alerts.py).
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, status
from pydantic import Field

from engine.domain import RiskAction, RiskLimitKind, RiskScope
from engine.engine import Engine
from engine.models import RiskEvaluation, RiskLimit
from engine.risk.service import RiskLimitNotFound, summarised
from engine.security.principal import Principal
from engine.server.body_errors import body_fields
from engine.server.deps import (
    admin,
    audited,
    check_account,
    get_engine,
    require_all_accounts,
    viewer,
)
from engine.server.schemas import Page, Paging, error_responses, paging
from engine.server.schemas import Request as RequestBody

router = APIRouter(prefix="/risk", tags=["risk"], responses=error_responses(401, 422, 429))

_paging = paging("id", "kind", "scope", "account_id", "symbol", "updated_at", default="id")

LimitId = Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", examples=["fx-trend-daily-loss"])


class NewRiskLimit(RequestBody):
    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="made from the kind and scope when left out",
    )
    description: str = Field(default="", max_length=200)
    scope: RiskScope
    account_id: str | None = Field(default=None, description="account scope; optional for symbol")
    symbol: str | None = Field(default=None, description="symbol scope only")
    kind: RiskLimitKind
    warning: Decimal | None = Field(default=None, gt=0, description="below the threshold")
    threshold: Decimal = Field(gt=0, examples=["500"])
    action: RiskAction = RiskAction.BLOCK
    enabled: bool = True


class RiskLimitChanges(RequestBody):
    """Fields left out keep their value; `"warning": null` removes the warning."""

    description: str | None = Field(default=None, max_length=200)
    scope: RiskScope | None = None
    account_id: str | None = None
    symbol: str | None = None
    kind: RiskLimitKind | None = None
    warning: Decimal | None = Field(default=None, gt=0)
    threshold: Decimal | None = Field(default=None, gt=0)
    action: RiskAction | None = None
    enabled: bool | None = None


@router.get("/limits", response_model=Page[RiskLimit])
async def list_limits(
    paging: Paging = Depends(_paging),
    account: str | None = Query(None, description="limits of this account"),
    symbol: str | None = Query(None),
    kind: RiskLimitKind | None = Query(None),
    scope: RiskScope | None = Query(None),
    enabled: bool | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[RiskLimit]:
    limits = [
        limit
        for limit in engine.risk.limits()
        if principal.sees(limit.account_id)
        and (account is None or limit.account_id == account)
        and (symbol is None or limit.symbol == symbol)
        and (kind is None or limit.kind is kind)
        and (scope is None or limit.scope is scope)
        and (enabled is None or limit.enabled is enabled)
    ]
    return paging.page(limits)


@router.post(
    "/limits",
    response_model=RiskLimit,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
)
async def create_limit(
    body: NewRiskLimit,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> RiskLimit:
    _may_edit(principal, body.account_id)
    fields = body.model_dump(exclude={"id"})
    async with audited(request, principal, "risk_limit.create", body.id or body.kind.value):
        with body_fields():
            return await engine.risk.create(fields, limit_id=body.id)


@router.get("/limits/{limit_id}", response_model=RiskLimit, responses=error_responses(404))
async def get_limit(
    limit_id: str = LimitId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> RiskLimit:
    return _visible(engine, principal, limit_id)


@router.put("/limits/{limit_id}", response_model=RiskLimit, responses=error_responses(403, 404))
async def update_limit(
    body: RiskLimitChanges,
    request: Request,
    limit_id: str = LimitId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> RiskLimit:
    limit = _visible(engine, principal, limit_id)
    changes = body.model_dump(include=body.model_fields_set)
    _may_edit(principal, limit.account_id)
    if "account_id" in changes:
        _may_edit(principal, changes["account_id"])
    async with audited(request, principal, "risk_limit.update", limit_id, **_shown(changes)):
        with body_fields():
            return await engine.risk.update(limit_id, changes)


@router.delete("/limits/{limit_id}", response_model=RiskLimit, responses=error_responses(403, 404))
async def delete_limit(
    request: Request,
    limit_id: str = LimitId,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(admin),
) -> RiskLimit:
    limit = _visible(engine, principal, limit_id)
    _may_edit(principal, limit.account_id)
    async with audited(request, principal, "risk_limit.delete", limit_id):
        return await engine.risk.delete(limit_id)


class Evaluate(RequestBody):
    symbol: str | None = Field(default=None, description="only the limits that bind it")


@router.post("/evaluate", response_model=RiskEvaluation, responses=error_responses(404))
async def evaluate(
    body: Evaluate | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> RiskEvaluation:
    """Judge every enabled limit now: its metric against warning and threshold,
    the violations (breached limits), the warnings, the books equity limits
    measure from, and the kill switch; the overall `risk_level` and the margin
    ratio. With `{"symbol": ...}`, only the limits that bind that symbol.
    Changes nothing but what the continuous evaluation would (a crossing found
    here raises its alert as it would anyway)."""
    symbol = body.symbol if body is not None else None
    if symbol is not None:
        engine.instrument_service.get(symbol)  # 404 for a symbol not traded here
    evaluation = engine.risk.evaluate()
    if principal.accounts is not None:
        evaluation = evaluation.model_copy(
            update={
                "metrics": [m for m in evaluation.metrics if principal.sees(m.account_id)],
                "books": [b for b in evaluation.books if b.account_id in principal.accounts],
            }
        )
    accounts = [a for a in engine.snapshot().accounts if principal.sees(a.account_id)]
    return summarised(evaluation, accounts, symbol)


def _visible(engine: Engine, principal: Principal, limit_id: str) -> RiskLimit:
    limit = engine.risk.get(limit_id)
    if not principal.sees(limit.account_id):
        raise RiskLimitNotFound(limit_id)
    return limit


def _may_edit(principal: Principal, account_id: str | None) -> None:
    """A limited key edits its accounts' limits only; the ones over all accounts
    are for unlimited keys."""
    if account_id is None:
        require_all_accounts(principal, "change a risk limit over all accounts")
    else:
        check_account(principal, account_id)


def _shown(changes: dict[str, object]) -> dict[str, object]:
    """The audit log's copy of the changes: plain strings."""
    return {name: None if value is None else str(value) for name, value in changes.items()}
