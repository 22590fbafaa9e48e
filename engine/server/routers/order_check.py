"""An order's dry run: `POST /orders/check` answers what `POST /orders` would
meet now (the margin it needs, the pre-trade checks' verdict) and sends nothing.
The remote panel's order ticket shows it before the trader sends.

Checking is reading, so any role may; a key limited to some accounts checks
only its accounts' orders (others do not exist for it).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from engine.engine import Engine
from engine.models import OrderCheck, OrderRequest
from engine.security.principal import Principal
from engine.server.deps import check_account, get_engine, viewer
from engine.server.routers.orders import OrderFields
from engine.server.schemas import error_responses

router = APIRouter(prefix="/orders", tags=["orders"], responses=error_responses(401, 422, 429))


class OrderToCheck(OrderFields):
    """The order as `POST /orders` would take it; the id is optional here."""

    client_order_id: str = Field(default="check", min_length=1, max_length=64)


@router.post("/check", response_model=OrderCheck, responses=error_responses(404))
async def check_order(
    body: OrderToCheck,
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> OrderCheck:
    check_account(principal, body.account_id)
    return engine.check_order(OrderRequest(**body.model_dump()))
