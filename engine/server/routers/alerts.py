"""Risk alerts: list them, acknowledge and resolve them. Risk limits, which
raise many of them, are a later issue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from engine.engine import Engine
from engine.errors import AlertNotFound
from engine.models import Alert, AlertStatus, Severity
from engine.security.principal import Principal
from engine.server.deps import audited, get_engine, trader, viewer
from engine.server.schemas import Page, Paging, RowId, error_responses, paging

router = APIRouter(prefix="/risk/alerts", tags=["alerts"], responses=error_responses(401, 422, 429))

_paging = paging("id", "created_at", "kind", "status", "account_id", default="id", order="desc")


@router.get("", response_model=Page[Alert])
async def list_alerts(
    paging: Paging = Depends(_paging),
    status: AlertStatus | None = Query(None),
    severity: Severity | None = Query(None),
    account: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Alert]:
    """Open alerts and the most recent closed ones."""
    alerts = [
        a
        for a in engine.alerts.recent()
        if _sees(principal, a)
        and (status is None or a.status is status)
        and (severity is None or a.severity is severity)
        and (account is None or a.account_id == account)
    ]
    return paging.page(alerts)


@router.post(
    "/{alert_id}/acknowledge", response_model=Alert, responses=error_responses(403, 404, 409)
)
async def acknowledge(
    alert_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Alert:
    _check(engine, principal, alert_id)
    async with audited(request, principal, "alert.acknowledge", f"alert:{alert_id}"):
        return await engine.acknowledge_alert(alert_id)


@router.post("/{alert_id}/resolve", response_model=Alert, responses=error_responses(403, 404, 409))
async def resolve(
    alert_id: RowId,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Alert:
    _check(engine, principal, alert_id)
    async with audited(request, principal, "alert.resolve", f"alert:{alert_id}"):
        return await engine.resolve_alert(alert_id)


def _sees(principal: Principal, alert: Alert) -> bool:
    """A key limited to some accounts sees those accounts' alerts only, not the
    system-wide ones."""
    if principal.accounts is None:
        return True
    return alert.account_id is not None and principal.sees(alert.account_id)


def _check(engine: Engine, principal: Principal, alert_id: int) -> None:
    alert = next((a for a in engine.alerts.recent() if a.id == alert_id), None)
    if alert is None or not _sees(principal, alert):
        raise AlertNotFound(alert_id)
