"""What a remote panel needs in one request each: the whole snapshot, and a
worker's detail. Both are filtered to the caller's accounts."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends

from engine.engine import Engine
from engine.models import AlertStatus, Snapshot, WorkerDetail, WorkerState
from engine.security.principal import Principal
from engine.server.deps import check_account, get_engine, viewer

router = APIRouter(tags=["panel"])


@router.get("/snapshot", response_model=Snapshot)
async def snapshot(
    engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> Snapshot:
    full = engine.snapshot()
    if principal.accounts is None:
        return full
    sees = principal.sees
    workers = [w for w in full.workers if sees(w.account_id)]
    accounts = [a for a in full.accounts if sees(a.account_id)]
    alerts = [a for a in full.alerts if a.account_id is not None and sees(a.account_id)]
    # The totals too are of the key's accounts only: no figure of the others leaks.
    system = full.system.model_copy(
        update={
            "workers_total": len(workers),
            "workers_running": sum(1 for w in workers if w.status is WorkerState.RUNNING),
            "total_equity": sum((a.equity for a in accounts), Decimal(0)),
            "total_balance": sum((a.balance for a in accounts), Decimal(0)),
            "pnl_today": sum((a.pnl_today for a in accounts), Decimal(0)),
            "open_alerts": sum(1 for a in alerts if a.status is not AlertStatus.RESOLVED),
        }
    )
    return full.model_copy(
        update={
            "system": system,
            "workers": workers,
            "accounts": accounts,
            "positions": [p for p in full.positions if sees(p.account_id)],
            "orders": [o for o in full.orders if sees(o.account_id)],
            "alerts": alerts,
        }
    )


@router.get("/workers/{account_id}/detail", response_model=WorkerDetail)
async def worker_detail(
    account_id: str, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> WorkerDetail:
    check_account(principal, account_id)
    return await engine.worker_detail(account_id)
