"""A symbol's market from the market-data cache (latest quote, recent bars, our
recent trades), the cache's hit/miss statistics, and invalidating it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field

from engine.domain import Timeframe
from engine.engine import Engine
from engine.models import MarketCacheStats, MarketView
from engine.security.principal import Principal
from engine.server.deps import audited, get_engine, require_all_accounts, trader, viewer
from engine.server.schemas import Request as RequestBody
from engine.server.schemas import Symbol, error_responses

router = APIRouter(tags=["market"], responses=error_responses(401, 422, 429))


class Invalidate(RequestBody):
    symbol: str | None = Field(default=None, description="every symbol when left out")
    kind: Literal["bars", "trades"] | None = Field(default=None, description="both when left out")


class Invalidated(BaseModel):
    dropped: int = Field(description="cached entries dropped")
    stats: MarketCacheStats


@router.get("/market/{symbol}", response_model=MarketView, responses=error_responses(404))
async def market(
    symbol: Symbol,
    timeframe: Timeframe = Query(Timeframe.M1),
    bars: int = Query(50, ge=0, le=500, description="closed bars before the current one"),
    trades: int = Query(20, ge=0, le=100, description="our most recent fills in the symbol"),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(viewer),
) -> MarketView:
    view = await engine.market_view(symbol, timeframe, bars, trades, day=True)
    if principal.accounts is None:
        return view
    # A key limited to some accounts sees only their fills.
    return view.model_copy(
        update={"trades": [f for f in view.trades if principal.sees(f.account_id)]}
    )


@router.get("/cache/stats", response_model=MarketCacheStats)
async def cache_stats(
    engine: Engine = Depends(get_engine), _: Principal = Depends(viewer)
) -> MarketCacheStats:
    return engine.cache_stats()


@router.post("/cache/invalidate", response_model=Invalidated, responses=error_responses(403, 404))
async def invalidate_cache(
    request: Request,
    body: Invalidate | None = Body(None),
    engine: Engine = Depends(get_engine),
    principal: Principal = Depends(trader),
) -> Invalidated:
    """Drop cached bars and trades so the next reads go back to the source."""
    require_all_accounts(principal, "invalidate the market-data cache every account shares")
    options = body or Invalidate()
    async with audited(request, principal, "cache.invalidate", options.symbol or "*"):
        dropped = engine.invalidate_cache(options.symbol, options.kind)
    return Invalidated(dropped=dropped, stats=engine.cache_stats())
