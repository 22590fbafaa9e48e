"""Price alerts: a symbol's bid crossing a level raises a `price_alert` alert,
streamed on the `alerts` channel (once, or every time it crosses again).

A key limited to some accounts sees the price alerts of its accounts and those
of no account, and creates and deletes only its accounts' ones.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import Field

from engine.engine import Engine
from engine.errors import ValidationFailed
from engine.market.price_alerts import PriceAlertNotFound
from engine.models import PriceAlert, PriceDirection, Severity
from engine.security.principal import Principal
from engine.server.body_errors import body_fields
from engine.server.deps import audited, check_account, get_engine, trader, viewer
from engine.server.schemas import Page, Paging, RowId, error_responses, paging
from engine.server.schemas import Request as RequestBody

router = APIRouter(
    prefix="/price-alerts", tags=["price alerts"], responses=error_responses(401, 422, 429)
)

_paging = paging(
    "id", "symbol", "level", "created_at", "last_triggered_at", "triggered_count", default="id"
)


class NewPriceAlert(RequestBody):
    symbol: str = Field(examples=["EURUSD"])
    direction: PriceDirection = Field(description="fire when the bid rises to or falls to `level`")
    level: Decimal = Field(gt=0, examples=["1.09000"])
    repeat: bool = Field(default=False, description="fire again after each return across")
    severity: Severity = Severity.MEDIUM
    note: str = Field(default="", max_length=200, description="added to the alert's message")
    account: str | None = Field(
        default=None, description="the account it concerns; required for a key limited to some"
    )


@router.get("", response_model=Page[PriceAlert])
async def list_price_alerts(
    paging: Paging = Depends(_paging),
    symbol: str | None = Query(None),
    active: bool | None = Query(None, description="false: once alerts that fired"),
    account: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[PriceAlert]:
    alerts = [
        a
        for a in engine.list_price_alerts()
        if principal.sees(a.account_id)
        and (symbol is None or a.symbol == symbol)
        and (active is None or a.active is active)
        and (account is None or a.account_id == account)
    ]
    return paging.page(alerts)


@router.post(
    "",
    response_model=PriceAlert,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404),
)
async def add_price_alert(
    body: NewPriceAlert,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> PriceAlert:
    if body.account is not None:
        check_account(principal, body.account)
    with body_fields():
        if body.account is None and principal.accounts is not None:
            raise ValidationFailed(
                "account: a key limited to some accounts must name one of them.",
                [{"path": "account", "loc": ["account"], "message": "required for this key"}],
            )
        async with audited(request, principal, "price_alert.add", body.symbol):
            return await engine.add_price_alert(
                body.symbol,
                body.direction,
                body.level,
                repeat=body.repeat,
                severity=body.severity,
                note=body.note,
                account_id=body.account,
                created_by=principal.name,
            )


@router.get("/{alert_id}", response_model=PriceAlert, responses=error_responses(404))
async def get_price_alert(
    alert_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> PriceAlert:
    alert = engine.price_alert(alert_id)
    if not principal.sees(alert.account_id):
        raise PriceAlertNotFound(alert_id)
    return alert


@router.delete("/{alert_id}", response_model=PriceAlert, responses=error_responses(403, 404))
async def delete_price_alert(
    alert_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> PriceAlert:
    alert = engine.price_alert(alert_id)
    # Outside a limited key's accounts, including alerts of no account: not found.
    if principal.accounts is not None and alert.account_id not in principal.accounts:
        raise PriceAlertNotFound(alert_id)
    async with audited(request, principal, "price_alert.delete", str(alert_id)):
        return await engine.delete_price_alert(alert_id)
