"""Orders: place (idempotent by `client_order_id`), list, read, modify and
cancel pending ones, and flatten. `POST /orders/check` (a dry run) lives in
`order_check`; closing a position is `POST /portfolio/positions/{ticket}/close`.

A new order the gate or the broker refused is still an order: it is stored
with status `rejected`, its retcode and the reason in words, and returned
with 201 like any other, so a retry with the same `client_order_id` returns
the same rejected order rather than trying again.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, Field

from engine.brokers.base import TradeResult
from engine.engine import Engine
from engine.errors import NotFound, OrderRejected
from engine.models import Filling, Order, OrderRequest, OrderSource, OrderStatus, OrderType, Side
from engine.security.principal import Principal, Role
from engine.server.deps import (
    account_scope,
    audited,
    check_account,
    get_engine,
    require_all_accounts,
    trader,
    viewer,
)
from engine.server.errors import ApiError
from engine.server.schemas import Page, Paging, error_responses, paging, utc
from engine.server.schemas import Request as RequestBody

router = APIRouter(prefix="/orders", tags=["orders"], responses=error_responses(401, 422, 429))

_orders_paging = paging(
    "ticket", "account_id", "symbol", "status", "created_at", "updated_at", default="ticket"
)
# A ticket is a SQLite INTEGER: 64-bit signed.
Ticket = Path(ge=1, le=2**63 - 1, description="the order's ticket")


class OrderFields(RequestBody):
    """What every order body says: where, what, how much, at which prices."""

    account_id: str = Field(examples=["account-001"])
    symbol: str = Field(examples=["EURUSD"])
    side: Side
    type: OrderType = OrderType.MARKET
    volume: Decimal = Field(gt=0, examples=["0.10"])
    price: Decimal | None = Field(default=None, gt=0, description="limit/stop trigger price")
    stop_limit: Decimal | None = Field(default=None, gt=0)
    sl: Decimal | None = Field(default=None, gt=0)
    tp: Decimal | None = Field(default=None, gt=0)


class NewOrder(OrderFields):
    filling: Filling = Filling.FOK
    client_order_id: str = Field(
        min_length=1, max_length=64, description="idempotency: the same id returns the first order"
    )
    comment: str = Field(default="", max_length=31)


class OrderChange(RequestBody):
    """New prices of a pending order; a field left out keeps its value."""

    price: Decimal | None = Field(default=None, gt=0)
    stop_limit: Decimal | None = Field(default=None, gt=0)
    sl: Decimal | None = Field(default=None, gt=0)
    tp: Decimal | None = Field(default=None, gt=0)


class FlattenRequest(RequestBody):
    account_id: str | None = Field(
        default=None, description="this account; every running account (admin) when omitted"
    )


class Flattened(BaseModel):
    orders: list[Order] = Field(description="the closing orders")
    failed: int = Field(description="positions that could not be closed; the log says why")


@router.post("", response_model=Order, status_code=status.HTTP_201_CREATED)
async def place_order(
    body: NewOrder,
    request: Request,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Order:
    check_account(principal, body.account_id)
    order = OrderRequest(**body.model_dump(), source=OrderSource.MANUAL)
    target = f"order:{body.account_id}:{body.client_order_id}"
    async with audited(request, principal, "order.place", target):
        return _order(await engine.orders.place(order))


@router.get("", response_model=Page[Order])
async def list_orders(
    paging: Paging = Depends(_orders_paging),
    account: str | None = Query(None),
    symbol: str | None = Query(None),
    status_: OrderStatus | None = Query(None, alias="status"),
    source: OrderSource | None = Query(None),
    since: datetime | None = Query(None, description="created at or after this time"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Page[Order]:
    accounts = account_scope(principal, account)
    orders, total = await engine.store.ledger.query_orders(
        accounts=accounts,
        symbol=symbol,
        status=status_,
        source=source,
        since=utc(since, "since"),
        sort=paging.sort or "ticket",
        descending=paging.descending,
        skip=paging.skip,
        limit=paging.limit,
    )
    return Page[Order](items=orders, total=total, skip=paging.skip, limit=paging.limit)


@router.post("/flatten", response_model=Flattened)
async def flatten(
    request: Request,
    body: FlattenRequest | None = None,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Flattened:
    account_id = (body or FlattenRequest()).account_id
    if account_id is None:
        # Every account at once is an admin's call, on an unscoped token.
        if not principal.role.allows(Role.ADMIN):
            raise ApiError(403, "FORBIDDEN", "Flattening every account needs the admin role.")
        require_all_accounts(principal, "flatten every account")
    else:
        check_account(principal, account_id)
    async with audited(request, principal, "orders.flatten", f"account:{account_id or '*'}"):
        results = await engine.orders.flatten(account_id, reason=f"flatten by {principal.name}")
    return Flattened(
        orders=[r.order for r in results if r.order is not None],
        failed=sum(1 for r in results if not r.ok),
    )


@router.get("/{ticket}", response_model=Order, responses=error_responses(404))
async def get_order(
    ticket: int = Ticket,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> Order:
    return await _visible(engine, principal, ticket)


@router.put("/{ticket}", response_model=Order, responses=error_responses(404, 409))
async def modify_order(
    body: OrderChange,
    request: Request,
    ticket: int = Ticket,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Order:
    order = await _visible(engine, principal, ticket)
    async with audited(request, principal, "order.modify", f"order:{ticket}"):
        result = await engine.orders.modify(order.account_id, ticket, **body.model_dump())
        return _succeeded(result, order)


@router.delete("/{ticket}", response_model=Order, responses=error_responses(404, 409))
async def cancel_order(
    request: Request,
    ticket: int = Ticket,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Order:
    order = await _visible(engine, principal, ticket)
    async with audited(request, principal, "order.cancel", f"order:{ticket}"):
        return _succeeded(await engine.orders.cancel(order.account_id, ticket), order)


async def _visible(engine: Engine, principal: Principal, ticket: int) -> Order:
    order = await engine.store.ledger.order(ticket)
    if order is None or not principal.sees(order.account_id):
        raise NotFound(f"There is no order {ticket}.")
    return order


def _order(result: TradeResult) -> Order:
    if result.order is None:
        raise OrderRejected(result.retcode, result.message)
    return result.order


def _succeeded(result: TradeResult, before: Order) -> Order:
    if not result.ok:
        raise OrderRejected(result.retcode, result.message, ticket=before.ticket)
    return result.order or before
