"""Strategy signals, as logged: newest first by default, filtered and paged in
the store."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query

from engine.engine import Engine
from engine.errors import NotFound
from engine.models import Signal
from engine.security.principal import Principal
from engine.server.deps import account_scope, get_engine, viewer
from engine.server.schemas import Page, Paging, RowId, error_responses, paging, utc

router = APIRouter(prefix="/signals", tags=["signals"], responses=error_responses(401, 422, 429))

_paging = paging(
    "id", "time", "account_id", "strategy_id", "symbol", "strength", default="id", order="desc"
)


class SignalNotFound(NotFound):
    def __init__(self, signal_id: int) -> None:
        super().__init__(f"No signal with id {signal_id}.", signal_id=signal_id)


@router.get("", response_model=Page[Signal])
async def list_signals(
    paging: Paging = Depends(_paging),
    account: str | None = Query(None),
    strategy: str | None = Query(None, description="a strategy id"),
    symbol: str | None = Query(None),
    since: datetime | None = Query(None, description="signals at or after this time"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Signal]:
    accounts = account_scope(principal, account)
    if accounts is not None and not accounts:
        return Page[Signal](items=[], total=0, skip=paging.skip, limit=paging.limit)
    items, total = await engine.store.signals.query(
        accounts=accounts,
        strategy_id=strategy,
        symbol=symbol,
        since=utc(since, "since"),
        sort=paging.sort or "id",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[Signal](items=items, total=total, skip=paging.skip, limit=paging.limit)


@router.get("/{signal_id}", response_model=Signal, responses=error_responses(404))
async def get_signal(
    signal_id: RowId, engine: Engine = Depends(get_engine), principal: Principal = Depends(viewer)
) -> Signal:
    signal = await engine.store.signals.get(signal_id)
    if signal is None or not principal.sees(signal.account_id):
        raise SignalNotFound(signal_id)
    return signal
