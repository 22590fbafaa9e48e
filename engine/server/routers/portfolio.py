"""The portfolio: each account and the total, open positions, equity history
by range and resolution, each strategy's trades and P&L, and closing a
position (all of it or part)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from engine import portfolio as book
from engine.engine import Engine
from engine.errors import NotFound, OrderRejected, WorkerNotFound
from engine.models import (
    RESOLUTIONS,
    EquityPoint,
    Order,
    Portfolio,
    Position,
    Resolution,
    Side,
    StrategyPnl,
)
from engine.security.principal import Principal
from engine.server.deps import account_scope, audited, check_account, get_engine, trader, viewer
from engine.server.schemas import Page, Paging, error_responses, paging, utc
from engine.server.schemas import Request as RequestBody

router = APIRouter(
    prefix="/portfolio", tags=["portfolio"], responses=error_responses(401, 422, 429)
)

_positions_paging = paging(
    "ticket", "account_id", "symbol", "side", "volume", "open_time", "profit", default="ticket"
)
_history_paging = paging("time", "account_id", default="time")


@router.get("", response_model=Portfolio, responses=error_responses(404))
async def portfolio(
    account: str | None = Query(None, description="only this account"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Portfolio:
    """Balance, equity, margin, free margin, margin level, realised and
    unrealised P&L and today's P&L of each of the caller's accounts, their
    total (over those accounts only), and each of their strategies' P&L."""
    if account is not None:
        check_account(principal, account)
        book.check_scope(engine.portfolio_sources, account, None)
    summary = await book.summary(engine.portfolio_sources, account_scope(principal, account))
    if account is not None and not summary.accounts:
        raise WorkerNotFound(account)
    return summary


@router.get("/positions", response_model=Page[Position])
async def positions(
    paging: Paging = Depends(_positions_paging),
    account: str | None = Query(None),
    symbol: str | None = Query(None),
    side: Side | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Position]:
    found = [
        p
        for p in engine.snapshot().positions
        if principal.sees(p.account_id)
        and (account is None or p.account_id == account)
        and (symbol is None or p.symbol == symbol)
        and (side is None or p.side is side)
    ]
    return paging.page(found)


@router.get("/history", response_model=Page[EquityPoint])
async def history(
    paging: Paging = Depends(_history_paging),
    from_: datetime | None = Query(None, alias="from", description="at or after this time"),
    to: datetime | None = Query(None, description="at or before this time"),
    resolution: Resolution | None = Query(
        None,
        description="the last sample of each account per period (UTC-aligned); every sample "
        "when omitted",
    ),
    account: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[EquityPoint]:
    """Equity samples (balance, equity, margin) of the caller's accounts."""
    since, until = utc(from_, "from"), utc(to, "to")
    if since is not None and until is not None and since > until:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "`to` is before `from`", "type": "value_error"}]
        )
    accounts = account_scope(principal, account)
    if accounts is not None and not accounts:
        return Page[EquityPoint](items=[], total=0, skip=paging.skip, limit=paging.limit)
    items, total = await engine.store.equity.query(
        accounts=accounts,
        since=since,
        until=until,
        resolution=None if resolution is None else RESOLUTIONS[resolution],
        sort=paging.sort or "time",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[EquityPoint](items=items, total=total, skip=paging.skip, limit=paging.limit)


@router.get("/strategies", response_model=list[StrategyPnl], responses=error_responses(404))
async def strategies(
    from_: datetime | None = Query(None, alias="from", description="fills at or after this time"),
    to: datetime | None = Query(None, description="fills at or before this time"),
    account: str | None = Query(None),
    strategy: str | None = Query(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> list[StrategyPnl]:
    """Each strategy's closed trades, wins, losses and realised P&L over the
    range (from its fills), and its positions open now, on the caller's
    accounts (`account` filters them, as on every list); deals placed by hand
    are the row with `strategy_id` null."""
    since, until = utc(from_, "from"), utc(to, "to")
    if since is not None and until is not None and since > until:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "`to` is before `from`", "type": "value_error"}]
        )
    book.check_scope(engine.portfolio_sources, None, strategy)  # an unknown strategy: 404
    if strategy is not None and not principal.sees(engine.strategy(strategy).account_id):
        raise NotFound(f"There is no strategy {strategy}.")
    return await book.strategy_pnl(
        engine.portfolio_sources,
        account_scope(principal, account),
        strategy_id=strategy,
        since=since,
        until=until,
    )


class ClosePosition(RequestBody):
    volume: Decimal | None = Field(
        default=None, gt=0, description="close this much of it; all of it when omitted"
    )


@router.post("/positions/{ticket}/close", response_model=Order, responses=error_responses(404, 409))
async def close_position(
    request: Request,
    ticket: int = Path(ge=1, le=2**63 - 1, description="the position's ticket"),
    body: ClosePosition | None = None,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Order:
    """Close position `ticket` (or `volume` of it) by an opposite market order;
    the closing order."""
    position = next((p for p in engine.snapshot().positions if p.ticket == ticket), None)
    if position is None or not principal.sees(position.account_id):
        raise NotFound(f"There is no open position {ticket}.")
    volume = (body or ClosePosition()).volume
    async with audited(request, principal, "position.close", f"position:{ticket}"):
        result = await engine.orders.close_position(position.account_id, ticket, volume)
        if not result.ok or result.order is None:
            raise OrderRejected(result.retcode, result.message, ticket=ticket)
        return result.order
